"""Queries on the ``silences`` table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select

from tocsin.alerts.matchers import Matcher, MatchType
from tocsin.alerts.silences import Silence
from tocsin.store.tables import silences
from tocsin.store.upsert import upsert
from tocsin.timeutil import from_micros, to_micros


def to_row(s: Silence, rev: int) -> tuple[Any, ...]:
    """The row in the table's column order."""
    matchers = [{"name": m.name, "type": m.type.value, "value": m.value} for m in s.matchers]
    return (
        s.id,
        orjson.dumps(matchers).decode(),
        to_micros(s.starts_at),
        to_micros(s.ends_at),
        to_micros(s.updated_at),
        s.created_by,
        s.comment,
        rev,
    )


def from_row(row: Any) -> Silence:
    matchers = tuple(
        Matcher.stored(m["name"], MatchType(m["type"]), m["value"])
        for m in orjson.loads(row.matchers)
    )
    return Silence(
        id=row.id,
        matchers=matchers,
        starts_at=from_micros(row.starts_at),
        ends_at=from_micros(row.ends_at),
        updated_at=from_micros(row.updated_at),
        created_by=row.created_by,
        comment=row.comment,
    )


def save(conn: Connection, items: Sequence[Silence], rev: int) -> None:
    upsert(conn, silences, [to_row(s, rev) for s in items], key="id")


def changed_since(conn: Connection, rev: int) -> list[tuple[str, int, Silence]]:
    """Rows written after revision ``rev``, as (key, revision, value)."""
    rows = conn.execute(select(silences).where(silences.c.rev > rev))
    return [(row.id, row.rev, from_row(row)) for row in rows]


def delete_expired_before(conn: Connection, cutoff_micros: int) -> int:
    result = conn.execute(delete(silences).where(silences.c.ends_at < cutoff_micros))
    return int(result.rowcount or 0)
