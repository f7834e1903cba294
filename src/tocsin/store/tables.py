"""SQLAlchemy Core tables: the single source of truth for the schema.

Times are integer microseconds since the epoch (see ``tocsin.timeutil``); label sets,
annotations and matchers are JSON text, encoded with orjson, so the same rows read the
same on SQLite and PostgreSQL. Alembic migrations in ``store/migrations`` create these.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, MetaData, String, Table, Text

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
    Index("ix_alerts_ends_at", "ends_at"),
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
    Index("ix_silences_ends_at", "ends_at"),
)
