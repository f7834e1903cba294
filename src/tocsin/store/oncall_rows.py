"""Queries on the on-call tables: group lifecycle rows, due rows, overrides, audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, insert, select, update

from tocsin.oncall.lifecycle import AuditEntry
from tocsin.oncall.schedules import Override
from tocsin.store.tables import audit, oncall_due, oncall_groups, schedule_overrides
from tocsin.store.upsert import upsert
from tocsin.timeutil import from_micros, to_micros


@dataclass(frozen=True)
class OncallGroupRow:
    group_id: str
    route_id: str
    group_key: str
    receiver: str
    state: dict[str, Any]  # {"lifecycle": ..., "escalation": ..., "policy": ..., "alerts": [...]}
    updated_at: datetime


def get_group(conn: Connection, group_id: str) -> OncallGroupRow | None:
    row = conn.execute(select(oncall_groups).where(oncall_groups.c.group_id == group_id)).first()
    return None if row is None else _group(row)


def list_groups(conn: Connection, limit: int = 200) -> list[OncallGroupRow]:
    query = select(oncall_groups).order_by(oncall_groups.c.updated_at.desc()).limit(limit)
    return [_group(r) for r in conn.execute(query)]


def _group(row: Any) -> OncallGroupRow:
    return OncallGroupRow(
        row.group_id,
        row.route_id,
        row.group_key,
        row.receiver,
        orjson.loads(row.state),
        from_micros(row.updated_at),
    )


def save_group(conn: Connection, g: OncallGroupRow, rev: int) -> None:
    upsert(
        conn,
        oncall_groups,
        [
            (
                g.group_id,
                g.route_id,
                g.group_key,
                g.receiver,
                orjson.dumps(g.state).decode(),
                to_micros(g.updated_at),
                rev,
            )
        ],
        key="group_id",
    )


@dataclass(frozen=True)
class DueRow:
    id: str
    group_id: str
    kind: str  # "step" | "notify" | "lifecycle"
    due_at: datetime
    payload: dict[str, Any]


def add_due(conn: Connection, rows: Sequence[DueRow]) -> None:
    if rows:
        conn.execute(
            insert(oncall_due),
            [
                {
                    "id": r.id,
                    "group_id": r.group_id,
                    "kind": r.kind,
                    "due_at": to_micros(r.due_at),
                    "payload": orjson.dumps(r.payload).decode(),
                    "lease_until": 0,
                    "done": False,
                }
                for r in rows
            ],
        )


def claim_due(conn: Connection, now: datetime, lease_until: datetime, limit: int) -> list[DueRow]:
    """Lease due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas share)."""
    micros = to_micros(now)
    query = (
        select(oncall_due)
        .where(
            and_(
                oncall_due.c.done.is_(False),
                oncall_due.c.due_at <= micros,
                oncall_due.c.lease_until <= micros,
            )
        )
        .order_by(oncall_due.c.due_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = [
        DueRow(r.id, r.group_id, r.kind, from_micros(r.due_at), orjson.loads(r.payload))
        for r in conn.execute(query)
    ]
    if rows:
        conn.execute(
            update(oncall_due)
            .where(oncall_due.c.id.in_([r.id for r in rows]))
            .values(lease_until=to_micros(lease_until))
        )
    return rows


def finish_due(conn: Connection, due_id: str) -> None:
    conn.execute(update(oncall_due).where(oncall_due.c.id == due_id).values(done=True))


def pending_due(conn: Connection, group_id: str) -> list[DueRow]:
    query = (
        select(oncall_due)
        .where(and_(oncall_due.c.group_id == group_id, oncall_due.c.done.is_(False)))
        .order_by(oncall_due.c.due_at)
    )
    return [
        DueRow(r.id, r.group_id, r.kind, from_micros(r.due_at), orjson.loads(r.payload))
        for r in conn.execute(query)
    ]


def add_audit(conn: Connection, group_id: str, entries: Sequence[AuditEntry]) -> None:
    if entries:
        conn.execute(
            insert(audit),
            [
                {
                    "group_id": group_id,
                    "at": to_micros(e.at),
                    "actor": e.who,
                    "channel": e.via.value,
                    "action": e.action,
                    "comment": e.comment,
                    "detail": orjson.dumps(e.to_json()).decode(),
                }
                for e in entries
            ],
        )


def audit_of(conn: Connection, group_id: str) -> list[dict[str, Any]]:
    query = select(audit).where(audit.c.group_id == group_id).order_by(audit.c.id)
    return [
        {
            "at": from_micros(r.at),
            "actor": r.actor,
            "channel": r.channel,
            "action": r.action,
            "comment": r.comment,
            "detail": orjson.loads(r.detail),
        }
        for r in conn.execute(query)
    ]


def add_override(conn: Connection, o: Override, created_by: str) -> None:
    conn.execute(
        insert(schedule_overrides).values(
            id=o.id,
            schedule=o.schedule,
            person=o.person,
            starts_at=to_micros(o.start),
            ends_at=to_micros(o.end),
            created_at=to_micros(o.created_at),
            created_by=created_by,
            replaces=o.replaces,
        )
    )


def overrides(conn: Connection, schedule: str | None = None) -> list[Override]:
    query = select(schedule_overrides)
    if schedule is not None:
        query = query.where(schedule_overrides.c.schedule == schedule)
    return [
        Override(
            id=r.id,
            schedule=r.schedule,
            person=r.person,
            start=from_micros(r.starts_at),
            end=from_micros(r.ends_at),
            created_at=from_micros(r.created_at),
            replaces=r.replaces,
        )
        for r in conn.execute(query.order_by(schedule_overrides.c.created_at))
    ]


def delete_override(conn: Connection, override_id: str) -> bool:
    result = conn.execute(delete(schedule_overrides).where(schedule_overrides.c.id == override_id))
    return bool(result.rowcount)


def next_due_at(conn: Connection) -> datetime | None:
    """The soonest pending due time, for the worker's sleep."""
    value = conn.execute(
        select(func.min(oncall_due.c.due_at)).where(oncall_due.c.done.is_(False))
    ).scalar()
    return None if value is None else from_micros(int(value))
