"""On-call: the due rows' index by group covers only the pending wake-up rows (ends of
snoozes and of acknowledgement grace periods).

The full index by group cost every escalation step two random index writes (its next
step's insert, the taken row's delete) in a storm; the only hot query that looks rows
up by group, the notification take (``oncall_rows.take_due``), asks for a group's
pending wake-up rows alone. Listing all of one group's pending rows (the group's API
page) scans the pending rows instead: finished rows are deleted (and, here, those that
older code kept marked done), so that is about one row per open group.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The query that uses it repeats this condition word for word (SQLite uses a partial
# index only for a query whose WHERE contains the index's terms).
_PENDING_WAKEUP = sa.text("kind = 'lifecycle' AND done = false")


def upgrade() -> None:
    # Rows are deleted once taken from now on; the ones older code marked done are
    # history nothing reads.
    op.execute(sa.text("DELETE FROM oncall_due WHERE done = true"))
    op.create_index(
        "ix_oncall_due_wakeup",
        "oncall_due",
        ["group_id", "due_at"],
        sqlite_where=_PENDING_WAKEUP,
        postgresql_where=_PENDING_WAKEUP,
    )
    op.drop_index("ix_oncall_due_group", "oncall_due")


def downgrade() -> None:
    op.create_index("ix_oncall_due_group", "oncall_due", ["group_id"])
    op.drop_index("ix_oncall_due_wakeup", "oncall_due")
