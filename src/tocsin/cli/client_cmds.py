"""``tocsin alert`` and ``tocsin silence``: talk to a running server, like amtool."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from tocsin.alerts.matchers import MatcherError, parse_matcher_list
from tocsin.cli.output import fail, me, parse_label_args, print_json, print_table
from tocsin.client import ApiError, Client
from tocsin.config.durations import parse_duration
from tocsin.defaults import DEFAULT_URL
from tocsin.notify.outbox import DeliveryStatus
from tocsin.timeutil import format_rfc3339, parse_rfc3339, utcnow

UrlOption = Annotated[
    str, typer.Option("--url", envvar="TOCSIN_URL", help="Tocsin server to talk to.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

alert_app = typer.Typer(help="List and add alerts on a running server.", no_args_is_help=True)
silence_app = typer.Typer(help="Add, list and expire silences.", no_args_is_help=True)


notifications_app = typer.Typer(help="The notification log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(alert_app, name="alert")
    app.add_typer(silence_app, name="silence")
    app.add_typer(notifications_app, name="notifications")


def _client(url: str) -> Client:
    return Client(url)


def _matchers(filters: list[str] | None) -> list[str]:
    """The matchers as given, amtool-style: a first word that is no matcher is the
    alertname (``tocsin silence add DiskFull`` is ``alertname=DiskFull``); any other
    that is not a matcher is a usage error."""
    found = list(filters or [])
    if found:
        try:
            parse_matcher_list(found[:1])
        except MatcherError:
            found[0] = f"alertname={found[0]}"
    try:
        parse_matcher_list(found)
    except MatcherError as exc:
        raise typer.BadParameter(str(exc)) from None
    return found


@alert_app.command("list")
def alert_list(
    filters: Annotated[
        list[str] | None,
        typer.Argument(help="[alertname] matchers, e.g. severity=critical"),
    ] = None,
    silenced: Annotated[bool, typer.Option(help="Include silenced alerts.")] = False,
    inhibited: Annotated[bool, typer.Option(help="Include inhibited alerts.")] = False,
    active: Annotated[bool, typer.Option(help="Include active alerts.")] = True,
    receiver: Annotated[str | None, typer.Option(help="Receiver regex.")] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """List firing alerts (active only unless --silenced/--inhibited)."""
    filters = _matchers(filters)
    flags: dict[str, bool | str] = {"silenced": silenced, "inhibited": inhibited, "active": active}
    if receiver:
        flags["receiver"] = receiver
    try:
        with _client(url) as client:
            alerts = client.alerts(filters, **flags)
    except (ApiError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json(alerts)
        return
    rows = [
        [
            a["labels"].get("alertname", ""),
            a["startsAt"],
            a["annotations"].get("summary", ""),
            a["status"]["state"],
            a["fingerprint"],
        ]
        for a in alerts
    ]
    print_table(["ALERTNAME", "STARTS AT", "SUMMARY", "STATE", "FINGERPRINT"], rows)


@alert_app.command("add")
def alert_add(
    labels: Annotated[list[str], typer.Argument(help="[alertname] name=value ...")],
    annotation: Annotated[
        list[str] | None, typer.Option("--annotation", "-a", help="name=value")
    ] = None,
    start: Annotated[str | None, typer.Option(help="RFC 3339 start time")] = None,
    end: Annotated[str | None, typer.Option(help="RFC 3339 end time (resolves it)")] = None,
    generator_url: Annotated[str, typer.Option("--generator-url")] = "",
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Post one alert (amtool-style: a bare first word is the alertname)."""
    alert: dict[str, Any] = {
        "labels": parse_label_args(labels, first_is_alertname=True),
        "annotations": parse_label_args(annotation or []),
        "generatorURL": generator_url,
    }
    if start:
        alert["startsAt"] = start
    if end:
        alert["endsAt"] = end
    try:
        with _client(url) as client:
            client.post_alerts([alert])
    except (ApiError, OSError) as exc:
        fail(str(exc))


@silence_app.command("add")
def silence_add(
    matchers: Annotated[
        list[str], typer.Argument(help="[alertname] matchers, e.g. Foo instance=db1")
    ],
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why this silence exists.")],
    author: Annotated[
        str, typer.Option("--author", "-a", help="Who creates it (default: your login).")
    ] = "",
    duration: Annotated[str, typer.Option("--duration", "-d", help="e.g. 2h, 30m")] = "1h",
    start: Annotated[str | None, typer.Option(help="RFC 3339 start (default now)")] = None,
    end: Annotated[str | None, typer.Option(help="RFC 3339 end (overrides --duration)")] = None,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Create a silence and print its id (amtool-style: a bare first word is the
    alertname)."""
    parsed = parse_matcher_list(_matchers(matchers))
    try:
        starts_at = parse_rfc3339(start) if start else utcnow()
        ends_at = parse_rfc3339(end) if end else None
        length: timedelta = parse_duration(duration)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    starts_at = starts_at or utcnow()
    ends_at = ends_at or starts_at + length
    body = {
        "matchers": [
            {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
            for m in parsed
        ],
        "startsAt": format_rfc3339(starts_at),
        "endsAt": format_rfc3339(ends_at),
        "createdBy": me(author),
        "comment": comment,
    }
    try:
        with _client(url) as client:
            typer.echo(client.post_silence(body))
    except (ApiError, OSError) as exc:
        fail(str(exc))


@silence_app.command("list")
def silence_list(
    filters: Annotated[
        list[str] | None, typer.Argument(help="[alertname] matchers to filter by")
    ] = None,
    expired: Annotated[bool, typer.Option(help="Show only expired silences.")] = False,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """List active and pending silences (or only expired ones with --expired)."""
    filters = _matchers(filters)
    try:
        with _client(url) as client:
            silences = client.silences(filters)
    except (ApiError, OSError) as exc:
        fail(str(exc))
    silences = [s for s in silences if (s["status"]["state"] == "expired") == expired]
    if as_json:
        print_json(silences)
        return
    rows = [
        [
            s["id"],
            ",".join(_matcher_text(m) for m in s["matchers"]),
            s["status"]["state"],
            s["endsAt"],
            s["createdBy"],
            s["comment"],
        ]
        for s in silences
    ]
    print_table(["ID", "MATCHERS", "STATE", "ENDS AT", "CREATED BY", "COMMENT"], rows)


@silence_app.command("expire")
def silence_expire(
    ids: Annotated[list[str], typer.Argument(help="Silence ids")],
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Expire silences now."""
    failed = False
    with _client(url) as client:
        for silence_id in ids:
            try:
                client.expire_silence(silence_id)
            except (ApiError, OSError) as exc:
                typer.echo(f"error: {silence_id}: {exc}", err=True)
                failed = True
    if failed:
        raise typer.Exit(1)


def _matcher_text(m: dict[str, Any]) -> str:
    op = ("=~" if m["isEqual"] else "!~") if m["isRegex"] else ("=" if m["isEqual"] else "!=")
    return f'{m["name"]}{op}"{m["value"]}"'


@notifications_app.command("list")
def notifications_list(
    receiver: Annotated[str | None, typer.Option(help="Only this receiver.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only those pending, sent, failed or superseded.")
    ] = None,
    group: Annotated[str | None, typer.Option(help="Only the group with this group key.")] = None,
    before: Annotated[
        str | None,
        typer.Option(help="Only those listed after the notification with this id: the next page."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Notifications decided, newest first: status, attempts and the last error. A
    full page ends with the command for the next (--before the last one's id)."""
    if status is not None and status not in {s.value for s in DeliveryStatus}:
        raise typer.BadParameter("pending, sent, failed or superseded", param_hint="--status")
    try:
        with _client(url) as client:
            items = client.notifications(receiver, limit, status=status, group=group, before=before)
    except (ApiError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json(items)
        return
    rows = [
        [
            n["createdAt"],
            n["receiver"],
            n["integration"],
            n["status"],
            str(n["attempts"]),
            # the group's labels tell a storm's notifications apart, not their alertname
            ",".join(f"{k}={v}" for k, v in sorted(n.get("groupLabels", {}).items())) or "-",
            str(len(n["alerts"])),
            n["lastError"][:60],
        ]
        for n in items
    ]
    print_table(
        ["CREATED", "RECEIVER", "INTEGRATION", "STATUS", "TRIES", "GROUP", "ALERTS", "LAST ERROR"],
        rows,
    )
    if len(items) == limit:  # (on stderr: the table stays a table for a pipe)
        typer.echo(f"more: --before {items[-1]['id']}", err=True)
