"""Queries on the ``alerts`` table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select

from tocsin.alerts.model import Alert
from tocsin.store.plainsql import raw_cursor
from tocsin.store.tables import alerts
from tocsin.store.upsert import upsert_sql
from tocsin.timeutil import from_micros, to_micros


def to_row(a: Alert, rev: int) -> tuple[Any, ...]:
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
        rev,
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


def save(conn: Connection, items: Sequence[Alert], rev: int) -> None:
    save_rows(conn, [to_row(a, rev) for a in items])


def save_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Upsert rows made by ``to_row``, unique by fingerprint.

    Straight to the driver, in the connection's open transaction: this is the ingest
    hot path, where SQLAlchemy's per-execution machinery costs more than the driver.
    """
    if not rows:
        return
    with raw_cursor(conn) as cursor:
        cursor.executemany(upsert_sql(conn, alerts, "fingerprint"), rows)


def changed_since(conn: Connection, rev: int) -> list[tuple[str, int, Alert]]:
    """Rows written after revision ``rev``, as (key, revision, value)."""
    rows = conn.execute(select(alerts).where(alerts.c.rev > rev))
    return [(row.fingerprint, row.rev, from_row(row)) for row in rows]


def delete_resolved_before(conn: Connection, cutoff_micros: int) -> int:
    result = conn.execute(delete(alerts).where(alerts.c.ends_at < cutoff_micros))
    return int(result.rowcount or 0)
