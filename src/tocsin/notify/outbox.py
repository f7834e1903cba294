"""The outbox item: a decided notification on its way to one integration of a receiver.

Pure data and the pure transition after a delivery attempt; the rows live in
``tocsin.store.outbox_rows``, the loop that sends them in ``tocsin.engine.delivery``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from tocsin.alerts.codec import alert_from_json, alert_to_json
from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome, OutcomeKind
from tocsin.notify.retry import RetryPolicy
from tocsin.timeutil import EPOCH, from_micros, to_micros


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    # not sent because a newer notification of its group went (or goes) to the same
    # integration: sent late, it would undo that one (a "trigger" after the "resolve")
    SUPERSEDED = "superseded"


class OutboxItem(Struct, frozen=True):
    id: str
    idempotency_key: str
    receiver: str
    integration: str  # "webhook[0]": the kind and its index in the receiver's config
    notification: Notification
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    lease_until: datetime
    updated_at: datetime
    last_error: str = ""

    @property
    def group_key(self) -> str:
        return self.notification.group_key


def new_item(
    item_id: str, receiver: str, integration: str, notification: Notification, now: datetime
) -> OutboxItem:
    """A pending item, due at once; its idempotency key is the notification's plus the
    integration, so a re-send after a crash carries the same key."""
    key = f"{notification.idempotency_key}/{integration}"
    return OutboxItem(
        id=item_id,
        idempotency_key=key,
        receiver=receiver,
        integration=integration,
        notification=replace(notification, idempotency_key=key),
        status=DeliveryStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        lease_until=EPOCH,
        updated_at=now,
    )


def after_attempt(
    item: OutboxItem,
    outcome: Outcome,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> OutboxItem:
    """The item after one attempt: sent, failed for good, or due again later."""
    attempts = item.attempts + 1
    done = replace(item, attempts=attempts, lease_until=EPOCH, updated_at=now)
    if outcome.kind is OutcomeKind.SENT:
        return replace(done, status=DeliveryStatus.SENT, last_error="")
    if outcome.kind is OutcomeKind.PERMANENT or policy.gives_up(item.created_at, now):
        return replace(done, status=DeliveryStatus.FAILED, last_error=outcome.message)
    wait = policy.delay(attempts, outcome.retry_after, rng)
    return replace(done, next_attempt_at=now + wait, last_error=outcome.message)


def notification_to_json(n: Notification) -> dict[str, Any]:
    return {
        "receiver": n.receiver,
        "group_key": n.group_key,
        "group_labels": dict(n.group_labels),
        "alerts": [alert_to_json(a) for a in n.alerts],
        "now": to_micros(n.now),
        "external_url": n.external_url,
        "truncated": n.truncated,
        "idempotency_key": n.idempotency_key,
        "extra": {fp: dict(v) for fp, v in n.extra.items()},
        **({"news": True} if n.news else {}),
        **({"acknowledged_by": n.acknowledged_by} if n.acknowledged_by else {}),
    }


def notification_from_json(data: Mapping[str, Any]) -> Notification:
    return Notification(
        receiver=data["receiver"],
        group_key=data["group_key"],
        group_labels=dict(data["group_labels"]),
        alerts=tuple(alert_from_json(a) for a in data["alerts"]),
        now=from_micros(data["now"]),
        external_url=data["external_url"],
        truncated=data["truncated"],
        idempotency_key=data["idempotency_key"],
        extra=data["extra"],
        # absent from rows written before they existed
        news=bool(data.get("news", False)),
        acknowledged_by=str(data.get("acknowledged_by", "")),
    )
