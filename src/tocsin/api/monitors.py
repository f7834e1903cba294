"""Monitors over HTTP. Heartbeats: jobs ping ``POST /api/v1/heartbeats/NAME``
(``/fail`` when they failed), and anyone lists where each stands. Probes: listed with
their last request, and run now on demand.

A ping is answered once it is committed (``engine.heartbeats.Ping``); its body, if
any, is kept as the heartbeat's message (the tail of a job's output: the last
``MESSAGE_MAX`` characters), shown with the alert a failure raises. ``/ping/NAME`` is
the short form for crontab lines: any of GET, HEAD, POST.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tocsin.api.state import runtime
from tocsin.api.v2 import BodyTooLarge, json_response, read_body
from tocsin.engine.heartbeats import HeartbeatView
from tocsin.engine.probes import ProbeView
from tocsin.monitors.heartbeats import MESSAGE_MAX, Kind, message_of
from tocsin.monitors.probes import shown_url
from tocsin.timeutil import format_rfc3339

router = APIRouter(prefix="/api/v1")
_F = TypeVar("_F", bound=Callable[..., Any])

# Of a ping's body: enough bytes for MESSAGE_MAX characters of any UTF-8.
KEPT = MESSAGE_MAX * 4


def heartbeat_json(v: HeartbeatView) -> dict[str, Any]:
    last = v.beat.last_ping_at
    return {
        "name": v.spec.name,
        "state": v.status.state,
        "period": v.spec.period.total_seconds(),
        "grace": v.spec.allowance.total_seconds(),
        "lastPingAt": None if last is None else format_rfc3339(last),
        "lastPing": v.beat.last_kind,  # "ok", "fail", or null: never
        "message": v.beat.message,
        "pings": v.beat.pings,
        # its job's start, while it runs (``/start``), and how long the last run took
        "startedAt": None if v.beat.started_at is None else format_rfc3339(v.beat.started_at),
        "lastDuration": v.beat.last_duration,
        "armedAt": format_rfc3339(v.beat.armed_at),
        "lateAt": format_rfc3339(v.status.late_at),  # a ping is due by then
        "downAt": format_rfc3339(v.status.down_at),  # and the alert fires then
        "labels": dict(v.spec.labels),
    }


@router.get("/heartbeats", summary="Every configured heartbeat, and where it stands")
def list_heartbeats(request: Request) -> Response:
    return json_response([heartbeat_json(v) for v in runtime(request).heartbeats.views()])


@router.get("/heartbeats/{name}", summary="One heartbeat")
def get_heartbeat(request: Request, name: str) -> Response:
    for v in runtime(request).heartbeats.views():
        if v.spec.name == name:
            return json_response(heartbeat_json(v))
    return json_response(f"no heartbeat {name!r} in tocsin.heartbeats", 404)


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


@router.post(
    "/heartbeats/{name}/start",
    summary="The job started: it must ping within its grace (or it is hung); its run is timed",
)
async def start(request: Request, name: str) -> Response:
    return await _ping(request, name, "start")


# The short ping URLs a crontab line uses, as Healthchecks.io's: GET, HEAD or POST
# (``curl -fsS URL``), and ``/fail`` or the job's exit status.
ping_router = APIRouter()


def _ping_routes(path: str, summary: str, name: str) -> Callable[[_F], _F]:
    """The same ping on GET, HEAD and POST (an operation id each, for the OpenAPI), and
    with a trailing slash: redirected, ``curl -fsS`` would exit 0 having pinged nothing."""

    def register(handler: _F) -> _F:
        for method in ("get", "head", "post"):
            route = getattr(ping_router, method)
            route(path, summary=summary, operation_id=f"{name}_{method}")(handler)
            route(f"{path}/", include_in_schema=False)(handler)
        return handler

    return register


@_ping_routes("/ping/{name}", "Ping a heartbeat: the job ran", "ping")
async def short_ping(request: Request, name: str) -> Response:
    return await _ping(request, name, "ok")


@_ping_routes(
    "/ping/{name}/{outcome}",
    "Ping a heartbeat with the job's outcome: fail, its exit status (0: ok), or start",
    "ping_outcome",
)
async def short_ping_outcome(request: Request, name: str, outcome: str) -> Response:
    if outcome in ("fail", "start"):
        return await _ping(request, name, "fail" if outcome == "fail" else "start")
    if outcome.isascii() and outcome.isdigit() and int(outcome) <= 255:
        status = int(outcome)
        said = "" if status == 0 else f"exit status {status}"
        return await _ping(request, name, "ok" if status == 0 else "fail", said)
    return json_response(
        f"outcome: {outcome!r} is none of fail, start, an exit status (0 to 255)", 400
    )


async def _ping(
    request: Request, name: str, kind: Kind | Literal["start"], said: str = ""
) -> Response:
    try:
        tail = await read_body(request, runtime(request).settings.max_body_bytes, KEPT)
    except BodyTooLarge:
        return json_response("body: larger than the server takes (--max-body-bytes)", 413)
    message = message_of(said, tail.decode("utf-8", errors="replace"))
    try:
        found = await runtime(request).heartbeats.ping(name, kind, message)
    except LookupError as exc:
        return json_response(str(exc), 404)
    return json_response(heartbeat_json(found))


def probe_json(v: ProbeView) -> dict[str, Any]:
    last = v.row.last
    return {
        "name": v.spec.name,
        "state": v.state,
        "method": v.spec.verb,  # CONNECT: a tcp:// probe
        "url": shown_url(v.spec.url),  # without user information or query: secrets
        "interval": v.spec.interval.total_seconds(),
        "timeout": v.spec.timeout.total_seconds(),
        "failures": v.spec.failures,  # in a row, to be down
        "failuresInARow": v.row.failures,
        "downSince": None if v.row.down_since is None else format_rfc3339(v.row.down_since),
        "lastAt": None if last is None else format_rfc3339(last.at),
        "lastOk": None if last is None else last.ok,
        "lastStatus": None if last is None else last.status,
        "lastError": "" if last is None else last.error,
        "lastSeconds": None if last is None else last.seconds,
        "lastOkAt": None if v.row.last_ok_at is None else format_rfc3339(v.row.last_ok_at),
        "certExpiresAt": None
        if last is None or last.cert_expires is None
        else format_rfc3339(last.cert_expires),
        "nextAt": format_rfc3339(v.due),
        "runs": v.row.runs,
        "labels": dict(v.spec.labels),
    }


@router.get("/probes", summary="Every configured probe, and its last request")
def list_probes(request: Request) -> Response:
    return json_response([probe_json(v) for v in runtime(request).probes.views()])


@router.get("/probes/{name}", summary="One probe")
def get_probe(request: Request, name: str) -> Response:
    for v in runtime(request).probes.views():
        if v.spec.name == name:
            return json_response(probe_json(v))
    return json_response(f"no probe {name!r} in tocsin.probes", 404)


@router.post("/probes/{name}/run", summary="Request the probe now (202: at the next round)")
async def run_probe(request: Request, name: str) -> Response:
    try:
        await runtime(request).probes.run_now(name)
    except LookupError as exc:
        return json_response(str(exc), 404)
    return json_response({"name": name, "message": "the probe runs now"}, 202)
