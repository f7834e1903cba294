"""The ``tocsin`` command: one Typer app; each group of commands registers itself.

Conventions every command follows: settings come from flags or ``TOCSIN_*`` variables;
commands that list or show take ``--json``; exit codes are 0 ok, 1 failure, 2 usage.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Annotated

import typer

from tocsin import __version__
from tocsin.cli import (
    backup_cmd,
    client_cmds,
    config_cmds,
    event_cmds,
    incident_cmds,
    maintenance_cmds,
    monitor_cmds,
    oncall_cmds,
    runbook_cmds,
    serve_cmd,
)
from tocsin.cli.output import print_json

app = typer.Typer(
    name="tocsin",
    help="Tocsin: alerts, on-call and runbooks. Alertmanager-compatible.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def options(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Tocsin's URL for every client command (as amtool's --alertmanager.url "
            "comes first); a command's own --url wins. Default: $TOCSIN_URL.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Tocsin: alerts, on-call and runbooks. Alertmanager-compatible."""
    # The subcommands read TOCSIN_URL as their --url's default; Click runs this
    # callback before it parses the subcommand, so the variable is set in time.
    if url:
        os.environ["TOCSIN_URL"] = url


@app.command()
def version(as_json: client_cmds.JsonOption = False) -> None:
    """Print the version."""
    if as_json:
        print_json({"version": __version__, "python": platform.python_version()})
    else:
        typer.echo(f"tocsin {__version__}")


serve_cmd.register(app)
backup_cmd.register(app)
client_cmds.register(app)
config_cmds.register(app)
runbook_cmds.register(app)
oncall_cmds.register(app)
event_cmds.register(app)
monitor_cmds.register(app)
incident_cmds.register(app)
maintenance_cmds.register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
