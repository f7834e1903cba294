"""Runbooks and the full-text index of their sections.

SQLite gets an FTS5 table; PostgreSQL a plain table with a generated ``tsvector`` and a
GIN index. Both hold one row per section: (name, anchor, title, body).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runbooks",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE runbook_sections USING fts5("
            "name UNINDEXED, anchor UNINDEXED, title, body, tokenize='porter unicode61')"
        )
    else:
        op.execute(
            "CREATE TABLE runbook_sections ("
            "name TEXT NOT NULL, anchor TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, "
            "tsv tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english', title), 'A') || "
            "setweight(to_tsvector('english', body), 'B')) STORED)"
        )
        op.execute("CREATE INDEX ix_runbook_sections_tsv ON runbook_sections USING GIN (tsv)")
        op.execute("CREATE INDEX ix_runbook_sections_name ON runbook_sections (name)")


def downgrade() -> None:
    op.execute("DROP TABLE runbook_sections")
    op.drop_table("runbooks")
