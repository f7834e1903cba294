"""Queries on the ``alerts`` table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select

from tocsin.alerts.model import Alert
from tocsin.store.tables import alerts
from tocsin.store.upsert import upsert
from tocsin.timeutil import from_micros, to_micros


def to_row(a: Alert) -> tuple[Any, ...]:
    """The row in the table's column order."""
    return (
        a.fingerprint,
        orjson.dumps(a.labels).decode(),
        orjson.dumps(a.annotations).decode(),
        to_micros(a.starts_at),
        to_micros(a.ends_at),
        a.generator_url,
        to_micros(a.updated_at),
        a.timeout,
    )


def from_row(row: Any) -> Alert:
    return Alert(
        fingerprint=row.fingerprint,
        labels=orjson.loads(row.labels),
        annotations=orjson.loads(row.annotations),
        starts_at=from_micros(row.starts_at),
        ends_at=from_micros(row.ends_at),
        generator_url=row.generator_url,
        updated_at=from_micros(row.updated_at),
        timeout=bool(row.timeout),
    )


def save(conn: Connection, items: Sequence[Alert]) -> None:
    upsert(conn, alerts, [to_row(a) for a in items], key="fingerprint")


def load_all(conn: Connection) -> Iterable[Alert]:
    for row in conn.execute(select(alerts)):
        yield from_row(row)


def delete_resolved_before(conn: Connection, cutoff_micros: int) -> int:
    result = conn.execute(delete(alerts).where(alerts.c.ends_at < cutoff_micros))
    return int(result.rowcount or 0)
