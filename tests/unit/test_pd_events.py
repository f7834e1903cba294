"""The PagerDuty Events API v2 decoder and the alerts an event stands for
(``tocsin.alerts.pd_events``): one row per documented rule of the API (PagerDuty's
"Send an Alert Event" reference) and of Tocsin's mapping, and properties over generated
events (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.pd_events import (
    DEDUP_KEY_MAX,
    OPEN_END,
    SUMMARY_MAX,
    Action,
    EventError,
    decode,
    identity,
    triggered,
)

KEY = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def trigger(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "disk-full-db1",
        "payload": {"summary": "Disk 95% full on db1", "source": "db1", "severity": "critical"},
    }
    payload = changes.pop("payload", {})
    event.update(changes)
    event["payload"] = {**event["payload"], **payload}
    return event


def errors_of(event: Any) -> list[str]:
    with pytest.raises(EventError) as caught:
        decode(orjson.dumps(event))
    return caught.value.errors


# -- refused: each row is one rule; the error names the field --------------------------

REFUSED = [
    # routing_key, event_action and (for trigger) payload.summary/source/severity are
    # required by the API
    ({**trigger(), "routing_key": None}, "routing_key: required"),
    ({**trigger(), "routing_key": ""}, "routing_key: required"),
    ({**trigger(), "event_action": "page"}, "event_action: must be one of"),
    ({**trigger(), "event_action": None}, "event_action: must be one of"),
    (trigger(payload={"summary": None}), "payload.summary: required"),
    (trigger(payload={"summary": ""}), "payload.summary: required"),
    (trigger(payload={"source": None}), "payload.source: required"),
    (trigger(payload={"severity": None}), "payload.severity: required"),
    # severity is one of critical, error, warning, info
    (trigger(payload={"severity": "fatal"}), "payload.severity: must be one of"),
    ({**trigger(), "payload": None}, "payload: required for trigger"),
    ({**trigger(), "payload": "disk full"}, "payload: required for trigger"),
    # a dedup_key is at most 255 characters, and required to acknowledge or resolve
    (trigger(dedup_key="k" * (DEDUP_KEY_MAX + 1)), "dedup_key: longer than 255"),
    (trigger(dedup_key=17), "dedup_key: must be a non-empty string"),
    ({"routing_key": KEY, "event_action": "resolve"}, "dedup_key: required for resolve"),
    ({"routing_key": KEY, "event_action": "acknowledge"}, "dedup_key: required for acknowledge"),
    # the optional fields have types
    (trigger(payload={"component": 3}), "payload.component: must be a string"),
    (trigger(payload={"timestamp": "yesterday"}), "payload.timestamp: must be an ISO 8601"),
    (trigger(payload={"timestamp": "2015-07-17T08:42:58"}), "payload.timestamp: must be"),
    (trigger(payload={"timestamp": "9999-12-31T23:59:59-01:00"}), "payload.timestamp: must be"),
    (trigger(client_url="javascript:alert(1)"), "client_url: must be an http(s) URL"),
    (trigger(client_url="monitoring.example.com"), "client_url: must be an http(s) URL"),
    (trigger(links={"href": "x"}), "links: must be a list"),
    (trigger(client=["x"]), "client: must be a string"),
]


@pytest.mark.parametrize(("event", "problem"), REFUSED)
def test_an_invalid_event_is_refused_naming_the_field(event: Any, problem: str) -> None:
    assert any(e.startswith(problem) for e in errors_of(event)), errors_of(event)


def test_every_problem_is_named_at_once() -> None:
    event = trigger(routing_key="", payload={"summary": "", "severity": "loud"})
    assert [e.split(":")[0] for e in errors_of(event)] == [
        "routing_key",
        "payload.summary",
        "payload.severity",
    ]


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'"trigger"', b"null"])
def test_a_body_that_is_not_one_event_object_is_refused(body: bytes) -> None:
    with pytest.raises(EventError, match=r"^body: "):
        decode(body)


# -- accepted ----------------------------------------------------------------------------


def test_a_trigger_without_dedup_key_gets_one_made() -> None:
    event = trigger()
    del event["dedup_key"]
    assert decode(orjson.dumps(event), new_key=lambda: "made-1").dedup_key == "made-1"
    made = {decode(orjson.dumps(event)).dedup_key for _ in range(3)}
    assert len(made) == 3  # random, as PagerDuty's


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the format of PagerDuty's own examples: an offset without a colon
        ("2015-07-17T08:42:58.315+0000", datetime(2015, 7, 17, 8, 42, 58, 315000, UTC)),
        ("2015-07-17T10:42:58+02:00", datetime(2015, 7, 17, 8, 42, 58, tzinfo=UTC)),
        ("2015-07-17T08:42:58Z", datetime(2015, 7, 17, 8, 42, 58, tzinfo=UTC)),
    ],
)
def test_timestamps_in_iso_8601(text: str, expected: datetime) -> None:
    assert decode(orjson.dumps(trigger(payload={"timestamp": text}))).timestamp == expected


def test_a_long_summary_is_cut_not_refused() -> None:
    event = decode(orjson.dumps(trigger(payload={"summary": "x" * 5000})))
    assert len(event.summary) == SUMMARY_MAX


def test_acknowledge_and_resolve_need_no_payload() -> None:
    for action in ("acknowledge", "resolve"):
        body = {"routing_key": KEY, "event_action": action, "dedup_key": "k"}
        event = decode(orjson.dumps(body))
        assert (event.action, event.dedup_key) == (Action(action), "k")


# -- the alert a trigger fires -----------------------------------------------------------

FULL = trigger(
    payload={
        "timestamp": "2015-07-17T08:42:58.315+0000",
        "component": "postgres",
        "group": "prod-datapipe",
        "class": "disk full",
        "custom_details": {"free space": "1%", "ping time": 1500},
    },
    client="Sample Monitoring Service",
    client_url="https://monitoring.example.com",
    links=[{"href": "https://example.com/", "text": "Link text"}],
    images=[{"src": "https://example.com/x.png", "alt": "graph"}],
)


def test_a_trigger_becomes_an_alert_that_fires_until_resolved() -> None:
    posted = triggered(decode(orjson.dumps(FULL)), "monitoring", {"team": "storage"}, NOW)
    assert posted.labels == {
        "team": "storage",
        "alertname": "disk full",  # the payload's class names the alert
        "severity": "critical",
        "source": "db1",
        "component": "postgres",
        "group": "prod-datapipe",
        "class": "disk full",
        "integration": "monitoring",
        "dedup_key": "disk-full-db1",
    }
    assert posted.annotations == {
        "summary": "Disk 95% full on db1",
        "client": "Sample Monitoring Service",
        "custom_details": '{"free space":"1%","ping time":1500}',
        "links": '[{"href":"https://example.com/","text":"Link text"}]',
        "images": '[{"alt":"graph","src":"https://example.com/x.png"}]',
    }
    assert posted.starts_at == datetime(2015, 7, 17, 8, 42, 58, 315000, UTC)
    assert posted.ends_at == OPEN_END  # no resolve timeout: fires until a resolve
    assert posted.generator_url == "https://monitoring.example.com"


def test_without_class_the_integration_names_the_alert() -> None:
    posted = triggered(decode(orjson.dumps(trigger())), "datadog", {}, NOW)
    assert posted.starts_at == NOW  # no timestamp sent: received now
    assert posted.labels["alertname"] == "datadog"
    assert "class" not in posted.labels
    assert "component" not in posted.labels


@pytest.mark.parametrize(
    ("configured", "event", "alertname", "severity"),
    [
        ({}, {}, "datadog", "critical"),  # no class: the integration names it
        ({"alertname": "DatadogEvent"}, {}, "DatadogEvent", "critical"),
        ({"alertname": "DatadogEvent"}, {"class": "disk"}, "disk", "critical"),
        ({"severity": "info", "team": "db"}, {}, "datadog", "critical"),  # the event's wins
    ],
)
def test_configured_labels_are_defaults_the_event_overrides(
    configured: dict[str, str], event: dict[str, str], alertname: str, severity: str
) -> None:
    posted = triggered(decode(orjson.dumps(trigger(payload=event))), "datadog", configured, NOW)
    assert (posted.labels["alertname"], posted.labels["severity"]) == (alertname, severity)
    assert posted.labels.get("team") == configured.get("team")


def test_the_identity_cannot_be_overridden() -> None:
    posted = triggered(
        decode(orjson.dumps(trigger())), "datadog", {"integration": "x", "dedup_key": "y"}, NOW
    )
    assert {k: posted.labels[k] for k in ("integration", "dedup_key")} == identity(
        "datadog", "disk-full-db1"
    )


def test_a_timestamp_from_the_future_starts_the_alert_now() -> None:
    later = "2027-01-01T00:00:00Z"
    assert (
        triggered(
            decode(orjson.dumps(trigger(payload={"timestamp": later}))), "x", {}, NOW
        ).starts_at
        == NOW
    )


# -- properties -----------------------------------------------------------------------

texts = st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@given(
    dedup_key=texts.filter(lambda s: len(s) <= DEDUP_KEY_MAX),
    summary=texts,
    source=texts,
    severity=st.sampled_from(["critical", "error", "warning", "info"]),
    component=st.none() | texts,
    details=json_values,
)
def test_a_valid_trigger_keeps_what_was_sent(
    dedup_key: str,
    summary: str,
    source: str,
    severity: str,
    component: str | None,
    details: Any,
) -> None:
    payload: dict[str, Any] = {"summary": summary, "source": source, "severity": severity}
    if component is not None:
        payload["component"] = component
    payload["custom_details"] = details
    body = {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": payload,
    }
    event = decode(orjson.dumps(body))
    posted = triggered(event, "it", {}, NOW)
    assert posted.labels["dedup_key"] == dedup_key
    assert posted.labels["severity"] == severity
    assert posted.labels["source"] == source
    assert posted.labels.get("component") == component
    assert posted.annotations["summary"] == summary
    if details is not None:
        shown = posted.annotations["custom_details"]
        assert (shown if isinstance(details, str) else orjson.loads(shown)) == details


@given(
    st.dictionaries(
        st.sampled_from(
            ["routing_key", "event_action", "dedup_key", "payload", "client", "links", "images"]
        ),
        json_values,
    )
)
def test_any_json_object_decodes_or_is_refused_with_named_fields(data: dict[str, Any]) -> None:
    errors: list[str] = []
    try:
        decode(orjson.dumps(data))
    except EventError as exc:
        errors = exc.errors or ["(no message)"]
    assert all(":" in e for e in errors)


@given(texts, texts)
def test_one_identity_is_one_fingerprint_whatever_the_summary(first: str, second: str) -> None:
    # the summary is an annotation: re-triggers with new text stay one alert
    a = triggered(decode(orjson.dumps(trigger(payload={"summary": first}))), "x", {}, NOW)
    b = triggered(decode(orjson.dumps(trigger(payload={"summary": second}))), "x", {}, NOW)
    assert fingerprint(a.labels) == fingerprint(b.labels)
