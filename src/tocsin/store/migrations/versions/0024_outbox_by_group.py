"""The outbox read by group key.

A notification sent late (retried, or its sender stopped) is not sent once a newer one
of its group went to the same integration (``outbox_rows.claim_due``): the claim asks
for the newest notification of each late item's group, by this index, rather than
reading every notification decided since.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_group", "outbox", ["group_key", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_group", table_name="outbox")
