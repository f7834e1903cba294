"""What one delivery attempt came to: sent, worth retrying, or never going to work.

Channels never raise for a receiver's failure; they return an :class:`Outcome`, and the
outbox decides what to do with it (mark done, schedule a retry no earlier than
``retry_after``, or give up and log). Keeping the classification here, as pure
functions of a status code, headers and body, makes the table testable without a
network and keeps every channel's rules the same where they agree.

The HTTP rules follow Alertmanager's ``notify.Retrier`` (2xx sent, 5xx retried, other
codes not) widened the way the HTTP specification invites: 408 and 429 are retried too,
and ``Retry-After`` (delta-seconds or an HTTP-date) is honoured on 429 and 503.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from msgspec import Struct

__all__ = [
    "BODY_EXCERPT",
    "Outcome",
    "OutcomeKind",
    "classify_http",
    "excerpt",
    "parse_retry_after",
]

# How much of a response body goes into the notification log: enough to read an error
# message, not so much that a receiver returning an HTML page floods the log.
BODY_EXCERPT = 512


class OutcomeKind(StrEnum):
    SENT = "sent"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


class Outcome(Struct, frozen=True):
    """The result of one attempt; ``message`` is for the notification log."""

    kind: OutcomeKind
    message: str = ""
    status_code: int | None = None
    retry_after: float | None = None

    @classmethod
    def sent(cls, message: str = "", status_code: int | None = None) -> Outcome:
        return cls(OutcomeKind.SENT, message, status_code)

    @classmethod
    def retryable(
        cls, message: str, status_code: int | None = None, retry_after: float | None = None
    ) -> Outcome:
        return cls(OutcomeKind.RETRYABLE, message, status_code, retry_after)

    @classmethod
    def permanent(cls, message: str, status_code: int | None = None) -> Outcome:
        return cls(OutcomeKind.PERMANENT, message, status_code)

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.SENT

    @property
    def retry(self) -> bool:
        return self.kind is OutcomeKind.RETRYABLE


def excerpt(body: bytes | str, limit: int = BODY_EXCERPT) -> str:
    """The start of a response body as printable text, marked when cut."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or None when absent or unreadable.

    RFC 9110 allows delta-seconds or an HTTP-date; a date in the past means "now" (0).
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" zones parse naive; HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


_RETRY_AFTER_CODES = frozenset({429, 503})
_RETRYABLE_4XX = frozenset({408, 429})


def classify_http(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str,
    now: datetime,
    *,
    extra_retry_codes: frozenset[int] = frozenset(),
) -> Outcome:
    """Classify an HTTP answer by its status code alone (channels add body rules).

    ``headers`` must be case-insensitive for ``Retry-After`` lookups (aiohttp's are); a
    plain dict is searched case-insensitively too.
    """
    detail = excerpt(body)
    message = f"HTTP {status}" + (f": {detail}" if detail else "")
    if 200 <= status < 300:
        return Outcome.sent(message, status)
    if status >= 500 or status in _RETRYABLE_4XX or status in extra_retry_codes:
        retry_after = None
        if status in _RETRY_AFTER_CODES:
            retry_after = parse_retry_after(_header(headers, "retry-after"), now)
        return Outcome.retryable(message, status, retry_after)
    return Outcome.permanent(message, status)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    found = headers.get(name)
    if found is not None:
        return found
    return next((v for k, v in headers.items() if k.lower() == name), None)
