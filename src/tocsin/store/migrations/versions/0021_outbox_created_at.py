"""The outbox read by creation time.

``notifications list`` and the console show the newest notifications first, and the
garbage collector forgets the ones done longer than the retention ago: both walk this
index instead of sorting or scanning every notification ever sent.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_created", "outbox", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_created", table_name="outbox")
