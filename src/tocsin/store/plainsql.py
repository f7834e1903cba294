"""Plain SQL text for the hot paths, written once for SQLite and PostgreSQL.

The statements of the notification and escalation paths run for every group, item or
step; building and compiling a SQLAlchemy statement each time cost more than the
database work. They are written with SQLite's ``?`` placeholders and handed to the
driver (``Connection.exec_driver_sql``), translated for psycopg where needed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection


def driver(conn: Connection, sql: str) -> str:
    """``sql`` with the placeholders of ``conn``'s driver: ``?`` or psycopg's ``%s``."""
    return sql if conn.dialect.name == "sqlite" else _for_psycopg(sql)


@lru_cache(maxsize=512)
def _for_psycopg(sql: str) -> str:
    return sql.replace("?", "%s")


def marks(n: int, row: str = "?") -> str:
    """``n`` placeholders (or rows of them) for an ``IN (...)`` or ``VALUES`` list."""
    return ", ".join([row] * n)


@contextmanager
def raw_cursor(conn: Connection) -> Iterator[Any]:
    """The DBAPI cursor of ``conn``, in its open transaction, closed afterwards: plain
    tuples and the driver's own ``executemany``, without SQLAlchemy's per-execution
    machinery, which costs more than a hot path's statement."""
    cursor = conn.connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def insert_rows(
    conn: Connection, table: str, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (values of ``columns``) into ``table``: one ``executemany`` on
    SQLite, ``COPY`` on PostgreSQL, where psycopg's ``executemany`` costs ~8 us a row
    in this process and ``COPY`` a fraction of that (bench/step_cost.py)."""
    if not rows:
        return
    with raw_cursor(conn) as cursor:
        if conn.dialect.name == "sqlite":
            cursor.executemany(_insert_sql(table, columns), rows)
        else:
            with cursor.copy(_copy_sql(table, columns)) as copy:
                for row in rows:
                    copy.write_row(row)


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(len(columns))})"


@lru_cache(maxsize=64)
def _copy_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN"
