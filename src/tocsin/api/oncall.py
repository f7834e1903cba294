"""On-call over HTTP: alert groups and their lifecycle (acknowledge, resolve, snooze,
from the API, a signed e-mail link, or a Slack button), who is on call, overrides,
iCalendar feeds, and each group's audit trail."""

from __future__ import annotations

import asyncio
import html
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.background import BackgroundTask

from tocsin.api.state import Runtime, runtime
from tocsin.api.v2 import BodyTooLarge, read_body
from tocsin.config import ConfigError
from tocsin.config.durations import format_duration, parse_duration
from tocsin.config.oncall import CONFIG_OVERRIDE
from tocsin.core.oncall_ops import OncallRefused
from tocsin.core.override_ops import DeleteOverride, overlapping, schedule_audit_id
from tocsin.incidents.model import Incident
from tocsin.notify.channels.http import post_json
from tocsin.notify.outcome import Outcome
from tocsin.oncall.escalation import pending_what
from tocsin.oncall.ical import person_ics, schedule_ics, whole_shifts
from tocsin.oncall.lifecycle import Status, Via, snooze_problem
from tocsin.oncall.links import Action, LinkError, SignedAction, feed_token_ok, verify
from tocsin.oncall.schedules import RANGE_MAX, Override, Shift, shift_at
from tocsin.oncall.slack_requests import SlackSignatureError, answered_message, verify_slack
from tocsin.runbooks.checklist import Checklist
from tocsin.runbooks.placeholders import fill
from tocsin.runbooks.timers import Timer
from tocsin.store import oncall_rows
from tocsin.timeutil import TimeFormatError, format_rfc3339, from_micros_or_none, parse_rfc3339

_T = TypeVar("_T")

log = logging.getLogger(__name__)
router = APIRouter()

ACTIONS = {"ack", "unack", "resolve", "snooze"}


def _json(data: Any, status: int = 200) -> Response:
    body = orjson.dumps(data, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    return Response(body, status_code=status, media_type="application/json")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_rfc3339(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _group_json(row: oncall_rows.OncallGroupRow) -> dict[str, Any]:
    life = row.state.get("lifecycle", {})
    escalation = row.state.get("escalation") or {}
    return {
        "id": row.group_id,
        "receiver": row.receiver,
        "groupKey": row.group_key,
        "labels": row.state.get("labels", {}),
        "status": life.get("status"),
        # snoozed with no end: by silences or inhibition, until an alert fires unmuted
        "muted": life.get("status") == Status.SNOOZED.value and not life.get("snoozed_until"),
        "snoozedUntil": from_micros_or_none(life.get("snoozed_until")),
        "acknowledgedBy": life.get("acknowledged_by") or None,
        "escalationPolicy": row.state.get("policy"),
        "escalationStep": escalation.get("step_index"),
        "escalationRound": escalation.get("round"),
        "alerts": row.state.get("alerts", []),
        "updatedAt": row.updated_at,
    }


@router.get("/api/v1/groups", summary="Alert groups under an escalation policy")
def list_groups(request: Request) -> Response:
    rt = runtime(request)
    with rt.engine.connect() as conn:
        rows = oncall_rows.list_groups(conn)
    taken = rt.incidents.open_by_group()
    return _json(
        [{**_group_json(g), "incident": _incident_ref(taken.get(g.group_id))} for g in rows]
    )


def _incident_ref(i: Incident | None) -> dict[str, Any] | None:
    """The open incident that took a group over, as the list of groups names it."""
    return None if i is None else {"id": i.id, "title": i.title, "severity": i.severity}


@router.get("/api/v1/groups/{group_id}", summary="One alert group: state, pending steps")
def get_group(request: Request, group_id: str) -> Response:
    page = runtime(request).group_page(group_id)
    if page is None:
        return _json(f"no alert group {group_id!r}", 404)
    body = _group_json(page.row)
    body["pending"] = [
        {"kind": d.kind, "what": pending_what(d.kind, d.payload), "dueAt": d.due_at}
        for d in page.pending
    ]
    # firing with no step left: the policy ran out, and nobody else will be paged
    body["escalationDone"] = page.exhausted
    body["runbookTimers"] = timers_json(page.runbook.timers)
    body["incidents"] = [
        {"id": i.id, "title": i.title, "severity": i.severity, "status": i.status}
        for i in runtime(request).incidents.linking(group_id)
    ]
    return _json(body)


def timers_json(timers: list[Timer]) -> list[dict[str, Any]]:
    return [
        {
            "timer": number,
            "ref": t.ref,
            "runbook": t.runbook,
            "text": t.text,
            "lines": list(t.lines),
            "startsAt": t.start,  # "opened" or "resolved": the group's
            "endsOnAck": t.ends_on_ack,
            "dueAt": t.due_at,
            "metAt": t.met_at,
            "state": t.state,
            "keepable": t.keepable,  # false: an answer to the page meets it
            "keptBy": t.kept_by,
        }
        for number, t in enumerate(timers, start=1)
    ]


@router.get("/api/v1/groups/{group_id}/audit", summary="Who did what, when, and how")
def group_audit(request: Request, group_id: str) -> Response:
    with runtime(request).engine.connect() as conn:
        return _json(oncall_rows.audit_of(conn, group_id))


async def action_body(request: Request) -> tuple[dict[str, Any], str] | Response:
    """A person's action: its JSON body and who they are (``by``), or the 400 that
    refuses it, naming the field."""
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as exc:
        return _json(f"body is not valid JSON: {exc}", 400)
    if not isinstance(body, dict):
        return _json("body: must be a JSON object", 400)
    who = body.get("by")
    if not isinstance(who, str) or not who:
        return _json("by: required, who is doing this", 400)
    return body, who


# How long the answer to a button press may take (Slack keeps its response_url 30 min).
SLACK_ANSWER_TIMEOUT = timedelta(seconds=10)
# The largest body of a Slack action or a person's definition (both a few hundred
# bytes): read whole before they are checked, they are bounded far below
# --max-body-bytes (three unauthenticated 500 MB Slack posts took the server to 2 GB).
SMALL_BODY = 64 * 1024


def via_of(request: Request) -> Via:
    """The audit channel: the CLI says so in a header; anything else is the API."""
    return Via.CLI if request.headers.get("x-tocsin-client") == "cli" else Via.API


def checklist_json(
    lists: list[Checklist], labels: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """``labels``: those every alert of the group has, whose placeholders the steps'
    text and commands show filled (``kubectl get pods -l app=<service>``), as the
    console and the pages show them."""
    said = labels or {}
    return [
        {
            "runbook": c.runbook,
            "procedure": c.procedure,
            "url": c.url,
            "severity": c.severity,
            "description": c.description,
            "alerts": list(c.alerts),
            "done": c.done,
            "steps": [
                {
                    "step": s.ref.number,
                    "ref": str(s.ref),
                    "text": fill(s.text, said),
                    "runbookText": s.text,  # as written, placeholders and all
                    "commands": [fill(c, said) for c in s.commands],
                    "codeBlocks": [fill(b, said) for b in s.blocks],
                    "doneBy": s.done_by,
                    "doneAt": s.done_at,
                }
                for s in c.steps
            ],
        }
        for c in lists
    ]


@router.get(
    "/api/v1/groups/{group_id}/checklist",
    summary="The runbook procedures of the group's alerts, as checklists",
)
def get_checklist(request: Request, group_id: str) -> Response:
    rt = runtime(request)
    page = rt.group_page(group_id)
    if page is None:
        return _json(f"no alert group {group_id!r}", 404)
    # (the row group_page read, not a second read of it)
    return _json(checklist_json(page.runbook.checklists, rt.shared_labels(page.row)))


def _mark_body(
    name: str, names_it: str, flag: str, done: str, example: dict[str, Any]
) -> dict[str, Any]:
    """The OpenAPI request body of a person's mark on a group's runbook (``_mark``)."""
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": [name, "by"],
                    "properties": {
                        name: {
                            "oneOf": [{"type": "integer"}, {"type": "string"}],
                            "description": names_it,
                        },
                        "by": {"type": "string", "description": done},
                        flag: {"type": "boolean", "default": True, "description": "false: undo"},
                        "comment": {"type": "string"},
                    },
                },
                "example": example,
            }
        },
    }


_TICK_BODY = _mark_body(
    "step",
    "N (the group has one checklist) or RUNBOOK/PROCEDURE:N, as the checklist's `ref` says",
    "done",
    "who did it",
    {"step": "threads-agent-alertmanager/ServiceDown:2", "by": "alice"},
)
_KEEP_BODY = _mark_body(
    "timer",
    "N as listed (from 1) or RUNBOOK:LINE, the timer's `ref`",
    "kept",
    "who kept it",
    {"timer": "thread-condenser:117", "by": "alice"},
)


@router.post(
    "/api/v1/groups/{group_id}/checklist",
    summary="Tick (or, with done: false, untick) a step of the group's checklist",
    openapi_extra={"requestBody": _TICK_BODY},
)
async def tick_step(request: Request, group_id: str) -> Response:
    rt = runtime(request)
    return await _mark(
        request,
        ("step", "done"),
        "N or RUNBOOK/PROCEDURE:N (as the checklist lists it)",
        lambda which, flag, who, via, comment: _as_json(
            rt.tick_step(group_id, which, flag, who, via, comment),
            lambda lists: checklist_json(lists, rt.shared_labels_of(group_id)),
        ),
    )


Mark = Callable[[str, bool, str, Via, str], Awaitable[Response]]


async def _as_json(found: Awaitable[_T], to_json: Callable[[_T], Any]) -> Response:
    return _json(to_json(await found))


async def _mark(request: Request, fields: tuple[str, str], usage: str, act: Mark) -> Response:
    """A person's mark on a group's runbook (a step done, a timer kept), read from a
    body with ``by``, ``comment`` and ``fields``: what it marks, and whether it is so
    (true unless said otherwise); every refusal names its field."""
    read = await action_body(request)
    if isinstance(read, Response):
        return read
    body, who = read
    name, flag_name = fields
    which, flag = body.get(name), body.get(flag_name, True)
    if isinstance(which, bool) or not isinstance(which, int | str) or str(which) == "":
        return _json(f"{name}: required, {usage}", 400)
    if not isinstance(flag, bool):
        return _json(f"{flag_name}: must be true or false", 400)
    try:
        return await act(str(which), flag, who, via_of(request), str(body.get("comment", "")))
    except LookupError as exc:
        return _json(str(exc), 404)
    except ValueError as exc:
        return _json(f"{name}: {exc}", 400)


@router.get(
    "/api/v1/groups/{group_id}/timers",
    summary="The timers the runbooks of the group's alerts promise (as runbookTimers)",
)
def get_timers(request: Request, group_id: str) -> Response:
    found = runtime(request).timers(group_id)
    if found is None:
        return _json(f"no alert group {group_id!r}", 404)
    return _json(timers_json(found))


@router.post(
    "/api/v1/groups/{group_id}/timers",
    summary="Say that a runbook timer was kept (the status page updated, say)",
    openapi_extra={"requestBody": _KEEP_BODY},
)
async def keep_timer(request: Request, group_id: str) -> Response:
    rt = runtime(request)
    return await _mark(
        request,
        ("timer", "kept"),
        "N or RUNBOOK:LINE (as the timers list it)",
        lambda which, flag, who, via, comment: _as_json(
            rt.keep_timer(group_id, which, flag, who, via, comment), timers_json
        ),
    )


@router.post("/api/v1/groups/{group_id}/{action}", summary="Acknowledge, resolve or snooze")
async def act_on_group(request: Request, group_id: str, action: str) -> Response:
    rt = runtime(request)
    if action not in ACTIONS:
        return _json(f"action: must be one of {sorted(ACTIONS)}", 404)
    read = await action_body(request)
    if isinstance(read, Response):
        return read
    body, who = read
    duration = None
    if action == "snooze":
        try:
            duration = parse_duration(str(body.get("duration", "")))
        except ValueError as exc:
            return _json(f"duration: {exc}", 400)
        problem = snooze_problem(duration)
        if problem is not None:
            return _json(f"duration: {problem}", 400)
    try:
        state = await rt.act_on_group(
            group_id, action, who, via_of(request), str(body.get("comment", "")), duration
        )
    except LookupError as exc:
        return _json(str(exc), 404)
    except OncallRefused as exc:
        return _json(str(exc), 409)
    return _json({"id": group_id, "status": state["lifecycle"]["status"]})


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Tocsin</title></head>
<body style="font: 18px system-ui, sans-serif; margin: 3rem auto; max-width: 30rem">
{body}</body></html>"""

_CONFIRM = """<p>{question}</p>
<form method="post"><input type="hidden" name="by" value="{by}">
<input type="hidden" name="exp" value="{exp}"><input type="hidden" name="ep" value="{ep}">
<input type="hidden" name="sig" value="{sig}">
<button type="submit" style="font-size: 1.2em; padding: .5em 1.5em">{verb}</button></form>"""

_VERBS = {"ack": "Acknowledge", "resolve": "Resolve", "snooze": "Snooze"}

# the page's way on: the responder came from an e-mail, and the group's console page is
# where the work goes on
_NEXT = """<p><a id="console" href="{href}">Open the alert group in Tocsin</a>: \
its runbook checklist, its audit trail, and a link to declare an incident.</p>"""


def _way_on(group_id: str) -> str:
    return _NEXT.format(href=_escape(f"/ui/groups/{quote(group_id, safe='')}"))


def _page(message: str, status: int = 200, group_id: str | None = None) -> HTMLResponse:
    """A page saying ``message``; with ``group_id``, and the way to the group's page."""
    body = f"<p>{_escape(message)}</p>" + ("" if group_id is None else _way_on(group_id))
    return HTMLResponse(_PAGE.format(body=body), status_code=status)


def _moot(action: str, group_id: str, life: dict[str, Any], episode: str) -> str | None:
    """Why the link's action cannot apply to the group as it stands, or None. The
    confirmation page says so instead of a button whose POST could only be refused
    (409): a responder opening the link again after acting would otherwise be asked
    to acknowledge what the page says is acknowledged. The POST still decides."""
    status = life.get("status")
    if status == Status.RESOLVED.value:
        verb = _VERBS[action].lower()
        return f"Alert group {group_id} is resolved: nothing to {verb}; new alerts re-open it."
    if action == Action.ACK and status == Status.ACKNOWLEDGED.value:
        by = life.get("acknowledged_by") or "someone"
        return f"Alert group {group_id} is already acknowledged by {by}."
    if episode and life.get("escalation_id") != episode:  # as HumanAction refuses it
        return (
            f"This page was for an earlier firing of alert group {group_id}, which has "
            "since resolved and fired again: open the group to act on it now."
        )
    return None


def _signed(
    request: Request, action: str, group_id: str, by: str, exp: int, sig: str, ep: str
) -> None:
    """Raise unless the link is genuine and unexpired (LinkError) and names an action
    (ValueError)."""
    rt = runtime(request)
    signed = SignedAction(Action(action), group_id, by, exp, ep)
    verify(rt.oncall.secret, signed, sig, rt.clock())


@router.get(
    "/act/{action}/{group_id}",
    response_class=HTMLResponse,
    summary="Open a signed link from a notification: a page asking to confirm",
)
async def signed_link(
    request: Request, action: str, group_id: str, by: str, exp: int, sig: str, ep: str = ""
) -> Response:
    """Opening the link changes nothing: mail scanners and chat previews fetch links
    (GET) that nobody clicked, and must not acknowledge a page nobody has seen. The
    page's button POSTs the same signed fields."""
    try:
        _signed(request, action, group_id, by, exp, sig, ep)
    except LinkError as exc:
        return _page(str(exc), 403)
    except ValueError as exc:
        return _page(str(exc), 400)
    verb = _VERBS[action]
    question = f"{verb} alert group {group_id} as {by}?"
    confirm = _CONFIRM.format(
        question=_escape(question),
        by=_escape(by),
        exp=exp,
        ep=_escape(ep),
        sig=_escape(sig),
        verb=verb,
    )
    row = await asyncio.to_thread(_group_row, request, group_id)
    if row is not None:  # on a phone at 3 a.m.: which page this is, before the button
        labels = ", ".join(f"{k}={v}" for k, v in sorted(row.state.get("labels", {}).items()))
        life = row.state.get("lifecycle", {})
        held = len(row.state.get("alerts", []))  # (those that fired last: kept resolved)
        what = f"{labels or 'no group labels'}: {life.get('status', '')}, {held} alert(s)"
        said = f'<p id="group">{_escape(what)}</p>'
        moot = _moot(action, group_id, life, ep)
        if moot is not None:
            shown = f'{said}<p id="moot">{_escape(moot)}</p>{_way_on(group_id)}'
            return HTMLResponse(_PAGE.format(body=shown))
        confirm = said + confirm
    return HTMLResponse(_PAGE.format(body=confirm))


def _group_row(request: Request, group_id: str) -> oncall_rows.OncallGroupRow | None:
    with runtime(request).engine.connect() as conn:
        return oncall_rows.get_group(conn, group_id)


_FIELDS = ("by", "exp", "sig")  # a signed link's fields


@router.post(
    "/act/{action}/{group_id}",
    response_class=HTMLResponse,
    summary="Act on a signed link from a notification (the confirmation page's button)",
)
async def signed_action(request: Request, action: str, group_id: str) -> Response:
    try:  # an open path: anyone can post, so the body is bounded as everywhere else
        body = await read_body(request, runtime(request).settings.max_body_bytes)
    except BodyTooLarge:
        return _page("the request is too large", 413)
    form = parse_qs(body.decode("utf-8", errors="replace"))

    # the confirmation page posts them in its form; a script posting to the link
    # itself has them in the query string
    def field(name: str) -> str:
        return form.get(name, [""])[0] or request.query_params.get(name, "")

    by, exp, sig = (field(k) for k in _FIELDS)
    missing = [k for k, v in zip(_FIELDS, (by, exp, sig), strict=True) if not v]
    if missing:
        return _page(f"the link is incomplete: no {', '.join(missing)}", 400)
    if not exp.isdigit():
        return _page(f"the link is damaged: exp must be a number, not {exp!r}", 400)
    ep = field("ep")  # none in a link made before episodes were signed
    try:
        _signed(request, action, group_id, by, int(exp), sig, ep)
        await runtime(request).act_on_group(
            group_id, action, by, Via.EMAIL_LINK, episode=ep or None
        )
    except (ValueError, LinkError) as exc:
        status = 403 if isinstance(exc, LinkError) else 400
        if isinstance(exc, OncallRefused):  # (someone acted first: their work is there)
            return _page(str(exc), 409, group_id)
        return _page(str(exc), status)
    except LookupError as exc:
        return _page(str(exc), 404)
    done = {"ack": "acknowledged", "resolve": "resolved", "snooze": "snoozed"}[action]
    return _page(f"Alert group {group_id} {done} by {by}.", group_id=group_id)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


@router.post("/api/v1/slack/actions", summary="Slack interactive buttons (signed by Slack)")
async def slack_actions(request: Request) -> Response:
    rt = runtime(request)
    secret = rt.config.tocsin.slack_signing_secret
    if not secret:
        return _json("tocsin.slack_signing_secret is not configured", 404)
    try:
        # read before the signature is checked, so bounded: anyone may post here
        body = await read_body(request, SMALL_BODY)
    except BodyTooLarge:
        return _json(f"body: over {SMALL_BODY} bytes: no Slack action is", 413)
    try:
        verify_slack(
            secret,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
            body,
            rt.clock(),
        )
    except SlackSignatureError as exc:
        return _json(f"not from Slack: {exc}", 401)
    try:
        payload = orjson.loads(parse_qs(body.decode())["payload"][0])
        button = payload["actions"][0]
        action, _, page = str(button["value"]).partition(":")
        group_id, _, episode = page.partition(":")  # no episode: a button made before
        user = payload.get("user", {})
        who = str(user.get("username") or user.get("name") or user.get("id"))
        handles = [str(user.get(k) or "") for k in ("id", "username", "name")]
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        return _json(f"payload: not a Slack block action ({exc})", 400)
    # the person whose slack_user pressed it, by their name: the audit trail names
    # them as everywhere else, and the notice of their acknowledgement skips them
    person = rt.people.by_slack_user(handles)
    who = person.name if person is not None else who
    answer_to = payload.get("response_url")
    try:
        await rt.act_on_group(group_id, action, who, Via.SLACK, episode=episode or None)
    except (LookupError, OncallRefused) as exc:
        refused = {"text": str(exc), "response_type": "ephemeral", "replace_original": False}
        return _answer_slack(rt, answer_to, refused, _json(refused))
    message = payload.get("message")
    answered = answered_message(
        message if isinstance(message, dict) else {}, action, who, rt.clock()
    )
    return _answer_slack(
        rt,
        answer_to,
        answered,
        _json({"text": f"{action} by {who}", "response_type": "in_channel"}),
    )


def _answer_slack(rt: Runtime, url: Any, answer: dict[str, Any], response: Response) -> Response:
    """``response``, and after it ``answer`` to the press's ``response_url``: Slack
    changes a Block Kit message only so (the request's own answer is not shown), and
    the page kept its Acknowledge button after it was pressed."""
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        response.background = BackgroundTask(_post_to_slack, rt, url, orjson.dumps(answer))
    return response


async def _post_to_slack(rt: Runtime, url: str, body: bytes) -> None:
    client = rt.sender.clients.client_for(None)
    answer = await post_json(client, url, body, http_config=None, timeout=SLACK_ANSWER_TIMEOUT)
    if isinstance(answer, Outcome):
        log.warning("answering a Slack button press: %s", answer.message)
    elif answer.status >= 300:
        log.warning("answering a Slack button press: HTTP %d", answer.status)


def _when(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    parsed = parse_rfc3339(value)
    return parsed or default


def _shift_json(s: Shift) -> dict[str, Any]:
    return {
        "person": s.person,
        "start": s.start,
        "end": s.end,
        "layer": s.layer,
        "source": s.source,
    }


@router.get("/api/v1/oncall", summary="Who is on call now, at a time, or over a range")
def who_is_on_call(
    request: Request,
    schedule: list[str] | None = Query(None),  # noqa: B008 - FastAPI's declaration style
    at: str | None = None,
    until: str | None = None,
) -> Response:
    """Per schedule: without ``until``, the shift in force at ``at`` (default now),
    whole, from its start to its end; with it, the shifts over [at, until), cut to it
    (at most :data:`RANGE_MAX` long)."""
    rt = runtime(request)
    try:
        start = _when(at, rt.clock())
        end = _when(until, start + timedelta(microseconds=1))
    except TimeFormatError as exc:
        return _json(f"at/until: {exc}", 400)
    if until is not None and end <= start:
        return _json("until: must be after at", 400)
    if end - start > RANGE_MAX:
        asked = format_duration(end - start)
        return _json(f"until: at most {RANGE_MAX.days} days after at, not {asked}", 400)
    names = schedule or [s.name for s in rt.config.schedules]
    out: dict[str, Any] = {}
    for name in names:
        timeline = rt.timeline(name)
        if timeline is None:
            return _json(f"schedule: no schedule {name!r}", 404)
        # at an instant: the shift in force then, whole; over a range: cut to it
        found = shift_at(timeline, start) if until is None else timeline(start, end)
        out[name] = [_shift_json(s) for s in found]
    return _json(out)


# A feed holds the shifts that overlap the last week and the next 90 days, whole.
FEED_PAST, FEED_AHEAD = timedelta(days=7), timedelta(days=90)


def _feed_shifts(rt: Runtime, schedule: str, now: datetime) -> list[Shift] | None:
    """A schedule's shifts for a feed downloaded at ``now``, whole: cut at the window's
    edges, the first event would start at each download's moment, and change its UID."""
    timeline = rt.timeline(schedule)
    return None if timeline is None else whole_shifts(timeline, now - FEED_PAST, now + FEED_AHEAD)


def _feed_refused(request: Request) -> Response | None:
    """A 403 for a calendar feed asked with a token that is not its own (the web
    config's basic auth lets a request with a token through: the token is checked
    here; a feed asked without one passed the password, or none is configured)."""
    token = request.query_params.get("token")
    if token is None or feed_token_ok(runtime(request).oncall.secret, request.url.path, token):
        return None
    return _json("token: not this feed's", 403)


@router.get("/api/v1/schedules/{name}.ics", summary="A schedule's shifts as iCalendar")
def schedule_calendar(request: Request, name: str) -> Response:
    refused = _feed_refused(request)
    if refused is not None:
        return refused
    rt = runtime(request)
    now = rt.clock()
    found = _feed_shifts(rt, name, now)
    if found is None:
        return _json(f"no schedule {name!r}", 404)
    return Response(schedule_ics(name, found, dtstamp=now), media_type="text/calendar")


@router.get("/api/v1/people/{name}.ics", summary="One person's shifts as iCalendar")
def person_calendar(request: Request, name: str) -> Response:
    refused = _feed_refused(request)
    if refused is not None:
        return refused
    rt = runtime(request)
    # the people escalation pages, the file's and those PUT through the API
    if rt.people.find(name) is None:
        return _json(f"no person {name!r}", 404)
    now = rt.clock()
    mine = {s.name: _feed_shifts(rt, s.name, now) or [] for s in rt.config.schedules}
    return Response(person_ics(name, mine, dtstamp=now), media_type="text/calendar")


def _override_json(o: Override) -> dict[str, Any]:
    return {
        "id": o.id,
        "schedule": o.schedule,
        "person": o.person,
        "start": o.start,
        "end": o.end,
        "replaces": o.replaces,
        # the config file's are changed there (and win over nothing made at run time)
        "source": "config" if o.id.startswith(CONFIG_OVERRIDE) else "api",
    }


@router.get("/api/v1/schedules/{name}/overrides", summary="Overrides not over yet")
def list_overrides(request: Request, name: str, past: bool = False) -> Response:
    """The overrides of a schedule that have not ended (``past=true``: all), by start:
    the config file's (``source: config``, changed in the file) and those made at run
    time from the CLI, API or console (``source: api``)."""
    shown = runtime(request).overrides(name, past)
    if shown is None:
        return _json(f"no schedule {name!r}", 404)
    return _json([_override_json(o) for o in shown])


@router.post("/api/v1/schedules/{name}/overrides", summary="Cover a window for someone")
async def add_override(request: Request, name: str) -> Response:
    rt = runtime(request)
    if rt.config.schedule(name) is None:
        return _json(f"no schedule {name!r}", 404)
    try:
        body = orjson.loads(await request.body() or b"{}")
        person, by = body["person"], body["by"]
        start, end = parse_rfc3339(body["start"]), parse_rfc3339(body["end"])
    except (orjson.JSONDecodeError, KeyError, TypeError, TimeFormatError) as exc:
        return _json(f"body: person, start, end (RFC 3339) and by are required ({exc})", 400)
    replaces = body.get("replaces") or None
    for field, value in (("person", person), ("replaces", replaces or "")):
        if not isinstance(value, str):
            return _json(f"{field}: must be a person's name", 400)
    if start is None or end is None:
        return _json("start, end: the zero time is no instant", 400)
    override = Override(str(uuid.uuid4()), name, person, start, end, rt.clock(), replaces)
    before = rt.overrides(name) or []
    problem = await rt.add_override(override, str(by), via_of(request))
    if problem is not None:
        return _json(problem, 400)
    made = _override_json(override)
    # the newest wins where windows overlap: which earlier ones it now partly undoes
    made["overlaps"] = [_override_json(o) for o in overlapping(override, before)]
    return _json(made)


@router.delete("/api/v1/overrides/{override_id}", summary="Remove an override")
async def remove_override(request: Request, override_id: str, by: str = "api") -> Response:
    rt = runtime(request)
    if override_id.startswith(CONFIG_OVERRIDE):
        return _json(
            f"override {override_id!r} is in the config file: remove it there and reload", 409
        )
    if not await rt.writer.run(DeleteOverride(override_id, by, rt.clock(), via_of(request))):
        return _json(f"no override {override_id!r}", 404)
    return Response(status_code=204)


@router.get("/api/v1/schedules/{name}/audit", summary="Overrides made and removed")
def schedule_audit(request: Request, name: str) -> Response:
    with runtime(request).engine.connect() as conn:
        return _json(oncall_rows.audit_of(conn, schedule_audit_id(name)))


def _person_json(p: Any, source: str) -> dict[str, Any]:
    return {
        "name": p.name,
        "fullName": p.full_name,
        "email": p.email,
        "slackUser": p.slack_user,
        "timeZone": p.time_zone,
        "notificationRules": {
            urgency: [{"channel": r.channel, "after": format_duration(r.after)} for r in rules]
            for urgency, rules in p.notification_rules.items()
        },
        "source": source,
    }


@router.get("/api/v1/people", summary="People and their contact methods")
def list_people(request: Request) -> Response:
    return _json([_person_json(p, src) for p, src in runtime(request).people.all()])


@router.get("/api/v1/people/{name}", summary="One person")
def get_person(request: Request, name: str) -> Response:
    for p, src in runtime(request).people.all():
        if p.name == name:
            return _json(_person_json(p, src))
    return _json(f"no person {name!r}", 404)


@router.put("/api/v1/people/{name}", summary="Define or update a person (JSON or YAML)")
async def put_person(request: Request, name: str) -> Response:
    rt = runtime(request)
    try:
        person = await rt.people.put(name, await read_body(request, SMALL_BODY))
    except BodyTooLarge:
        return _json(f"body: over {SMALL_BODY} bytes: no person's definition is", 413)
    except ConfigError as exc:
        return _json("; ".join(f"{p.key}: {p.message}" for p in exc.problems), 400)
    return _json(_person_json(person, "api"))


@router.delete("/api/v1/people/{name}", summary="Forget the API's definition of a person")
async def delete_person(request: Request, name: str) -> Response:
    try:
        removed = await runtime(request).people.delete(name)
    except ConfigError as exc:
        return _json("; ".join(f"{p.key}: {p.message}" for p in exc.problems), 409)
    if not removed:
        return _json(f"no person {name!r} defined through the API", 404)
    return Response(status_code=204)
