"""``tocsin incident list|declare|show|update|resolve|postmortem``: incidents on a
running server. Every change is a line of the incident's timeline, by ``--by`` (or
$TOCSIN_USER, else the login name), through the CLI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tocsin.cli.client_cmds import JsonOption, UrlOption
from tocsin.cli.oncall_cmds import ByOption
from tocsin.cli.output import ask, fail, me, out, print_table
from tocsin.defaults import DEFAULT_URL
from tocsin.incidents.model import STATUSES

incident_app = typer.Typer(
    help="Incidents: severity, roles, timeline, status page, post-mortem.", no_args_is_help=True
)
IdArg = Annotated[str, typer.Argument(help="The incident's number (tocsin incident list).")]
RoleOption = Annotated[
    list[str] | None,
    typer.Option("--role", help="ROLE=PERSON (e.g. commander=alice; ROLE= unassigns). Repeatable."),
]
MessageOption = Annotated[
    str, typer.Option("--message", "-m", help="A status-page update (public).")
]
ComponentOption = Annotated[
    list[str] | None,
    typer.Option("--component", help="What it affects (tocsin.incidents.components). Repeatable."),
]
SummaryOption = Annotated[
    str | None, typer.Option("--summary", help="What users see (the status page's words).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(incident_app, name="incident")


def parse_roles(given: list[str] | None) -> dict[str, str]:
    """``--role ROLE=PERSON`` options as a mapping; a malformed one fails (usage, 2)."""
    roles: dict[str, str] = {}
    for item in given or []:
        role, sep, person = item.partition("=")
        if not sep or not role.strip():
            fail(f"--role: {item!r} is not ROLE=PERSON (e.g. commander=alice)", 2)
        roles[role.strip()] = person.strip()
    return roles


@incident_app.command("list")
def list_(
    everything: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Incidents, newest first: open ones (--all: every one)."""
    state = "all" if everything else "open"
    out(ask(url, lambda c: c.incidents(state)), as_json, _table)


def _table(found: list[dict[str, Any]]) -> None:
    rows = [
        [
            str(i["id"]),
            i["severity"],
            i["status"],
            i["roles"].get("commander", "-"),
            i["openedAt"],
            i["title"][:60],
        ]
        for i in found
    ]
    print_table(["ID", "SEVERITY", "STATUS", "COMMANDER", "DECLARED", "TITLE"], rows)


@incident_app.command("declare")
def declare(
    title: Annotated[str, typer.Argument(help="What is happening, e.g. 'Checkout failing'.")],
    severity: Annotated[
        str, typer.Option("--severity", "-s", help="One of tocsin.incidents.severities.")
    ],
    summary: SummaryOption = None,
    public: Annotated[bool, typer.Option("--public", help="Show it on the status page.")] = False,
    groups: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="An alert group it starts from. Repeatable."),
    ] = None,
    roles: RoleOption = None,
    components: ComponentOption = None,
    by: ByOption = "",
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Declare an incident (you are its commander unless --role commander=... says)."""
    body: dict[str, Any] = {
        "title": title,
        "severity": severity,
        "by": me(by),
        "summary": summary or "",
        "public": public,
        "groups": groups or [],
        "roles": parse_roles(roles),
        "components": components or [],
    }
    made = ask(url, lambda c: c.declare(body))
    out(made, as_json, lambda i: typer.echo(f"incident {i['id']} declared: {i['title']}"))


@incident_app.command("show")
def show(incident: IdArg, url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """One incident: roles, what it owes and by when, and its timeline."""
    out(ask(url, lambda c: c.incident(incident)), as_json, _print)


def _print(i: dict[str, Any]) -> None:
    typer.echo(f"#{i['id']} {i['title']}: {i['severity']}, {i['status']}")
    typer.echo(f"  declared:  {i['openedAt']} by {i['openedBy']}")
    if i["resolvedAt"]:
        typer.echo(f"  resolved:  {i['resolvedAt']}")
    for role, person in i["roles"].items():
        typer.echo(f"  {role + ':':<10} {person}")
    if i["summary"]:
        typer.echo(f"  summary:   {i['summary']}")
    typer.echo(f"  public:    {'yes, on the status page' if i['public'] else 'no'}")
    for n, line in enumerate(group_lines(i)):
        typer.echo(f"  {'groups:' if n == 0 else '':<10} {line}")
    if i.get("components"):  # (a server before components has none)
        typer.echo(f"  affects:   {', '.join(i['components'])}")
    for d in i["due"]:
        late = " (overdue)" if d.get("overdue") else ""  # (an older server leaves it out)
        typer.echo(f"  owes:      {d['what']} by {d['at']}{late}")
    typer.echo("timeline:")
    # with its alert groups' lines (pages, acknowledgements), in time order
    lines = [*i["timeline"], *i.get("groupTimeline", [])]
    for e in sorted(lines, key=lambda e: str(e["at"])):
        # (a private incident's public lines show only if it is made public)
        mark = "  [status page]" if e["public"] and i["public"] else ""
        typer.echo(f"  {e['at']}  {e['by']}: {e['text']}{mark}")


def group_lines(i: dict[str, Any]) -> list[str]:
    """One line per linked group: its id, labels and status, as the incident's JSON
    names them (``groupLabels``, ``groupStatus``; an older server's has ids alone)."""
    labels = i.get("groupLabels") or {}
    statuses = i.get("groupStatus") or {}
    out = []
    for g in i["groups"]:
        held = sorted((labels.get(g) or {}).items())
        # one line each: a label value's line break would split a group over two
        said = ", ".join(f"{k}={' '.join(str(v).splitlines())}" for k, v in held)
        status = statuses.get(g)
        out.append(f"{g}{f' ({said})' if said else ''}{f': {status}' if status else ''}")
    return out


@incident_app.command("update")
def update(
    incident: IdArg,
    status: Annotated[
        str | None,
        typer.Option("--status", help="investigating, identified, monitoring or resolved."),
    ] = None,
    severity: Annotated[
        str | None,
        typer.Option("--severity", "-s", help="Regrade: one of tocsin.incidents.severities."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="A new title.")] = None,
    summary: SummaryOption = None,
    public: Annotated[
        bool | None, typer.Option("--public/--private", help="On the status page, or not.")
    ] = None,
    roles: RoleOption = None,
    link: Annotated[list[str] | None, typer.Option("--link", help="Link an alert group.")] = None,
    unlink: Annotated[
        list[str] | None, typer.Option("--unlink", help="Unlink an alert group.")
    ] = None,
    components: Annotated[
        list[str] | None,
        typer.Option("--component", help="What it affects, the whole list. Repeatable."),
    ] = None,
    clear_components: Annotated[
        bool, typer.Option("--no-components", help="It affects no listed component.")
    ] = False,
    note: Annotated[str, typer.Option("--note", "-n", help="A line for the responders.")] = "",
    message: MessageOption = "",
    by: ByOption = "",
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Change an incident; each change is a line of its timeline."""
    if components and clear_components:
        fail("--component and --no-components: give one or the other", 2)
    if status is not None and status not in STATUSES:
        fail(f"--status: must be one of {', '.join(STATUSES)}", 2)
    asked = [status, severity, title, summary, public, roles, link, unlink, note, message]
    asked += [components, clear_components or None]
    if all(a is None or a == "" or a == [] for a in asked):
        fail("nothing to change: give at least one option (tocsin incident update --help)", 2)
    body: dict[str, Any] = {"by": me(by), "note": note, "update": message}
    body |= {"roles": parse_roles(roles), "link": link or [], "unlink": unlink or []}
    given = {"status": status, "severity": severity, "title": title, "summary": summary}
    body |= {k: v for k, v in {**given, "public": public}.items() if v is not None}
    if components or clear_components:
        body["components"] = [] if clear_components else components
    _change(url, incident, body, as_json)


@incident_app.command("resolve")
def resolve(
    incident: IdArg,
    message: MessageOption = "",
    by: ByOption = "",
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Resolve an incident (its post-mortem, if its severity owes one, is due from now)."""
    if not message:  # (with words, an update on a resolved incident is still news)
        found = ask(url, lambda c: c.incident(incident))
        if found["status"] == "resolved":
            # said, not a silent "resolved" that reads as done now (exit 0: what was
            # asked for holds, so a script that resolves twice does not fail)
            when = found["resolvedAt"]
            out(
                found,
                as_json,
                lambda i: typer.echo(f"incident {i['id']}: already resolved at {when}"),
            )
            return
    _change(url, incident, {"by": me(by), "status": "resolved", "update": message}, as_json)


def _change(url: str, incident: str, body: dict[str, Any], as_json: bool, said: str = "") -> None:
    """Send a change; print the incident's severity and status (and ``said``)."""
    found = ask(url, lambda c: c.change_incident(incident, body))
    out(
        found,
        as_json,
        lambda i: typer.echo(f"incident {i['id']}: {i['severity']}, {i['status']}{said}"),
    )


@incident_app.command("postmortem")
def postmortem(
    incident: IdArg,
    save: Annotated[
        Path | None,
        typer.Option("--save", help="Store this Markdown file as the post-mortem ('-': stdin)."),
    ] = None,
    by: ByOption = "",
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Print the post-mortem: the one stored, or a draft from the incident's timeline
    (redirect it to a file, edit it, then --save it)."""
    if save is None:
        found = ask(url, lambda c: c.postmortem(incident))
        out(found, as_json, lambda p: typer.echo(p["markdown"], nl=False))
        return
    try:
        text = sys.stdin.read() if str(save) == "-" else save.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--save: {exc}")
    said = f"; post-mortem stored ({len(text.splitlines())} lines)"
    _change(url, incident, {"by": me(by), "postmortem": text}, as_json, said)
