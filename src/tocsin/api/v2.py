"""Alertmanager HTTP API v2, so that Prometheus, amtool and existing tools work unchanged.

Thin: each handler decodes, calls the alert store, encodes. Handlers take the raw
request (not pydantic bodies) so that a mixed batch can be partly accepted with one
error per bad alert, exactly as Alertmanager does, and so the hot path stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from tocsin.alerts.matchers import Matcher, MatcherError, parse_matcher_list
from tocsin.alerts.regex import RegexError, compile_anchored
from tocsin.alerts.silences import SilenceError, SilenceNotFound
from tocsin.api import encode, ingest
from tocsin.api.docs import ALERTS_BODY, SILENCE_BODY
from tocsin.api.silence_input import decode_silence
from tocsin.api.state import runtime
from tocsin.core.alert_store import AlertQuery, group_views
from tocsin.runtime import Runtime
from tocsin.timeutil import format_rfc3339

router = APIRouter(prefix="/api/v2")


class BodyTooLarge(Exception):
    pass


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def error(status: int, message: str) -> Response:
    """Alertmanager answers errors with a JSON string body; so do we."""
    return json_response(message, status)


async def read_body(request: Request, limit: int, keep_last: int | None = None) -> bytes:
    """The body, refused (BodyTooLarge) over ``limit`` bytes; with ``keep_last``, only
    its last bytes are kept (a job's whole log posted with a ping: its end says how the
    job ended)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    kept = bytearray()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        kept += chunk
        if keep_last is not None:
            del kept[:-keep_last]
    return bytes(kept)


def _matchers(filters: list[str] | None) -> list[Matcher]:
    return parse_matcher_list(filters or [])


def _receiver_filter(pattern: str | None) -> Callable[[str], bool] | None:
    if not pattern:
        return None
    return compile_anchored(pattern).matches


@router.post("/alerts", openapi_extra=ALERTS_BODY, summary="Create new alerts")
async def post_alerts(request: Request) -> Response:
    """Served by ``tocsin.api.ingest.FastIngest`` in front of the app; same logic here."""
    rt = runtime(request)
    try:
        body = await read_body(request, rt.settings.max_body_bytes)
    except BodyTooLarge:
        status, payload = ingest.too_large(rt.settings.max_body_bytes)
    else:
        status, payload = await ingest.ingest(rt, body)
    media = "application/json" if payload else None
    return Response(payload, status_code=status, media_type=media)


@router.get("/alerts", summary="Get a list of alerts")
def get_alerts(
    request: Request,
    active: bool = True,
    silenced: bool = True,
    inhibited: bool = True,
    unprocessed: bool = True,
    filter: list[str] | None = Query(None),  # noqa: B008 - FastAPI's declaration style
    receiver: str | None = None,
) -> Response:
    rt = runtime(request)
    try:
        matchers = _matchers(filter)
        wanted = _receiver_filter(receiver)
    except MatcherError as exc:
        return error(400, f"filter: {exc}")
    except RegexError as exc:
        return error(400, f"receiver: {exc}")
    query = AlertQuery(active, silenced, inhibited, unprocessed, matchers, wanted)
    return json_response([encode.alert(v) for v in rt.store.views(query)])


@router.get("/alerts/groups", summary="Get a list of alert groups")
def get_alert_groups(
    request: Request,
    active: bool = True,
    silenced: bool = True,
    inhibited: bool = True,
    filter: list[str] | None = Query(None),  # noqa: B008
    receiver: str | None = None,
) -> Response:
    rt = runtime(request)
    try:
        query = AlertQuery(active, silenced, inhibited, True, _matchers(filter))
        wanted = _receiver_filter(receiver)
    except MatcherError as exc:
        return error(400, f"filter: {exc}")
    except RegexError as exc:
        return error(400, f"receiver: {exc}")
    out = [
        {
            "labels": g.labels,
            "receiver": {"name": g.receiver},
            "alerts": [encode.alert(v) for v in g.alerts],
        }
        for g in group_views(rt.store.views(query), wanted)
    ]
    return json_response(out)


@router.get("/silences", summary="Get a list of silences")
def get_silences(
    request: Request,
    filter: list[str] | None = Query(None),  # noqa: B008
) -> Response:
    rt = runtime(request)
    try:
        filters = _matchers(filter)
    except MatcherError as exc:
        return error(400, f"filter: {exc}")
    now = rt.clock()
    return json_response([encode.silence(s, now) for s in rt.store.list_silences(filters)])


@router.post("/silences", openapi_extra=SILENCE_BODY, summary="Post a new silence or update one")
async def post_silences(request: Request) -> Response:
    rt = runtime(request)
    try:
        data = orjson.loads(await read_body(request, rt.settings.max_body_bytes))
    except BodyTooLarge:
        return error(413, f"body exceeds the limit of {rt.settings.max_body_bytes} bytes")
    except orjson.JSONDecodeError as exc:
        return error(400, f"body is not valid JSON: {exc}")
    try:
        silence = decode_silence(data, rt.clock())
        silence_id = await rt.store.set_silence(silence)
    except SilenceNotFound as exc:
        return error(404, str(exc))
    except SilenceError as exc:
        return error(400, f"Failed to create silence: {exc}")
    return json_response({"silenceID": silence_id})


@router.get("/silence/{silence_id}", summary="Get a silence by its ID")
def get_silence(request: Request, silence_id: str) -> Response:
    rt = runtime(request)
    found = rt.store.get_silence(silence_id)
    if found is None:
        return error(404, f"silence {silence_id} not found")
    return json_response(encode.silence(found, rt.clock()))


@router.delete("/silence/{silence_id}", summary="Delete (expire) a silence by its ID")
async def delete_silence(request: Request, silence_id: str) -> Response:
    if not await expire_silence(runtime(request), silence_id):
        return error(404, f"silence {silence_id} not found")
    return Response(status_code=200)


async def expire_silence(rt: Runtime, silence_id: str) -> bool:
    """Expire a silence; False if there is none of that id. One already expired is
    left as it is (Alertmanager 0.25 answers that delete with success too)."""
    try:
        await rt.store.expire_silence(silence_id)
    except SilenceNotFound:
        return False
    except SilenceError:
        pass
    return True


@router.get("/receivers", summary="Get the list of receivers")
def get_receivers(request: Request) -> Response:
    rt = runtime(request)
    return json_response([{"name": name} for name in rt.receiver_names()])


@router.get("/status", summary="Get the current status of Tocsin (Alertmanager shape)")
def get_status(request: Request) -> Response:
    rt = runtime(request)
    return json_response(
        {
            "cluster": rt.cluster(),
            "config": {"original": rt.config_text()},
            "uptime": format_rfc3339(rt.started_at),
            "versionInfo": rt.version_info(),
        }
    )
