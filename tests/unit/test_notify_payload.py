"""The webhook payload against Alertmanager's documented version 4 example and rules."""

# The documented example is kept as published, long lines included.
# ruff: noqa: E501

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.model import Alert
from tocsin.notify.message import Notification
from tocsin.notify.payload import go_json, go_time, quote_meta, webhook_payload

NOW = datetime(2023, 2, 6, 13, 30, tzinfo=UTC)

# Alertmanager's documented example of a version 4 webhook body (a firing alert whose
# end time was derived from resolve_timeout, so it shows the Go zero time).
DOCUMENTED = """{
  "receiver": "sms",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {
        "alertname": "ProbeFailure",
        "instance": "https://server.example.org",
        "job": "http_checks",
        "monitor": "master",
        "severity": "critical"
      },
      "annotations": {
        "description": "Instance https://server.example.org has been down for over 5m. Job: http_checks",
        "summary": "BlackBox Probe Failure: https://server.example.org"
      },
      "startsAt": "2023-02-06T13:08:45.828Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0\\u0026g0.tab=1",
      "fingerprint": "1a30ba71cca2921f"
    }
  ],
  "groupLabels": {"alertname": "ProbeFailure"},
  "commonLabels": {
    "alertname": "ProbeFailure",
    "instance": "https://server.example.org",
    "job": "http_checks",
    "monitor": "master",
    "severity": "critical"
  },
  "commonAnnotations": {
    "description": "Instance https://server.example.org has been down for over 5m. Job: http_checks",
    "summary": "BlackBox Probe Failure: https://server.example.org"
  },
  "externalURL": "http://prometheus.example.org:9093",
  "version": "4",
  "groupKey": "{}/{severity=\\"critical\\"}:{alertname=\\"ProbeFailure\\"}",
  "truncatedAlerts": 0
}"""


def alert(
    labels: dict[str, str],
    *,
    annotations: dict[str, str] | None = None,
    fp: str = "0000000000000001",
    starts: datetime = NOW - timedelta(minutes=20),
    ends: datetime = NOW + timedelta(minutes=5),
    timeout: bool = True,
    url: str = "",
) -> Alert:
    return Alert(
        fingerprint=fp,
        labels=labels,
        annotations=annotations or {},
        starts_at=starts,
        ends_at=ends,
        generator_url=url,
        updated_at=NOW,
        timeout=timeout,
    )


def documented_notification() -> Notification:
    doc = json.loads(DOCUMENTED)
    source = doc["alerts"][0]
    probe = alert(
        # Insertion order differs from the sorted output on purpose.
        {k: source["labels"][k] for k in reversed(source["labels"])},
        annotations=source["annotations"],
        fp=source["fingerprint"],
        starts=datetime(2023, 2, 6, 13, 8, 45, 828000, tzinfo=UTC),
        url=source["generatorURL"],
    )
    return Notification(
        receiver="sms",
        group_key=doc["groupKey"],
        group_labels={"alertname": "ProbeFailure"},
        alerts=(probe,),
        now=NOW,
        external_url=doc["externalURL"],
    )


def test_documented_example_key_for_key() -> None:
    payload = webhook_payload(documented_notification())
    expected = json.loads(DOCUMENTED)
    assert payload == expected
    assert list(payload) == list(expected)  # Alertmanager's key order
    assert list(payload["alerts"][0]) == list(expected["alerts"][0])


def test_documented_example_bytes_are_go_encoding() -> None:
    body = go_json(webhook_payload(documented_notification()))
    expected = json.dumps(json.loads(DOCUMENTED), separators=(",", ":"), ensure_ascii=False)
    # Go's encoder escapes '&' (and '<', '>') and ends with a newline.
    assert body == expected.replace("&", "\\u0026").encode() + b"\n"


def test_resolved_alert_and_explicit_end_times() -> None:
    resolved = alert({"a": "1"}, ends=NOW - timedelta(seconds=1), fp="r")
    explicit = alert({"a": "2"}, ends=NOW + timedelta(hours=1), timeout=False, fp="f")
    payload = webhook_payload(Notification("r", "{}:{}", {}, (resolved, explicit), NOW, "http://x"))
    first, second = payload["alerts"]
    assert first["status"] == "resolved"
    assert first["endsAt"] == go_time(NOW - timedelta(seconds=1))
    # A firing alert keeps an end time that was sent explicitly.
    assert second["status"] == "firing"
    assert second["endsAt"] == go_time(NOW + timedelta(hours=1))
    assert payload["status"] == "firing"
    only_resolved = webhook_payload(Notification("r", "{}:{}", {}, (resolved,), NOW))
    assert only_resolved["status"] == "resolved"


def test_an_alert_ending_exactly_now_is_resolved() -> None:
    # Alertmanager: resolved when EndsAt is not after now.
    payload = webhook_payload(Notification("r", "k", {}, (alert({"a": "1"}, ends=NOW),), NOW))
    assert payload["alerts"][0]["status"] == "resolved"


def test_common_labels_and_annotations() -> None:
    a = alert({"alertname": "X", "job": "api", "i": "1"}, annotations={"s": "same", "d": "1"})
    b = alert({"alertname": "X", "job": "api", "i": "2"}, annotations={"s": "same", "d": "2"})
    payload = webhook_payload(Notification("r", "k", {"alertname": "X"}, (a, b), NOW))
    assert payload["commonLabels"] == {"alertname": "X", "job": "api"}
    assert payload["commonAnnotations"] == {"s": "same"}
    empty = webhook_payload(Notification("r", "k", {}, (), NOW))
    assert empty["alerts"] == []
    assert empty["commonLabels"] == {}
    assert empty["status"] == "resolved"


@pytest.mark.parametrize(
    ("max_alerts", "kept", "truncated"),
    [(0, 5, 0), (1, 1, 4), (3, 3, 2), (5, 5, 0), (9, 5, 0)],
)
def test_max_alerts_truncation(max_alerts: int, kept: int, truncated: int) -> None:
    alerts = tuple(
        alert({"alertname": "X", "i": str(i)}, annotations={"n": str(i)}, fp=f"{i:016x}")
        for i in range(5)
    )
    payload = webhook_payload(Notification("r", "k", {}, alerts, NOW), max_alerts)
    assert [a["fingerprint"] for a in payload["alerts"]] == [f"{i:016x}" for i in range(kept)]
    assert payload["truncatedAlerts"] == truncated
    if kept == 1:
        # Alertmanager computes common labels over the alerts it kept.
        assert payload["commonLabels"] == {"alertname": "X", "i": "0"}


def test_truncation_adds_to_what_the_caller_already_left_out() -> None:
    alerts = (alert({"i": "1"}), alert({"i": "2"}))
    payload = webhook_payload(Notification("r", "k", {}, alerts, NOW, truncated=3), max_alerts=1)
    assert payload["truncatedAlerts"] == 4


def test_status_reflects_only_the_alerts_kept() -> None:
    resolved = alert({"i": "1"}, ends=NOW - timedelta(minutes=1))
    firing = alert({"i": "2"})
    payload = webhook_payload(Notification("r", "k", {}, (resolved, firing), NOW), max_alerts=1)
    assert payload["status"] == "resolved"


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("team-a", "team-a"),
        ("ops.pager", "ops\\.pager"),
        ("a+b(c)", "a\\+b\\(c\\)"),
        ("x$", "x\\$"),
    ],
)
def test_receiver_is_regexp_quoted_like_alertmanager(name: str, quoted: str) -> None:
    assert quote_meta(name) == quoted
    assert webhook_payload(Notification(name, "k", {}, (), NOW))["receiver"] == quoted


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC), "2024-01-02T03:04:05.12Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=UTC), "2024-01-02T03:04:05.000001Z"),
        (datetime(2024, 1, 2, 5, 4, 5, tzinfo=UTC).astimezone(), "2024-01-02T05:04:05Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
    ],
)
def test_go_time(value: datetime, text: str) -> None:
    assert go_time(value) == text


def test_go_json_escapes_like_go() -> None:
    assert go_json({"a": "<b>&\u2028"}) == b'{"a":"\\u003cb\\u003e\\u0026\\u2028"}\n'


def test_extra_never_reaches_the_payload() -> None:
    n = documented_notification()
    fp = n.alerts[0].fingerprint
    with_extra = Notification(
        n.receiver,
        n.group_key,
        n.group_labels,
        n.alerts,
        n.now,
        n.external_url,
        extra={fp: {"runbook_url": "https://runbooks/x"}},
    )
    assert webhook_payload(with_extra) == webhook_payload(n)


label_sets = st.lists(
    st.dictionaries(st.sampled_from("abcd"), st.sampled_from(["1", "2"]), max_size=4),
    max_size=5,
)


@given(label_sets, st.integers(min_value=0, max_value=6))
def test_common_labels_are_exactly_the_shared_pairs(sets: list[dict[str, str]], cap: int) -> None:
    alerts = tuple(alert(labels, fp=f"{i:016x}") for i, labels in enumerate(sets))
    payload = webhook_payload(Notification("r", "k", {}, alerts, NOW), cap)
    kept = [a["labels"] for a in payload["alerts"]]
    assert len(kept) == (min(cap, len(sets)) if cap else len(sets))
    assert payload["truncatedAlerts"] == len(sets) - len(kept)
    shared = {
        (k, v) for k, v in (kept[0].items() if kept else ()) if all(s.get(k) == v for s in kept)
    }
    assert set(payload["commonLabels"].items()) == shared
    assert list(payload["commonLabels"]) == sorted(payload["commonLabels"])
