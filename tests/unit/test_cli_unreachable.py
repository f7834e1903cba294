"""Client commands when the server cannot be reached: one line on stderr naming the
address and why, exit code 1 (no traceback), whatever the command."""

from __future__ import annotations

from pathlib import Path

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


def test_a_password_in_the_url_is_not_printed() -> None:
    url = f"http://alice:s3cret@127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["--url", url, "alert", "list"])
    assert result.exit_code == 1, result.output
    assert "s3cret" not in result.output
    assert result.stderr.startswith(
        f"error: cannot reach Tocsin at {url.replace('s3cret', 'xxxxx')}: "
    )


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


@pytest.mark.parametrize(
    ("value", "why"),
    [("0", "must be more than 0"), ("5x", "unknown unit 'x'"), ("1d2h", "")],
    ids=["zero", "unknown unit", "valid, so the data dir is next"],
)
def test_serve_checks_its_retention_before_starting(value: str, why: str, tmp_path: Path) -> None:
    """A bad ``--retention`` is a usage error naming the option; a good one gets past
    it (to the missing config file: nothing is started)."""
    config = ["--config", str(tmp_path / "missing.yml"), "--data-dir", str(tmp_path)]
    found = CliRunner().invoke(
        app, ["serve", "--retention", value, "--listen", "127.0.0.1:0", *config]
    )
    if why:
        assert found.exit_code == 2
        assert "--retention" in found.output
        assert why in found.output
    else:
        assert found.exit_code == 1
        assert "missing.yml:1: (file): No such file or directory" in found.output


@pytest.mark.parametrize(("value", "code"), [("verbose", 2), ("WARNING", 1), ("debug", 1)])
def test_serve_checks_its_log_level_before_starting(value: str, code: int, tmp_path: Path) -> None:
    """A log level logging does not know is a usage error naming the option and the
    levels, not a traceback; a known one (any case) gets past it, to the missing config."""
    config = ["--config", str(tmp_path / "missing.yml"), "--data-dir", str(tmp_path)]
    found = CliRunner().invoke(app, ["serve", "--log-level", value, *config])
    assert found.exit_code == code, found.output
    if code == 2:
        assert "--log-level" in found.output
        assert "'verbose' is none of" in found.output
