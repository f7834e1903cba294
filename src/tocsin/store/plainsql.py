"""Plain SQL text for the hot paths, written once for SQLite and PostgreSQL.

The statements of the notification and escalation paths run for every group, item or
step; building and compiling a SQLAlchemy statement each time cost more than the
database work. They are written with SQLite's ``?`` placeholders and handed to the
driver (``Connection.exec_driver_sql``), translated for psycopg where needed.
"""

from __future__ import annotations

from collections.abc import Iterator
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
