"""Incidents and their timelines.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
        sa.Column("public", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("roles", sa.Text, nullable=False, server_default="{}"),
        sa.Column("groups", sa.Text, nullable=False, server_default="[]"),
        sa.Column("components", sa.Text, nullable=False, server_default="[]"),
        sa.Column("told", sa.Text, nullable=False, server_default="[]"),
        sa.Column("opened_at", sa.BigInteger, nullable=False),
        sa.Column("opened_by", sa.Text, nullable=False),
        sa.Column("resolved_at", sa.BigInteger, nullable=True),
        sa.Column("last_update_at", sa.BigInteger, nullable=True),
        sa.Column("severity_at", sa.BigInteger, nullable=True),
        sa.Column("postmortem", sa.Text, nullable=False, server_default=""),
        sa.Column("postmortem_at", sa.BigInteger, nullable=True),
        sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status", "opened_at"])
    op.create_table(
        "incident_timeline",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("incident_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("public", sa.Boolean, nullable=False, server_default=sa.text("false")),
    )
    op.create_index("ix_incident_timeline_incident", "incident_timeline", ["incident_id", "id"])


def downgrade() -> None:
    op.drop_table("incident_timeline")
    op.drop_table("incidents")
