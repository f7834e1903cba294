"""When an incident was last reopened: its IncidentOpen alert starts then, not at the
declaration (the old alert had ended, and a page saying "since an hour ago" misleads).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("reopened_at", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("reopened_at")
