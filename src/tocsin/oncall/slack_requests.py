"""Verifying that a request really comes from Slack (interactive buttons).

Slack signs ``v0:{timestamp}:{body}`` with the app's signing secret (HMAC-SHA256, hex,
prefixed ``v0=``) and sends it in ``X-Slack-Signature`` with the timestamp in
``X-Slack-Request-Timestamp``. A request older than five minutes is refused, so a
captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

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
