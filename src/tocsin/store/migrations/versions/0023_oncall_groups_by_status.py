"""On-call groups found by their status and when they last changed.

The runbook-timer loop reads the groups whose timers may run: those still open, and
those resolved within the last days (post-incident work runs from the resolution);
without this index that read scanned every group ever opened, once a minute.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_oncall_groups_status", "oncall_groups", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_oncall_groups_status", table_name="oncall_groups")
