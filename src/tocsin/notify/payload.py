"""The Alertmanager webhook payload, version 4, built from a :class:`Notification`.

Existing webhook receivers parse this shape, so it matches Alertmanager's encoding key
for key and in the same order (``template.Data`` fields, then ``version``, ``groupKey``,
``truncatedAlerts``), with the same quirks:

* the receiver name is escaped as Go's ``regexp.QuoteMeta`` escapes it;
* times are Go's ``time.Time`` JSON (RFC 3339 with nanoseconds, trailing zeros cut), and
  a firing alert whose end time was only derived from ``resolve_timeout`` shows the zero
  time ``0001-01-01T00:00:00Z`` (Alertmanager's ``types.Alerts`` hides it);
* label and annotation maps are sorted by key, as Go's encoder sorts map keys;
* ``commonLabels``/``commonAnnotations`` are the pairs shared by every alert sent, and
  with ``max_alerts`` they are computed over the alerts kept, as Alertmanager does.

Pure: no clock (``now`` is in the notification), no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from tocsin.alerts.model import Alert
from tocsin.notify.message import Notification

__all__ = [
    "GO_ZERO_TIME",
    "alert_status",
    "common_pairs",
    "displayed_ends_at",
    "go_json",
    "go_time",
    "group_status",
    "quote_meta",
    "truncate_alerts",
    "webhook_payload",
]

GO_ZERO_TIME = "0001-01-01T00:00:00Z"
_ZERO = datetime(1, 1, 1, tzinfo=UTC)
_QUOTE_META = frozenset("\\.+*?()|[]{}^$")


def quote_meta(text: str) -> str:
    """Go's ``regexp.QuoteMeta``: a backslash before each regexp metacharacter."""
    return "".join("\\" + ch if ch in _QUOTE_META else ch for ch in text)


_GO_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def go_json(value: Any) -> bytes:
    """JSON as Go's ``json.Encoder`` writes it: HTML-safe escapes and a final newline.

    ``<``, ``>`` and ``&`` can only occur inside JSON strings, so replacing the raw
    bytes is exact (a generatorURL's ``&`` becomes ``\\u0026``, as Alertmanager sends).
    """
    out = orjson.dumps(value)
    for raw, escaped in _GO_ESCAPES:
        out = out.replace(raw, escaped)
    return out + b"\n"


def go_time(value: datetime) -> str:
    """Go's ``time.Time`` JSON form in UTC: RFC 3339, fraction without trailing zeros."""
    value = value.astimezone(UTC)
    if value == _ZERO:
        return GO_ZERO_TIME
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def alert_status(alert: Alert, now: datetime) -> str:
    return "resolved" if alert.resolved(now) else "firing"


def group_status(alerts: Sequence[Alert], now: datetime) -> str:
    return "firing" if any(not a.resolved(now) for a in alerts) else "resolved"


def displayed_ends_at(alert: Alert, now: datetime) -> datetime:
    """The end time receivers see: zero for a firing alert whose end was only derived."""
    if alert.timeout and not alert.resolved(now):
        return _ZERO
    return alert.ends_at


def common_pairs(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The name/value pairs present, with the same value, in every mapping."""
    if not maps:
        return {}
    common = dict(maps[0])
    for other in maps[1:]:
        common = {k: v for k, v in common.items() if other.get(k) == v}
        if not common:
            break
    return common


def truncate_alerts(alerts: Sequence[Alert], max_alerts: int) -> tuple[tuple[Alert, ...], int]:
    """Keep the first ``max_alerts`` (0 keeps all); also return how many were dropped."""
    if max_alerts > 0 and len(alerts) > max_alerts:
        return tuple(alerts[:max_alerts]), len(alerts) - max_alerts
    return tuple(alerts), 0


def _sorted(mapping: Mapping[str, str]) -> dict[str, str]:
    return {k: mapping[k] for k in sorted(mapping)}


def _alert(alert: Alert, now: datetime) -> dict[str, Any]:
    return {
        "status": alert_status(alert, now),
        "labels": _sorted(alert.labels),
        "annotations": _sorted(alert.annotations),
        "startsAt": go_time(alert.starts_at),
        "endsAt": go_time(displayed_ends_at(alert, now)),
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def webhook_payload(notification: Notification, max_alerts: int = 0) -> dict[str, Any]:
    """The JSON object a webhook receiver gets, as a dict in Alertmanager's key order."""
    now = notification.now
    alerts, dropped = truncate_alerts(notification.alerts, max_alerts)
    return {
        "receiver": quote_meta(notification.receiver),
        "status": group_status(alerts, now),
        "alerts": [_alert(a, now) for a in alerts],
        "groupLabels": _sorted(notification.group_labels),
        "commonLabels": _sorted(common_pairs([a.labels for a in alerts])),
        "commonAnnotations": _sorted(common_pairs([a.annotations for a in alerts])),
        "externalURL": notification.external_url,
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": notification.truncated + dropped,
    }
