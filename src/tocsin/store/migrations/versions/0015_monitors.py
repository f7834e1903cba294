"""Monitors: each heartbeat's first arming and last ping; each probe's next request,
lease, and the run of results that decides its alert.

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
        sa.Column("started_at", sa.BigInteger, nullable=True),
        sa.Column("last_duration", sa.Float, nullable=True),
        sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "probes",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("next_due", sa.BigInteger, nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("down_since", sa.BigInteger, nullable=True),
        sa.Column("last_at", sa.BigInteger, nullable=True),
        sa.Column("last_ok", sa.Boolean, nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("last_seconds", sa.Float, nullable=True),
        sa.Column("last_ok_at", sa.BigInteger, nullable=True),
        sa.Column("last_cert_expires", sa.BigInteger, nullable=True),
        sa.Column("runs", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("spec", sa.Text, nullable=False, server_default=""),
        sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("probes")
    op.drop_table("heartbeats")
