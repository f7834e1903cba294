"""Writer ops of the dispatcher: group timers, and a round of flushes in one transaction.

A flush claims the group's timer row, reads the notification log, decides (pure), and
commits the outbox rows, the new log entries and the next due time together: either
the decision and everything it implies is committed, or none of it is. A round's
flushes share the transaction and each statement: one claim, one log read, one insert
per table for all of its groups.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tocsin.alerts.notify_decision import FlushPlan, LogEntry, LogKey
from tocsin.notify.outbox import OutboxItem
from tocsin.store import group_rows, outbox_rows
from tocsin.store.group_rows import FlushClaim, GroupId, GroupTimer
from tocsin.store.writer import Txn

# Given the group's notification log, the pure decision and the outbox items it sends.
Planner = Callable[[Mapping[LogKey, LogEntry]], tuple[FlushPlan, list[OutboxItem]]]


@dataclass
class SaveTimers:
    timers: Sequence[GroupTimer]
    deleted: Sequence[GroupId] = ()

    def apply(self, txn: Txn) -> int:
        group_rows.save_timers(txn.conn, self.timers, txn.rev)
        group_rows.delete_timers(txn.conn, self.deleted)
        return txn.rev


@dataclass(frozen=True)
class FlushResult:
    claimed: bool
    plan: FlushPlan | None = None
    items: tuple[OutboxItem, ...] = ()
    # The group's notification log after the flush (what the next decision starts from).
    log: Mapping[LogKey, LogEntry] = field(default_factory=dict)


@dataclass
class Flush:
    route_id: str
    group_key: str
    receiver: str
    planner: Planner
    next_timer: GroupTimer | None  # None: the group is done, drop its timer

    @property
    def claim(self) -> FlushClaim:
        return FlushClaim(self.route_id, self.group_key, self.receiver, self.next_timer)


@dataclass
class FlushMany:
    """Every group due in one round, in one transaction (one fsync, not one per group)."""

    flushes: Sequence[Flush]
    now: datetime

    def apply(self, txn: Txn) -> tuple[int, list[FlushResult]]:
        """The transaction's revision, and each flush's result in order."""
        conn = txn.conn
        won = group_rows.claim_flushes(conn, [f.claim for f in self.flushes], self.now, txn.rev)
        logs = group_rows.logs_of(conn, [f.group_key for f in self.flushes if f.claim.gid in won])
        results: list[FlushResult] = []
        items: list[OutboxItem] = []
        entries: list[LogEntry] = []
        for f in self.flushes:
            if f.claim.gid not in won:
                results.append(FlushResult(claimed=False))
                continue
            log = logs.get(f.group_key, {})
            plan, sent = f.planner(log)
            items.extend(sent)
            entries.extend(plan.log_entries)
            after = {**log, **{e.key: e for e in plan.log_entries}}
            results.append(FlushResult(True, plan, tuple(sent), after))
        outbox_rows.enqueue(conn, items, txn.rev)
        group_rows.save_log_entries(conn, entries, txn.rev)
        return txn.rev, results
