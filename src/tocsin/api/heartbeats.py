"""Heartbeats over HTTP: jobs ping ``POST /api/v1/heartbeats/NAME`` (``/fail`` when
they failed), and anyone lists where each stands.

A ping is answered once it is committed (``engine.heartbeats.Ping``); its body, if
any, is kept as the heartbeat's message (the tail of a job's output: the last
``MESSAGE_MAX`` characters), shown with the alert a failure raises.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tocsin.api.state import runtime
from tocsin.api.v2 import BodyTooLarge, read_body
from tocsin.engine.heartbeats import HeartbeatView
from tocsin.monitors.heartbeats import Kind
from tocsin.timeutil import format_rfc3339
from tocsin.web.forms import cross_site

router = APIRouter(prefix="/api/v1")

# A job's output beyond what is kept is not read at all.
BODY_LIMIT = 64 * 1024


def heartbeat_json(v: HeartbeatView) -> dict[str, Any]:
    last = v.beat.last_ping_at
    return {
        "name": v.spec.name,
        "state": v.status.state,
        "period": v.spec.period.total_seconds(),
        "grace": v.spec.grace.total_seconds(),
        "lastPingAt": None if last is None else format_rfc3339(last),
        "lastPing": v.beat.last_kind,  # "ok", "fail", or null: never
        "message": v.beat.message,
        "pings": v.beat.pings,
        "armedAt": format_rfc3339(v.beat.armed_at),
        "lateAt": format_rfc3339(v.status.late_at),  # a ping is due by then
        "downAt": format_rfc3339(v.status.down_at),  # and the alert fires then
        "labels": dict(v.spec.labels),
    }


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


@router.get("/heartbeats", summary="Every configured heartbeat, and where it stands")
def list_heartbeats(request: Request) -> Response:
    return _json([heartbeat_json(v) for v in runtime(request).heartbeats.views()])


@router.get("/heartbeats/{name}", summary="One heartbeat")
def get_heartbeat(request: Request, name: str) -> Response:
    for v in runtime(request).heartbeats.views():
        if v.spec.name == name:
            return _json(heartbeat_json(v))
    return _json(f"no heartbeat {name!r} in tocsin.heartbeats", 404)


_PING_BODY = {
    "required": False,
    "content": {
        "text/plain": {
            "schema": {"type": "string"},
            "example": "backup done: 42 GB in 31 min",
        }
    },
}


@router.post(
    "/heartbeats/{name}",
    summary="Ping: the job ran (the body, optional, is kept as its message)",
    openapi_extra={"requestBody": _PING_BODY},
)
async def ping(request: Request, name: str) -> Response:
    return await _ping(request, name, "ok")


@router.post(
    "/heartbeats/{name}/fail",
    summary="Ping: the job ran and failed (raises HeartbeatFailed at once)",
    openapi_extra={"requestBody": _PING_BODY},
)
async def fail(request: Request, name: str) -> Response:
    return await _ping(request, name, "fail")


async def _ping(request: Request, name: str, kind: Kind) -> Response:
    # a page on another site must not be able to keep a dead job looking alive
    why = cross_site(request.headers)
    if why is not None:
        return _json(why, 403)
    try:
        body = await read_body(request, BODY_LIMIT)
    except BodyTooLarge:
        return _json(f"body: larger than {BODY_LIMIT} bytes; send the tail of the output", 413)
    message = body.decode("utf-8", errors="replace").strip()
    try:
        found = await runtime(request).heartbeats.ping(name, kind, message)
    except LookupError as exc:
        return _json(str(exc), 404)
    return _json(heartbeat_json(found))
