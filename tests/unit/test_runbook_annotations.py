"""What a notified alert's annotations say about its runbook: the link and the first
steps are added, the alert's own annotations win, except a ``runbook_url`` nobody can
open from a phone (a path, as ``tocsin runbook suggest`` writes)."""

from __future__ import annotations

import pytest

from tests.unit.test_notify_payload import alert
from tocsin.notify.message import with_runbook_annotations

TOCSIN = "http://tocsin.example:9093/runbooks/db#failover"
LINK = {
    "runbook_url": TOCSIN,
    "runbook_steps": ["Check replicas", "Promote"],
    "severity": "critical",
    "runbook_severity": "critical",
}
STEPS = "1. Check replicas\n2. Promote"


@pytest.mark.parametrize(
    ("own", "expected"),
    [
        ({}, {"runbook_url": TOCSIN, "runbook_steps": STEPS, "runbook_severity": "critical"}),
        (  # a wiki page the rule points at stays the link
            {"runbook_url": "https://wiki.example/db#failover"},
            {
                "runbook_url": "https://wiki.example/db#failover",
                "runbook_steps": STEPS,
                "runbook_severity": "critical",
            },
        ),
        (  # a path becomes the runbook's address on Tocsin
            {"runbook_url": "rb/db.md#failover", "summary": "db down"},
            {
                "runbook_url": TOCSIN,
                "runbook_steps": STEPS,
                "runbook_severity": "critical",
                "summary": "db down",
            },
        ),
        (  # not a URL at all: the runbook's address on Tocsin
            {"runbook_url": "http://[x"},
            {"runbook_url": TOCSIN, "runbook_steps": STEPS, "runbook_severity": "critical"},
        ),
        (  # steps the rule wrote itself are kept
            {"runbook_steps": "call Ann"},
            {"runbook_url": TOCSIN, "runbook_steps": "call Ann", "runbook_severity": "critical"},
        ),
    ],
)
def test_runbook_annotations(own: dict[str, str], expected: dict[str, str]) -> None:
    notified = with_runbook_annotations(alert({"alertname": "DbDown"}, annotations=own), LINK)
    assert dict(notified.annotations) == expected
