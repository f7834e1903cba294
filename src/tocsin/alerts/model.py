"""The alert: Alertmanager's data model and its defaulting and merge rules.

Pure functions only; ``now`` is always an argument. The rules mirror Alertmanager's
API (``postAlertsHandler``: missing startsAt/endsAt defaults, ``resolve_timeout``) and
its store (``Alert.Merge`` and the overlap check in ``provider/mem``), so that a resend
from Prometheus or a resolve after a restart has exactly the effect it has there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from tocsin.alerts.labels import fingerprint


class AlertState(StrEnum):
    UNPROCESSED = "unprocessed"
    ACTIVE = "active"
    SUPPRESSED = "suppressed"


# Values of the hot path are frozen msgspec Structs (ARCHITECTURE.md). Those the store
# and the dispatcher hold by the hundred thousand in a storm are also kept out of the
# cyclic collector's sight (gc=False): frozen, built from values that exist before
# them, they cannot be part of a reference cycle.
class PostedAlert(Struct, frozen=True, gc=False):
    """An alert as a client posted it, after decoding and validation, before defaults."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str


class Alert(Struct, frozen=True, gc=False):
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    generator_url: str
    updated_at: datetime
    # True when ends_at was not sent but derived from resolve_timeout: such an end
    # time never wins a merge against an explicit one (Alertmanager's Timeout flag).
    timeout: bool

    def resolved(self, now: datetime) -> bool:
        """Alertmanager's ResolvedAt: the end time is not after ``now``."""
        return self.ends_at <= now

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


def with_defaults(posted: PostedAlert, now: datetime, resolve_timeout: timedelta) -> Alert:
    """Apply Alertmanager's defaults to a posted alert received at ``now``.

    No startsAt: now, or endsAt when only that was sent. No endsAt: now +
    resolve_timeout, marked as a timeout so a later explicit end time wins.
    """
    starts_at = posted.starts_at
    ends_at = posted.ends_at
    if starts_at is None:
        starts_at = now if ends_at is None else ends_at
    timeout = ends_at is None
    if ends_at is None:
        ends_at = now + resolve_timeout
    return Alert(
        fingerprint=fingerprint(posted.labels),
        labels=posted.labels,
        annotations=posted.annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=posted.generator_url,
        updated_at=now,
        timeout=timeout,
    )


def merge(old: Alert, new: Alert, now: datetime) -> Alert:
    """Alertmanager's ``Alert.Merge``: combine two versions of one alert at ``now``.

    The younger (by updated_at) carries labels and annotations; the earliest start wins.
    If the younger is resolved, the latest explicit resolve time wins; if it is firing,
    the older end time wins only when it is later and was sent, not a timeout.
    """
    if new.updated_at < old.updated_at:
        old, new = new, old
    starts_at = min(old.starts_at, new.starts_at)
    ends_at = new.ends_at
    if new.resolved(now):
        if old.resolved(now) and old.ends_at > new.ends_at:
            ends_at = old.ends_at
    elif old.ends_at > new.ends_at and not old.timeout:
        ends_at = old.ends_at
    return replace(new, starts_at=starts_at, ends_at=ends_at)


def overlaps(old: Alert, new: Alert) -> bool:
    """The store merges only when the new alert's activity overlaps the stored one's."""
    return (old.starts_at < new.ends_at < old.ends_at) or (
        old.starts_at < new.starts_at < old.ends_at
    )


def put(old: Alert | None, new: Alert, now: datetime) -> Alert:
    """What the store keeps when ``new`` arrives and ``old`` is held for its fingerprint."""
    if old is not None and overlaps(old, new):
        return merge(old, new, now)
    return new


def in_notification_order(alerts: Iterable[Alert]) -> tuple[Alert, ...]:
    """A group's alerts in the order Alertmanager's flush sorts them
    (``types.AlertSlice``): by ``job``, then ``instance`` (an alert with the label
    before one without), then by label set (Prometheus's ``LabelSet.Before``). Firing
    and resolved together: a webhook's ``max_alerts`` keeps the same first alerts, and
    a template's ``index .Alerts 0`` is the same alert, as under Alertmanager."""
    return tuple(sorted(alerts, key=notification_order_key))


def notification_order_key(alert: Alert) -> tuple[Any, ...]:
    """:func:`in_notification_order`'s key: compared in C, a group of 10,000 alerts
    sorts in 55 ms (a comparison function took 190 ms, at every flush)."""
    labels = alert.labels
    job, instance = labels.get("job"), labels.get("instance")
    # LabelSet.Before: fewer labels first; then over the names of both in order, the
    # first name one of them lacks puts that one first: at the first pair of the
    # sorted pairs that differ, the greater name first (the lesser is the other's
    # own), or for one name the lesser value (Go compares bytes: UTF-8 keeps code
    # point order, as Python compares)
    pairs = tuple((_descending(name), labels[name]) for name in sorted(labels))
    return (job is None, job or "", instance is None, instance or "", len(labels), pairs)


@lru_cache(maxsize=4096)  # label names repeat across a group's alerts
def _descending(name: str) -> tuple[int, ...]:
    """A key ordering names the other way round (a longer name with the same start
    first too: the end mark is greater than any character's complement)."""
    return (*(0x10FFFF - ord(c) for c in name), 0x110000)
