"""Revisions: a per-row ``rev`` and the global revision counter.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("alerts", "silences"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"))
        op.create_index(f"ix_{table}_rev", table, ["rev"])
    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rev", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO revisions (id, rev) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("revisions")
    for table in ("alerts", "silences"):
        op.drop_index(f"ix_{table}_rev", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("rev")
