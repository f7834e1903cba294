"""``tocsin heartbeat list|show|ping|run``: the heartbeats a running server watches, and
the pings of the jobs it watches (``run`` wraps a cron job: it runs the command and
pings with its outcome)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from tocsin.cli.client_cmds import JsonOption, UrlOption
from tocsin.cli.output import fail, print_json, print_table
from tocsin.client import ApiError, Client
from tocsin.defaults import DEFAULT_URL
from tocsin.monitors.heartbeats import MESSAGE_MAX
from tocsin.runbooks.quantities import format_seconds

T = TypeVar("T")

heartbeat_app = typer.Typer(
    help="Heartbeats: jobs that must ping Tocsin (tocsin.heartbeats).", no_args_is_help=True
)
NameArg = Annotated[str, typer.Argument(help="The heartbeat's name (tocsin.heartbeats).")]


def register(app: typer.Typer) -> None:
    app.add_typer(heartbeat_app, name="heartbeat")


def _ask(url: str, call: Callable[[Client], T]) -> T:
    """``call`` on a client of the server at ``url``; its refusal fails the command."""
    try:
        with Client(url) as client:
            return call(client)
    except (ApiError, OSError) as exc:
        fail(str(exc))


@heartbeat_app.command("list")
def list_(url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """Every configured heartbeat: its state (new, up, late, down, failed), last ping
    and when it is due."""
    found = _ask(url, lambda client: client.heartbeats())
    if as_json:
        print_json(found)
        return
    rows = [
        [
            h["name"],
            h["state"],
            _every(h),
            h["lastPingAt"] or "never",
            h["lateAt"],
            h["message"].splitlines()[-1][:60] if h["message"] else "",
        ]
        for h in found
    ]
    print_table(["NAME", "STATE", "EVERY", "LAST PING", "DUE", "MESSAGE"], rows)


@heartbeat_app.command("show")
def show(name: NameArg, url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """One heartbeat, with its last message whole."""
    found = _ask(url, lambda client: client.heartbeat(name))
    if as_json:
        print_json(found)
        return
    _print(found)


def _every(h: dict[str, Any]) -> str:
    """ "1d +1h": the period and the grace."""
    return f"{format_seconds(h['period'])} +{format_seconds(h['grace'])}"


def _print(h: dict[str, Any]) -> None:
    typer.echo(f"{h['name']}: {h['state']} (every {_every(h)})")
    kind = f" ({h['lastPing']})" if h["lastPing"] else ""
    typer.echo(f"  last ping: {h['lastPingAt'] or 'never'}{kind}")
    typer.echo(f"  due by:    {h['lateAt']}; alert at {h['downAt']}")
    if h["message"]:
        typer.echo("  message:")
        for line in h["message"].splitlines():
            typer.echo(f"    {line}")


@heartbeat_app.command("ping")
def ping(
    name: NameArg,
    failed: Annotated[
        bool, typer.Option("--fail", help="The job failed: raise HeartbeatFailed now.")
    ] = False,
    message: Annotated[
        str, typer.Option("--message", "-m", help="Kept with the ping (what the job did).")
    ] = "",
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Tell Tocsin the job ran (or, with --fail, that it failed)."""
    found = _ask(url, lambda client: client.ping(name, failed, message))
    if as_json:
        print_json(found)


@heartbeat_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def run(
    ctx: typer.Context,
    name: NameArg,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Run a command (after --) and ping with its outcome: an exit status of 0 pings,
    any other pings --fail with the tail of its output. Exits with the command's
    status, or 1 when the ping could not be sent. For cron:
    tocsin heartbeat run nightly-backup -- /usr/local/bin/backup.sh"""
    command = list(ctx.args)
    if not command:
        raise typer.BadParameter("the command to run, after --", param_hint="COMMAND")
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace")
    except OSError as exc:  # not found, not executable: the job failed
        status, output = 127, f"{command[0]}: {exc.strerror or exc}"
    else:
        status, output = done.returncode, done.stdout + done.stderr
        # the job's own output still goes where cron sends it
        typer.echo(done.stdout, nl=False)
        typer.echo(done.stderr, nl=False, err=True)
    said = output[-MESSAGE_MAX:]
    if status != 0:
        said = f"exit status {status}\n{said}"[-MESSAGE_MAX:]
    try:
        with Client(url) as client:
            client.ping(name, status != 0, said)
    except (ApiError, OSError) as exc:
        typer.echo(f"tocsin: the ping of {name} was not sent: {exc}", err=True)
        raise typer.Exit(status or 1) from None
    raise typer.Exit(status)
