"""Aggregation group timers and the notification log.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agg_groups",
        sa.Column("route_id", sa.Text, primary_key=True),
        sa.Column("group_key", sa.Text, primary_key=True),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("next_flush_at", sa.BigInteger, nullable=False),
        sa.Column("has_flushed", sa.Boolean, nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=False),
        sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_agg_groups_next_flush_at", "agg_groups", ["next_flush_at"])
    op.create_table(
        "nflog",
        sa.Column("group_key", sa.Text, primary_key=True),
        sa.Column("receiver", sa.Text, primary_key=True),
        sa.Column("integration", sa.Text, primary_key=True),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_nflog_updated_at", "nflog", ["updated_at"])


def downgrade() -> None:
    op.drop_table("nflog")
    op.drop_table("agg_groups")
