"""Alert ingestion, the hot path: ``POST /api/v2/alerts``.

``ingest`` is the whole decision (decode, commit, answer). ``FastIngest`` serves that one
route straight from ASGI, in front of FastAPI, because under an alert storm the
framework's per-request machinery (middleware stack, routing, dependency solving) costs
more than the work itself; the FastAPI route with the same ``ingest`` documents it in the
OpenAPI schema and serves it when the fast path is not mounted.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from tocsin.alerts.decode import BodyError, decode_alerts
from tocsin.api.site_guard import NOT_FRAMED, refusal, refuse
from tocsin.api.unavailable import RETRY_AFTER, Unavailable
from tocsin.runtime import Runtime
from tocsin.store.db import DATABASE_ERRORS, unreachable

PATH = "/api/v2/alerts"


class BodyTooLargeError(Exception):
    pass


async def ingest(rt: Runtime, body: bytes) -> tuple[int, bytes]:
    """Decode and store posted alerts; the status and JSON body to answer with.

    The valid alerts of a batch are committed even when others are refused (then 400
    names every refused alert and field), as Alertmanager does; what its OpenAPI layer
    refuses (no ``labels``, a ``generatorURL`` that is not a URI) refuses the whole
    batch with 422, as there.
    """
    try:
        decoded = decode_alerts(body, rt.store_settings().name_validation)
    except BodyError as exc:
        return 400, orjson.dumps(str(exc))
    if decoded.schema_errors:  # refused whole, before validation, as Alertmanager does
        rt.metrics.alerts_received([], len(decoded.errors))
        return 422, orjson.dumps("; ".join(decoded.schema_errors + decoded.errors))
    await rt.store.put_alerts(decoded.alerts)
    rt.metrics.alerts_received(decoded.alerts, len(decoded.errors))
    if decoded.errors:
        return 400, orjson.dumps("; ".join(decoded.errors))
    return 200, b""


def too_large(limit: int) -> tuple[int, bytes]:
    return 413, orjson.dumps(f"body exceeds the limit of {limit} bytes")


class FastIngest:
    """ASGI middleware that answers POST /api/v2/alerts itself."""

    def __init__(self, app: ASGIApp, rt: Runtime, unavailable: Unavailable | None = None) -> None:
        self.app = app
        self.rt = rt
        self.unavailable = unavailable or Unavailable()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        why = refusal(scope)  # (this answers in front of SiteGuard, so asks it here)
        if why is not None:
            await refuse(send, why)
            return
        limit = self.rt.settings.max_body_bytes
        try:
            body = await _read(scope, receive, limit)
        except BodyTooLargeError:
            status, payload = too_large(limit)
        else:
            try:
                status, payload = await ingest(self.rt, body)
            except DATABASE_ERRORS as exc:
                if not unreachable(exc):
                    raise
                status, payload = 503, self.unavailable.body("POST", PATH, exc)
        headers = [(b"content-length", str(len(payload)).encode()), *NOT_FRAMED]
        if payload:
            headers.append((b"content-type", b"application/json"))
        if status == 503:
            headers.append((b"retry-after", RETRY_AFTER.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


async def _read(scope: Scope, receive: Receive, limit: int) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)
