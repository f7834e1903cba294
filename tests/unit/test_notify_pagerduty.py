"""PagerDuty events: dedup key stability, trigger/resolve, summary and size limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from tocsin.alerts.model import Alert
from tocsin.config.receivers import (
    PAGERDUTY_DEFAULT_DETAILS,
    PagerdutyConfig,
    PagerdutyImage,
    PagerdutyLink,
)
from tocsin.notify.channels.pagerduty import MAX_EVENT_SIZE, _encode, dedup_key, pagerduty_event
from tocsin.notify.message import Notification

NOW = datetime(2024, 2, 1, tzinfo=UTC)
GROUP_KEY = '{}/{severity="critical"}:{alertname="ProbeFailure"}'
# sha256 of GROUP_KEY, computed independently (printf '%s' KEY | sha256sum).
GROUP_KEY_SHA256 = "b089c9a89fc760477a4158035d6c5b8bb7f7f40d4801e05d78cf59b7f73b504d"


def alert(instance: str, *, resolved: bool = False, summary: str = "down") -> Alert:
    return Alert(
        fingerprint=instance,
        labels={"alertname": "ProbeFailure", "instance": instance, "severity": "critical"},
        annotations={"summary": summary},
        starts_at=NOW - timedelta(minutes=5),
        ends_at=NOW - timedelta(seconds=1) if resolved else NOW + timedelta(minutes=5),
        generator_url="http://prom/x",
        updated_at=NOW,
        timeout=False,
    )


def notification(*alerts: Alert, **kw: object) -> Notification:
    return Notification(
        "pd",
        GROUP_KEY,
        {"alertname": "ProbeFailure"},
        alerts,
        NOW,
        "http://tocsin",
        **kw,  # type: ignore[arg-type]
    )


CONFIG = PagerdutyConfig(details=dict(PAGERDUTY_DEFAULT_DETAILS), source="")


def test_dedup_key_is_sha256_of_group_key() -> None:
    assert dedup_key(GROUP_KEY) == GROUP_KEY_SHA256


def test_dedup_key_is_stable_across_alerts_and_status() -> None:
    trigger = pagerduty_event(notification(alert("a")), CONFIG, routing_key="rk")
    more = pagerduty_event(notification(alert("a"), alert("b")), CONFIG, routing_key="rk")
    resolve = pagerduty_event(notification(alert("a", resolved=True)), CONFIG, routing_key="rk")
    assert trigger["dedup_key"] == more["dedup_key"] == resolve["dedup_key"] == GROUP_KEY_SHA256
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    other = Notification("pd", GROUP_KEY + "x", {}, (alert("a"),), NOW)
    assert pagerduty_event(other, CONFIG, routing_key="rk")["dedup_key"] != GROUP_KEY_SHA256


def test_an_acknowledgement_notice_neither_resolves_nor_acknowledges_the_incident() -> None:
    """Not sent to PagerDuty (``notify.message.tells_of_acks``); should one reach it (a
    fallback), it re-triggers what is open: acknowledged, the incident would swallow a
    later re-page; resolved, it would say the outage is over."""
    acked = notification(alert("a"), acknowledged_by="bob")
    event = pagerduty_event(acked, CONFIG, routing_key="rk")
    assert (event["event_action"], event["dedup_key"]) == ("trigger", GROUP_KEY_SHA256)


def test_event_shape_and_defaults() -> None:
    event = pagerduty_event(
        notification(alert("a"), alert("b", resolved=True)), CONFIG, routing_key="rk"
    )
    assert list(event) == [
        "routing_key",
        "dedup_key",
        "event_action",
        "payload",
        "client",
        "client_url",
    ]
    payload = event["payload"]
    assert payload["summary"] == "[FIRING:1] ProbeFailure (critical)"
    assert payload["source"] == "Tocsin"  # falls back to client
    assert payload["severity"] == "error"
    assert payload["custom_details"]["num_firing"] == "1"
    assert payload["custom_details"]["num_resolved"] == "1"
    assert "instance = a" in payload["custom_details"]["firing"]
    assert event["client_url"] == "http://tocsin/ui/alerts"


def test_configured_fields_links_images_and_runbooks() -> None:
    config = PagerdutyConfig(
        severity='{{ if eq .Status "firing" }}critical{{ else }}info{{ end }}',
        class_="probe",
        component="{{ .CommonLabels.instance }}",
        group="web",
        links=(
            PagerdutyLink(href="http://dash/{{ .GroupLabels.alertname }}", text="Dash"),
            PagerdutyLink(href=""),
        ),
        images=(PagerdutyImage(src="http://img/1.png", alt="graph"), PagerdutyImage(src="")),
        details={"team": "{{ .Receiver }}", "nested": {"n": "{{ len .Alerts }}"}, "count": 3},
    )
    n = notification(alert("a"), extra={"a": {"runbook_url": "https://rb/probe"}})
    event = pagerduty_event(n, config, routing_key="rk")
    payload = event["payload"]
    assert (payload["severity"], payload["class"], payload["component"], payload["group"]) == (
        "critical",
        "probe",
        "a",
        "web",
    )
    assert payload["custom_details"] == {"team": "pd", "nested": {"n": "1"}, "count": 3}
    assert event["links"] == [
        {"href": "http://dash/ProbeFailure", "text": "Dash"},
        {"href": "https://rb/probe", "text": "Runbook: ProbeFailure"},
    ]
    assert event["images"] == [{"src": "http://img/1.png", "alt": "graph", "href": ""}]


def test_summary_is_cut_to_1024_characters() -> None:
    config = PagerdutyConfig(description="{{ .CommonAnnotations.summary }}")
    event = pagerduty_event(notification(alert("a", summary="é" * 2000)), config, routing_key="rk")
    summary = event["payload"]["summary"]
    assert len(summary) == 1024
    assert summary.endswith("…")


def test_oversized_event_drops_custom_details() -> None:
    config = PagerdutyConfig(details={"big": "{{ .CommonAnnotations.summary }}"})
    event = pagerduty_event(
        notification(alert("a", summary="x" * (MAX_EVENT_SIZE + 10))), config, routing_key="rk"
    )
    body = orjson.loads(_encode(event, v1=False))
    assert list(body["payload"]["custom_details"]) == ["error"]
    assert "512kB" in body["payload"]["custom_details"]["error"]
    assert len(_encode(event, v1=False)) < MAX_EVENT_SIZE
