"""On-call groups found by their group key and receiver.

A route's id holds its position among its siblings, so a reload that adds a route
above another changes the id computed for each of its groups; the group is still the
same (same key, same receiver) and is found by them (``oncall_rows.groups_of_keys``).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_oncall_groups_key", "oncall_groups", ["group_key", "receiver"])


def downgrade() -> None:
    op.drop_index("ix_oncall_groups_key", table_name="oncall_groups")
