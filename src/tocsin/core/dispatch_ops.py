"""Writer ops of the dispatcher: group timers, and a whole flush in one transaction.

A flush claims the group's timer row, reads the notification log, decides (pure), and
commits the outbox rows, the new log entries and the next due time together: either
the decision and everything it implies is committed, or none of it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tocsin.alerts.notify_decision import FlushPlan, LogEntry, LogKey
from tocsin.notify.outbox import OutboxItem
from tocsin.store import group_rows, outbox_rows
from tocsin.store.group_rows import GroupTimer
from tocsin.store.writer import Txn

# Given the group's notification log, the pure decision and the outbox items it sends.
Planner = Callable[[Mapping[LogKey, LogEntry]], tuple[FlushPlan, list[OutboxItem]]]


@dataclass
class SaveTimers:
    timers: Sequence[GroupTimer]
    deleted: Sequence[tuple[str, str]] = ()

    def apply(self, txn: Txn) -> None:
        group_rows.save_timers(txn.conn, self.timers, txn.rev)
        for route_id, group_key in self.deleted:
            group_rows.delete_timer(txn.conn, route_id, group_key)


@dataclass(frozen=True)
class FlushResult:
    claimed: bool
    plan: FlushPlan | None = None
    items: tuple[OutboxItem, ...] = ()


@dataclass
class Flush:
    route_id: str
    group_key: str
    receiver: str
    now: datetime
    lease_until: datetime
    planner: Planner
    next_timer: GroupTimer | None  # None: the group is done, drop its timer

    def apply(self, txn: Txn) -> FlushResult:
        conn = txn.conn
        if not group_rows.claim_flush(
            conn, self.route_id, self.group_key, self.receiver, self.now, self.lease_until
        ):
            return FlushResult(claimed=False)
        log = {e.key: e for e in group_rows.log_entries(conn, self.group_key)}
        plan, items = self.planner(log)
        outbox_rows.enqueue(conn, items, txn.rev)
        group_rows.save_log_entries(conn, plan.log_entries)
        if self.next_timer is None:
            group_rows.delete_timer(conn, self.route_id, self.group_key)
        else:
            group_rows.save_timers(conn, [self.next_timer], txn.rev)  # also drops the lease
        return FlushResult(True, plan, tuple(items))


@dataclass
class FlushMany:
    """Every group due in one round, in one transaction (one fsync, not one per group)."""

    flushes: Sequence[Flush]

    def apply(self, txn: Txn) -> list[FlushResult]:
        return [f.apply(txn) for f in self.flushes]
