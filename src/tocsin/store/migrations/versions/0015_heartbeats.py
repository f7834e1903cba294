"""Heartbeats: each one's first arming and last ping.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("armed_at", sa.BigInteger, nullable=False),
        sa.Column("last_ping_at", sa.BigInteger, nullable=True),
        sa.Column("last_kind", sa.String(8), nullable=True),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("pings", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("heartbeats")
