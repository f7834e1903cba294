"""Incidents over HTTP: declare, list, show, change (status, severity, roles, linked
alert groups, notes and status-page updates), the post-mortem, and the public status
page's data. Every refusal is a 400 naming its field; a change is answered once it is
committed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tocsin.api.fields import NAMES, TEXT, flag, names, only, openapi_body, text
from tocsin.api.oncall import action_body, via_of
from tocsin.api.state import runtime
from tocsin.api.v2 import json_response
from tocsin.core.incidents import IncidentView, path_number
from tocsin.incidents.model import Change, Entry, Incident, LinkedGroup, Refused
from tocsin.timeutil import format_rfc3339

router = APIRouter(prefix="/api/v1")
T = TypeVar("T")

STATES = ("open", "resolved", "all")


def _time(at: Any) -> str | None:
    return None if at is None else format_rfc3339(at)


def incident_json(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "title": i.title,
        "severity": i.severity,
        "status": i.status,
        "summary": i.summary,
        "public": i.public,
        "roles": dict(i.roles),
        "groups": list(i.groups),
        "components": list(i.components),
        "announcedTo": list(i.told),
        "openedAt": format_rfc3339(i.opened_at),
        "openedBy": i.opened_by,
        "resolvedAt": _time(i.resolved_at),
        "lastUpdateAt": _time(i.last_update_at),
        "postmortemAt": _time(i.postmortem_at),
    }


def groups_json(i: Incident, found: Mapping[str, LinkedGroup]) -> dict[str, Any]:
    """What names each linked group beside ``groups`` (whose bare ids say nothing):
    its labels, and its status (null once its row is gone), by id, so a client shows
    them without asking for every group."""
    shown = [found.get(g, LinkedGroup(g)) for g in i.groups]
    return {
        "groupLabels": {g.id: dict(g.labels) for g in shown},
        "groupStatus": {g.id: g.status or None for g in shown},
    }


def entry_json(e: Entry) -> dict[str, Any]:
    return {
        "at": format_rfc3339(e.at),
        "by": e.by,
        "kind": e.kind,
        "text": e.text,
        "public": e.public,
    }


def view_json(v: IncidentView, now: datetime) -> dict[str, Any]:
    return {
        **incident_json(v.incident),
        **groups_json(v.incident, v.groups),
        "timeline": [entry_json(e) for e in v.timeline],
        # the linked alert groups' audit lines (pages, acknowledgements, ...)
        "groupTimeline": [{**entry_json(e), "group": e.group} for e in v.group_lines],
        # what it owes, by when (a missed one raises IncidentUpdateOverdue or
        # IncidentPostmortemOverdue)
        "due": [
            {"kind": d.kind, "at": format_rfc3339(d.at), "what": d.text, "overdue": d.overdue(now)}
            for d in v.owed
        ],
    }


def _roles(body: dict[str, Any]) -> dict[str, str]:
    value = body.get("roles", {})
    if not isinstance(value, dict):
        raise Refused("roles", 'must be an object of role to person, e.g. {"commander": "alice"}')
    for role, person in value.items():
        if not isinstance(person, str):
            raise Refused(f"roles.{role}", 'must be a person\'s name ("" unassigns)')
    return value


def _id(incident_id: str) -> int | Response:
    if path_number(incident_id) is None:
        return json_response(f"no incident {incident_id!r}: incident ids are numbers", 404)
    return int(incident_id)


DECLARE_FIELDS = {"by", "title", "severity", "summary", "public", "roles", "groups"}
DECLARE_FIELDS.add("components")
CHANGE_FIELDS = {"by", "title", "severity", "status", "summary", "public", "roles", "link"}
CHANGE_FIELDS |= {"unlink", "note", "update", "postmortem", "comment", "components"}


def _found(incident_id: str, read: Callable[[int], T | None]) -> tuple[int, T] | Response:
    """What ``read`` finds of the incident, with its number; or the 404."""
    number = _id(incident_id)
    if isinstance(number, Response):
        return number
    found = read(number)
    if found is None:
        return json_response(f"no incident {number}", 404)
    return number, found


@router.get("/incidents", summary="Incidents, newest first (state: open, resolved or all)")
def list_incidents(request: Request, state: str = "all") -> Response:
    if state not in STATES:
        return json_response(f"state: must be one of {', '.join(STATES)}", 400)
    desk = runtime(request).incidents
    found = desk.listing(open_only=state == "open")
    if state == "resolved":
        found = [i for i in found if not i.open]
    groups = desk.groups_of(found)
    return json_response([incident_json(i) | groups_json(i, groups) for i in found])


_ROLES = {"type": "object", "additionalProperties": TEXT, "description": "role to person"}
_DECLARE = openapi_body(
    ["title", "severity", "by"],
    {
        "title": TEXT,
        "severity": {**TEXT, "description": "one of tocsin.incidents.severities"},
        "by": {**TEXT, "description": "who declares it (its commander unless roles say)"},
        "summary": {**TEXT, "description": "what users see, on the status page"},
        "public": {"type": "boolean", "default": False, "description": "on the status page"},
        "roles": _ROLES,
        "groups": {**NAMES, "description": "on-call alert group ids to link"},
        "components": {**NAMES, "description": "what it affects (tocsin.incidents.components)"},
    },
    {"title": "Checkout failing", "severity": "SEV1", "by": "alice", "groups": ["a1b2"]},
)
_CHANGE = openapi_body(
    ["by"],
    {
        "by": TEXT,
        "status": {"enum": ["investigating", "identified", "monitoring", "resolved"]},
        "severity": TEXT,
        "title": TEXT,
        "summary": TEXT,
        "public": {"type": "boolean"},
        "roles": {**_ROLES, "description": 'role to person ("" unassigns)'},
        "link": NAMES,
        "unlink": NAMES,
        "components": {**NAMES, "description": "the whole list it affects, in its place"},
        "note": {**TEXT, "description": "a timeline line for the responders"},
        "update": {**TEXT, "description": "a status-page update (public)"},
        "postmortem": {**TEXT, "description": "the post-mortem, Markdown"},
    },
    {"by": "bob", "status": "identified", "update": "A bad deploy; rolling back"},
)


@router.post("/incidents", summary="Declare an incident", status_code=201, openapi_extra=_DECLARE)
async def declare(request: Request) -> Response:
    read = await action_body(request)
    if isinstance(read, Response):
        return read
    body, who = read
    try:
        only(body, DECLARE_FIELDS)
        made = await runtime(request).incidents.declare(
            text(body, "title") or "",
            text(body, "severity") or "",
            who,
            via_of(request),
            summary=text(body, "summary") or "",
            public=bool(flag(body, "public")),
            roles=_roles(body),
            groups=names(body, "groups"),
            components=names(body, "components", "component names"),
        )
    except Refused as exc:
        return json_response(str(exc), 400)
    found = await asyncio.to_thread(runtime(request).incidents.view, made.id)
    assert found is not None  # incidents are never deleted
    return json_response(view_json(found, runtime(request).clock()), 201)


@router.get("/incidents/{incident_id}", summary="One incident, its timeline and what it owes")
def get_incident(request: Request, incident_id: str) -> Response:
    got = _found(incident_id, runtime(request).incidents.view)
    if isinstance(got, Response):
        return got
    return json_response(view_json(got[1], runtime(request).clock()))


@router.patch(
    "/incidents/{incident_id}",
    summary="Change an incident: status, severity, title, summary, public, roles, "
    "link/unlink alert groups, a note (timeline) or an update (status page)",
    openapi_extra=_CHANGE,
)
async def change_incident(request: Request, incident_id: str) -> Response:
    number = _id(incident_id)
    if isinstance(number, Response):
        return number
    read = await action_body(request)
    if isinstance(read, Response):
        return read
    body, who = read
    try:
        only(body, CHANGE_FIELDS)
        change = Change(
            title=text(body, "title"),
            severity=text(body, "severity"),
            status=text(body, "status"),
            summary=text(body, "summary"),
            public=flag(body, "public"),
            roles=_roles(body),
            link=names(body, "link"),
            unlink=names(body, "unlink"),
            components=(
                names(body, "components", "component names") if "components" in body else None
            ),
            note=text(body, "note") or text(body, "comment") or "",
            update=text(body, "update") or "",
            postmortem=text(body, "postmortem"),
        )
        found = await runtime(request).incidents.change(number, change, who, via_of(request))
    except Refused as exc:
        return json_response(str(exc), 400)
    except LookupError as exc:
        return json_response(str(exc), 404)
    return json_response(view_json(found, runtime(request).clock()))


@router.get(
    "/incidents/{incident_id}/postmortem",
    summary="The post-mortem: the one written, or a draft from the incident's timeline",
)
def get_postmortem(request: Request, incident_id: str) -> Response:
    got = _found(incident_id, runtime(request).incidents.postmortem)
    if isinstance(got, Response):
        return got
    number, (markdown, stored) = got
    return json_response({"incident": number, "stored": stored, "markdown": markdown})


@router.get("/status-page", summary="The status page's data: public incidents and updates")
def status_page(request: Request) -> Response:
    page = runtime(request).incidents.status_page()
    return json_response(
        {
            "title": page.title,
            "status": page.overall,
            "components": [{"name": name, "status": word} for name, word in page.components],
            "incidents": [
                {
                    # no number and no severity: they would tell the public how many
                    # private incidents there are, and the team's own grading
                    "title": v.incident.title,
                    "status": v.incident.status,
                    "components": list(v.incident.components),
                    "summary": v.incident.summary,
                    "openedAt": format_rfc3339(v.incident.opened_at),
                    "resolvedAt": _time(v.incident.resolved_at),
                    "updates": [{"at": format_rfc3339(e.at), "text": e.text} for e in v.timeline],
                }
                for v in page.views
            ],
            "maintenances": [
                {
                    "title": m.title,
                    "state": state,
                    "startsAt": format_rfc3339(m.starts_at),
                    "endsAt": format_rfc3339(m.ends_at),
                    "components": list(m.components),
                    "description": m.description,
                }
                for m, state in page.maintenances
            ],
        }
    )
