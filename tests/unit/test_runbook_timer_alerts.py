"""A runbook timer past its time as an alert: only one a person (or a linked incident)
keeps, only while overdue, labelled so it routes with its group and names what to keep."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.runbooks.timer_alerts import overdue_alert
from tocsin.runbooks.timers import Timer

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)
STATUS = Timer(
    runbook="ops",
    text="Update the status page within 15 minutes",
    lines=(12, 12),
    start="opened",
    ends_on_ack=False,
    due_at=T0 + timedelta(minutes=15),
    met_at=None,
    state="overdue",
)


@pytest.mark.parametrize(
    ("timer", "fires"),
    [
        (STATUS, True),
        (replace(STATUS, state="running"), False),
        (replace(STATUS, state="met", met_at=T0), False),
        (replace(STATUS, state="missed", met_at=NOW), False),  # kept late: said, not alerted
        (replace(STATUS, state="closed"), False),
        # met by acknowledging: the escalation pages for it, no alert of its own
        (replace(STATUS, ends_on_ack=True), False),
    ],
)
def test_only_an_overdue_timer_a_person_keeps_fires(timer: Timer, fires: bool) -> None:
    found = overdue_alert("g1", {"alertname": "DiskFull", "team": "db"}, timer, NOW, "http://t")
    assert (found is not None) is fires


def test_the_alert_routes_with_its_group_and_says_what_to_keep() -> None:
    found = overdue_alert("g1", {"alertname": "DiskFull", "team": "db"}, STATUS, NOW, "http://t")
    assert found is not None
    assert found.labels == {
        "alertname": "RunbookTimerOverdue",  # the group's own alertname gives way
        "team": "db",
        "group": "g1",
        "runbook": "ops",
        "timer": "ops:12",
        "severity": "warning",
    }
    assert found.starts_at == T0 + timedelta(minutes=15)
    assert found.ends_at is not None
    assert found.ends_at > NOW
    assert found.generator_url == "http://t/ui/groups/g1#timers"
    assert "tocsin checklist g1 --kept ops:12" in found.annotations["description"]
