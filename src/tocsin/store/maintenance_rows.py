"""Queries on ``maintenances``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Row, insert, select, update

from tocsin.alerts.matchers import Matcher, MatchType
from tocsin.incidents.maintenance import Maintenance
from tocsin.store.tables import maintenances
from tocsin.timeutil import from_micros, from_micros_or_none, to_micros, to_micros_or_none


def _values(m: Maintenance, rev: int) -> dict[str, Any]:
    matchers = [{"name": x.name, "type": x.type.value, "value": x.value} for x in m.matchers]
    return {
        "title": m.title,
        "description": m.description,
        "starts_at": to_micros(m.starts_at),
        "ends_at": to_micros(m.ends_at),
        "created_by": m.created_by,
        "created_at": to_micros(m.created_at),
        "components": orjson.dumps(list(m.components)).decode(),
        "matchers": orjson.dumps(matchers).decode(),
        "public": m.public,
        "silence_id": m.silence_id,
        "cancelled_at": to_micros_or_none(m.cancelled_at),
        "told_start": m.told_start,
        "told_end": m.told_end,
        "updated_at": to_micros_or_none(m.updated_at),
        "rev": rev,
    }


def _maintenance(row: Row[Any]) -> Maintenance:
    r = row._mapping
    return Maintenance(
        id=int(r["id"]),
        title=r["title"],
        starts_at=from_micros(r["starts_at"]),
        ends_at=from_micros(r["ends_at"]),
        created_by=r["created_by"],
        created_at=from_micros(r["created_at"]),
        description=r["description"],
        components=tuple(orjson.loads(r["components"])),
        matchers=tuple(
            Matcher.stored(x["name"], MatchType(x["type"]), x["value"])
            for x in orjson.loads(r["matchers"])
        ),
        public=bool(r["public"]),
        silence_id=r["silence_id"],
        cancelled_at=from_micros_or_none(r["cancelled_at"]),
        told_start=bool(r["told_start"]),
        told_end=bool(r["told_end"]),
        updated_at=from_micros_or_none(r["updated_at"]),
    )


def add(conn: Connection, m: Maintenance, rev: int) -> int:
    """Insert a new maintenance; its id."""
    key = conn.execute(insert(maintenances).values(_values(m, rev))).inserted_primary_key
    assert key is not None
    return int(key[0])


def save(conn: Connection, m: Maintenance, rev: int) -> None:
    conn.execute(update(maintenances).where(maintenances.c.id == m.id).values(_values(m, rev)))


def get(conn: Connection, maintenance_id: int) -> Maintenance | None:
    row = conn.execute(select(maintenances).where(maintenances.c.id == maintenance_id)).first()
    return None if row is None else _maintenance(row)


def ending_after(conn: Connection, since: datetime, limit: int) -> list[Maintenance]:
    """The windows not cancelled that end after ``since`` (upcoming, running, or just
    over): soonest first."""
    c = maintenances.c
    query = (
        select(maintenances)
        .where(c.ends_at > to_micros(since), c.cancelled_at.is_(None))
        .order_by(c.starts_at, c.id)
        .limit(limit)
    )
    return [_maintenance(r) for r in conn.execute(query)]


def newest(conn: Connection, limit: int) -> list[Maintenance]:
    """Every window, the most recently scheduled first."""
    query = select(maintenances).order_by(maintenances.c.id.desc()).limit(limit)
    return [_maintenance(r) for r in conn.execute(query)]


def untold(conn: Connection, limit: int) -> list[Maintenance]:
    """The public windows, not cancelled, whose end has not been announced: those whose
    start or end the announcing loop waits for."""
    c = maintenances.c
    query = (
        select(maintenances)
        .where(c.public.is_(True), c.cancelled_at.is_(None), c.told_end.is_(False))
        .order_by(c.starts_at, c.id)
        .limit(limit)
    )
    return [_maintenance(r) for r in conn.execute(query)]
