"""`tocsin runbook suggest` on the threads-agent runbook gives a config that
`tocsin check-config` accepts once its placeholders are filled, with one route per
alert category of the runbook and the escalation delays the runbook states."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from tocsin.alerts.routing import build_route_tree, match
from tocsin.cli.main import app
from tocsin.config import parse_config

RUNBOOK = (
    Path(__file__).resolve().parents[3] / "shared" / "runbooks" / "threads-agent-alertmanager.md"
)


def fill(placeholder: str) -> str:
    """What a user would write in place of a placeholder."""
    what = placeholder.lower()
    if "host:port" in what:
        return "127.0.0.1:25"
    if "url" in what:
        return "http://127.0.0.1:9095/hook"
    if "email" in what:
        return "oncall@example.org"
    if "channel" in what:
        return "#ops"
    return "filled-in"


def test_suggested_config_is_accepted_once_filled(tmp_path: Path) -> None:
    assert RUNBOOK.is_file(), f"missing {RUNBOOK}"
    result = CliRunner().invoke(app, ["runbook", "suggest", str(RUNBOOK)])
    assert result.exit_code == 0, result.output
    alertmanager = result.output.split("\n---\n", 1)[0]
    assert "<PLACEHOLDER" in alertmanager
    filled = re.sub(r"<PLACEHOLDER: ([^>]*)>", lambda m: fill(m.group(1)), alertmanager)
    path = tmp_path / "suggested.yml"
    path.write_text(filled)
    check = CliRunner().invoke(app, ["check-config", str(path)])
    assert check.exit_code == 0, check.output
    config = parse_config(filled, str(path))
    assert config.global_.smtp_smarthost == "127.0.0.1:25"  # quoted once, not twice
    # one route per alert category of the runbook (Critical, Warning, Business, Infra)
    root = build_route_tree(config)
    routed = {
        labels: [n.receiver for n in match(root, dict(labels))]
        for labels in (
            (("severity", "critical"),),
            (("severity", "warning"),),
            (("category", "business"),),
            (("category", "infrastructure"),),
            (("category", "infrastructure"), ("severity", "critical")),
        )
    }
    assert routed == {
        (("severity", "critical"),): ["critical-alerts"],
        (("severity", "warning"),): ["warning-alerts"],
        (("category", "business"),): ["business-alerts"],
        (("category", "infrastructure"),): ["infrastructure-alerts"],
        # category routes continue: a critical infrastructure alert also pages
        (("category", "infrastructure"), ("severity", "critical")): [
            "infrastructure-alerts",
            "critical-alerts",
        ],
    }
    # the escalation delays the runbook states, with the lines they come from
    assert "deadline 15m: Escalation: Automatic if not acknowledged (L12)" in alertmanager
    assert "deadline 2h: Escalation: Manual escalation to email (L17)" in alertmanager
    assert "level 2 after 1h" in result.output
    assert "level 3 after 4h" in result.output
