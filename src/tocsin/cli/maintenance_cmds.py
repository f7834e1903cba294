"""``tocsin maintenance list|schedule|show|update|cancel|finish``: planned maintenance
windows on a running server. A window is on the status page from the moment it is
scheduled, and its ``--match`` matchers are silenced over exactly its window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import typer

from tocsin.alerts.matchers import MatcherError, parse_matcher
from tocsin.cli.client_cmds import JsonOption, UrlOption
from tocsin.cli.oncall_cmds import ByOption
from tocsin.cli.output import ask, fail, me, out, print_table
from tocsin.config import parse_duration
from tocsin.defaults import DEFAULT_URL
from tocsin.timeutil import format_rfc3339, parse_rfc3339, utcnow

maintenance_app = typer.Typer(
    help="Planned maintenance windows: on the status page, their alerts silenced.",
    no_args_is_help=True,
)
IdArg = Annotated[str, typer.Argument(help="The window's number (tocsin maintenance list).")]
StartOption = Annotated[
    str | None, typer.Option("--start", help="RFC 3339 start, e.g. 2026-12-10T02:00:00Z.")
]
EndOption = Annotated[str | None, typer.Option("--end", help="RFC 3339 end.")]


MatchOption = Annotated[
    list[str] | None,
    typer.Option(
        "--match", "-m", help='Alerts silenced over the window, e.g. service="api". Repeatable.'
    ),
]


def _checked(matchers: list[str]) -> list[str]:
    """The --match options, each parsed here: a bad one is a usage error (exit 2), as
    for tocsin silence add."""
    for item in matchers:
        try:
            parse_matcher(item)
        except MatcherError as exc:
            fail(f"--match {item!r}: {exc}", 2)
    return matchers


def register(app: typer.Typer) -> None:
    app.add_typer(maintenance_app, name="maintenance")


def _when(option: str, given: str) -> datetime:
    try:
        found = parse_rfc3339(given)
    except ValueError as exc:  # TimeFormatError: also a time beyond year 1 or 9999
        fail(f"{option}: {exc}", 2)
    if found is None:
        fail(f"{option}: the zero time is not a time", 2)
    return found


def _length(option: str, given: str) -> timedelta:
    try:
        return parse_duration(given)
    except ValueError as exc:
        fail(f"{option}: {exc}", 2)


@maintenance_app.command("list")
def list_(
    past: Annotated[bool, typer.Option("--past", help="Every window, over ones too.")] = False,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Maintenance windows not over yet, soonest first (--past: every one)."""
    out(ask(url, lambda c: c.maintenances(past)), as_json, _table)


def _table(found: list[dict[str, Any]]) -> None:
    rows = [
        [
            str(m["id"]),
            m["state"],
            m["startsAt"],
            m["endsAt"],
            ",".join(m["components"]) or "-",
            m["title"][:50],
        ]
        for m in found
    ]
    print_table(["ID", "STATE", "STARTS", "ENDS", "AFFECTS", "TITLE"], rows)


@maintenance_app.command("schedule")
def schedule(
    title: Annotated[str, typer.Argument(help="What is done, e.g. 'Database upgrade'.")],
    start: StartOption = None,
    end: EndOption = None,
    duration: Annotated[
        str | None, typer.Option("--for", "-d", help="How long (e.g. 2h), instead of --end.")
    ] = None,
    matchers: MatchOption = None,
    components: Annotated[
        list[str] | None,
        typer.Option("--component", help="What it affects (tocsin.incidents.components)."),
    ] = None,
    description: Annotated[
        str, typer.Option("--description", help="What users see: the expected impact.")
    ] = "",
    private: Annotated[
        bool, typer.Option("--private", help="Not on the status page (silence only).")
    ] = False,
    by: ByOption = "",
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Schedule a maintenance window (default: starting now)."""
    if (end is None) == (duration is None):
        fail("give the window's end: --end TIME or --for DURATION (one of them)", 2)
    starts_at = _when("--start", start) if start else utcnow()
    try:
        ends_at = _when("--end", end) if end else starts_at + _length("--for", duration or "")
    except OverflowError:
        fail("--for: the window would end beyond any date", 2)
    body: dict[str, Any] = {
        "title": title,
        "startsAt": format_rfc3339(starts_at),
        "endsAt": format_rfc3339(ends_at),
        "by": me(by),
        "description": description,
        "components": components or [],
        "matchers": _checked(matchers or []),
        "public": not private,
    }
    made = ask(url, lambda c: c.schedule_maintenance(body))
    out(made, as_json, _scheduled)


def _scheduled(m: dict[str, Any]) -> None:
    typer.echo(f"maintenance {m['id']} {m['state']}: {m['title']}")
    if m["silenceId"]:
        typer.echo(f"  silence {m['silenceId']} over {m['startsAt']} - {m['endsAt']}")
    if m["shortNotice"]:
        typer.echo(
            f"  short notice: announced {m['shortNotice']} before its start "
            "(tocsin.incidents.maintenance_notice asks more)"
        )


@maintenance_app.command("show")
def show(maintenance: IdArg, url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """One maintenance window."""
    out(ask(url, lambda c: c.maintenance(maintenance)), as_json, _print)


def _print(m: dict[str, Any]) -> None:
    typer.echo(f"#{m['id']} {m['title']}: {m['state']}")
    typer.echo(f"  window:    {m['startsAt']} - {m['endsAt']}")
    typer.echo(f"  scheduled: {m['createdAt']} by {m['createdBy']}")
    if m["cancelledAt"]:
        typer.echo(f"  cancelled: {m['cancelledAt']}")
    if m["components"]:
        typer.echo(f"  affects:   {', '.join(m['components'])}")
    if m["matchers"]:
        typer.echo(f"  silences:  {', '.join(m['matchers'])} (silence {m['silenceId']})")
    typer.echo(f"  public:    {'yes, on the status page' if m['public'] else 'no'}")
    if m["description"]:
        typer.echo(f"  {m['description']}")


@maintenance_app.command("update")
def update(
    maintenance: IdArg,
    title: Annotated[str | None, typer.Option("--title")] = None,
    start: StartOption = None,
    end: EndOption = None,
    extend: Annotated[
        str | None, typer.Option("--extend", help="End this much later (e.g. 30m).")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    public: Annotated[bool | None, typer.Option("--public/--private")] = None,
    matchers: MatchOption = None,
    no_match: Annotated[
        bool, typer.Option("--no-match", help="Silence nothing: the status page only.")
    ] = False,
    by: ByOption = "",
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Change a window (its silence follows): move it, extend it, retitle it, change
    what it silences (--match, the whole list)."""
    if end is not None and extend is not None:
        fail("--end and --extend: give one or the other", 2)
    if matchers and no_match:
        fail("--match and --no-match: give one or the other", 2)
    body: dict[str, Any] = {"by": me(by)}
    if matchers or no_match:
        body["matchers"] = _checked(matchers or [])
    given = {"title": title, "description": description, "public": public}
    body |= {k: v for k, v in given.items() if v is not None}
    if start is not None:
        body["startsAt"] = format_rfc3339(_when("--start", start))
    if end is not None:
        body["endsAt"] = format_rfc3339(_when("--end", end))
    if extend is not None:
        _length("--extend", extend)  # a usage error here, not the server's 400
        body["extendBy"] = extend
    if len(body) == 1:
        fail("nothing to change: give at least one option (tocsin maintenance update --help)", 2)
    _change(url, maintenance, body, as_json)


@maintenance_app.command("cancel")
def cancel(
    maintenance: IdArg, by: ByOption = "", url: UrlOption = DEFAULT_URL, as_json: JsonOption = False
) -> None:
    """Call a window off (its silence is expired; the status page no longer lists it)."""
    _change(url, maintenance, {"by": me(by), "state": "cancelled"}, as_json)


@maintenance_app.command("finish")
def finish(
    maintenance: IdArg, by: ByOption = "", url: UrlOption = DEFAULT_URL, as_json: JsonOption = False
) -> None:
    """Finish a window in progress early, now (its silence ends now too)."""
    _change(url, maintenance, {"by": me(by), "state": "completed"}, as_json)


def _change(url: str, maintenance: str, body: dict[str, Any], as_json: bool) -> None:
    found = ask(url, lambda c: c.change_maintenance(maintenance, body))
    out(
        found,
        as_json,
        lambda m: typer.echo(f"maintenance {m['id']}: {m['state']}, ends {m['endsAt']}"),
    )
