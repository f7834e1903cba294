"""Insert-or-update rows by primary key, on SQLite and PostgreSQL alike.

This is the ingest hot path, so it bypasses SQLAlchemy's per-row compilation: the SQL is
built once per (dialect, table) and rows go to the driver as tuples. SQLite takes an
``executemany``; PostgreSQL takes one statement over ``unnest`` of column arrays, a
single round trip however many rows the batch has.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table

from tocsin.store.plainsql import driver


@cache
def _sqlite_sql(table: Table, key: str) -> str:
    cols = [c.name for c in table.columns]
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
    marks = ", ".join("?" for _ in cols)
    return (
        f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def upsert_sql(conn: Connection, table: Table, key: str) -> str:
    """The driver-level statement upserting one row (tuple in column order) by ``key``."""
    return driver(conn, _sqlite_sql(table, key))


def upsert(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]], key: str) -> None:
    """Upsert ``rows``: tuples in the table's column order, unique by ``key``."""
    if not rows:
        return
    conn.exec_driver_sql(upsert_sql(conn, table, key), list(rows))
