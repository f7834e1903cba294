"""Planned maintenance windows.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenances",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("starts_at", sa.BigInteger, nullable=False),
        sa.Column("ends_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("components", sa.Text, nullable=False, server_default="[]"),
        sa.Column("matchers", sa.Text, nullable=False, server_default="[]"),
        sa.Column("public", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("silence_id", sa.Text, nullable=False, server_default=""),
        sa.Column("cancelled_at", sa.BigInteger, nullable=True),
        sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_maintenances_ends_at", "maintenances", ["ends_at"])


def downgrade() -> None:
    op.drop_table("maintenances")
