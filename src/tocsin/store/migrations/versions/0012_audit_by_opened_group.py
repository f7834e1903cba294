"""On-call: the audit trail indexed by when its group was opened, then the group.

Every escalation step adds a line to its group's audit trail. The index that finds a
group's lines led with the group id, a hash: a storm's steps each wrote a random page
of it, and at 100,000 groups that index was half of a step's database work
(``bench/step_cost.py``: 36 us a step with it, 22 us without, in 1,000-step batches).
Groups opened together escalate together, so an index led by the group's opening time
keeps a batch's lines on a few pages. A group row keeps its ``opened_at`` (set when it
is made, never changed) and each audit line a copy of it (0 for a schedule's lines,
which have no group row).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oncall_groups") as batch:
        batch.add_column(sa.Column("opened_at", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("opened_at", sa.BigInteger, nullable=False, server_default="0"))
    # Existing groups: their first audit line is as close to their opening as is known.
    op.execute(
        sa.text(
            "UPDATE oncall_groups SET opened_at = COALESCE((SELECT min(a.at) FROM audit AS a "
            "WHERE a.group_id = oncall_groups.group_id), updated_at)"
        )
    )
    op.execute(
        sa.text(
            "UPDATE audit SET opened_at = COALESCE((SELECT g.opened_at FROM oncall_groups AS g "
            "WHERE g.group_id = audit.group_id), 0)"
        )
    )
    op.create_index("ix_audit_opened", "audit", ["opened_at", "group_id", "id"])
    op.drop_index("ix_audit_group", "audit")


def downgrade() -> None:
    op.create_index("ix_audit_group", "audit", ["group_id", "at"])
    op.drop_index("ix_audit_opened", "audit")
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("opened_at")
    with op.batch_alter_table("oncall_groups") as batch:
        batch.drop_column("opened_at")
