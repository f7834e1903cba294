"""The console's maintenance windows: the list (those not over, or every one), a form
to schedule one, and on each window the buttons to extend it, finish it early or call
it off. Same services as the API (``core.maintenances``); a refused form comes back
with its message on the bad field and what was typed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.alerts.matchers import MatcherError, parse_matcher
from tocsin.api.state import runtime
from tocsin.config import parse_duration
from tocsin.core.incidents import path_number
from tocsin.incidents.maintenance import CANCELLED, COMPLETED, Plan
from tocsin.incidents.model import Refused
from tocsin.web.console import read_form, redirect_done, show_page

router = APIRouter(include_in_schema=False)
PAGE = "/ui/maintenance"


@router.get(PAGE, response_class=HTMLResponse)
def maintenance_page(request: Request, past: bool = Query(False)) -> HTMLResponse:
    return _list(request, past)


def _list(
    request: Request,
    past: bool = False,
    status: int = 200,
    problems: dict[str, str] | None = None,
    draft: dict[str, str] | None = None,
) -> HTMLResponse:
    rt = runtime(request)
    return show_page(
        request,
        "maintenance.html",
        status=status,
        windows=[(m, m.state(rt.clock())) for m in rt.maintenances.listing(past)],
        past=past,
        components=rt.config.tocsin.incidents.components,
        problems=problems or {},
        draft=draft or {"duration": "2h", "public": "on"},
    )


def _start(text: str, now: datetime) -> datetime:
    """The form's start: a ``datetime-local`` value, in UTC (the page says so); empty
    is now."""
    if not text.strip():
        return now
    try:
        found = datetime.fromisoformat(text.strip())
        # a browser's datetime-local has no zone: UTC, as the form says
        return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Refused("startsAt", f"not a date and time: {text!r}") from None


def _duration(text: str, field: str) -> timedelta:
    try:
        return parse_duration(text.strip())
    except ValueError as exc:
        raise Refused(field, str(exc)) from None


@router.post(PAGE, response_class=HTMLResponse)
async def schedule(request: Request) -> Response:
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    rt = runtime(request)
    who = fields.get("by", "")
    try:
        if not who:
            raise Refused("by", "required, who schedules it")
        starts_at = _start(fields.get("start", ""), rt.clock())
        matchers = []
        for i, line in enumerate(fields.get("matchers", "").splitlines()):
            if line.strip():
                try:
                    matchers.append(parse_matcher(line.strip()))
                except MatcherError as exc:
                    raise Refused(f"matchers[{i}]", str(exc)) from None
        configured = rt.config.tocsin.incidents.components
        try:
            ends_at = starts_at + _duration(fields.get("duration", ""), "duration")
        except OverflowError:
            raise Refused("duration", "ends beyond any date") from None
        await rt.maintenances.schedule(
            fields.get("title", ""),
            starts_at,
            ends_at,
            who,
            description=fields.get("description", ""),
            components=[c for n, c in enumerate(configured) if f"component_{n}" in fields],
            matchers=matchers,
            public="public" in fields,
        )
    except Refused as exc:
        field = "matchers" if exc.field.startswith("matchers") else exc.field
        return _list(request, status=400, problems={field: str(exc)}, draft=fields)
    return redirect_done(f"{PAGE}?done=scheduled", who)


@router.post(PAGE + "/{maintenance_id}", response_class=HTMLResponse)
async def change(request: Request, maintenance_id: str) -> Response:
    """A window's buttons: ``action`` is extend (by ``by_how_much``), finish or
    cancel."""
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    rt = runtime(request)
    number = path_number(maintenance_id)
    found = None if number is None else rt.maintenances.get(number)
    if found is None:
        reason = f"no maintenance {maintenance_id!r}"
        return show_page(request, "refused.html", status=404, reason=reason)
    action = fields.get("action", "")
    try:
        if action == "extend":
            plan = Plan(extend_by=_duration(fields.get("by_how_much", ""), "extend"))
        elif action in ("finish", "cancel"):
            plan = Plan(state=COMPLETED if action == "finish" else CANCELLED)
        else:
            raise Refused("action", f"{action!r}: one of extend, finish, cancel")
        await rt.maintenances.change(found.id, plan)
    except Refused as exc:
        return _list(request, status=400, problems={f"windows[{found.id}]": str(exc)})
    return redirect_done(f"{PAGE}?done=maintenance")
