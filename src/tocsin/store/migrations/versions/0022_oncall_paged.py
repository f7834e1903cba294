"""Where each escalation's pages went.

A group's resolution tells whoever its escalation paged: the receivers its steps
named, and now the people too, on the channels they were paged on (e-mail, Slack).
Who was on call when a step fired cannot be worked out afterwards, so each page's
receiver and integration is written down as it is built.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_paged",
        sa.Column("escalation_id", sa.String(64), primary_key=True),
        sa.Column("receiver", sa.Text, primary_key=True),
        sa.Column("integration", sa.Text, primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("oncall_paged")
