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
class DeleteTimers:
    """Forget the timers of groups that are gone (finished, or no longer routed)."""

    groups: Sequence[GroupId]

    def apply(self, txn: Txn) -> None:
        group_rows.delete_timers(txn.conn, self.groups)


class CheckReachable:
    """Nothing: a transaction begun and rolled back, to learn whether the database is
    back (a loop that failed, with nothing due since, must not say "failing" for good
    nor "works again" while it cannot tell)."""

    def apply(self, txn: Txn) -> None:
        return None

    def wrote_nothing(self, value: None) -> bool:
        return True


@dataclass(frozen=True)
class FlushResult:
    claimed: bool
    plan: FlushPlan | None = None
    items: tuple[OutboxItem, ...] = ()
    # The group's notification log after the flush (what the next decision starts from).
    log: Mapping[LogKey, LogEntry] = field(default_factory=dict)
    # Not flushed: its batch no longer stands (see ``Flush.stands``); due again at once.
    stale: bool = False


@dataclass
class Flush:
    route_id: str
    group_key: str
    receiver: str
    planner: Planner
    next_timer: GroupTimer | None  # None: the group is done, drop its timer
    # Whether the batch still stands once the transaction has caught up with what
    # other replicas committed: each alert firing, or resolved, as the batch has it.
    # A replica that lost the database for a while holds alerts whose end has passed
    # in its memory, though another replica kept them firing: from its memory it
    # would tell the receiver "resolved", and "firing" again a moment later.
    stands: Callable[[], bool] = lambda: True

    @property
    def claim(self) -> FlushClaim:
        return FlushClaim(self.route_id, self.group_key, self.receiver, self.next_timer)


@dataclass
class FlushMany:
    """Up to FLUSH_CHUNK groups due in one round, in one transaction (one fsync, not one
    per group)."""

    flushes: Sequence[Flush]
    now: datetime

    def apply(self, txn: Txn) -> tuple[int, list[FlushResult]]:
        """The transaction's revision, and each flush's result in order.

        Everything is decided before anything is written (a planner that raises leaves
        the round unwritten, as the writer requires of an op): the due rows are locked
        and the logs read, the plans made, and only then are the claims finished and
        the outbox and log written. A new group's plan is made before its row is
        inserted, and dropped if another replica inserted it first.
        """
        conn = txn.conn
        stale = {f.claim.gid for f in self.flushes if not f.stands()}
        flushes = [f for f in self.flushes if f.claim.gid not in stale]
        due, new = group_rows.lock_timers(conn, [f.claim for f in flushes], self.now)
        candidates = due | {c.gid for c in new}
        logs = group_rows.logs_of(conn, [f.group_key for f in flushes if f.claim.gid in candidates])
        planned = {
            f.claim.gid: f.planner(logs.get(f.group_key, {}))
            for f in flushes
            if f.claim.gid in candidates
        }
        due_claims = [f.claim for f in flushes if f.claim.gid in due]
        won = due | group_rows.finish_claims(conn, due_claims, new, self.now, txn.rev)
        kept = [(f, planned[f.claim.gid]) for f in flushes if f.claim.gid in won]
        entries = [e for _, (plan, _) in kept for e in plan.log_entries]
        # The log after the round, per group key: sibling routes (``continue: true``
        # with the same matchers) share a group key, and each must see the others'
        # new entries, not the ones read before the round.
        after: dict[str, dict[LogKey, LogEntry]] = {}
        for e in entries:
            after.setdefault(e.group_key, dict(logs.get(e.group_key, {})))[e.key] = e

        def result(f: Flush) -> FlushResult:
            if f.claim.gid in stale:
                return FlushResult(claimed=False, stale=True)
            if f.claim.gid not in won:
                return FlushResult(claimed=False)
            plan, items = planned[f.claim.gid]
            log = after.get(f.group_key, logs.get(f.group_key, {}))
            return FlushResult(True, plan, tuple(items), log)

        results = [result(f) for f in self.flushes]
        outbox_rows.enqueue(conn, [i for _, (_, items) in kept for i in items], txn.rev)
        group_rows.save_log_entries(conn, entries, txn.rev)
        return txn.rev, results
