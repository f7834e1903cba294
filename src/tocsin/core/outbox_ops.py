"""Writer ops on the outbox: enqueue decided notifications, lease due ones, record
attempts. They run on the group-commit thread like every other write."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from tocsin.notify.outbox import OutboxItem, after_attempt
from tocsin.notify.outcome import Outcome
from tocsin.notify.retry import RetryPolicy
from tocsin.store import outbox_rows
from tocsin.store.outbox_rows import Attempt
from tocsin.store.writer import Outcome as OpOutcome
from tocsin.store.writer import Txn
from tocsin.timeutil import to_micros


@dataclass
class Enqueue:
    items: list[OutboxItem]

    def apply(self, txn: Txn) -> int:
        outbox_rows.enqueue(txn.conn, self.items, txn.rev)
        return len(self.items)


@dataclass
class ForgetDone:
    """Forget up to ``limit`` notifications done with and created before ``cutoff``
    (the store's retention, as Alertmanager's notification log forgets its entries):
    each op a bounded transaction, so the writer is held for one batch at a time."""

    cutoff: datetime
    limit: int

    def apply(self, txn: Txn) -> int:
        return outbox_rows.forget_done_before(txn.conn, to_micros(self.cutoff), self.limit)

    def wrote_nothing(self, value: int) -> bool:
        return value == 0


@dataclass
class ClaimDue:
    now: datetime
    lease_until: datetime
    limit: int
    exclude_receivers: tuple[str, ...] = ()

    # rows the claim took, those superseded too (``outbox_rows.claim_due``): a claim
    # that took a full batch is followed by another at once
    taken: int = 0

    def apply(self, txn: Txn) -> list[OutboxItem]:
        self.taken = 0
        if self.limit <= 0:
            return []
        items, self.taken = outbox_rows.claim_due(
            txn.conn, self.now, self.lease_until, self.limit, txn.rev, self.exclude_receivers
        )
        return items

    def wrote_nothing(self, value: list[OutboxItem]) -> bool:
        # nothing was due: nothing was leased (a claim that only marked superseded
        # items wrote them, and must be committed)
        return self.taken == 0


@dataclass
class Release:
    ids: list[str]

    def apply(self, txn: Txn) -> None:
        outbox_rows.release(txn.conn, self.ids, txn.rev)


@dataclass
class Supersede:
    """A held item not to be sent after all, and why (``outbox_rows.supersede_held``)."""

    item: OutboxItem
    reason: str
    now: datetime

    def apply(self, txn: Txn) -> None:
        outbox_rows.supersede_held(txn.conn, self.item, self.reason, self.now, txn.rev)


@dataclass
class GiveBack:
    """Items claimed and not begun, given back at a shutdown (``outbox_rows.give_back``)."""

    held: list[OutboxItem]

    def apply(self, txn: Txn) -> None:
        outbox_rows.give_back(txn.conn, self.held, txn.rev)


@dataclass
class RecordAttempt:
    """Log the attempt and move the item on: sent, failed, or due again later."""

    item: OutboxItem
    outcome: Outcome
    at: datetime
    duration_us: int
    policy: RetryPolicy
    rng: random.Random = field(default_factory=random.Random)

    def apply(self, txn: Txn) -> OutboxItem | None:
        ((after, _),) = self.apply_many(txn, [self])
        return cast(OutboxItem | None, after)

    @classmethod
    def apply_many(cls, txn: Txn, ops: Sequence[RecordAttempt]) -> list[OpOutcome]:
        """The attempts that finished together, with one statement per table. An
        attempt whose lease ran out and whose item another worker claimed meanwhile is
        logged but moves nothing: its outcome is None (superseded)."""
        afters = [after_attempt(op.item, op.outcome, op.at, op.policy, op.rng) for op in ops]
        written = outbox_rows.save_state(
            txn.conn, [(op.item, after) for op, after in zip(ops, afters, strict=True)], txn.rev
        )
        outbox_rows.log_attempts(
            txn.conn, [op.attempt(after.attempts) for op, after in zip(ops, afters, strict=True)]
        )
        return [(after if ok else None, None) for after, ok in zip(afters, written, strict=True)]

    def attempt(self, number: int) -> Attempt:
        return Attempt(
            outbox_id=self.item.id,
            receiver=self.item.receiver,
            integration=self.item.integration,
            attempt=number,
            at=self.at,
            outcome=self.outcome,
            duration_us=self.duration_us,
        )
