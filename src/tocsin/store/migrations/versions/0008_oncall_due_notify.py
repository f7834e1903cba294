"""On-call: an index of the pending notification rows, which are taken before the steps
due earlier.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Partial: a storm's step rows never enter it, so it costs them nothing. The queries
# that use it (``oncall_rows.take_due``) repeat this condition word for word: SQLite
# uses a partial index only for a query whose WHERE contains the index's terms.
_PENDING_NOTIFY = sa.text("kind = 'notify' AND done = false")


def upgrade() -> None:
    op.create_index(
        "ix_oncall_due_notify",
        "oncall_due",
        ["due_at"],
        sqlite_where=_PENDING_NOTIFY,
        postgresql_where=_PENDING_NOTIFY,
    )


def downgrade() -> None:
    op.drop_index("ix_oncall_due_notify", "oncall_due")
