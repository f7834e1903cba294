"""Verifying that a request really comes from Slack (interactive buttons).

Slack signs ``v0:{timestamp}:{body}`` with the app's signing secret (HMAC-SHA256, hex,
prefixed ``v0=``) and sends it in ``X-Slack-Signature`` with the timestamp in
``X-Slack-Request-Timestamp``. A request older than five minutes is refused, so a
captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

TOLERANCE_SECONDS = 300


class SlackSignatureError(ValueError):
    pass


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify_slack(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: datetime
) -> None:
    if not timestamp or not signature:
        raise SlackSignatureError("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SlackSignatureError("X-Slack-Request-Timestamp is not a number") from None
    if abs(now.timestamp() - sent) > TOLERANCE_SECONDS:
        raise SlackSignatureError("request timestamp is too old or in the future")
    # compared as bytes: compare_digest refuses a str with non-ASCII characters (a 500)
    expected = slack_signature(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, signature.encode()):
        raise SlackSignatureError("signature does not match")


# What each of the page's buttons did, as the message says once it was pressed.
_DONE = {"ack": "Acknowledged", "resolve": "Resolved"}


def answered_message(
    message: Mapping[str, Any], action: str, who: str, at: datetime
) -> dict[str, Any]:
    """A page's Slack message as it becomes once ``who`` pressed ``action`` (sent to the
    press's ``response_url``, which replaces it): the on-call buttons gone, but for
    Resolve after an acknowledgement, and a line saying who did what, when. Without it
    the message kept offering Acknowledge to everyone who read it later."""
    blocks: list[Any] = []
    for block in message.get("blocks") or []:
        if not isinstance(block, dict) or block.get("type") != "actions":
            blocks.append(block)
            continue
        kept = [
            e
            for e in block.get("elements") or []
            if not _oncall_button(e) or (action == "ack" and e.get("action_id") == "resolve")
        ]
        if kept:
            blocks.append({**block, "elements": kept})
    said = f":white_check_mark: {_DONE.get(action, action)} by {who} at {at:%H:%M} UTC"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": said}]})
    return {"replace_original": True, "text": message.get("text") or said, "blocks": blocks}


def _oncall_button(element: Any) -> bool:
    return isinstance(element, dict) and str(element.get("value", "")).startswith(
        tuple(f"{action}:" for action in _DONE)
    )
