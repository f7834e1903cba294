"""Writer ops on the outbox: enqueue decided notifications, lease due ones, record
attempts. They run on the group-commit thread like every other write."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from tocsin.notify.outbox import OutboxItem, after_attempt
from tocsin.notify.outcome import Outcome
from tocsin.notify.retry import RetryPolicy
from tocsin.store import outbox_rows
from tocsin.store.outbox_rows import Attempt
from tocsin.store.writer import Txn


@dataclass
class Enqueue:
    items: list[OutboxItem]

    def apply(self, txn: Txn) -> int:
        outbox_rows.enqueue(txn.conn, self.items, txn.rev)
        return len(self.items)


@dataclass
class ClaimDue:
    now: datetime
    lease_until: datetime
    limit: int
    exclude_receivers: tuple[str, ...] = ()

    def apply(self, txn: Txn) -> list[OutboxItem]:
        if self.limit <= 0:
            return []
        return outbox_rows.claim_due(
            txn.conn, self.now, self.lease_until, self.limit, txn.rev, self.exclude_receivers
        )


@dataclass
class Release:
    ids: list[str]

    def apply(self, txn: Txn) -> None:
        outbox_rows.release(txn.conn, self.ids, txn.rev)


@dataclass
class RecordAttempt:
    """Log the attempt and move the item on: sent, failed, or due again later."""

    item: OutboxItem
    outcome: Outcome
    at: datetime
    duration_us: int
    policy: RetryPolicy
    rng: random.Random = field(default_factory=random.Random)

    def apply(self, txn: Txn) -> OutboxItem:
        after = after_attempt(self.item, self.outcome, self.at, self.policy, self.rng)
        outbox_rows.save(txn.conn, after, txn.rev)
        outbox_rows.log_attempt(
            txn.conn,
            Attempt(
                outbox_id=self.item.id,
                receiver=self.item.receiver,
                integration=self.item.integration,
                attempt=after.attempts,
                at=self.at,
                outcome=self.outcome,
                duration_us=self.duration_us,
            ),
        )
        return after
