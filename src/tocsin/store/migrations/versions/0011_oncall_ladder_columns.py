"""On-call: an escalation's ladder in columns of its group's row, its frozen policy
stored once per content.

An escalation step used to read its group's whole JSON state (about 850 bytes, the
frozen policy included), parse it, and write it back whole with one field changed. A
step now reads and writes a few integer columns: where the ladder stands, the step row
it awaits, and the lifecycle's status and current escalation (copies of the JSON's,
written with it), which say whether a step row is stale. The frozen policy moves to
``oncall_policies``, keyed by a hash of its JSON, and the group names it by that key.

The conversion here is frozen code, as a migration must be: it does not import the
query module that later reads the rows.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_LADDER = (
    "status",
    "escalation_id",
    "esc_id",
    "esc_policy",
    "esc_started",
    "esc_step",
    "esc_round",
    "esc_fired",
    "esc_next_step",
    "esc_next_round",
    "esc_next_due",
)


def upgrade() -> None:
    with op.batch_alter_table("oncall_groups") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("escalation_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("esc_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("esc_policy", sa.String(64), nullable=True))
        batch.add_column(sa.Column("esc_started", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("esc_step", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("esc_round", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("esc_fired", sa.Boolean, nullable=False, server_default=sa.text("false"))
        )
        batch.add_column(sa.Column("esc_next_step", sa.Integer, nullable=True))
        batch.add_column(sa.Column("esc_next_round", sa.Integer, nullable=True))
        batch.add_column(sa.Column("esc_next_due", sa.BigInteger, nullable=True))
    op.create_table(
        "oncall_policies",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("snapshot", sa.Text, nullable=False),
    )
    conn = op.get_bind()
    policies: dict[str, str] = {}
    rows = conn.execute(sa.text("SELECT group_id, state FROM oncall_groups")).all()
    for group_id, text in rows:
        state, ladder = _split(orjson.loads(text), policies)
        params = dict(zip(_LADDER, ladder, strict=True))
        sets = ", ".join(f"{c} = :{c}" for c in _LADDER)
        conn.execute(
            sa.text(f"UPDATE oncall_groups SET state = :state, {sets} WHERE group_id = :g"),
            {**params, "state": orjson.dumps(state).decode(), "g": group_id},
        )
    for key, snapshot in policies.items():
        conn.execute(
            sa.text("INSERT INTO oncall_policies (id, snapshot) VALUES (:id, :s)"),
            {"id": key, "s": snapshot},
        )


def _split(
    state: dict[str, Any], policies: dict[str, str]
) -> tuple[dict[str, Any], tuple[Any, ...]]:
    lifecycle = state.get("lifecycle") or {}
    status = lifecycle.get("status", "")
    current = lifecycle.get("escalation_id")
    escalation = state.pop("escalation", None)
    if escalation is None:
        return state, (status, current, None, None, None, 0, 0, False, None, None, None)
    snapshot = orjson.dumps(escalation["policy_snapshot"], option=orjson.OPT_SORT_KEYS)
    key = hashlib.sha256(snapshot).hexdigest()[:32]
    policies[key] = snapshot.decode()
    nxt = escalation["next_due"] or {}
    return state, (
        status,
        current,
        escalation["id"],
        key,
        escalation["started_at"],
        escalation["step_index"],
        escalation["round"],
        escalation["fired"],
        nxt.get("step_index"),
        nxt.get("round"),
        nxt.get("due_at"),
    )


def downgrade() -> None:
    conn = op.get_bind()
    found = conn.execute(sa.text("SELECT id, snapshot FROM oncall_policies")).all()
    snapshots: dict[str, str] = dict(found)
    columns = ", ".join(("group_id", "state", *_LADDER))
    for row in conn.execute(sa.text(f"SELECT {columns} FROM oncall_groups")).all():
        group_id, text, *ladder = row
        state = orjson.loads(text)
        (_, _, esc_id, key, started, step, round_, fired, n_step, n_round, n_due) = ladder
        if esc_id is not None:
            state["escalation"] = {
                "id": esc_id,
                "group_key": group_id,
                "policy_snapshot": orjson.loads(snapshots[key]),
                "started_at": started,
                "step_index": step,
                "round": round_,
                "fired": bool(fired),
                "next_due": None
                if n_step is None
                else {
                    "escalation_id": esc_id,
                    "step_index": n_step,
                    "round": n_round,
                    "due_at": n_due,
                },
            }
        conn.execute(
            sa.text("UPDATE oncall_groups SET state = :s WHERE group_id = :g"),
            {"s": orjson.dumps(state).decode(), "g": group_id},
        )
    op.drop_table("oncall_policies")
    with op.batch_alter_table("oncall_groups") as batch:
        for column in reversed(_LADDER):
            batch.drop_column(column)
