"""The console's incidents: the list with a form to declare one, an incident's page
(its state, what it owes, its timeline, and a form for every change), its
post-mortem, and the public status page. Same services as the API
(``core.incidents``); a refused form comes back with one message per bad field."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.api.state import runtime
from tocsin.core.incidents import path_number
from tocsin.incidents.feed import atom
from tocsin.incidents.model import (
    POSTMORTEM_MAX,
    STATUSES,
    TEXT_MAX,
    Change,
    Refused,
)
from tocsin.incidents.postmortem import since_written
from tocsin.oncall.lifecycle import Via
from tocsin.web.console import read_form, redirect_done, show_page
from tocsin.web.incident_form import asked, drawn, unix_lines

router = APIRouter(include_in_schema=False)


@router.get("/ui/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, everything: bool = Query(False, alias="all")) -> HTMLResponse:
    return _list(request, everything)


def _list(
    request: Request,
    everything: bool = False,
    status: int = 200,
    problems: dict[str, str] | None = None,
    draft: dict[str, str] | None = None,
) -> HTMLResponse:
    rt = runtime(request)
    listed = rt.incidents.listing(open_only=not everything)
    settings = rt.config.tocsin.incidents
    return show_page(
        request,
        "incidents.html",
        status=status,
        incidents=listed,
        groups=rt.incidents.groups_of(listed),
        all=everything,
        severities=settings.severities,
        components=settings.components,
        problems=problems or {},
        draft=draft
        or {
            "group": request.query_params.get("group", ""),
            "title": request.query_params.get("title", ""),
        },
    )


@router.post("/ui/incidents", response_class=HTMLResponse)
async def declare(request: Request) -> Response:
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    who = fields.get("by", "")
    if not who:
        return _list(
            request, status=400, problems={"by": "by: required, who declares it"}, draft=fields
        )
    group = fields.get("group", "").strip()
    try:
        made = await runtime(request).incidents.declare(
            fields.get("title", ""),
            fields.get("severity", ""),
            who,
            Via.CONSOLE,
            summary=fields.get("summary", ""),
            public="public" in fields,
            groups=[group] if group else [],
            components=_components(fields, runtime(request).config.tocsin.incidents.components),
        )
    except Refused as exc:
        return _list(request, status=400, problems={exc.field: str(exc)}, draft=fields)
    return redirect_done(f"/ui/incidents/{made.id}?done=declared", who)


# A post-mortem of POSTMORTEM_MAX characters, each up to 4 bytes of UTF-8 and each
# byte up to 3 of URL encoding, with the rest of its form
POSTMORTEM_FORM_BYTES = POSTMORTEM_MAX * 12 + 4096
# and an update, a note and a summary of TEXT_MAX each, with the rest
CHANGE_FORM_BYTES = 3 * TEXT_MAX * 12 + 4096


def _missing(request: Request, incident_id: str) -> HTMLResponse:
    return show_page(request, "refused.html", status=404, reason=f"no incident {incident_id!r}")


@router.get("/ui/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: str) -> HTMLResponse:
    return _incident(request, incident_id)


def _incident(
    request: Request,
    incident_id: str,
    status: int = 200,
    problems: dict[str, str] | None = None,
    draft: dict[str, str] | None = None,
) -> HTMLResponse:
    """The incident's page; its form holds the incident's values, or, when a change
    was refused, what the responder typed (``draft``), so nothing typed is lost."""
    rt = runtime(request)
    number = path_number(incident_id)
    found = None if number is None else rt.incidents.view(number)
    if found is None:
        return _missing(request, incident_id)
    settings = rt.config.tocsin.incidents
    i = found.incident
    form, was = drawn(i, settings.roles, settings.components, draft)
    severities = [s.name for s in settings.severities]
    if i.severity not in severities:  # no longer configured: kept, not changed by a save
        severities.insert(0, i.severity)
    return show_page(
        request,
        "incident.html",
        status=status,
        view=found,
        incident=i,
        form=form,
        was=was,
        statuses=STATUSES,
        severities=severities,
        descriptions={s.name: s.description for s in settings.severities},
        roles=settings.roles,
        components=settings.components,
        problems=problems or {},
        typed_by=(draft or {}).get("by", ""),
    )


def _components(fields: dict[str, str], configured: tuple[str, ...]) -> list[str]:
    """The components ticked: one checkbox each, ``component_N`` (N: its place in the
    config, so a name needs no escaping as a field name)."""
    return [name for n, name in enumerate(configured) if f"component_{n}" in fields]


@router.post("/ui/incidents/{incident_id}", response_class=HTMLResponse)
async def change(request: Request, incident_id: str) -> Response:
    """The incident page's form: only what the responder edited is a change
    (``web.incident_form``)."""
    fields = await read_form(request, CHANGE_FORM_BYTES)
    if isinstance(fields, HTMLResponse):
        return fields
    rt = runtime(request)
    number = path_number(incident_id)
    found = None if number is None else await asyncio.to_thread(rt.incidents.view, number)
    if number is None or found is None:
        return _missing(request, incident_id)
    who = fields.get("by", "")
    if not who:
        problems = {"by": "by: required, who makes the change"}
        return _incident(request, incident_id, 400, problems, fields)
    settings = rt.config.tocsin.incidents
    wanted = asked(fields, found.incident, settings.roles, settings.components)
    try:
        await rt.incidents.change(number, wanted, who, Via.CONSOLE)
    except Refused as exc:
        return _incident(request, incident_id, 400, {exc.field: str(exc)}, fields)
    return redirect_done(f"/ui/incidents/{number}?done=changed", who)


@router.post("/ui/incidents/{incident_id}/postmortem", response_class=HTMLResponse)
async def save_postmortem(request: Request, incident_id: str) -> Response:
    fields = await read_form(request, POSTMORTEM_FORM_BYTES)
    if isinstance(fields, HTMLResponse):
        return fields
    number = path_number(incident_id)
    if number is None:
        return _missing(request, incident_id)
    who = fields.get("by", "")
    if not who:
        return _postmortem(request, incident_id, 400, {"by": "by: required, who wrote it"}, fields)
    asked = Change(postmortem=unix_lines(fields.get("postmortem", "")))
    try:
        await runtime(request).incidents.change(number, asked, who, Via.CONSOLE)
    except LookupError:
        return _missing(request, incident_id)
    except Refused as exc:
        return _postmortem(request, incident_id, 400, {exc.field: str(exc)}, fields)
    return redirect_done(f"/ui/incidents/{number}?done=postmortem", who)


@router.get("/ui/incidents/{incident_id}/postmortem", response_class=HTMLResponse)
def postmortem_page(request: Request, incident_id: str) -> HTMLResponse:
    return _postmortem(request, incident_id)


def _postmortem(
    request: Request,
    incident_id: str,
    status: int = 200,
    problems: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
) -> HTMLResponse:
    rt = runtime(request)
    number = path_number(incident_id)
    view = None if number is None else rt.incidents.view(number)
    if view is None:
        return _missing(request, incident_id)
    text, stored = rt.incidents.postmortem_of(view)
    if fields is not None:
        text = fields.get("postmortem", text)
    return show_page(
        request,
        "postmortem.html",
        status=status,
        incident=view.incident,
        text=text,
        stored=stored,
        # a stored one owed again: what happened since it was written, to revise it with
        since=since_written(view.incident, view.story()) if stored else None,
        problems=problems or {},
        typed_by=(fields or {}).get("by", ""),
    )


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request) -> HTMLResponse:
    """The public status page: open for anyone (``api.auth``), it shows only the
    incidents marked public, with only their status-page updates."""
    page = runtime(request).incidents.status_page()
    context: dict[str, Any] = {
        "views": page.views,
        "overall": page.overall,
        "components": page.components,
        "title": page.title,
        "maintenances": page.maintenances,
    }
    return show_page(request, "status_page.html", **context)


@router.get("/status/feed.atom")
def status_feed(request: Request) -> Response:
    """The status page's updates as an Atom feed (open, as the page is)."""
    rt = runtime(request)
    page = rt.incidents.status_page()
    shown = [(v.incident, v.timeline) for v in page.views]
    # the external URL, or the address the reader reached: not a listen address
    base = rt.settings.external_url or str(request.base_url)
    base = base.rstrip("/")
    windows = [m for m, _ in page.maintenances]
    body = atom(
        page.title, f"{base}/status", f"{base}/status/feed.atom", shown, rt.clock(), windows
    )
    return Response(body, media_type="application/atom+xml")
