"""The ``tocsin`` command: one Typer app; each group of commands registers itself.

Conventions every command follows: settings come from flags or ``TOCSIN_*`` variables;
commands that list or show take ``--json``; exit codes are 0 ok, 1 failure, 2 usage.
"""

from __future__ import annotations

import sys

import typer

from tocsin import __version__
from tocsin.cli import (
    client_cmds,
    config_cmds,
    event_cmds,
    oncall_cmds,
    runbook_cmds,
    serve_cmd,
)

app = typer.Typer(
    name="tocsin",
    help="Tocsin: alerts, on-call and runbooks. Alertmanager-compatible.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"tocsin {__version__}")


serve_cmd.register(app)
client_cmds.register(app)
config_cmds.register(app)
runbook_cmds.register(app)
oncall_cmds.register(app)
event_cmds.register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
