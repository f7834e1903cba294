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


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["oncall", "--days", "-1"], "--days"),  # not shown as a shift of no length
        (["notifications", "list", "--limit", "0"], "--limit"),  # not the server's 422
        (["runbook", "search", "disk", "--limit", "0"], "--limit"),
    ],
)
def test_a_number_out_of_range_is_a_usage_error(command: list[str], option: str) -> None:
    """Refused before any request (exit 2), naming the option."""
    found = CliRunner().invoke(app, [*command, "--url", "http://127.0.0.1:1"])
    assert found.exit_code == 2
    assert option in found.output
