"""Planned maintenance windows over HTTP: schedule, list, show, change, cancel or
finish early. Every refusal is a 400 naming its field; a change is answered once it
is committed, with its silence."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tocsin.alerts.matchers import Matcher, MatcherError, parse_matcher
from tocsin.api.fields import NAMES, TEXT, flag, names, only, openapi_body, text
from tocsin.api.oncall import action_body
from tocsin.api.state import runtime
from tocsin.api.v2 import json_response
from tocsin.config import parse_duration
from tocsin.core.incidents import path_number
from tocsin.core.maintenances import MaintenanceDesk
from tocsin.incidents.maintenance import CANCELLED, COMPLETED, Maintenance, Plan
from tocsin.incidents.model import Refused
from tocsin.timeutil import TimeFormatError, format_rfc3339, parse_rfc3339

router = APIRouter(prefix="/api/v1")


def maintenance_json(m: Maintenance, desk: MaintenanceDesk, now: datetime) -> dict[str, Any]:
    short = desk.short_notice(m)
    return {
        "id": m.id,
        "title": m.title,
        "state": m.state(now),
        "startsAt": format_rfc3339(m.starts_at),
        "endsAt": format_rfc3339(m.ends_at),
        "description": m.description,
        "components": list(m.components),
        "matchers": [str(x) for x in m.matchers],
        "public": m.public,
        "silenceId": m.silence_id or None,
        "createdBy": m.created_by,
        "createdAt": format_rfc3339(m.created_at),
        "updatedAt": None if m.updated_at is None else format_rfc3339(m.updated_at),
        "cancelledAt": None if m.cancelled_at is None else format_rfc3339(m.cancelled_at),
        # less notice than tocsin.incidents.maintenance_notice asks: how much it had
        "shortNotice": None if short is None else f"{int(short.total_seconds())}s",
    }


def _time(body: dict[str, Any], name: str) -> datetime | None:
    value = text(body, name)
    if value is None:
        return None
    try:
        found = parse_rfc3339(value)
    except TimeFormatError as exc:
        raise Refused(name, str(exc)) from None
    if found is None:
        raise Refused(name, "the zero time is not a time")
    return found


def _duration(body: dict[str, Any], name: str) -> timedelta | None:
    value = text(body, name)
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise Refused(name, str(exc)) from None


def _matchers(body: dict[str, Any]) -> list[Matcher]:
    found = []
    for i, item in enumerate(names(body, "matchers", 'matchers, e.g. service="orchestrator"')):
        try:
            found.append(parse_matcher(item))
        except MatcherError as exc:
            raise Refused(f"matchers[{i}]", str(exc)) from None
    return found


SCHEDULE_FIELDS = {"by", "title", "startsAt", "endsAt", "description", "components"}
SCHEDULE_FIELDS |= {"matchers", "public"}
CHANGE_FIELDS = {"by", "title", "startsAt", "endsAt", "description", "components", "public"}
CHANGE_FIELDS |= {"state", "extendBy", "matchers"}

_WINDOW = {
    "title": TEXT,
    "startsAt": {**TEXT, "format": "date-time"},
    "endsAt": {**TEXT, "format": "date-time"},
    "description": {**TEXT, "description": "what users see on the status page"},
    "components": {**NAMES, "description": "what it affects (tocsin.incidents.components)"},
    "public": {"type": "boolean", "default": True, "description": "on the status page"},
}
_SCHEDULE = openapi_body(
    ["title", "startsAt", "endsAt", "by"],
    {
        **_WINDOW,
        "by": {**TEXT, "description": "who schedules it"},
        "matchers": {
            **NAMES,
            "description": "the alerts silenced over the window, amtool's syntax",
        },
    },
    {
        "title": "Database upgrade",
        "startsAt": "2026-12-10T02:00:00Z",
        "endsAt": "2026-12-10T04:00:00Z",
        "by": "alice",
        "matchers": ['service="orchestrator"'],
        "components": ["API"],
    },
)
_CHANGE = openapi_body(
    ["by"],
    {
        **_WINDOW,
        "by": TEXT,
        "extendBy": {**TEXT, "description": "end this much later, e.g. 30m"},
        "matchers": {**NAMES, "description": "the alerts silenced, in their place ([]: none)"},
        "state": {
            "enum": [CANCELLED, COMPLETED],
            "description": "cancelled: called off; completed: finished early, now",
        },
    },
    {"by": "alice", "endsAt": "2026-12-10T05:00:00Z"},
)


def _number(maintenance_id: str) -> int | Response:
    if path_number(maintenance_id) is None:
        return json_response(f"no maintenance {maintenance_id!r}: ids are numbers", 404)
    return int(maintenance_id)


@router.get("/maintenances", summary="Maintenance windows not over yet (past=true: all)")
def list_maintenances(request: Request, past: bool = False) -> Response:
    rt = runtime(request)
    now = rt.clock()
    desk = rt.maintenances
    return json_response([maintenance_json(m, desk, now) for m in desk.listing(past)])


@router.post(
    "/maintenances",
    summary="Schedule a maintenance window (shown on the status page, its alerts silenced)",
    status_code=201,
    openapi_extra=_SCHEDULE,
)
async def schedule(request: Request) -> Response:
    read = await action_body(request)
    if isinstance(read, Response):
        return read
    body, who = read
    rt = runtime(request)
    try:
        only(body, SCHEDULE_FIELDS)
        starts_at, ends_at = _time(body, "startsAt"), _time(body, "endsAt")
        if starts_at is None or ends_at is None:
            raise Refused("startsAt" if starts_at is None else "endsAt", "required")
        made = await rt.maintenances.schedule(
            text(body, "title") or "",
            starts_at,
            ends_at,
            who,
            description=text(body, "description") or "",
            components=names(body, "components", "component names"),
            matchers=_matchers(body),
            public=flag(body, "public") is not False,
        )
    except Refused as exc:
        return json_response(str(exc), 400)
    return json_response(maintenance_json(made, rt.maintenances, rt.clock()), 201)


@router.get("/maintenances/{maintenance_id}", summary="One maintenance window")
def get_maintenance(request: Request, maintenance_id: str) -> Response:
    number = _number(maintenance_id)
    if isinstance(number, Response):
        return number
    rt = runtime(request)
    found = rt.maintenances.get(number)
    if found is None:
        return json_response(f"no maintenance {number}", 404)
    return json_response(maintenance_json(found, rt.maintenances, rt.clock()))


@router.patch(
    "/maintenances/{maintenance_id}",
    summary="Change a maintenance window, cancel it, or finish it early",
    openapi_extra=_CHANGE,
)
async def change_maintenance(request: Request, maintenance_id: str) -> Response:
    number = _number(maintenance_id)
    if isinstance(number, Response):
        return number
    read = await action_body(request)
    if isinstance(read, Response):
        return read
    body, _ = read
    rt = runtime(request)
    try:
        only(body, CHANGE_FIELDS)
        plan = Plan(
            title=text(body, "title"),
            description=text(body, "description"),
            starts_at=_time(body, "startsAt"),
            ends_at=_time(body, "endsAt"),
            components=(
                names(body, "components", "component names") if "components" in body else None
            ),
            public=flag(body, "public"),
            extend_by=_duration(body, "extendBy"),
            matchers=_matchers(body) if "matchers" in body else None,
            state=text(body, "state"),
        )
        changed = await rt.maintenances.change(number, plan)
    except Refused as exc:
        return json_response(str(exc), 400)
    except LookupError as exc:
        return json_response(str(exc), 404)
    return json_response(maintenance_json(changed, rt.maintenances, rt.clock()))
