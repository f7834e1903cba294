"""Whether a flushed group is notified, to whom, with what, and what the notification
log must then remember.

This is the decision half of Alertmanager's per-receiver pipeline (``notify/notify.go``),
kept pure so the engine can run it inside the transaction that writes the outbox:

* ``MuteStage`` (inhibition, silences): muted alerts are removed from the notification;
  if nothing is left, nothing is sent and the log is not touched;
* ``TimeActiveStage`` / ``TimeMuteStage``: outside the route's ``active_time_intervals``
  or inside one of its ``mute_time_intervals`` the whole notification is dropped, again
  without touching the log (so the next unmuted flush compares against the last
  notification actually sent);
* ``DedupStage.needsUpdate``, per integration, against that integration's last log entry
  (see :func:`needs_update`);
* ``RetryStage``'s filter: an integration without ``send_resolved`` is sent only the
  firing alerts, and nothing at all when none fire, yet the log entry is still written
  so that the next decision knows the group was cleared;
* ``SetNotifiesStage``: the entry to record (firing and resolved fingerprints, time) once
  the send is committed.

The log is keyed like Alertmanager's nflog: group key, receiver name and integration
(``slack[0]``), because two integrations of one receiver may differ in
``send_resolved``. Alerts are identified by fingerprint (Alertmanager hashes the labels
too, with another hash function; only equality matters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from msgspec import Struct

from tocsin.alerts.grouping import FlushBatch
from tocsin.alerts.model import Alert
from tocsin.alerts.mutes import Muter
from tocsin.alerts.routing import RouteNode
from tocsin.alerts.timeintervals import TimeInterval, any_active
from tocsin.config.receivers import Receiver
from tocsin.timeutil import from_micros, to_micros

__all__ = [
    "Decision",
    "FlushPlan",
    "Integration",
    "LogEntry",
    "LogKey",
    "Reason",
    "TimeMute",
    "decide",
    "effective_repeat_interval",
    "integrations_of",
    "needs_update",
    "plan_flush",
    "split_muted",
    "time_muted",
]

# (group key, receiver name, integration name such as "slack[0]")
LogKey = tuple[str, str, str]


class Integration(Struct, frozen=True):
    """One notifier of a receiver, as the log and the dedup decision know it."""

    receiver: str
    kind: str
    index: int
    send_resolved: bool

    @property
    def name(self) -> str:
        return f"{self.kind}[{self.index}]"


def integrations_of(receiver: Receiver) -> tuple[Integration, ...]:
    """The integrations of a configured receiver, in Alertmanager's order."""
    return tuple(
        Integration(receiver.name, kind, index, bool(getattr(settings, "send_resolved", True)))
        for kind, index, settings in receiver.integrations()
    )


class LogEntry(Struct, frozen=True):
    """The last committed notification of a group to one integration (nflog ``Entry``)."""

    group_key: str
    receiver: str
    integration: str
    firing: frozenset[str]
    resolved: frozenset[str]
    timestamp: datetime

    @property
    def key(self) -> LogKey:
        return (self.group_key, self.receiver, self.integration)

    def to_json(self) -> dict[str, Any]:
        return {
            "group_key": self.group_key,
            "receiver": self.receiver,
            "integration": self.integration,
            "firing": sorted(self.firing),
            "resolved": sorted(self.resolved),
            "timestamp": to_micros(self.timestamp),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogEntry:
        return cls(
            group_key=data["group_key"],
            receiver=data["receiver"],
            integration=data["integration"],
            firing=frozenset(data["firing"]),
            resolved=frozenset(data["resolved"]),
            timestamp=from_micros(data["timestamp"]),
        )


class Reason(StrEnum):
    """Why ``needs_update`` said yes or no; the first four mean "notify"."""

    FIRST = "first"  # never notified, and something fires
    NEW_FIRING = "new_firing"  # a firing alert the last notification did not have
    ALL_RESOLVED = "all_resolved"  # nothing fires now, something did last time
    NEWLY_RESOLVED = "newly_resolved"  # send_resolved, and an alert resolved since
    REPEAT = "repeat"  # unchanged, and repeat_interval has passed
    NOTHING_FIRING = "nothing_firing"  # never notified, and only resolved alerts
    UNSEEN_RESOLVED = "unseen_resolved"  # fired and resolved between two notifications
    UNCHANGED = "unchanged"  # within repeat_interval

    @property
    def notify(self) -> bool:
        return self in _NOTIFY


_NOTIFY = frozenset(
    {Reason.FIRST, Reason.NEW_FIRING, Reason.ALL_RESOLVED, Reason.NEWLY_RESOLVED, Reason.REPEAT}
)


def needs_update(
    entry: LogEntry | None,
    firing: Set[str],
    resolved: Set[str],
    *,
    send_resolved: bool,
    repeat_interval: timedelta,
    now: datetime,
) -> Reason:
    """Alertmanager's ``DedupStage.needsUpdate``, returning the reason.

    The order of the checks matters and is Alertmanager's: "all resolved" is notified
    whatever ``send_resolved`` says, so that the log stops listing firing alerts; the
    repeat check is strict (``timestamp < now - repeat_interval``), so with flushes
    only every ``group_interval`` a repeat goes out at the first tick *after*
    ``repeat_interval`` has fully passed.
    """
    if entry is None:
        return Reason.FIRST if firing else Reason.NOTHING_FIRING
    if not firing <= entry.firing:
        return Reason.NEW_FIRING
    if not firing:
        return Reason.ALL_RESOLVED if entry.firing else Reason.UNSEEN_RESOLVED
    if send_resolved and not resolved <= entry.resolved:
        return Reason.NEWLY_RESOLVED
    if entry.timestamp < now - repeat_interval:
        return Reason.REPEAT
    return Reason.UNCHANGED


def effective_repeat_interval(repeat_interval: timedelta, group_interval: timedelta) -> timedelta:
    """How far apart repeats of an unchanged group really are.

    The repeat check runs only at flushes, every ``group_interval``, and is strict, so
    the gap is the smallest multiple of ``group_interval`` *greater* than
    ``repeat_interval``: 12m on a 5m tick gives 15m (the documented rounding up), and
    an exact multiple gets one more tick, 1h on a 5m tick gives 1h05m (as Alertmanager
    users observe, e.g. prometheus/alertmanager#676 and #917).
    """
    return (repeat_interval // group_interval + 1) * group_interval


class Decision(Struct, frozen=True):
    """The outcome for one integration.

    ``firing``/``resolved`` are what the message carries (empty when nothing is sent);
    ``entry`` is what to record once the send is committed (None: record nothing).
    """

    integration: Integration
    reason: Reason
    firing: tuple[str, ...]
    resolved: tuple[str, ...]
    entry: LogEntry | None

    @property
    def send(self) -> bool:
        return bool(self.firing or self.resolved)


def decide(
    previous: LogEntry | None,
    *,
    group_key: str,
    integration: Integration,
    firing: Sequence[str],
    resolved: Sequence[str],
    repeat_interval: timedelta,
    now: datetime,
) -> Decision:
    """Dedup one integration and say what to send and what to log.

    ``firing`` and ``resolved`` are the unmuted alerts of the flush, by fingerprint.
    """
    reason = needs_update(
        previous,
        frozenset(firing),
        frozenset(resolved),
        send_resolved=integration.send_resolved,
        repeat_interval=repeat_interval,
        now=now,
    )
    if not reason.notify:
        return Decision(integration, reason, (), (), None)
    entry = LogEntry(
        group_key=group_key,
        receiver=integration.receiver,
        integration=integration.name,
        firing=frozenset(firing),
        resolved=frozenset(resolved),
        timestamp=now,
    )
    if integration.send_resolved:
        return Decision(integration, reason, tuple(firing), tuple(resolved), entry)
    # RetryStage: without send_resolved only firing alerts go out, and an all-resolved
    # group sends nothing, but counts as notified so the log is cleared.
    return Decision(integration, reason, tuple(firing), (), entry)


# --- muting at flush time --------------------------------------------------------------


class TimeMute(StrEnum):
    """Why a route sends nothing at this time."""

    INACTIVE = "inactive"  # outside all of its active_time_intervals
    MUTED = "muted"  # inside one of its mute_time_intervals


def time_muted(
    mute: Sequence[str],
    active: Sequence[str],
    intervals: Mapping[str, Sequence[TimeInterval]],
    now: datetime,
) -> TimeMute | None:
    """The route-level time check (``TimeActiveStage`` then ``TimeMuteStage``).

    Same answer as :func:`tocsin.alerts.timeintervals.muted_at`, with the reason kept.
    """
    if active and not any(any_active(intervals.get(name, ()), now) for name in active):
        return TimeMute.INACTIVE
    if any(any_active(intervals.get(name, ()), now) for name in mute):
        return TimeMute.MUTED
    return None


def split_muted(
    alerts: Iterable[Alert], muters: Sequence[Muter]
) -> tuple[tuple[Alert, ...], tuple[Alert, ...]]:
    """``(kept, muted)``: ``MuteStage`` drops an alert any muter (silences, inhibition)
    names a reason for, firing or resolved alike."""
    kept: list[Alert] = []
    muted: list[Alert] = []
    for a in alerts:
        if any(m.muted_by(a.fingerprint, a.labels) for m in muters):
            muted.append(a)
        else:
            kept.append(a)
    return tuple(kept), tuple(muted)


class FlushPlan(Struct, frozen=True):
    """Everything decided about one batch: the engine sends ``notifications`` and
    records ``log_entries`` when those sends are committed, then settles the group."""

    batch: FlushBatch
    time_muted: TimeMute | None
    muted: tuple[str, ...]  # fingerprints removed by silences and inhibition
    decisions: tuple[Decision, ...]

    @property
    def notifications(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.send)

    @property
    def log_entries(self) -> tuple[LogEntry, ...]:
        return tuple(d.entry for d in self.decisions if d.entry is not None)


def plan_flush(
    batch: FlushBatch,
    *,
    route: RouteNode,
    integrations: Sequence[Integration],
    intervals: Mapping[str, Sequence[TimeInterval]],
    muters: Sequence[Muter],
    log: Mapping[LogKey, LogEntry],
    now: datetime,
) -> FlushPlan:
    """Run the receiver pipeline's decisions for one flushed batch.

    ``muters`` are the inhibitor and the silencer as they stand at ``now``; ``log``
    needs to hold at least this group's entries. The time check and the mute filter
    run before dedup, and when either leaves nothing to send no integration is asked
    (the order among them only changes which reason is reported).
    """
    muted_now = time_muted(route.mute_time_intervals, route.active_time_intervals, intervals, now)
    if muted_now is not None:
        return FlushPlan(batch, muted_now, (), ())
    firing, muted_firing = split_muted(batch.firing, muters)
    resolved, muted_resolved = split_muted(batch.resolved, muters)
    muted = tuple(a.fingerprint for a in muted_firing + muted_resolved)
    if not firing and not resolved:
        return FlushPlan(batch, None, muted, ())
    firing_fps = [a.fingerprint for a in firing]
    resolved_fps = [a.fingerprint for a in resolved]
    decisions = tuple(
        decide(
            log.get((batch.group_key, i.receiver, i.name)),
            group_key=batch.group_key,
            integration=i,
            firing=firing_fps,
            resolved=resolved_fps,
            repeat_interval=route.repeat_interval,
            now=now,
        )
        for i in integrations
    )
    return FlushPlan(batch, None, muted, decisions)
