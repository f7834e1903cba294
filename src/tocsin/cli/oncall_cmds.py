"""``tocsin ack|resolve|snooze GROUP``, ``tocsin groups``, ``tocsin checklist GROUP``,
``tocsin oncall``,
``tocsin override add|list|remove``: on-call from the terminal, against a running
server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from tocsin.cli.client_cmds import JsonOption, UrlOption
from tocsin.cli.output import fail, me, print_json, print_table
from tocsin.client import ApiError, Client
from tocsin.config.durations import format_duration, parse_duration, parse_spoken_duration
from tocsin.defaults import DEFAULT_URL
from tocsin.oncall.schedules import uncovered
from tocsin.timeutil import format_rfc3339, parse_rfc3339, utcnow

ByOption = Annotated[
    str, typer.Option("--by", envvar="TOCSIN_USER", help="Who you are (default: $USER).")
]
CommentOption = Annotated[str, typer.Option("--comment", "-c", help="Why, for the audit trail.")]

override_app = typer.Typer(help="Schedule overrides.", no_args_is_help=True)


def _act(
    url: str, groups: list[str], action: str, by: str, comment: str, duration: str = ""
) -> None:
    """Act on each group, saying each outcome on its own line (a refusal on stderr);
    exit 1 if any was refused."""
    refused = 0
    try:
        with Client(url) as client:
            for group in groups:
                try:
                    result = client.act(group, action, me(by), comment, duration)
                except ApiError as exc:
                    typer.echo(f"error: {exc}", err=True)
                    refused += 1
                    continue
                typer.echo(f"{group}: {result['status']}")
    except OSError as exc:
        fail(str(exc))
    if refused:
        raise typer.Exit(1)


def _action(action: str, doc: str) -> Callable[..., None]:
    """The command for an action that takes no more than who and why, on one group or
    several (a storm's: ``tocsin groups --json | jq -r '.[].id' | xargs tocsin ack``):
    each is acted on, and said, on its own; the exit code is 1 if any was refused."""

    def command(
        group_ids: Annotated[
            list[str], typer.Argument(metavar="GROUP...", help="Alert group ids (tocsin groups).")
        ],
        by: ByOption = "",
        comment: CommentOption = "",
        url: UrlOption = DEFAULT_URL,
    ) -> None:
        _act(url, group_ids, action, by, comment)

    command.__doc__ = doc
    return command


# the actions that take no more than who and why: the command (the API's action), its help
_ACTIONS = {
    "ack": "Acknowledge an alert group: its escalation stops.",
    "unack": "Take an acknowledgement back: the current step is paged again, escalation goes on.",
    "resolve": "Resolve an alert group by hand.",
}


def snooze(
    group: Annotated[str, typer.Argument(help="Alert group id.")],
    duration: Annotated[str, typer.Option("--for", "-d", help="How long, e.g. 30m, 2h, '30 min'.")],
    by: ByOption = "",
    comment: CommentOption = "",
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Snooze an alert group: no pages until the time is up, then escalation resumes."""
    try:
        length = parse_spoken_duration(duration)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _act(url, [group], "snooze", by, comment, format_duration(length))


def groups(
    show_all: Annotated[
        bool, typer.Option("--all", help="Resolved groups too (default: open ones).")
    ] = False,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Open alert groups under an escalation policy: firing first, then acknowledged,
    then snoozed; the most recently changed first within each."""
    try:
        with Client(url) as client:
            found = client.groups()
    except (ApiError, OSError) as exc:
        fail(str(exc))
    if not show_all:
        found = [g for g in found if g["status"] != "resolved"]
    if as_json:
        print_json(found)
        return
    rows = [
        [
            g["id"],
            _status(g),
            g["acknowledgedBy"] or "",
            g["receiver"],
            ",".join(f"{k}={v}" for k, v in sorted(g["labels"].items())),
            f"#{g['incident']['id']}" if g.get("incident") else "",
            g["updatedAt"],
        ]
        for g in found
    ]
    print_table(["ID", "STATUS", "ACKED BY", "RECEIVER", "GROUP", "INCIDENT", "UPDATED"], rows)


def group(
    group_id: Annotated[str, typer.Argument(help="Alert group id (tocsin groups).")],
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """One alert group: its state, alerts, escalation, what is pending and its audit
    trail (pages, acknowledgements, escalations), oldest first."""
    try:
        with Client(url) as client:
            found = client.group(group_id)
            found["audit"] = client.audit(group_id)
    except (ApiError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json(found)
        return
    labels = ",".join(f"{k}={v}" for k, v in sorted(found["labels"].items()))
    typer.echo(f"{found['id']} {_status(found)}: {labels or '(no group labels)'}")
    typer.echo(f"  receiver:   {found['receiver']} (policy {found['escalationPolicy']})")
    if found["acknowledgedBy"]:
        typer.echo(f"  acked by:   {found['acknowledgedBy']}")
    step, round_ = found["escalationStep"], found["escalationRound"]
    if step is not None:
        typer.echo(f"  escalation: step {step + 1}, round {round_ + 1}")
    # a resolved group keeps the alerts that fired last: they no longer fire
    held = "that fired last" if found["status"] == "resolved" else "firing"
    typer.echo(f"  alerts:     {len(found['alerts'])} {held}")
    for due in found["pending"]:
        # (an older server names only the row's kind)
        typer.echo(f"  pending:    {due.get('what', due['kind'])} at {due['dueAt']}")
    if found.get("escalationDone"):
        typer.echo("  pending:    nothing: the policy has no step left, nobody else is paged")
    for incident in found.get("incidents", []):
        typer.echo(f"  incident:   #{incident['id']} {incident['title']} ({incident['status']})")
    typer.echo("audit:")
    for a in found["audit"]:
        comment = f": {a['comment']}" if a["comment"] else ""
        typer.echo(f"  {a['at']}  {a['actor']} ({a['channel']}) {a['action']}{comment}")


def _status(group: dict[str, Any]) -> str:
    """A group's status as people read it: a group snoozed by silences or inhibition
    (until an alert fires unmuted) is ``muted``, not ``snoozed``."""
    return "muted" if group.get("muted") else str(group["status"] or "")


def checklist(
    group: Annotated[str, typer.Argument(help="Alert group id (tocsin groups).")],
    done: Annotated[
        list[str] | None,
        typer.Option(
            "--done", help="Tick this step (N, or RUNBOOK/PROCEDURE:N as listed); repeatable."
        ),
    ] = None,
    undo: Annotated[
        list[str] | None, typer.Option("--undo", help="Untick this step; repeatable.")
    ] = None,
    kept: Annotated[
        list[str] | None,
        typer.Option(
            "--kept",
            help="Say this timer was kept, now (N, or RUNBOOK:LINE as listed); repeatable.",
        ),
    ] = None,
    unkept: Annotated[
        list[str] | None, typer.Option("--unkept", help="Take back --kept; repeatable.")
    ] = None,
    by: ByOption = "",
    comment: CommentOption = "",
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """The runbook procedures of a group's alerts, as checklists: who did which step,
    and when (each tick is a line of the group's audit trail); and the timers their
    runbooks promise (respond within, post-mortem within...). An acknowledgement meets
    the response timers; say with --kept when you kept another (the status page
    updated, the post-mortem booked)."""
    ticks = _marks(done, undo, "--done and --undo of one step")
    keeps = _marks(kept, unkept, "--kept and --unkept of one timer")
    try:
        with Client(url) as client:
            lists = client.checklist(group) if not ticks else []
            for step, tick in ticks:  # in order; the first refused one stops the rest
                lists = client.tick_step(group, step, tick, me(by), comment)
            for timer, keep in keeps:
                client.keep_timer(group, timer, keep, me(by), comment)
            # .get: a server older than this CLI answers without them
            timers = client.group(group).get("runbookTimers", [])
    except (ApiError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json({"checklists": lists, "timers": timers})
    else:
        _print_checklists(group, lists, timers)


def _marks(yes: list[str] | None, undo: list[str] | None, what: str) -> list[tuple[str, bool]]:
    marks = [(x, True) for x in yes or []] + [(x, False) for x in undo or []]
    if len({x for x, _ in marks}) < len(marks):
        raise typer.BadParameter(f"each once: {what} contradict")
    return marks


def _print_checklists(group: str, lists: list[Any], timers: list[Any]) -> None:
    if timers:
        typer.echo("Timers:")
        for number, t in enumerate(timers, start=1):
            due = f"due {t['dueAt']}" if t["dueAt"] else "from the resolution"
            ref = t.get("ref") or f"{t['runbook']}:{t['lines'][0]}"
            kept = f"  [kept by {t['keptBy']} {t['metAt']}]" if t.get("keptBy") else ""
            typer.echo(f"  {number}. {t['state']:<8} {t['text']}  ({due}; {ref}){kept}")
    if not lists:
        typer.echo(f"{group}: no runbook procedure with steps for this group's alerts")
        return
    for c in lists:
        said = f" ({c['severity']})" if c["severity"] else ""
        typer.echo(f"{c['runbook']}/{c['procedure']}{said}: {c['done']}/{len(c['steps'])} done")
        typer.echo(f"  {c['url']}")
        for s in c["steps"]:
            mark = "x" if s["doneBy"] else " "
            who = f"  [{s['doneBy']} {s['doneAt']}]" if s["doneBy"] else ""
            typer.echo(f"  [{mark}] {s['ref']}  {s['text']}{who}")
            for command in s.get("codeBlocks", []):  # inline code is in the text already
                typer.echo("        $ " + command.replace("\n", "\n          "))


def oncall(
    schedules: Annotated[list[str] | None, typer.Argument(help="Schedules (default: all).")] = None,
    at: Annotated[str | None, typer.Option(help="RFC 3339 time (default: now).")] = None,
    # at most what the server answers (oncall.schedules.RANGE_MAX), refused naming --days
    days: Annotated[
        int, typer.Option(min=0, max=366, help="Show the shifts of the next N days.")
    ] = 0,
    tz: Annotated[
        str,
        typer.Option(
            "--tz",
            envvar="TOCSIN_TZ",
            help="Show times in this zone (Europe/Berlin; local: this machine's) "
            "instead of RFC 3339 in UTC.",
        ),
    ] = "",
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Who is on call now (or at --at), or the shifts of the next --days days, with the
    hours nobody is on call as (nobody)."""
    try:
        start = parse_rfc3339(at) if at else utcnow()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    shown = _time_shown(tz)
    start = start or utcnow()
    end = start + timedelta(days=days)
    until = format_rfc3339(end) if days else None
    try:
        with Client(url) as client:
            found = client.oncall(schedules, format_rfc3339(start), until)
    except (ApiError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json(found)
        return
    rows = []
    for name, shifts in found.items():
        if not days:
            if not shifts:  # said, not left out: a gap in cover is what matters most at 3 a.m.
                rows.append([name, "(nobody)", shown(start), "", ""])
            rows += [
                [name, s["person"], shown(s["start"]), shown(s["end"]), s["source"]] for s in shifts
            ]
            continue
        spans = [(_at(s["start"]), _at(s["end"]), s["person"], s["source"]) for s in shifts]
        gaps = uncovered(((low, high) for low, high, _, _ in spans), start, end)
        spans += [(low, high, "(nobody)", "") for low, high in gaps]
        spans.sort(key=lambda span: span[0])
        rows += [[name, who, shown(low), shown(high), why] for low, high, who, why in spans]
    print_table(["SCHEDULE", "PERSON", "FROM", "UNTIL", "SOURCE"], rows)


def _at(text: str) -> datetime:
    found = parse_rfc3339(text)
    if found is None:
        raise typer.BadParameter(f"the server answered the zero time: {text!r}")
    return found


def _time_shown(tz: str) -> Callable[[datetime | str], str]:
    """How a time is printed: RFC 3339 in UTC, or in ``tz`` ("2026-12-08 09:00 EST")."""
    if not tz:
        return lambda when: when if isinstance(when, str) else format_rfc3339(when)
    try:
        zone = None if tz == "local" else ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"unknown time zone {tz!r}", param_hint="--tz") from None

    def shown(when: datetime | str) -> str:
        local = (_at(when) if isinstance(when, str) else when).astimezone(zone)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"

    return shown


@override_app.command("add")
def override_add(
    schedule: Annotated[str, typer.Argument(help="Schedule name.")],
    person: Annotated[str, typer.Argument(help="Who covers.")],
    start: Annotated[str, typer.Option(help="RFC 3339 start, or now.")] = "now",
    end: Annotated[str, typer.Option(help="RFC 3339 end (or --for).")] = "",
    for_: Annotated[str, typer.Option("--for", help="How long, e.g. 2h (instead of --end).")] = "",
    replaces: Annotated[str, typer.Option(help="Only where this person would be on call.")] = "",
    by: ByOption = "",
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Let someone cover a window of a schedule (an override of an override works)."""
    begins = _instant(start, "--start")
    if bool(end) == bool(for_):
        raise typer.BadParameter("give either --end or --for")
    if for_:
        try:
            length = parse_duration(for_)
        except ValueError as exc:
            raise typer.BadParameter(f"--for: {exc}") from None
        # said here: the server would only see an end that is not after the start
        if length <= timedelta(0):
            raise typer.BadParameter(f"--for: must be a positive duration, not {for_}")
        ends = begins + length
    else:
        ends = _instant(end, "--end")
    body = {
        "person": person,
        "start": format_rfc3339(begins),
        "end": format_rfc3339(ends),
        "by": me(by),
    }
    if replaces:
        body["replaces"] = replaces
    try:
        with Client(url) as client:
            made = client.add_override(schedule, body)
    except (ApiError, OSError) as exc:
        fail(str(exc))
    typer.echo(made["id"])


def _instant(text: str, option: str) -> datetime:
    if text == "now":
        return utcnow()
    try:
        found = parse_rfc3339(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{option}: {exc}") from None
    if found is None:
        raise typer.BadParameter(f"{option}: the zero time is not an instant")
    return found


@override_app.command("list")
def override_list(
    schedule: Annotated[str, typer.Argument(help="Schedule name.")],
    past: Annotated[bool, typer.Option(help="Those over already too.")] = False,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """A schedule's overrides that are not over: the config file's (SOURCE config,
    changed in the file) and those made from the CLI, API or console."""
    try:
        with Client(url) as client:
            found = client.overrides(schedule, past)
    except (ApiError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json(found)
        return
    rows = [
        [o["id"], o["person"], o["start"], o["end"], o["replaces"] or "", o.get("source", "api")]
        for o in found
    ]
    print_table(["ID", "PERSON", "FROM", "UNTIL", "REPLACES", "SOURCE"], rows)


@override_app.command("remove")
def override_remove(
    override_id: Annotated[str, typer.Argument(help="The id add or list printed.")],
    by: ByOption = "",
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Remove an override (audited on its schedule)."""
    try:
        with Client(url) as client:
            client.remove_override(override_id, me(by))
    except (ApiError, OSError) as exc:
        fail(str(exc))
    typer.echo(f"{override_id}: removed")


def register(app: typer.Typer) -> None:
    for action, doc in _ACTIONS.items():
        app.command(action)(_action(action, doc))
    for command in (snooze, groups, group, checklist, oncall):
        app.command()(command)
    app.add_typer(override_app, name="override")
