"""Signed, expiring action links (``/act/ack/GROUP?...``) for notifications.

Whoever holds the link may perform that one action on that one group until it expires,
while the group is in the episode the page was sent for (``ep``: its escalation; a
link from a page of yesterday's episode must not acknowledge today's, which paged
someone else); the link says who it was sent to, so the audit trail names them. The
signature is an
HMAC-SHA256 over every parameter, keyed by the server's secret, compared in constant
time. Pure: the secret and the clock are arguments.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote, urlencode


class Action(StrEnum):
    ACK = "ack"
    RESOLVE = "resolve"
    SNOOZE = "snooze"


@dataclass(frozen=True, slots=True)
class SignedAction:
    action: Action
    group_id: str
    actor: str
    expires: int  # unix seconds
    episode: str = ""  # the group's escalation the page was for ("": a link made before)

    def message(self) -> bytes:
        fields = [self.action.value, self.group_id, self.actor, str(self.expires)]
        return "\n".join([*fields, self.episode] if self.episode else fields).encode()


def signature(secret: bytes, signed: SignedAction) -> str:
    return hmac.new(secret, signed.message(), hashlib.sha256).hexdigest()


def make_link(
    base_url: str,
    secret: bytes,
    action: Action,
    group_id: str,
    actor: str,
    now: datetime,
    ttl: timedelta = timedelta(hours=24),
    episode: str = "",
) -> str:
    signed = SignedAction(action, group_id, actor, int((now + ttl).timestamp()), episode)
    fields: dict[str, str | int] = {"by": actor, "exp": signed.expires}
    if episode:
        fields["ep"] = episode
    query = urlencode({**fields, "sig": signature(secret, signed)})
    return f"{base_url.rstrip('/')}/act/{action.value}/{quote(group_id, safe='')}?{query}"


class LinkError(ValueError):
    """Why a link is refused (shown to the person who followed it)."""


def verify(secret: bytes, signed: SignedAction, sig: str, now: datetime) -> None:
    """Raise LinkError unless ``sig`` is the signature of ``signed`` and it has not expired."""
    # compared as bytes: compare_digest refuses a str with non-ASCII characters
    if not hmac.compare_digest(signature(secret, signed).encode(), sig.encode()):
        raise LinkError("this link is not valid (its signature does not match)")
    if now.timestamp() > signed.expires:
        raise LinkError("this link has expired; acknowledge from the console or the CLI")


def feed_token(secret: bytes, path: str) -> str:
    """The token that opens one calendar feed (``path``: ``/api/v1/people/alice.ics``)
    without a password: calendar apps (Google's, Outlook's, a phone's) subscribe to a
    URL and send no basic auth. One feed's token opens no other; signed with the
    links' secret, so it lasts as long as the install's."""
    return hmac.new(secret, b"feed:" + path.encode(), hashlib.sha256).hexdigest()[:32]


def feed_token_ok(secret: bytes, path: str, token: str) -> bool:
    # compared as bytes: compare_digest refuses a str with non-ASCII characters
    return hmac.compare_digest(feed_token(secret, path).encode(), token.encode())
