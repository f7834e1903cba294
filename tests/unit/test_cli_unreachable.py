"""Client commands when the server cannot be reached: one line on stderr naming the
address and why, exit code 1 (no traceback), whatever the command."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.harness.procs import free_port
from tocsin.cli.main import app

COMMANDS = [
    ["alert", "list"],
    ["alert", "add", "Foo"],
    ["silence", "list"],
    ["silence", "add", "a=b", "-c", "x"],
    ["groups"],
    ["ack", "abc"],
    ["oncall"],
    ["runbook", "show", "X"],
    ["notifications", "list"],
]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"http://127.0.0.1:{free_port()}", "Connection refused"),  # nothing listens there
        ("127.0.0.1:9093", "missing an 'http://' or 'https://' protocol"),
    ],
    ids=["refused", "not a URL"],
)
@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_an_unreachable_server_is_one_line(url: str, why: str, command: list[str]) -> None:
    result = CliRunner().invoke(app, ["--url", url, *command])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot reach Tocsin at {url}: "), line
    assert why in line


def test_a_negative_number_of_days_is_a_usage_error() -> None:
    """Refused before any request (exit 2), not shown as a shift of no length."""
    found = CliRunner().invoke(app, ["oncall", "--days", "-1", "--url", "http://127.0.0.1:1"])
    assert found.exit_code == 2
    assert "--days" in found.output
