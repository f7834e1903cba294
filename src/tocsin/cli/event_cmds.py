"""``tocsin event trigger|resolve|ack``: send PagerDuty Events API v2 events to a running
server, for scripts and cron jobs that have no monitoring tool of their own."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tocsin.alerts.pd_events import PROCESSED, SEVERITIES
from tocsin.cli.output import fail, parse_label_args, print_json
from tocsin.client import ApiError, Client
from tocsin.defaults import DEFAULT_URL

UrlOption = Annotated[
    str, typer.Option("--url", envvar="TOCSIN_URL", help="Tocsin server to talk to.")
]
KeyOption = Annotated[
    str,
    typer.Option(
        "--routing-key",
        envvar="TOCSIN_ROUTING_KEY",
        help="The integration's routing key (tocsin.event_integrations).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the server's answer as JSON.")]

event_app = typer.Typer(
    help="Send PagerDuty Events API v2 events (POST /v2/enqueue).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(event_app, name="event")


def _send(url: str, event: dict[str, Any], as_json: bool) -> None:
    try:
        with Client(url) as client:
            answer = client.enqueue_event(event)
    except (ApiError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json(answer)
        return
    typer.echo(answer.get("dedup_key", ""))
    message = str(answer.get("message", PROCESSED))
    if message != PROCESSED:  # accepted, but it changed nothing: say so, exit 0
        typer.echo(f"tocsin: {message.removeprefix(PROCESSED + '; ')}", err=True)


@event_app.command("trigger")
def trigger(
    summary: Annotated[str, typer.Argument(help="What is wrong, in one line.")],
    routing_key: KeyOption,
    source: Annotated[str, typer.Option(help="Where: the affected host or service.")],
    severity: Annotated[str, typer.Option(help=", ".join(SEVERITIES))] = "error",
    dedup_key: Annotated[
        str | None, typer.Option("--dedup-key", help="Names the alert (made if not given).")
    ] = None,
    event_class: Annotated[str, typer.Option("--class", help="Names the alert.")] = "",
    component: Annotated[str, typer.Option(help="The affected component.")] = "",
    group: Annotated[str, typer.Option(help="A logical grouping of components.")] = "",
    detail: Annotated[
        list[str] | None, typer.Option("--detail", "-d", help="name=value (custom_details)")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Fire (or update) an alert until it is resolved; prints its dedup_key."""
    if severity not in SEVERITIES:
        raise typer.BadParameter(f"must be one of {', '.join(SEVERITIES)}", param_hint="--severity")
    payload: dict[str, Any] = {"summary": summary, "source": source, "severity": severity}
    for name, value in (("class", event_class), ("component", component), ("group", group)):
        if value:
            payload[name] = value
    if detail:
        payload["custom_details"] = parse_label_args(detail)
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": payload,
        "client": "tocsin event",
    }
    if dedup_key:
        event["dedup_key"] = dedup_key
    _send(url, event, as_json)


def _action(action: str, dedup_key: str, routing_key: str, url: str, as_json: bool) -> None:
    event = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}
    _send(url, event, as_json)


@event_app.command("resolve")
def resolve(
    dedup_key: Annotated[str, typer.Argument(help="The alert's dedup_key.")],
    routing_key: KeyOption,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Resolve the alert a trigger fired. Resolving what is not firing is accepted
    (exit 0, as PagerDuty accepts it), with a note on stderr."""
    _action("resolve", dedup_key, routing_key, url, as_json)


@event_app.command("ack")
def ack(
    dedup_key: Annotated[str, typer.Argument(help="The alert's dedup_key.")],
    routing_key: KeyOption,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge the escalating alert group that holds the alert (nothing to
    acknowledge: exit 0, with a note on stderr)."""
    _action("acknowledge", dedup_key, routing_key, url, as_json)
