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
