"""On-call: an escalation's pending step is its ladder's columns, not a due row.

Since migration 0011 a group's row holds its running escalation's ladder, including the
one step it awaits (``esc_next_step``, ``esc_next_round``, ``esc_next_due``); each step
was also a row of ``oncall_due``, the same facts again, inserted when the previous step
fired and deleted when it was taken. The engine now takes due steps from the ladder
columns through this index, so a step costs no due-row insert and delete
(``bench/step_cost.py``, statements only, 50,000 steps in 2,000-step batches: 32-37 us a
step through due rows, 18-19 us through the ladder). Pages and wake-ups stay due rows.

Existing step rows are dropped; a ladder awaiting a step that has no row (its row was
taken and did nothing: the group was acknowledged, snoozed or resolved, or a newer step
superseded it) stops awaiting it, as it would have waited for nothing. Downgrading
writes a row back for each awaited step.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import uuid

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_WHERE = "esc_next_due IS NOT NULL"


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE oncall_groups SET esc_next_step = NULL, esc_next_round = NULL, "
            f"esc_next_due = NULL WHERE {_WHERE} AND NOT EXISTS (SELECT 1 FROM oncall_due AS d "
            "WHERE d.group_id = oncall_groups.group_id AND d.kind = 'step' "
            "AND d.due_at = oncall_groups.esc_next_due)"
        )
    )
    op.execute(sa.text("DELETE FROM oncall_due WHERE kind = 'step'"))
    op.create_index(
        "ix_oncall_groups_next_due",
        "oncall_groups",
        ["esc_next_due"],
        sqlite_where=sa.text(_WHERE),
        postgresql_where=sa.text(_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_oncall_groups_next_due", "oncall_groups")
    conn = op.get_bind()
    found = conn.execute(
        sa.text(
            "SELECT group_id, esc_id, esc_next_step, esc_next_round, esc_next_due "
            f"FROM oncall_groups WHERE {_WHERE}"
        )
    ).all()
    rows = [
        {
            "id": str(uuid.uuid4()),
            "group_id": group_id,
            "due_at": due_at,
            "payload": orjson.dumps(
                {"escalation_id": esc_id, "step_index": step, "round": round_, "due_at": due_at}
            ).decode(),
        }
        for group_id, esc_id, step, round_, due_at in found
    ]
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO oncall_due (id, group_id, kind, due_at, payload, lease_until, done) "
                "VALUES (:id, :group_id, 'step', :due_at, :payload, 0, false)"
            ),
            rows,
        )
