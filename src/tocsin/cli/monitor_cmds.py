"""``tocsin heartbeat list|show|ping|run``: the heartbeats a running server watches, and
the pings of the jobs it watches (``run`` wraps a cron job: it runs the command and
pings with its outcome); ``tocsin probe list|show|run``: the URLs it requests."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any, TypeVar

import typer

from tocsin.cli import wrapped
from tocsin.cli.client_cmds import JsonOption, UrlOption
from tocsin.cli.output import ask, fail, out, print_json, print_table
from tocsin.client import ApiError, Client
from tocsin.defaults import DEFAULT_URL
from tocsin.monitors.heartbeats import MESSAGE_MAX, message_of
from tocsin.runbooks.quantities import format_seconds

T = TypeVar("T")

heartbeat_app = typer.Typer(
    help="Heartbeats: jobs that must ping Tocsin (tocsin.heartbeats).", no_args_is_help=True
)
NameArg = Annotated[str, typer.Argument(help="The heartbeat's name (tocsin.heartbeats).")]


def register(app: typer.Typer) -> None:
    app.add_typer(heartbeat_app, name="heartbeat")
    app.add_typer(probe_app, name="probe")


@heartbeat_app.command("list")
def list_(url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """Every configured heartbeat: its state (new, up, late, down, failed), last ping
    and when it is due."""
    out(ask(url, lambda client: client.heartbeats()), as_json, _heartbeat_table)


def _heartbeat_table(found: list[dict[str, Any]]) -> None:
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
    out(ask(url, lambda client: client.heartbeat(name)), as_json, _print)


def _every(h: dict[str, Any]) -> str:
    """ "1d +1h": the period and the grace."""
    return f"{format_seconds(h['period'])} +{format_seconds(h['grace'])}"


def _print(h: dict[str, Any]) -> None:
    typer.echo(f"{h['name']}: {h['state']} (every {_every(h)})")
    kind = f" ({h['lastPing']})" if h["lastPing"] else ""
    took = f", ran {format_seconds(h['lastDuration'])}" if h.get("lastDuration") else ""
    typer.echo(f"  last ping: {h['lastPingAt'] or 'never'}{kind}{took}")
    if h.get("startedAt"):
        typer.echo(f"  started:   {h['startedAt']} (running)")
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
    start: Annotated[
        bool,
        typer.Option(
            "--start", help="The job starts: it must ping within its grace; its run is timed."
        ),
    ] = False,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Tell Tocsin the job ran (or, with --fail, that it failed; --start, that it starts)."""
    if start and failed:
        raise typer.BadParameter("--start or --fail, not both")
    found = ask(url, lambda client: client.ping(name, failed, message, start))
    if as_json:
        print_json(found)


@heartbeat_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def run(
    ctx: typer.Context,
    name: NameArg,
    no_output: Annotated[
        bool,
        typer.Option(
            "--no-output",
            help="Send no output with a failure's ping (it becomes the alert's "
            "description, which every receiver shows).",
        ),
    ] = False,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Run a command (after --) and ping with its outcome: exit status 0 pings, any
    other (or a signal) pings --fail with the tail of its output. Its output passes
    through as it comes. Exits with the command's status (as a shell reports it),
    or 1 when the ping could not be sent. For cron:
    tocsin heartbeat run nightly-backup -- /usr/local/bin/backup.sh"""
    command = list(ctx.args)
    if not command:
        raise typer.BadParameter("the command to run, after --", param_hint="COMMAND")
    _say_started(url, name)
    ended = wrapped.run(command, sys.stdout.buffer, sys.stderr.buffer, MESSAGE_MAX * 4)
    output = "" if no_output else ended.tail.decode("utf-8", errors="replace")
    said = message_of(ended.why, output)
    if not _ping_with_retries(url, name, ended.status != 0, said):
        raise typer.Exit(ended.status or 1)
    raise typer.Exit(ended.status)


PING_TRIES = (0.0, 1.0, 3.0)  # waits before each try: a deploy of Tocsin is no alert


def _say_started(url: str, name: str) -> None:
    """Tell Tocsin the job starts (it times the run, and catches a hung job); once: the
    job runs whether or not Tocsin heard it."""
    try:
        with Client(url) as client:
            client.ping(name, start=True)
    except (ApiError, OSError) as exc:
        typer.echo(f"tocsin: the start of {name} was not sent: {exc}", err=True)


def _ping_with_retries(url: str, name: str, failed: bool, message: str) -> bool:
    last: Exception | None = None
    for wait in PING_TRIES:
        time.sleep(wait)
        try:
            with Client(url) as client:
                client.ping(name, failed, message)
            return True
        except ApiError as exc:
            last = exc
            if exc.status < 500:  # refused (no such heartbeat): trying again won't help
                break
        except OSError as exc:
            last = exc
    typer.echo(f"tocsin: the ping of {name} was not sent: {last}", err=True)
    return False


probe_app = typer.Typer(
    help="Probes: URLs Tocsin requests every interval (tocsin.probes).", no_args_is_help=True
)
ProbeArg = Annotated[str, typer.Argument(help="The probe's name (tocsin.probes).")]


@probe_app.command("list")
def probe_list(url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """Every configured probe: its state (unknown, up, failing, down) and last result."""
    out(ask(url, lambda client: client.probes()), as_json, _probe_table)


def _probe_table(found: list[dict[str, Any]]) -> None:
    rows = [
        [p["name"], p["state"], f"{p['method']} {p['url']}", _result(p), p["lastAt"] or "never"]
        for p in found
    ]
    print_table(["NAME", "STATE", "REQUEST", "RESULT", "LAST"], rows)


def _result(p: dict[str, Any]) -> str:
    if p["lastAt"] is None:
        return ""
    if p["lastOk"]:
        said = p["lastStatus"] or "connected"  # a tcp:// probe has no status
        return f"{said} in {p['lastSeconds'] * 1000:.0f} ms"
    return f"{p['lastError']} ({p['failuresInARow']} in a row)"


@probe_app.command("show")
def probe_show(name: ProbeArg, url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """One probe, with its last request."""
    out(ask(url, lambda client: client.probe(name)), as_json, _show_probe)


def _show_probe(found: dict[str, Any]) -> None:
    typer.echo(f"{found['name']}: {found['state']} ({found['method']} {found['url']})")
    every, timeout = format_seconds(found["interval"]), format_seconds(found["timeout"])
    typer.echo(f"  every {every}, timeout {timeout}; down after {found['failures']} in a row")
    typer.echo(f"  last request: {found['lastAt'] or 'never'}  {_result(found)}")
    typer.echo(f"  last success: {found['lastOkAt'] or 'never'}")
    if found["downSince"]:
        typer.echo(f"  down since:   {found['downSince']}")
    if found.get("certExpiresAt"):
        typer.echo(f"  certificate:  expires {found['certExpiresAt']}")
    typer.echo(f"  next request: {found['nextAt']}")


@probe_app.command("run")
def probe_run(
    name: ProbeArg,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the result, and show it.")
    ] = True,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Request the probe now; with --wait (the default), show its result, and exit 1
    when the request failed (a script can gate on it)."""
    before = ask(url, lambda client: client.probe(name))
    ask(url, lambda client: client.run_probe(name))
    if not wait:
        return
    deadline = time.monotonic() + before["timeout"] + 10
    found = before
    while found["runs"] == before["runs"]:
        if time.monotonic() > deadline:
            fail(f"probe {name}: no result within {before['timeout'] + 10:g}s (tocsin probe show)")
        time.sleep(0.2)
        found = ask(url, lambda client: client.probe(name))
    out(found, as_json, _show_probe)
    if not found["lastOk"]:
        raise typer.Exit(1)
