"""The web console: what is firing, the silences, the alert groups on call (acknowledge,
resolve, snooze), who is on call, the notifications sent, the runbooks.

Server-rendered pages over the same services as the API (the alert store, the runtime's
on-call actions, the query modules), with plain HTML forms: it works without any
script, in any browser a responder has at hand. Forms post back here and are answered
with a redirect (so a reload does not post twice) or, when refused, with the form again
and one message per bad field.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tocsin.alerts.matchers import MatcherError, parse_matcher_list
from tocsin.alerts.model import Alert
from tocsin.alerts.regex import RegexError, compile_anchored
from tocsin.alerts.silences import SilenceError, SilenceNotFound
from tocsin.api.auth import credentials
from tocsin.api.state import Runtime, runtime
from tocsin.api.v2 import BodyTooLarge, read_body
from tocsin.config.durations import parse_spoken_duration
from tocsin.core.alert_store import AlertQuery, group_views
from tocsin.core.oncall_ops import OncallRefused
from tocsin.core.override_ops import DeleteOverride, overlapping
from tocsin.notify.outbox import DeliveryStatus
from tocsin.notify.payload import common_pairs
from tocsin.oncall.lifecycle import Via, snooze_problem
from tocsin.oncall.links import feed_token
from tocsin.store import oncall_rows, outbox_rows
from tocsin.web import pages
from tocsin.web.forms import (
    MAX_FORM_BYTES,
    FormError,
    OverrideForm,
    SilenceForm,
    matchers_text,
    parse_form,
)
from tocsin.web.render import iso, render

router = APIRouter(include_in_schema=False)

# Who acted last from this browser: filled into the next form, never trusted for more.
WHO_COOKIE = "tocsin_who"
ACTIONS = {
    "ack": "acknowledged",
    "unack": "acknowledged no more: escalation goes on",
    "resolve": "resolved",
    "snooze": "snoozed",
}
# Messages a redirect may ask a page to show: by code, so a link cannot put words there.
NOTICES = {
    "silenced": "Silence saved.",
    "expired": "Silence expired.",
    "step": "Checklist updated.",
    "timer": "Timer updated.",
    "declared": "Incident declared.",
    "changed": "Incident updated.",
    "postmortem": "Post-mortem saved.",
    "scheduled": "Maintenance scheduled.",
    "maintenance": "Maintenance updated.",
    "override": "Override added.",
    "override-overlaps": "Override added. It overlaps an earlier one: the newest wins.",
    "override-removed": "Override removed.",
    **{action: f"Alert group {done}." for action, done in ACTIONS.items()},
    "ack-shown": "Alert groups acknowledged.",
}


def show_page(
    request: Request, template: str, status: int = 200, typed_by: str = "", **context: Any
) -> HTMLResponse:
    """``template`` rendered for ``request``; ``typed_by``: the name a refused form was
    sent with, shown again in its "your name" field (not the one last used here: a
    second save would put someone else's name on the change)."""
    rt = runtime(request)
    notice = NOTICES.get(request.query_params.get("done", ""), "")
    html = render(
        template,
        now=rt.clock(),
        instance=rt.instance_name,
        path=request.url.path,
        notice=notice,
        who=typed_by or _who(request),
        **context,
    )
    return HTMLResponse(html, status_code=status)


def _who(request: Request) -> str:
    """The name the action forms start with: the one last used here, else the user
    name the browser logged in with (basic auth), so the first acknowledgement is one
    click too. Only a default: the form shows it and the responder may change it."""
    remembered = unquote(request.cookies.get(WHO_COOKIE, ""))
    if remembered:
        return remembered
    login = credentials(request.headers.get("authorization", ""))
    return "" if login is None else login[0]


def redirect_done(url: str, who: str = "") -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if who:
        response.set_cookie(
            WHO_COOKIE, quote(who), max_age=90 * 86400, samesite="lax", httponly=True
        )
    return response


async def read_form(request: Request, limit: int = MAX_FORM_BYTES) -> dict[str, str] | HTMLResponse:
    """The posted form, or the page that refuses it (over ``limit`` bytes, refused
    before more is read). (A form another site's page posts never comes here: see
    ``api.site_guard``.)"""
    try:
        body = await read_body(request, limit)
    except BodyTooLarge:
        reason = f"the form exceeds {limit} bytes"
        return show_page(request, "refused.html", status=413, reason=reason)
    return parse_form(body)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/alerts", status_code=307)


# -- alerts ---------------------------------------------------------------------------


def _runbook(rt: Runtime) -> Callable[[Alert], pages.RunbookRef | None]:
    def find(alert: Alert) -> pages.RunbookRef | None:
        link = rt.runbooks.link(alert.labels, alert.annotations)
        return None if link is None else pages.RunbookRef(link.runbook, link.url)

    return find


@router.get("/ui/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    filter: str = "",
    receiver: str = "",
    silenced: bool = False,
    inhibited: bool = False,
    every: Annotated[bool, Query(alias="all")] = False,
) -> HTMLResponse:
    rt = runtime(request)
    problem = ""
    boxes: list[pages.AlertGroupBox] = []
    count = more_groups = 0
    shown = {"silenced": "true"} if silenced else {}
    shown |= {"inhibited": "true"} if inhibited else {}
    try:
        matchers = parse_matcher_list([filter]) if filter.strip() else []
        wanted = compile_anchored(receiver).matches if receiver else None
    except (MatcherError, RegexError) as exc:
        problem = str(exc)
    else:
        query = AlertQuery(True, silenced, inhibited, True, matchers)
        groups = group_views(rt.store.views(query), wanted)
        cap, group_cap = (None, None) if every else (pages.BOX_ALERTS, pages.PAGE_GROUPS)
        boxes = pages.alert_groups(groups, _runbook(rt), cap, shown, group_cap)
        count = len({v.alert.fingerprint for g in groups for v in g.alerts})
        more_groups = len(groups) - len(boxes)
    return show_page(
        request,
        "alerts.html",
        status=400 if problem else 200,
        boxes=boxes,
        count=count,
        more_groups=more_groups,
        all_url=_every_alert_url(shown, filter, receiver),
        filter=filter,
        receiver=receiver,
        silenced=silenced,
        inhibited=inhibited,
        problem=problem,
        receivers=rt.receiver_names(),
    )


def _every_alert_url(shown: dict[str, str], filter: str, receiver: str) -> str:
    """The alerts page as asked, with every group and every alert of each."""
    return "/ui/alerts?" + urlencode(
        {**shown, "filter": filter, "receiver": receiver, "all": "true"}
    )


# -- silences -------------------------------------------------------------------------


@router.get("/ui/silences", response_class=HTMLResponse)
def silences_page(request: Request) -> HTMLResponse:
    rt = runtime(request)
    by_state = pages.silences(rt.store.list_silences(), rt.store.views(), rt.clock())
    return show_page(request, "silences.html", by_state=by_state)


@router.get("/ui/silences/new", response_class=HTMLResponse)
def new_silence_page(request: Request, silence_id: str = Query("", alias="id")) -> HTMLResponse:
    """The silence form: empty, filled from the query (an alert's "silence" link, or
    the form's own "Preview" button), or holding the silence ``id`` to edit."""
    rt = runtime(request)
    form = SilenceForm.from_fields(request.query_params)
    if silence_id and "matchers" not in request.query_params:
        found = rt.store.get_silence(silence_id)
        if found is None:
            reason = f"no silence {silence_id!r}"
            return show_page(request, "refused.html", status=404, reason=reason)
        form = SilenceForm(
            id=found.id,
            matchers=matchers_text(list(found.matchers)),
            starts=iso(found.starts_at),
            ends=iso(found.ends_at),
            created_by=found.created_by,
            comment=found.comment,
        )
    form.created_by = form.created_by or _who(request)
    return _silence_form(request, form)


def _silence_form(request: Request, form: SilenceForm, status: int = 200) -> HTMLResponse:
    rt = runtime(request)
    preview: list[pages.AlertRow] = []
    try:
        matchers = parse_matcher_list([form.matchers]) if form.matchers.strip() else []
    except MatcherError:
        matchers = []
    if matchers:
        preview = pages.alert_rows(rt.store.views(AlertQuery(matchers=matchers)), _runbook(rt))
    return show_page(request, "silence_form.html", status=status, form=form, preview=preview)


@router.post("/ui/silences", response_class=HTMLResponse)
async def save_silence(request: Request) -> Response:
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    rt = runtime(request)
    form = SilenceForm.from_fields(fields)
    try:
        silence = form.silence(rt.clock())
        await rt.store.set_silence(silence)
    except FormError as exc:
        form.problems = exc.problems
        return _silence_form(request, form, status=400)
    except SilenceNotFound as exc:
        form.problems = {"id": str(exc)}
        return _silence_form(request, form, status=404)
    except SilenceError as exc:
        form.problems = {"matchers": str(exc)}
        return _silence_form(request, form, status=400)
    return redirect_done("/ui/silences?done=silenced", form.created_by)


@router.post("/ui/silences/{silence_id}/expire", response_class=HTMLResponse)
async def expire_silence(request: Request, silence_id: str) -> Response:
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    rt = runtime(request)
    try:
        await rt.store.expire_silence(silence_id)
    except SilenceNotFound as exc:
        return show_page(request, "refused.html", status=404, reason=str(exc))
    except SilenceError:
        pass  # already expired: what was asked is so
    return redirect_done("/ui/silences?done=expired")


# -- alert groups on call -------------------------------------------------------------


@router.get("/ui/groups", response_class=HTMLResponse)
def groups_page(request: Request, everything: bool = Query(False, alias="all")) -> HTMLResponse:
    return _groups_page(request, everything)


def _groups_page(
    request: Request,
    everything: bool = False,
    status: int = 200,
    problems: Mapping[str, str] | None = None,
    typed_by: str = "",
) -> HTMLResponse:
    rt = runtime(request)
    with rt.engine.connect() as conn:
        stored = oncall_rows.list_groups(conn)
    rows = pages.group_rows(stored)
    shown = rows if everything else [g for g in rows if g.open]
    # what each says is wrong, from its first alerts (on a phone the labels are cut
    # short: "alertname=Se…" told no group from another)
    shown_ids = {g.id for g in shown}
    said = {
        row.group_id: pages.what_is_wrong(rt.held_alerts(row, first=5))[:1]
        for row in stored
        if row.group_id in shown_ids
    }
    hidden = len(rows) - len(shown)
    incidents = rt.incidents.open_by_group()
    return show_page(
        request,
        "groups.html",
        status=status,
        groups=shown,
        said=said,
        hidden=hidden,
        all=everything,
        incidents=incidents,
        firing=[g.id for g in shown if g.status == "firing"],
        problems=problems or {},
        typed_by=typed_by,
    )


@router.post("/ui/groups", response_class=HTMLResponse)
async def acknowledge_shown(request: Request) -> Response:
    """A storm's groups acknowledged at once: those firing when the page was shown
    (their ids come with the form, so a group that fired since is not taken unseen).
    One taken by someone else meanwhile is left to them, and the page says so."""
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    rt = runtime(request)
    who, ids = fields.get("by", ""), fields.get("groups", "").split()
    if not who:
        problems = {"by": "required: who is doing this"}
        return _groups_page(request, status=400, problems=problems, typed_by=who)
    # submitted together, the writer commits them in a batch or few, not one each
    done = await asyncio.gather(
        *(rt.act_on_group(g, "ack", who, Via.CONSOLE, "") for g in ids), return_exceptions=True
    )
    problems = {g: str(r) for g, r in zip(ids, done, strict=True) if isinstance(r, Exception)}
    for r in done:  # anything but a refusal is a fault, not an answer
        if isinstance(r, Exception) and not isinstance(r, LookupError | OncallRefused):
            raise r
    if problems:
        taken = len(ids) - len(problems)
        problems = {"done": f"{taken} of {len(ids)} acknowledged; not these:", **problems}
        return _groups_page(request, status=409, problems=problems, typed_by=who)
    return redirect_done("/ui/groups?done=ack-shown", who)


@router.get("/ui/groups/{group_id}", response_class=HTMLResponse)
def group_page(request: Request, group_id: str) -> HTMLResponse:
    return _group_page(request, group_id)


def _group_page(
    request: Request,
    group_id: str,
    status: int = 200,
    problems: Mapping[str, str] | None = None,
    typed_by: str = "",
) -> HTMLResponse:
    rt = runtime(request)
    found = rt.group_page(group_id)
    if found is None:
        return show_page(request, "refused.html", status=404, reason=f"no alert group {group_id!r}")
    row = found.row
    alerts = rt.held_alerts(row)
    group = pages.group_row(row)
    book = _runbook(rt)
    return show_page(
        request,
        "group.html",
        status=status,
        group=group,
        runbook=found.runbook,
        alerts=[
            (a, pages.annotations_in_order(a.annotations), pages.silence_url(a.labels), book(a))
            for a in alerts
        ],
        wrong=pages.what_is_wrong(alerts),
        # offered in the name field: a typo told the on-call "acknowledged by alcie"
        people=rt.people.names(),
        silence_group=pages.group_silence_url(row.group_id, group.labels),
        pending=found.pending,
        exhausted=found.exhausted,
        audit=found.audit,
        incidents=rt.incidents.linking(group_id),
        audit_detail=pages.audit_detail,
        problems=problems or {},
        typed_by=typed_by,
        # the steps' placeholders that name a label every alert shares are filled
        common=common_pairs([a.labels for a in alerts]),
    )


@router.post("/ui/groups/{group_id}/checklist", response_class=HTMLResponse)
async def tick_step(request: Request, group_id: str) -> Response:
    """A checklist step's button: done=STEP (or undo=STEP) by the name in the form."""
    rt = runtime(request)
    return await _runbook_button(
        request, group_id, ("done", "undo", "step", "checklist"), rt.tick_step
    )


@router.post("/ui/groups/{group_id}/timers", response_class=HTMLResponse)
async def keep_timer(request: Request, group_id: str) -> Response:
    """A runbook timer's button: kept=TIMER (or unkept=TIMER) by the name in the form."""
    rt = runtime(request)
    return await _runbook_button(
        request, group_id, ("kept", "unkept", "timer", "timers"), rt.keep_timer
    )


async def _runbook_button(
    request: Request,
    group_id: str,
    names: tuple[str, str, str, str],
    act: Callable[[str, str, bool, str, Via], Awaitable[object]],
) -> Response:
    """A button of a group's checklist or timers form: ``names`` are the buttons'
    names (yes, undo), the field a refusal names and the page's anchor."""
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    yes, undo, field, anchor = names
    who = fields.get("by", "")
    if not who:  # not the Act form's "by"
        problems = {f"{field}_by": "required: who did it"}
        return _group_page(request, group_id, status=400, problems=problems)
    which = fields.get(yes) or fields.get(undo) or ""
    try:
        await act(group_id, which, yes in fields, who, Via.CONSOLE)
    except LookupError as exc:
        return show_page(request, "refused.html", status=404, reason=str(exc))
    except ValueError as exc:
        return _group_page(request, group_id, status=400, problems={field: str(exc)})
    return redirect_done(f"/ui/groups/{quote(group_id, safe='')}?done={field}#{anchor}", who)


@router.post("/ui/groups/{group_id}/{action}", response_class=HTMLResponse)
async def act_on_group(request: Request, group_id: str, action: str) -> Response:
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    if action not in ACTIONS:
        return show_page(request, "refused.html", status=404, reason=f"no action {action!r}")
    rt = runtime(request)
    who, comment = fields.get("by", ""), fields.get("comment", "")
    problems: dict[str, str] = {}
    if not who:
        problems["by"] = "required: who is doing this"
    duration: timedelta | None = None
    if action == "snooze":
        try:
            duration = parse_spoken_duration(fields.get("duration", ""))
        except ValueError as exc:
            problems["duration"] = str(exc)
        else:
            problem = snooze_problem(duration)
            if problem is not None:
                problems["duration"] = problem
    if problems:
        return _group_page(request, group_id, status=400, problems=problems, typed_by=who)
    try:
        await rt.act_on_group(group_id, action, who, Via.CONSOLE, comment, duration)
    except LookupError as exc:
        return show_page(request, "refused.html", status=404, reason=str(exc))
    except OncallRefused as exc:
        return _group_page(
            request, group_id, status=409, problems={"action": str(exc)}, typed_by=who
        )
    back = fields.get("back", "")
    url = back if back == "/ui/groups" else f"/ui/groups/{quote(group_id, safe='')}"
    return redirect_done(f"{url}?done={action}", who)


# -- on call, notifications, runbooks -------------------------------------------------


@router.get("/ui/oncall", response_class=HTMLResponse)
def oncall_page(request: Request, days: int = Query(14, ge=1, le=90)) -> HTMLResponse:
    return _oncall_page(request, days)


def _oncall_page(
    request: Request,
    days: int = 14,
    status: int = 200,
    form: OverrideForm | None = None,
    form_schedule: str = "",
) -> HTMLResponse:
    """``form``: an override form refused, shown again in ``form_schedule``'s box."""
    rt = runtime(request)
    now = rt.clock()
    boxes = []
    until = now + timedelta(days=days)
    for s in rt.config.schedules:
        timeline = rt.shifts(s.name, now, until) or []
        overrides = rt.overrides(s.name) or []
        boxes.append(pages.schedule_box(s.name, s.time_zone, timeline, overrides, now, until))
    people = [p for p, _ in rt.people.all()]

    def feed(kind: str, name: str) -> str:
        """A calendar feed's URL with its token: a calendar app sends no password."""
        token = feed_token(rt.oncall.secret, f"/api/v1/{kind}/{name}.ics")
        return f"/api/v1/{kind}/{quote(name, safe='')}.ics?token={token}"

    return show_page(
        request,
        "oncall.html",
        status=status,
        typed_by=form.by if form else "",
        schedules=boxes,
        people=people,
        days=days,
        form=form or OverrideForm(),
        form_schedule=form_schedule,
        feed=feed,
    )


@router.post("/ui/oncall/{schedule}/overrides", response_class=HTMLResponse)
async def add_override(request: Request, schedule: str) -> Response:
    """Cover a window of ``schedule``: the rules are the API's (``override_problem``)."""
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    rt = runtime(request)
    found = rt.config.schedule(schedule)
    if found is None:
        return show_page(request, "refused.html", status=404, reason=f"no schedule {schedule!r}")
    form = OverrideForm.from_fields(fields)
    try:
        override = form.override(str(uuid.uuid4()), schedule, found.time_zone, rt.clock())
    except FormError as exc:
        form.problems = exc.problems
        return _oncall_page(request, status=400, form=form, form_schedule=schedule)
    before = rt.overrides(schedule) or []
    problem = await rt.add_override(override, form.by, Via.CONSOLE)
    if problem is not None:
        key, _, why = problem.partition(": ")
        form.problems = {key: why}
        return _oncall_page(request, status=400, form=form, form_schedule=schedule)
    done = "override-overlaps" if overlapping(override, before) else "override"
    return redirect_done(f"/ui/oncall?done={done}", form.by)


@router.post("/ui/overrides/{override_id}/remove", response_class=HTMLResponse)
async def remove_override(request: Request, override_id: str) -> Response:
    fields = await read_form(request)
    if isinstance(fields, HTMLResponse):
        return fields
    rt = runtime(request)
    by = fields.get("by", "").strip()
    if not by:
        reason = "who is removing it: your name is required"
        return show_page(request, "refused.html", status=400, reason=reason)
    if not await rt.writer.run(DeleteOverride(override_id, by, rt.clock(), Via.CONSOLE)):
        reason = f"no override {override_id!r} (removed already, or from the config file)"
        return show_page(request, "refused.html", status=404, reason=reason)
    return redirect_done("/ui/oncall?done=override-removed", by)


@router.get("/ui/notifications", response_class=HTMLResponse)
def notifications_page(
    request: Request,
    receiver: str = "",
    status: str = "",
    before: str = "",
    limit: int = Query(100, ge=1, le=1000),
) -> HTMLResponse:
    rt = runtime(request)
    statuses = [s.value for s in DeliveryStatus]
    wanted = DeliveryStatus(status) if status in statuses else None
    with rt.engine.connect() as conn:
        items = outbox_rows.recent(
            conn, limit, receiver or None, status=wanted, before=before or None
        )
        logs = outbox_rows.attempts_of_items(conn, [i.id for i in items])
    return show_page(
        request,
        "notifications.html",
        items=items,
        logs=logs,
        receiver=receiver,
        receivers=rt.receiver_names(),
        state=status if wanted else "",  # (``status`` is the page's HTTP status)
        statuses=statuses,
        limit=limit,
    )


@router.get("/ui/monitors", response_class=HTMLResponse)
def monitors_page(request: Request) -> HTMLResponse:
    """Heartbeats and probes: where each stands."""
    rt = runtime(request)
    return show_page(
        request, "monitors.html", beats=rt.heartbeats.views(), probes=rt.probes.views()
    )


@router.get("/ui/runbooks", response_class=HTMLResponse)
def runbooks_page(request: Request) -> HTMLResponse:
    library = runtime(request).runbooks
    books = [b for b in (library.get(n) for n in library.names()) if b is not None]
    return show_page(request, "runbooks.html", books=books)
