"""Queries on the ``outbox`` and ``delivery_log`` tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from msgspec import Struct
from msgspec.structs import replace
from sqlalchemy import Connection, and_, bindparam, delete, func, or_, select, update

from tocsin.notify.outbox import (
    DeliveryStatus,
    OutboxItem,
    notification_from_json,
    notification_to_json,
)
from tocsin.notify.outcome import Outcome
from tocsin.store.plainsql import driver, raw_cursor
from tocsin.store.tables import delivery_log, outbox
from tocsin.timeutil import EPOCH, format_rfc3339, from_micros, to_micros

# Plain SQL for the notification path (an insert per decided notification, an update
# and a log row per attempt), where per-statement compilation was a large share.
_INSERT = (
    "INSERT INTO outbox (id, idempotency_key, receiver, integration, group_key, payload, "
    "status, attempts, created_at, next_attempt_at, lease_until, updated_at, last_error, "
    "rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Only while the row is still pending under the lease the attempt was made with: a send
# that outlived its lease may have been claimed, sent and recorded by another worker,
# and its late record must not undo that (the attempt itself is still logged).
_UPDATE_STATE = (
    "UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, lease_until = ?, "
    "updated_at = ?, last_error = ?, rev = ? "
    "WHERE id = ? AND lease_until = ? AND status = 'pending'"
)
_LOG_ATTEMPT = (
    "INSERT INTO delivery_log (outbox_id, receiver, integration, attempt, at, outcome, "
    "status_code, message, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _row(item: OutboxItem, rev: int) -> tuple[Any, ...]:
    return (
        item.id,
        item.idempotency_key,
        item.receiver,
        item.integration,
        item.group_key,
        orjson.dumps(notification_to_json(item.notification)).decode(),
        item.status.value,
        item.attempts,
        to_micros(item.created_at),
        to_micros(item.next_attempt_at),
        to_micros(item.lease_until),
        to_micros(item.updated_at),
        item.last_error,
        rev,
    )


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        idempotency_key=row.idempotency_key,
        receiver=row.receiver,
        integration=row.integration,
        notification=notification_from_json(orjson.loads(row.payload)),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        created_at=from_micros(row.created_at),
        next_attempt_at=from_micros(row.next_attempt_at),
        lease_until=from_micros(row.lease_until),
        updated_at=from_micros(row.updated_at),
        last_error=row.last_error,
    )


def enqueue(conn: Connection, items: Sequence[OutboxItem], rev: int) -> None:
    if items:
        conn.exec_driver_sql(driver(conn, _INSERT), [_row(i, rev) for i in items])


def claim_due(
    conn: Connection,
    now: datetime,
    lease_until: datetime,
    limit: int,
    rev: int,
    exclude_receivers: Sequence[str] = (),
) -> tuple[list[OutboxItem], int]:
    """Lease up to ``limit`` pending items that are due and not leased by anyone else,
    skipping the receivers named in ``exclude_receivers`` (those already busy); returns
    them, and how many rows the claim took in all (those superseded too: written, but
    not returned).

    On PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets replicas claim side by side without
    waiting on each other or taking the same row.
    """
    micros = to_micros(now)
    query = (
        select(outbox)
        .where(
            outbox.c.status == DeliveryStatus.PENDING.value,
            outbox.c.next_attempt_at <= micros,
            outbox.c.lease_until <= micros,
        )
        .order_by(outbox.c.next_attempt_at)
        .limit(limit)
    )
    if exclude_receivers:
        query = query.where(outbox.c.receiver.not_in(list(exclude_receivers)))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    lease = from_micros(to_micros(lease_until))
    found = [_item(row) for row in conn.execute(query)]
    if not found:
        return [], 0
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_([i.id for i in found]))
        .values(lease_until=to_micros(lease_until), rev=rev)
    )
    lapsed = [i for i in found if i.lease_until != EPOCH]
    if lapsed:
        _count_lapsed(conn, lapsed, now)
    counted = {i.id for i in lapsed}
    # Only an item sent late can be out of order: one being retried or whose lease
    # lapsed (a fresh item is claimed in creation order). An announcement is news of
    # its own, not a state a newer one replaces.
    late = [i for i in found if (i.attempts or i.id in counted) and not i.notification.news]
    stale = _supersede(conn, late, now, rev) if late else set()
    claimed = [
        replace(i, lease_until=lease, attempts=i.attempts + (i.id in counted))
        for i in found
        if i.id not in stale
    ]
    return claimed, len(found)


def _supersede(conn: Connection, items: Sequence[OutboxItem], now: datetime, rev: int) -> set[str]:
    """Of ``items``, mark superseded (and return) those of a group and integration for
    which a newer notification was decided since: it carries the group's state now,
    and this one, sent after it, would undo it at the receiver (PagerDuty left with a
    "trigger" after the "resolve", a chat told "firing" again). Alertmanager sends one
    group's notifications one after another and drops what a newer flush replaces;
    this keeps that order across retries, restarts and replicas. One query, by the
    index on the group key (migration 0024): the notifications of those groups only."""
    since = min(to_micros(i.created_at) for i in items)
    key = (outbox.c.receiver, outbox.c.integration, outbox.c.group_key)
    newest = {
        (r.receiver, r.integration, r.group_key): r.newest
        for r in conn.execute(
            select(*key, func.max(outbox.c.created_at).label("newest"))
            .where(
                outbox.c.group_key.in_(sorted({i.group_key for i in items})),
                outbox.c.created_at > since,
            )
            .group_by(*key)
        )
    }
    stale = {
        i.id
        for i in items
        if newest.get((i.receiver, i.integration, i.group_key), 0) > to_micros(i.created_at)
    }
    if stale:
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(list(stale)))
            .values(
                status=DeliveryStatus.SUPERSEDED.value,
                lease_until=0,
                updated_at=to_micros(now),
                last_error="not sent: a newer notification of its group went to this "
                "integration since, and this one, late, would undo it",
                rev=rev,
            )
        )
    return stale


def _count_lapsed(conn: Connection, items: Sequence[OutboxItem], now: datetime) -> None:
    """Items whose lease ran out with no attempt recorded: the process that held them
    stopped (``kill -9``, a crash) while sending or about to, a send outlived its
    lease, or the item waited for its receiver's turn past it (``DeliveryWorker``
    leaves it to lapse: giving it back could undo another worker's claim). Whether the
    receiver got it is unknown; the log says so, as an attempt of its own, rather than
    showing only the re-send."""
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_([i.id for i in items]))
        .values(attempts=outbox.c.attempts + 1)
    )
    log_attempts(
        conn,
        [
            Attempt(
                i.id,
                i.receiver,
                i.integration,
                i.attempts + 1,
                now,
                Outcome.retryable(
                    f"lease ran out at {format_rfc3339(i.lease_until)} with no attempt "
                    "recorded (Tocsin stopped, the send outlived the lease, or it waited "
                    "for its turn past it): it may have been delivered"
                ),
                0,
            )
            for i in items
        ],
    )


def release(conn: Connection, ids: Sequence[str], rev: int) -> None:
    """Give leased items back without an attempt (claimed more than could be sent)."""
    if ids:
        conn.execute(
            update(outbox).where(outbox.c.id.in_(list(ids))).values(lease_until=0, rev=rev)
        )


def give_back(conn: Connection, held: Sequence[OutboxItem], rev: int) -> None:
    """Give back items this worker claimed and will not send (a shutdown), each only
    while its lease is still the one this worker took: one whose lease lapsed may be
    another worker's by now, and clearing that lease would let a third send it too."""
    if held:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("item"), outbox.c.lease_until == bindparam("held"))
            .values(lease_until=0, rev=rev),
            [{"item": i.id, "held": to_micros(i.lease_until)} for i in held],
        )


def supersede_held(
    conn: Connection, item: OutboxItem, reason: str, now: datetime, rev: int
) -> None:
    """Mark an item this worker holds superseded, not sent, and why (only while its
    lease is still this worker's, as ``give_back``)."""
    conn.execute(
        update(outbox)
        .where(outbox.c.id == item.id, outbox.c.lease_until == to_micros(item.lease_until))
        .values(
            status=DeliveryStatus.SUPERSEDED.value,
            lease_until=0,
            updated_at=to_micros(now),
            last_error=reason,
            rev=rev,
        )
    )


def save_state(
    conn: Connection, items: Sequence[tuple[OutboxItem, OutboxItem]], rev: int
) -> list[bool]:
    """Store where items are in their delivery (status, attempts, timing), as
    ``(held, after)`` pairs: ``after`` is written only over the row as ``held`` left it
    (pending, under the same lease). Returns, per pair, whether it was written: it is
    not when another worker claimed the item after this one's lease ran out. The
    payload never changes after the item was decided."""
    if not items:
        return []
    rows = [
        (
            i.status.value,
            i.attempts,
            to_micros(i.next_attempt_at),
            to_micros(i.lease_until),
            to_micros(i.updated_at),
            i.last_error,
            rev,
            i.id,
            to_micros(held.lease_until),
        )
        for held, i in items
    ]
    sql = driver(conn, _UPDATE_STATE)
    with raw_cursor(conn) as cursor:
        if len({i.id for _, i in items}) < len(items):
            # One item twice (a send that outlived its lease and its re-send, both
            # finished): one at a time, in order, each with its own verdict.
            written = []
            for row in rows:
                cursor.execute(sql, row)
                written.append(cursor.rowcount == 1)
            return written
        cursor.executemany(sql, rows)
        matched = cursor.rowcount
    if matched == len(rows):  # the usual case: both drivers sum executemany's counts
        return [True] * len(rows)
    # Some row did not match: read back which were written (ids are distinct here).
    wanted = {after.id: (to_micros(after.updated_at), after.attempts) for _, after in items}
    query = select(outbox.c.id, outbox.c.updated_at, outbox.c.attempts, outbox.c.rev).where(
        outbox.c.id.in_(list(wanted))
    )
    found = {r.id for r in conn.execute(query) if r.rev == rev and (r[1], r[2]) == wanted[r.id]}
    return [after.id in found for _, after in items]


class Attempt(Struct, frozen=True):
    outbox_id: str
    receiver: str
    integration: str
    attempt: int
    at: datetime
    outcome: Outcome
    duration_us: int


def log_attempts(conn: Connection, attempts: Sequence[Attempt]) -> None:
    if attempts:
        conn.exec_driver_sql(
            driver(conn, _LOG_ATTEMPT),
            [
                (
                    a.outbox_id,
                    a.receiver,
                    a.integration,
                    a.attempt,
                    to_micros(a.at),
                    a.outcome.kind.value,
                    a.outcome.status_code,
                    a.outcome.message,
                    a.duration_us,
                )
                for a in attempts
            ],
        )


def get(conn: Connection, item_id: str) -> OutboxItem | None:
    row = conn.execute(select(outbox).where(outbox.c.id == item_id)).first()
    return None if row is None else _item(row)


def recent(
    conn: Connection,
    limit: int = 100,
    receiver: str | None = None,
    *,
    status: DeliveryStatus | None = None,
    group_key: str | None = None,
    before: str | None = None,
) -> list[OutboxItem]:
    """The newest notifications (of ``receiver``, in ``status``, of the group with
    ``group_key``); with ``before`` (an item's id), those listed after that item: the
    next page of a list that ended with it (a storm's thousands, a page at a time).
    The id breaks ties: a flush's notifications share their creation time."""
    order = (outbox.c.created_at.desc(), outbox.c.id.desc())
    query = select(outbox).order_by(*order).limit(limit)
    if receiver:
        query = query.where(outbox.c.receiver == receiver)
    if status is not None:
        query = query.where(outbox.c.status == status.value)
    if group_key:
        query = query.where(outbox.c.group_key == group_key)
    if before is not None:
        at = select(outbox.c.created_at).where(outbox.c.id == before).scalar_subquery()
        query = query.where(
            or_(outbox.c.created_at < at, and_(outbox.c.created_at == at, outbox.c.id < before))
        )
    return [_item(row) for row in conn.execute(query)]


def attempts_of(conn: Connection, outbox_id: str) -> list[dict[str, Any]]:
    return attempts_of_items(conn, [outbox_id])[outbox_id]


def attempts_of_items(
    conn: Connection, outbox_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every listed item's delivery attempts, in order: one query for a whole page of
    notifications, not one per item."""
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in outbox_ids}
    if not outbox_ids:
        return found
    rows = conn.execute(
        select(delivery_log)
        .where(delivery_log.c.outbox_id.in_(list(outbox_ids)))
        .order_by(delivery_log.c.id)
    )
    for r in rows:
        found[r.outbox_id].append(
            {
                "attempt": r.attempt,
                "at": from_micros(r.at),
                "outcome": r.outcome,
                "status_code": r.status_code,
                "message": r.message,
                "duration_ms": r.duration_us / 1000,
            }
        )
    return found


def forget_done_before(conn: Connection, cutoff_micros: int, limit: int) -> int:
    """Delete up to ``limit`` notifications created before the cutoff and done with
    (sent, or given up on), oldest first, with their delivery attempts; returns how
    many. One still being retried stays, however old: it is not done."""
    ids = list(
        conn.execute(
            select(outbox.c.id)
            .where(
                outbox.c.created_at < cutoff_micros,
                outbox.c.status != DeliveryStatus.PENDING.value,
            )
            .order_by(outbox.c.created_at)
            .limit(limit)
        ).scalars()
    )
    if ids:
        conn.execute(delete(delivery_log).where(delivery_log.c.outbox_id.in_(ids)))
        conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))
    return len(ids)


def counts_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
    return {status: int(n) for status, n in rows}


def oldest_pending(conn: Connection) -> datetime | None:
    """The earliest next attempt of the items still to send (in the past: the delivery
    worker is behind, or stopped)."""
    value = conn.execute(
        select(func.min(outbox.c.next_attempt_at)).where(
            outbox.c.status == DeliveryStatus.PENDING.value
        )
    ).scalar()
    return None if value is None else from_micros(int(value))


def waiting(conn: Connection, now: datetime) -> tuple[int, int, datetime | None]:
    """Notifications still to send: how many, how many of them leased (being sent by a
    replica, or by a run that stopped without giving them back: they go again when
    the lease lapses), and the last of those leases' ends."""
    held = outbox.c.lease_until > to_micros(now)
    row = conn.execute(
        select(
            func.count(),
            func.count().filter(held),
            func.max(outbox.c.lease_until).filter(held),
        ).where(outbox.c.status == DeliveryStatus.PENDING.value)
    ).one()
    return int(row[0]), int(row[1]), None if row[2] is None else from_micros(int(row[2]))
