"""SQLAlchemy Core tables: the single source of truth for the schema.

Times are integer microseconds since the epoch (see ``tocsin.timeutil``); label sets,
annotations and matchers are JSON text, encoded with orjson, so the same rows read the
same on SQLite and PostgreSQL. Alembic migrations in ``store/migrations`` create these.
Each row carries ``rev``, the revision of the transaction that last wrote it, so that
every process sharing the database can catch up on what the others wrote.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

alerts = Table(
    "alerts",
    metadata,
    Column("fingerprint", String(16), primary_key=True),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("generator_url", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("timeout", Boolean, nullable=False),
    Column("rev", BigInteger, nullable=False, server_default="0"),
    Index("ix_alerts_ends_at", "ends_at"),
    Index("ix_alerts_rev", "rev"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("matchers", Text, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("comment", Text, nullable=False),
    Column("rev", BigInteger, nullable=False, server_default="0"),
    Index("ix_silences_ends_at", "ends_at"),
    Index("ix_silences_rev", "rev"),
)

# One row: the revision of the newest committed write transaction. Every writer bumps it
# first thing in its transaction, which also serializes writers (a row lock on
# PostgreSQL, the write lock on SQLite), so revisions commit in order.
revisions = Table(
    "revisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rev", BigInteger, nullable=False),
)
