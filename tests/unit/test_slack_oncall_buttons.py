"""A page to Slack carries Acknowledge / Resolve buttons naming the group; other
notifications carry none, nor does the message that the group resolved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.test_notify_payload import NOW, alert
from tocsin.config.receivers import SlackConfig
from tocsin.notify.channels.slack import slack_message
from tocsin.notify.message import Notification
from tocsin.oncall.slack_requests import answered_message

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


VIEW = {"type": "button", "text": {"type": "plain_text", "text": "View"}, "url": "http://t/g"}
PAGE = {
    "text": "[FIRING:1] ServiceDown",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "[FIRING:1] ServiceDown"}},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "ack", "value": "ack:g1:g1#1"},
                {"type": "button", "action_id": "resolve", "value": "resolve:g1:g1#1"},
                VIEW,
            ],
        },
    ],
}


@pytest.mark.parametrize(
    ("action", "left", "said"),
    [
        ("ack", ["resolve:g1:g1#1", None], "Acknowledged by bob at 13:30 UTC"),
        ("resolve", [None], "Resolved by bob at 13:30 UTC"),  # the link to Tocsin stays
    ],
)
def test_a_pressed_page_is_replaced_by_what_was_done(
    action: str, left: list[str | None], said: str
) -> None:
    answer = answered_message(PAGE, action, "bob", NOW)
    assert answer["replace_original"] is True
    assert answer["text"] == PAGE["text"]
    (actions,) = [b for b in answer["blocks"] if b["type"] == "actions"]
    assert [e.get("value") for e in actions["elements"]] == left
    assert answer["blocks"][0] == PAGE["blocks"][0]  # the rest of the message as it was
    assert answer["blocks"][-1]["elements"][0]["text"] == f":white_check_mark: {said}"


def test_a_press_without_its_message_still_says_what_was_done() -> None:
    answer = answered_message({}, "ack", "bob", NOW)
    assert [b["type"] for b in answer["blocks"]] == ["context"]
    assert answer["text"] == ":white_check_mark: Acknowledged by bob at 13:30 UTC"
