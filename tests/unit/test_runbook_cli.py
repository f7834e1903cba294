"""`tocsin runbook parse|suggest` through Typer's CliRunner on a throwaway app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from tocsin.cli.runbook_cmds import register

RUNBOOKS = Path(__file__).resolve().parents[3] / "shared" / "runbooks"
THREADS = RUNBOOKS / "threads-agent-alertmanager.md"


@pytest.fixture
def app() -> typer.Typer:
    if not THREADS.is_file():
        pytest.fail(f"shared runbook missing: {THREADS}")
    root = typer.Typer()
    register(root)
    return root


def test_parse_prints_a_summary(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["runbook", "parse", str(THREADS)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "AlertManager Runbook - Threads-Agent Stack" in out
    assert "alerts: 8" in out
    assert "HighErrorRate  [critical]  Service error rate > 5 %  for 5m  (5 steps)" in out
    assert "response-time" in out
    assert "level 2: Manual Escalation (after 1h)" in out


def test_parse_json_is_the_whole_runbook(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["runbook", "parse", "--json", str(THREADS)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1
    assert data["name"] == "threads-agent-alertmanager"
    assert [a["name"] for a in data["alerts"]][:2] == ["ServiceDown", "HighErrorRate"]
    assert data["alerts"][1]["threshold"]["value"] == 5
    assert data["alerts"][1]["duration"]["seconds"] == 300


def test_missing_file_fails_with_exit_1(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["runbook", "parse", str(tmp_path / "nope.md")])
    assert result.exit_code == 1
    assert "cannot read" in result.stderr


def test_a_directory_fails_with_exit_1(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["runbook", "parse", str(tmp_path)])
    assert result.exit_code == 1


@pytest.mark.parametrize(
    "args",
    [["runbook", "parse"], ["runbook", "parse", "--bogus", "x.md"], ["runbook", "frobnicate"]],
)
def test_usage_errors_exit_2(app: typer.Typer, args: list[str]) -> None:
    assert CliRunner().invoke(app, args).exit_code == 2


def test_odd_bytes_still_parse(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "odd.md"
    path.write_bytes(b"# Ops \xff\n\n1. restart \xc3\x28\n")
    result = CliRunner().invoke(app, ["runbook", "parse", "--json", str(path)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "Ops \ufffd"


def test_suggest_prints_yaml(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["runbook", "suggest", str(THREADS)])
    assert result.exit_code == 0, result.output
    alertmanager, rules = yaml.safe_load_all(result.stdout)
    assert {r["receiver"] for r in alertmanager["route"]["routes"]} >= {"critical-alerts"}
    assert rules["groups"][0]["rules"][1]["alert"] == "HighErrorRate"


@pytest.mark.parametrize(("part", "key"), [("config", "route"), ("rules", "groups")])
def test_suggest_prints_one_document_with_only(app: typer.Typer, part: str, key: str) -> None:
    """``--only``: one YAML document, as check-config or promtool reads a file."""
    whole = CliRunner().invoke(app, ["runbook", "suggest", str(THREADS)]).stdout
    result = CliRunner().invoke(app, ["runbook", "suggest", str(THREADS), "--only", part])
    assert result.exit_code == 0, result.output
    (document,) = yaml.safe_load_all(result.stdout)
    assert key in document
    assert document == list(yaml.safe_load_all(whole))[0 if part == "config" else 1]


SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "runbooks" / "checkout-api.md"


def test_the_readme_runbook_commands_run_on_the_shipped_sample(app: typer.Typer) -> None:
    """The README's `runbook parse` and `runbook suggest` lines name this file."""
    parsed = CliRunner().invoke(app, ["runbook", "parse", "--json", str(SAMPLE)])
    assert parsed.exit_code == 0, parsed.output
    runbook = json.loads(parsed.stdout)
    assert [a["name"] for a in runbook["alerts"]] == [
        "CheckoutDown",
        "CheckoutHighErrorRate",
        "CheckoutHighLatency",
    ]
    suggested = CliRunner().invoke(app, ["runbook", "suggest", str(SAMPLE)])
    assert suggested.exit_code == 0, suggested.output
    alertmanager, rules = yaml.safe_load_all(suggested.stdout)
    routes = {r["receiver"] for r in alertmanager["route"]["routes"]}
    assert routes == {"critical-alerts", "warning-alerts"}
    assert [r["alert"] for r in rules["groups"][0]["rules"]] == [
        "CheckoutDown",
        "CheckoutHighErrorRate",
        "CheckoutHighLatency",
    ]
    assert "#     - name: liveness\n" in suggested.stdout  # its health check, a probe
    assert "maintenance_notice: 2d" in suggested.stdout
    readme = SAMPLE.parents[2] / "README.md"
    assert "runbook parse examples/runbooks/checkout-api.md" in readme.read_text(encoding="utf-8")
