"""On-call: a failed escalation step is put off by a lease, not by moving its due time.

Since migration 0013 an escalation's awaited step is its ladder's columns. A step
whose handling failed was put off by moving ``esc_next_due`` to its retry time, which
hid it from the worker-health metrics: the overdue gauge saw nothing overdue, and the
lateness of the step, when it finally fired, was counted from the retry. A step row
kept its due time and had a lease (``oncall_due.lease_until``); ``esc_lease`` is the
ladder's: the worker does not take the awaited step before it, and every write that
moves the ladder on sets it back to 0.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (a constant default): no table rebuild.
    op.add_column(
        "oncall_groups",
        sa.Column("esc_lease", sa.BigInteger, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    # A step put off by a lease keeps its due time: before 0014 it is put off by that
    # time, so the lease becomes the due time (the step still waits for its retry).
    op.execute(
        sa.text(
            "UPDATE oncall_groups SET esc_next_due = esc_lease "
            "WHERE esc_next_due IS NOT NULL AND esc_lease > esc_next_due"
        )
    )
    # SQLite (3.35 and newer) drops a column in place; alembic's batch mode would
    # rebuild the table and lose the partial index's condition.
    op.execute(sa.text("ALTER TABLE oncall_groups DROP COLUMN esc_lease"))
