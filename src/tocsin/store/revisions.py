"""The global revision counter: ordering and serializing writers across processes."""

from __future__ import annotations

from sqlalchemy import Connection, select

from tocsin.store.plainsql import raw_cursor
from tocsin.store.tables import revisions


def next_revision(conn: Connection) -> int:
    """Bump the counter inside the caller's transaction and return the new revision.

    This is the transaction's first write, so it takes the write lock at once: every
    other writer waits here until this transaction ends, and revisions commit in order.
    """
    # Plain SQL (valid on SQLite >= 3.35 and PostgreSQL) straight to the driver, in the
    # connection's open transaction: this runs once per write transaction, on the ingest
    # hot path, where SQLAlchemy's per-execution machinery costs more than the statement.
    with raw_cursor(conn) as cursor:
        cursor.execute("UPDATE revisions SET rev = rev + 1 WHERE id = 1 RETURNING rev")
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the revisions table has no counter row")
    return int(row[0])


def current_revision(conn: Connection) -> int:
    return int(conn.execute(select(revisions.c.rev).where(revisions.c.id == 1)).scalar_one())
