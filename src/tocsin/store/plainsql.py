"""Plain SQL text for the hot paths, written once for SQLite and PostgreSQL.

The statements of the notification and escalation paths run for every group, item or
step; building and compiling a SQLAlchemy statement each time cost more than the
database work. They are written with SQLite's ``?`` placeholders and handed to the
driver (``Connection.exec_driver_sql``), translated for psycopg where needed.
"""

from __future__ import annotations

from functools import lru_cache

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
