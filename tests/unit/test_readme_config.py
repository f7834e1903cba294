"""The README's on-call configuration example loads: a user copying it gets a config
that check-config accepts, not one of its errors."""

from __future__ import annotations

import re
from pathlib import Path

from tocsin.config import parse_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_on_call_example_is_a_valid_config() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (example,) = [b for b in blocks if "escalation_policies:" in b and "people:" in b]
    # a fragment: it leaves the route (and the signing secret's value) to the reader
    text = "route:\n  receiver: pager\n" + example.replace(
        "slack_signing_secret: ...", "slack_signing_secret: s"
    )
    config = parse_config(text, "README.md")
    assert [p.name for p in config.people] == ["alice", "bob", "carol"]
    assert [p.name for p in config.people if p.contacts_via_api] == ["carol"]
    assert [p.name for p in config.escalation_policies] == ["critical"]


BASE = """\
route:
  receiver: pager
receivers:
  - name: pager
  - name: ops-email
  - name: exec-email
  - name: ops-slack
"""


def test_every_tocsin_section_example_is_a_valid_config(tmp_path: Path) -> None:
    """Each README block of Tocsin's own section (fallbacks and runbooks, PagerDuty
    event senders, heartbeats and probes, incidents), over a config naming the
    receivers they use."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    sections = [b for b in blocks if b.startswith("tocsin:\n")]
    assert len(sections) == 4
    (tmp_path / "runbooks").mkdir()  # the runbooks' folder, next to the file
    at = str(tmp_path / "alertmanager.yml")
    loaded = [parse_config(BASE + block, at).tocsin for block in sections]
    assert loaded[0].fallbacks == {"pager": "ops-email"}
    assert [i.name for i in loaded[1].event_integrations] == ["datadog"]
    assert [p.name for p in loaded[2].probes] == ["api-liveness", "db-port"]
    severities = loaded[3].incidents.severities
    assert severities[2].description == "Non-urgent bugs, tooling failures"
