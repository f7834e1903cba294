"""The console's incidents: the list with a form to declare one, an incident's page
(its state, what it owes, its timeline, and a form for every change), its
post-mortem, and the public status page. Same services as the API
(``core.incidents``); a refused form comes back with one message per bad field."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.api.state import runtime
from tocsin.core.incidents import rules_of
from tocsin.incidents.model import STATUSES, Change, Refused, page_status
from tocsin.oncall.lifecycle import Via
from tocsin.web.console import read_form, redirect_done, show_page

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
        all=everything,
        severities=settings.severities,
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
        )
    except Refused as exc:
        return _list(request, status=400, problems={exc.field: str(exc)}, draft=fields)
    return redirect_done(f"/ui/incidents/{made.id}?done=declared", who)


@router.get("/ui/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: int) -> HTMLResponse:
    return _incident(request, incident_id)


def _incident(
    request: Request, incident_id: int, status: int = 200, problems: dict[str, str] | None = None
) -> HTMLResponse:
    rt = runtime(request)
    found = rt.incidents.view(incident_id)
    if found is None:
        return show_page(request, "refused.html", status=404, reason=f"no incident {incident_id}")
    settings = rt.config.tocsin.incidents
    return show_page(
        request,
        "incident.html",
        status=status,
        view=found,
        incident=found.incident,
        statuses=STATUSES,
        severities=settings.severities,
        roles=settings.roles,
        problems=problems or {},
    )


@router.post("/ui/incidents/{incident_id}", response_class=HTMLResponse)
async def change(request: Request, incident_id: int) -> Response:
    """The incident page's form: every field holds the incident's current value, so
    only what the responder changed is a change (``incidents.model.decide``)."""
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    who = fields.get("by", "")
    if not who:
        return _incident(request, incident_id, 400, {"by": "by: required, who makes the change"})
    roles = {
        role: fields[f"role_{role}"].strip()
        for role in runtime(request).config.tocsin.incidents.roles
        if f"role_{role}" in fields
    }
    link, unlink = fields.get("link", "").strip(), fields.get("unlink", "").strip()
    asked = Change(
        title=fields.get("title"),
        severity=fields.get("severity"),
        status=fields.get("status"),
        summary=fields.get("summary"),
        public=("public" in fields) if "public_shown" in fields else None,
        roles=roles,
        link=[link] if link else [],
        unlink=[unlink] if unlink else [],
        note=fields.get("note", ""),
        update=fields.get("update", ""),
        postmortem=fields.get("postmortem"),
    )
    return await _apply(request, incident_id, asked, who, "changed")


@router.post("/ui/incidents/{incident_id}/postmortem", response_class=HTMLResponse)
async def save_postmortem(request: Request, incident_id: int) -> Response:
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    who = fields.get("by", "")
    if not who:
        return _postmortem(request, incident_id, 400, {"by": "by: required, who wrote it"}, fields)
    asked = Change(postmortem=fields.get("postmortem", "").replace("\r\n", "\n"))
    return await _apply(request, incident_id, asked, who, "postmortem", fields)


async def _apply(
    request: Request,
    incident_id: int,
    asked: Change,
    who: str,
    notice: str,
    fields: dict[str, str] | None = None,
) -> Response:
    try:
        await runtime(request).incidents.change(incident_id, asked, who, Via.CONSOLE)
    except LookupError as exc:
        return show_page(request, "refused.html", status=404, reason=str(exc))
    except Refused as exc:
        if fields is not None:
            return _postmortem(request, incident_id, 400, {exc.field: str(exc)}, fields)
        return _incident(request, incident_id, 400, {exc.field: str(exc)})
    return redirect_done(f"/ui/incidents/{incident_id}?done={notice}", who)


@router.get("/ui/incidents/{incident_id}/postmortem", response_class=HTMLResponse)
def postmortem_page(request: Request, incident_id: int) -> HTMLResponse:
    return _postmortem(request, incident_id)


def _postmortem(
    request: Request,
    incident_id: int,
    status: int = 200,
    problems: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
) -> HTMLResponse:
    rt = runtime(request)
    found = rt.incidents.postmortem(incident_id)
    if found is None:
        return show_page(request, "refused.html", status=404, reason=f"no incident {incident_id}")
    text, stored = found
    if fields is not None:
        text = fields.get("postmortem", text)
    view = rt.incidents.view(incident_id)
    return show_page(
        request,
        "postmortem.html",
        status=status,
        incident=view.incident if view else None,
        text=text,
        stored=stored,
        problems=problems or {},
    )


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request) -> HTMLResponse:
    """The public status page: open for anyone (``api.auth``), it shows only the
    incidents marked public, with only their status-page updates."""
    rt = runtime(request)
    shown = rt.incidents.status_page()
    settings = rt.config.tocsin.incidents
    overall = page_status([v.incident for v in shown], rules_of(settings))
    context: dict[str, Any] = {
        "views": shown,
        "overall": overall,
        "title": settings.status_page_title,
    }
    return show_page(request, "status_page.html", **context)
