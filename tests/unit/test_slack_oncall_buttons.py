"""A page to Slack carries Acknowledge / Resolve buttons naming the group; other
notifications carry none, nor does the message that the group resolved."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.test_notify_payload import NOW, alert
from tocsin.config.receivers import SlackConfig
from tocsin.notify.channels.slack import slack_message
from tocsin.notify.message import Notification

FIRING = alert({"alertname": "ServiceDown"})


def note(extra: dict[str, dict[str, str]], resolved: bool = False) -> Notification:
    shown = FIRING if not resolved else alert(FIRING.labels, ends=NOW - timedelta(minutes=1))
    return Notification("r", "{}:{}", {}, (shown,), NOW, extra=extra)


def buttons(message: dict[str, object]) -> list[dict[str, object]]:
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"] if "value" in e]


def test_pages_get_buttons_with_the_group_id_and_the_firing_paged_for() -> None:
    page = {"group_id": "abc123", "escalation_id": "abc123#2"}
    message = slack_message(note({"fp": page}), SlackConfig(channel="#x"))
    assert [(b["action_id"], b["value"]) for b in buttons(message)] == [
        ("ack", "ack:abc123:abc123#2"),
        ("resolve", "resolve:abc123:abc123#2"),
    ]
    # a page without its escalation (none started): the group alone
    message = slack_message(note({"fp": {"group_id": "abc123"}}), SlackConfig(channel="#x"))
    assert [b["value"] for b in buttons(message)] == ["ack:abc123", "resolve:abc123"]


def test_the_notice_that_someone_acknowledged_offers_to_resolve_only() -> None:
    page = {"group_id": "abc123", "escalation_id": "abc123#2"}
    told = Notification("r", "{}:{}", {}, (FIRING,), NOW, extra={"fp": page}, acknowledged_by="bob")
    message = slack_message(told, SlackConfig(channel="#x"))
    assert [b["value"] for b in buttons(message)] == ["resolve:abc123:abc123#2"]


def test_plain_notifications_get_no_buttons() -> None:
    assert buttons(slack_message(note({}), SlackConfig(channel="#x"))) == []


def test_the_message_that_the_group_resolved_offers_nothing() -> None:
    """Its Acknowledge answered only "it is resolved" (phone walk-through)."""
    page = {"group_id": "abc123", "escalation_id": "abc123#2"}
    message = slack_message(note({"fp": page}, resolved=True), SlackConfig(channel="#x"))
    assert buttons(message) == []
