"""Queries on ``agg_groups`` (group timers) and ``nflog`` (the notification log)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tocsin.alerts.notify_decision import LogEntry
from tocsin.store.tables import agg_groups, nflog
from tocsin.timeutil import from_micros, to_micros


@dataclass(frozen=True, slots=True)
class GroupTimer:
    route_id: str
    group_key: str
    receiver: str
    next_flush_at: datetime
    has_flushed: bool


def _insert(conn: Connection) -> Any:
    return sqlite_insert if conn.dialect.name == "sqlite" else pg_insert


def save_timers(conn: Connection, timers: Sequence[GroupTimer], rev: int) -> None:
    if not timers:
        return
    stmt = _insert(conn)(agg_groups)
    stmt = stmt.on_conflict_do_update(
        index_elements=["route_id", "group_key"],
        set_={
            "next_flush_at": stmt.excluded.next_flush_at,
            "has_flushed": stmt.excluded.has_flushed,
            "receiver": stmt.excluded.receiver,
            # the flush that saves the next due time is done with the group: the lease
            # it took must go, or the next flush finds the group still leased
            "lease_until": stmt.excluded.lease_until,
            "rev": stmt.excluded.rev,
        },
    )
    conn.execute(
        stmt,
        [
            {
                "route_id": t.route_id,
                "group_key": t.group_key,
                "receiver": t.receiver,
                "next_flush_at": to_micros(t.next_flush_at),
                "has_flushed": t.has_flushed,
                "lease_until": 0,
                "rev": rev,
            }
            for t in timers
        ],
    )


def load_timers(conn: Connection) -> list[GroupTimer]:
    return [
        GroupTimer(
            r.route_id, r.group_key, r.receiver, from_micros(r.next_flush_at), bool(r.has_flushed)
        )
        for r in conn.execute(select(agg_groups))
    ]


def claim_flush(
    conn: Connection,
    route_id: str,
    group_key: str,
    receiver: str,
    now: datetime,
    lease_until: datetime,
) -> bool:
    """Lease a group's flush if it is due and nobody holds it; True if this caller won.

    The conditional UPDATE is the claim: on PostgreSQL concurrent claims of one row
    serialize on its row lock and only the first still finds it unleased. A group that
    has never flushed may have no row yet: then inserting it is the claim, and of two
    replicas inserting at once only one succeeds.
    """
    micros, lease = to_micros(now), to_micros(lease_until)
    key = (route_id, group_key)
    inserted = conn.exec_driver_sql(
        _driver(conn, _CLAIM_INSERT), (*key, receiver, micros, False, lease, 0)
    )
    if inserted.rowcount:
        return True
    updated = conn.exec_driver_sql(_driver(conn, _CLAIM_UPDATE), (lease, *key, micros, micros))
    return bool(updated.rowcount)


# Plain SQL: a flush claims its group's row once per flush, on the notification path,
# where building and compiling the statements showed up as a quarter of the CPU.
_CLAIM_INSERT = (
    "INSERT INTO agg_groups (route_id, group_key, receiver, next_flush_at, has_flushed, "
    "lease_until, rev) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (route_id, group_key) DO NOTHING"
)
_CLAIM_UPDATE = (
    "UPDATE agg_groups SET lease_until = ? WHERE route_id = ? AND group_key = ? "
    "AND next_flush_at <= ? AND lease_until <= ?"
)


def _driver(conn: Connection, sql: str) -> str:
    """SQLite's ``?`` placeholders, or psycopg's ``%s``."""
    return sql if conn.dialect.name == "sqlite" else sql.replace("?", "%s")


def delete_timer(conn: Connection, route_id: str, group_key: str) -> None:
    conn.execute(
        delete(agg_groups).where(
            and_(agg_groups.c.route_id == route_id, agg_groups.c.group_key == group_key)
        )
    )


def log_entries(conn: Connection, group_key: str) -> list[LogEntry]:
    rows = conn.execute(select(nflog.c.entry).where(nflog.c.group_key == group_key))
    return [LogEntry.from_json(orjson.loads(r.entry)) for r in rows]


def save_log_entries(conn: Connection, entries: Sequence[LogEntry]) -> None:
    if not entries:
        return
    stmt = _insert(conn)(nflog)
    stmt = stmt.on_conflict_do_update(
        index_elements=["group_key", "receiver", "integration"],
        set_={"entry": stmt.excluded.entry, "updated_at": stmt.excluded.updated_at},
    )
    conn.execute(
        stmt,
        [
            {
                "group_key": e.group_key,
                "receiver": e.receiver,
                "integration": e.integration,
                "entry": orjson.dumps(e.to_json()).decode(),
                "updated_at": to_micros(e.timestamp),
            }
            for e in entries
        ],
    )


def forget_log_before(conn: Connection, cutoff: datetime) -> int:
    result = conn.execute(delete(nflog).where(nflog.c.updated_at < to_micros(cutoff)))
    return int(result.rowcount or 0)
