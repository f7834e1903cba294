"""Queries on ``replicas``: a replica's sign of life, and who was seen since when."""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct
from sqlalchemy import Connection, delete, select, text

from tocsin.store.tables import replicas
from tocsin.timeutil import from_micros, to_micros


class Replica(Struct, frozen=True):
    name: str
    address: str
    version: str
    started_at: datetime
    seen_at: datetime


def seen(conn: Connection, me: Replica) -> None:
    """Record ``me`` alive at ``me.seen_at`` (its row made, or brought up to date)."""
    conn.execute(
        text(
            "INSERT INTO replicas (name, address, version, started_at, seen_at) "
            "VALUES (:name, :address, :version, :started, :seen) ON CONFLICT (name) DO UPDATE "
            "SET address = excluded.address, version = excluded.version, "
            "started_at = excluded.started_at, seen_at = excluded.seen_at"
        ),
        {
            "name": me.name,
            "address": me.address,
            "version": me.version,
            "started": to_micros(me.started_at),
            "seen": to_micros(me.seen_at),
        },
    )


def seen_since(conn: Connection, since: datetime) -> list[Replica]:
    """The replicas seen at or after ``since``, by name."""
    query = select(replicas).where(replicas.c.seen_at >= to_micros(since)).order_by(replicas.c.name)
    return [
        Replica(r.name, r.address, r.version, from_micros(r.started_at), from_micros(r.seen_at))
        for r in conn.execute(query)
    ]


def forget_before(conn: Connection, cutoff: datetime) -> int:
    """Forget replicas last seen before ``cutoff`` (stopped for good, or renamed)."""
    found = conn.execute(delete(replicas).where(replicas.c.seen_at < to_micros(cutoff)))
    return int(found.rowcount or 0)
