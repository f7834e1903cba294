"""On-call: group lifecycle state, due-time rows, schedule overrides, audit.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_groups",
        sa.Column("group_id", sa.String(32), primary_key=True),
        sa.Column("route_id", sa.Text, nullable=False),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "oncall_due",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_at", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
    )
    op.create_index("ix_oncall_due_due", "oncall_due", ["done", "due_at"])
    op.create_index("ix_oncall_due_group", "oncall_due", ["group_id"])
    op.create_table(
        "schedule_overrides",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("schedule", sa.Text, nullable=False),
        sa.Column("person", sa.Text, nullable=False),
        sa.Column("starts_at", sa.BigInteger, nullable=False),
        sa.Column("ends_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("replaces", sa.Text, nullable=True),
    )
    op.create_index("ix_schedule_overrides_schedule", "schedule_overrides", ["schedule", "ends_at"])
    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_group", "audit", ["group_id", "at"])
    op.create_table(
        "settings_kv",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("settings_kv", "audit", "schedule_overrides", "oncall_due", "oncall_groups"):
        op.drop_table(table)
