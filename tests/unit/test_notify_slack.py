"""Slack: the Block Kit message and the verdict on Slack's answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict

from tocsin.alerts.model import Alert
from tocsin.config.receivers import SlackAction, SlackConfig, SlackField
from tocsin.notify.channels.http import HTTPAnswer
from tocsin.notify.channels.slack import MAX_BLOCKS, classify_slack, slack_message
from tocsin.notify.message import Notification
from tocsin.notify.outcome import OutcomeKind

NOW = datetime(2024, 4, 1, tzinfo=UTC)
JSON = {"Content-Type": "application/json; charset=utf-8"}
TEXT = {"Content-Type": "text/html"}


def alert(i: int, url: str = "http://prom/g?x=1") -> Alert:
    return Alert(
        fingerprint=f"{i:016x}",
        labels={"alertname": "Latency", "instance": f"web{i}"},
        annotations={"summary": f"p99 high on web{i}"},
        starts_at=NOW - timedelta(minutes=1),
        ends_at=NOW + timedelta(minutes=5),
        generator_url=url,
        updated_at=NOW,
        timeout=True,
    )


def notification(count: int = 2) -> Notification:
    alerts = tuple(alert(i) for i in range(count))
    return Notification(
        "web", "{}:{}", {"alertname": "Latency"}, alerts, NOW, "https://tocsin.example"
    )


def test_default_message() -> None:
    message = slack_message(notification(), SlackConfig(channel="#ops"))
    assert message["channel"] == "#ops"
    assert message["username"] == "Tocsin"
    # (the first alert's summary first: a phone's notification shows the start)
    assert (
        message["text"]
        == "p99 high on web0 · [FIRING:2] Latency  | https://tocsin.example/ui/alerts"
    )
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    header = message["blocks"][0]["text"]
    assert header == {"type": "plain_text", "text": "[FIRING:2] Latency", "emoji": True}
    first = message["blocks"][1]
    assert "*Latency*" in first["text"]["text"]
    assert "p99 high on web0" in first["text"]["text"]
    assert first["accessory"]["url"] == "http://prom/g?x=1"
    button = message["blocks"][3]["elements"][0]
    assert button["url"] == "https://tocsin.example/ui/alerts"
    assert button["style"] == "primary"
    assert "icon_emoji" not in message
    assert "link_names" not in message


def test_configured_fields_actions_footer_and_texts() -> None:
    config = SlackConfig(
        pretext="pre {{ .Status }}",
        text="text {{ len .Alerts }}",
        message_text="custom fallback",
        fields=(SlackField(title="Team", value="{{ .Receiver }}"),),
        actions=(
            SlackAction(type="button", text="Silence", url="https://x/silence", style="danger"),
            SlackAction(type="button", text="No URL", name="n"),
        ),
        footer="footer",
        link_names=True,
        icon_emoji=":fire:",
    )
    message = slack_message(notification(1), config)
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["header", "section", "section", "section", "section", "actions", "context"]
    assert message["blocks"][1]["text"]["text"] == "pre firing"
    assert message["blocks"][2]["text"]["text"] == "text 1"
    assert message["blocks"][4]["fields"] == [{"type": "mrkdwn", "text": "*Team*\nweb"}]
    buttons = message["blocks"][5]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["View in Tocsin", "Silence"]
    assert buttons[1]["style"] == "danger"
    assert message["text"] == "custom fallback"
    assert message["link_names"] is True
    assert message["icon_emoji"] == ":fire:"


def test_slack_limits() -> None:
    config = SlackConfig(title="T" * 500)
    message = slack_message(notification(120), config)
    blocks = message["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    assert len(blocks[0]["text"]["text"]) == 150
    more = [b for b in blocks if b["type"] == "context"]
    assert more
    assert more[0]["elements"][0]["text"].startswith("…and ")
    shown = sum(1 for b in blocks if b["type"] == "section")
    assert more[0]["elements"][0]["text"] == f"…and {120 - shown} more"


def test_alert_without_http_source_gets_no_button() -> None:
    n = Notification("r", "k", {}, (alert(1, url=""),), NOW)
    section = slack_message(n, SlackConfig())["blocks"][1]
    assert "accessory" not in section


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind"),
    [
        (200, TEXT, b"ok", OutcomeKind.SENT),  # incoming webhook
        (200, TEXT, b"invalid_token", OutcomeKind.PERMANENT),
        (200, JSON, b'{"ok": true, "ts": "1.2"}', OutcomeKind.SENT),  # chat.postMessage
        (200, JSON, b'{"ok": false, "error": "channel_not_found"}', OutcomeKind.PERMANENT),
        (200, JSON, b'{"ok": false, "error": "invalid_auth"}', OutcomeKind.PERMANENT),
        (200, JSON, b'{"ok": false, "error": "ratelimited"}', OutcomeKind.RETRYABLE),
        (200, JSON, b'{"ok": false, "error": "internal_error"}', OutcomeKind.RETRYABLE),
        (200, JSON, b'{"ok": false}', OutcomeKind.PERMANENT),
        (200, JSON, b"not json", OutcomeKind.RETRYABLE),
        (200, JSON, b"ok\n", OutcomeKind.SENT),  # a webhook's "ok" labelled JSON: posted
        (200, JSON, b"[1]", OutcomeKind.RETRYABLE),
        (404, TEXT, b"channel_not_found", OutcomeKind.PERMANENT),
        (429, {"Retry-After": "3"}, b"", OutcomeKind.RETRYABLE),
        (500, {}, b"", OutcomeKind.RETRYABLE),
    ],
)
def test_classify_slack(
    status: int, headers: dict[str, str], body: bytes, kind: OutcomeKind
) -> None:
    outcome = classify_slack(HTTPAnswer(status, CIMultiDict(headers), body))
    assert outcome.kind is kind
    if kind is not OutcomeKind.SENT and body.startswith(b"{"):
        assert "Slack error" in outcome.message


def test_rate_limit_error_keeps_retry_after() -> None:
    answer = HTTPAnswer(
        200, CIMultiDict({**JSON, "Retry-After": "12"}), b'{"ok":false,"error":"ratelimited"}'
    )
    assert classify_slack(answer).retry_after == 12.0
