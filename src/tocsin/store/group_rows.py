"""Queries on ``agg_groups`` (group timers) and ``nflog`` (the notification log).

The flush path runs these once per dispatcher round for every group of the round, so
they take whole batches and send plain SQL to the driver (``executemany``): building
and compiling a SQLAlchemy statement per group was most of a flush's cost.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson
from msgspec import Struct
from sqlalchemy import Connection, select

from tocsin.alerts.notify_decision import LogEntry, LogKey
from tocsin.store.plainsql import driver, marks
from tocsin.store.tables import agg_groups
from tocsin.timeutil import from_micros, to_micros

GroupId = tuple[str, str]  # (route id, group key)

# Keys per IN (...) list: well under SQLite's and psycopg's parameter limits.
_CHUNK = 400
_T = TypeVar("_T")


class GroupTimer(Struct, frozen=True):
    route_id: str
    group_key: str
    receiver: str
    next_flush_at: datetime
    has_flushed: bool

    @property
    def gid(self) -> GroupId:
        return (self.route_id, self.group_key)


class FlushClaim(Struct, frozen=True):
    """A group this round wants to flush, and the timer it leaves if it wins (None:
    the group is done and its row goes)."""

    route_id: str
    group_key: str
    receiver: str
    next_timer: GroupTimer | None

    @property
    def gid(self) -> GroupId:
        return (self.route_id, self.group_key)


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


_UPDATE_TIMER = (
    "UPDATE agg_groups SET receiver = ?, next_flush_at = ?, has_flushed = ?, "
    "lease_until = 0, rev = ? WHERE route_id = ? AND group_key = ?"
)
_DELETE_TIMER = "DELETE FROM agg_groups WHERE route_id = ? AND group_key = ?"
_UPSERT_LOG = (
    "INSERT INTO nflog (group_key, receiver, integration, entry, updated_at, rev) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (group_key, receiver, integration) "
    "DO UPDATE SET entry = excluded.entry, updated_at = excluded.updated_at, rev = excluded.rev"
)


def delete_timers(conn: Connection, gids: Sequence[GroupId]) -> None:
    if gids:
        conn.exec_driver_sql(driver(conn, _DELETE_TIMER), list(gids))


def load_timers(conn: Connection) -> list[GroupTimer]:
    return [
        GroupTimer(
            r.route_id, r.group_key, r.receiver, from_micros(r.next_flush_at), bool(r.has_flushed)
        )
        for r in conn.execute(select(agg_groups))
    ]


def logs_changed_since(
    conn: Connection, rev: int, own: Sequence[int] = ()
) -> list[tuple[str, int]]:
    """Groups whose notification log was written after revision ``rev`` by
    transactions other than ``own``, with the revisions."""
    sql = "SELECT group_key, rev FROM nflog WHERE rev > ?"
    if own:
        sql += f" AND rev NOT IN ({marks(len(own))})"
    rows = conn.exec_driver_sql(driver(conn, sql), (rev, *own))
    return [(group_key, int(r)) for group_key, r in rows]


def lock_timers(
    conn: Connection, claims: Sequence[FlushClaim], now: datetime
) -> tuple[set[GroupId], list[FlushClaim]]:
    """The first half of claiming a round's flushes, which writes nothing: the groups
    whose timer row is due (``next_flush_at <= now``, no lease left by an older
    version), locked ``FOR UPDATE`` on PostgreSQL, and the claims of groups that have
    no row yet (see :func:`finish_claims`)."""
    micros = to_micros(now)
    existing: dict[GroupId, bool] = {}
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    by_route: dict[str, list[str]] = {}
    for c in claims:
        by_route.setdefault(c.route_id, []).append(c.group_key)
    for route_id, keys in by_route.items():  # one route per query: the primary key serves
        for chunk in _chunks(keys):
            sql = (
                "SELECT group_key, next_flush_at, lease_until FROM agg_groups "
                f"WHERE route_id = ? AND group_key IN ({marks(len(chunk))}){lock}"
            )
            rows = conn.exec_driver_sql(driver(conn, sql), (route_id, *chunk))
            for group_key, next_flush_at, lease_until in rows:
                existing[(route_id, group_key)] = next_flush_at <= micros and lease_until <= micros
    due = {gid for gid, is_due in existing.items() if is_due}
    return due, [c for c in claims if c.gid not in existing]


def finish_claims(
    conn: Connection,
    due: Sequence[FlushClaim],
    new: Sequence[FlushClaim],
    now: datetime,
    rev: int,
) -> set[GroupId]:
    """The second half: move the due groups' rows on to the timers their flushes
    leave (or delete them), and insert rows for the new groups; the new groups this
    caller won (all of ``due`` it holds already).

    The row is moved on inside the flush's transaction, so no lease is needed: a
    replica claiming the same group waits on the row lock (PostgreSQL) or the write
    lock (SQLite) and then finds it no longer due; two replicas inserting the same new
    group conflict, and only one insert returns its row.
    """
    won = _insert_new(conn, new, now, rev)
    updates = [c for c in due if c.next_timer is not None]
    if updates:
        conn.exec_driver_sql(
            driver(conn, _UPDATE_TIMER),
            [
                (
                    t.receiver,
                    to_micros(t.next_flush_at),
                    t.has_flushed,
                    rev,
                    t.route_id,
                    t.group_key,
                )
                for c in updates
                if (t := c.next_timer) is not None
            ],
        )
    done = [c.gid for c in due if c.next_timer is None]
    delete_timers(conn, done + [c.gid for c in new if c.gid in won and c.next_timer is None])
    return won


def _insert_new(
    conn: Connection, claims: Sequence[FlushClaim], now: datetime, rev: int
) -> set[GroupId]:
    """Insert rows for groups that have none, with the timer each flush leaves; the
    ones this caller inserted. (A group done at its first flush gets a row too, deleted
    by the caller: inserting is what claims it.)"""
    won: set[GroupId] = set()
    micros = to_micros(now)
    for chunk in _chunks(claims):
        sql = (
            "INSERT INTO agg_groups (route_id, group_key, receiver, next_flush_at, "
            f"has_flushed, lease_until, rev) VALUES {marks(len(chunk), '(?, ?, ?, ?, ?, 0, ?)')} "
            "ON CONFLICT (route_id, group_key) DO NOTHING RETURNING route_id, group_key"
        )
        params: list[Any] = []
        for c in chunk:
            t = c.next_timer
            params += (
                c.route_id,
                c.group_key,
                c.receiver,
                to_micros(t.next_flush_at) if t else micros,
                t.has_flushed if t else False,
                rev,
            )
        won.update((r[0], r[1]) for r in conn.exec_driver_sql(driver(conn, sql), tuple(params)))
    return won


def logs_of(conn: Connection, group_keys: Sequence[str]) -> dict[str, dict[LogKey, LogEntry]]:
    """The notification log of each of these groups (absent: never notified)."""
    found: dict[str, dict[LogKey, LogEntry]] = {}
    for chunk in _chunks(sorted(set(group_keys))):
        sql = f"SELECT entry FROM nflog WHERE group_key IN ({marks(len(chunk))})"
        for (entry,) in conn.exec_driver_sql(driver(conn, sql), tuple(chunk)):
            e = LogEntry.from_json(orjson.loads(entry))
            found.setdefault(e.group_key, {})[e.key] = e
    return found


def save_log_entries(conn: Connection, entries: Sequence[LogEntry], rev: int) -> None:
    if entries:
        conn.exec_driver_sql(
            driver(conn, _UPSERT_LOG),
            [
                (
                    e.group_key,
                    e.receiver,
                    e.integration,
                    orjson.dumps(e.to_json()).decode(),
                    to_micros(e.timestamp),
                    rev,
                )
                for e in entries
            ],
        )


def forget_log_before(conn: Connection, cutoff: datetime) -> int:
    result = conn.exec_driver_sql(
        driver(conn, "DELETE FROM nflog WHERE updated_at < ?"), (to_micros(cutoff),)
    )
    return int(result.rowcount or 0)
