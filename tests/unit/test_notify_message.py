"""The notification value and Alertmanager's alert order within a group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.alerts.model import Alert, in_notification_order
from tocsin.notify.message import Notification

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def alert(labels: dict[str, str], resolved: bool = False) -> Alert:
    return Alert(
        fingerprint=",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        labels=labels,
        annotations={},
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW - timedelta(seconds=1) if resolved else NOW + timedelta(hours=1),
        generator_url="",
        updated_at=NOW,
        timeout=False,
    )


@pytest.mark.parametrize(
    ("a", "b", "before"),
    [
        # job first: present before absent, then by value.
        ({"job": "a"}, {"job": "b"}, True),
        ({"job": "b"}, {"job": "a"}, False),
        ({"job": "a"}, {"x": "1"}, True),
        ({"x": "1"}, {"job": "a"}, False),
        # then instance.
        ({"job": "a", "instance": "1"}, {"job": "a", "instance": "2"}, True),
        ({"job": "a", "instance": "1"}, {"job": "a"}, True),
        # then LabelSet.Before: fewer labels first...
        ({"x": "1"}, {"x": "1", "y": "1"}, True),
        ({"x": "1", "y": "1"}, {"x": "1"}, False),
        # ...then the first differing pair over the sorted union of names.
        # (the first name of the union missing on one side puts that side first)
        ({"a": "1", "c": "1"}, {"b": "1", "c": "1"}, False),
        ({"b": "1", "c": "1"}, {"a": "1", "c": "1"}, True),
        ({"x": "1"}, {"x": "2"}, True),
        ({"x": "1"}, {"x": "1"}, False),
    ],
)
def test_alert_before(a: dict[str, str], b: dict[str, str], before: bool) -> None:
    first = in_notification_order([alert(b), alert(a)])[0]
    assert first.labels == (a if before else b)


def test_sort_alerts_is_alertmanagers_order() -> None:
    alerts = [
        alert({"alertname": "X", "instance": "b"}),
        alert({"alertname": "X"}),
        alert({"alertname": "X", "job": "z"}),
        alert({"alertname": "X", "job": "a", "instance": "2"}),
        alert({"alertname": "X", "job": "a", "instance": "1"}),
    ]
    ordered = in_notification_order(alerts)
    assert [(a.labels.get("job"), a.labels.get("instance")) for a in ordered] == [
        ("a", "1"),
        ("a", "2"),
        ("z", None),
        (None, "b"),
        (None, None),
    ]


def test_status_and_subsets_at_now() -> None:
    firing, resolved = alert({"a": "1"}), alert({"a": "2"}, resolved=True)
    n = Notification("r", "k", {}, (firing, resolved), NOW)
    assert n.status == "firing"
    assert n.firing == (firing,)
    assert n.resolved == (resolved,)
    assert n.with_alerts([resolved]).status == "resolved"
    assert Notification("r", "k", {}, (), NOW).status == "resolved"


def test_extra_for_unknown_alert_is_empty() -> None:
    a = alert({"a": "1"})
    n = Notification("r", "k", {}, (a,), NOW, extra={a.fingerprint: {"runbook_url": "u"}})
    assert n.extra_for(a) == {"runbook_url": "u"}
    assert n.extra_for(alert({"a": "2"})) == {}
