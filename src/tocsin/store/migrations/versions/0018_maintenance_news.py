"""What a maintenance window has announced (its start, its end) and its last change.

Windows already started or over when this runs are marked told, so that the upgrade
does not announce old windows' starts and ends all at once.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    false = sa.text("false")
    op.add_column(
        "maintenances", sa.Column("told_start", sa.Boolean, nullable=False, server_default=false)
    )
    op.add_column(
        "maintenances", sa.Column("told_end", sa.Boolean, nullable=False, server_default=false)
    )
    op.add_column("maintenances", sa.Column("updated_at", sa.BigInteger, nullable=True))
    now = int(time.time() * 1_000_000)  # micros, as every time column holds
    op.execute(
        sa.text(
            "UPDATE maintenances SET told_start = (starts_at <= :now), "
            "told_end = (ends_at <= :now OR cancelled_at IS NOT NULL)"
        ).bindparams(now=now)
    )


def downgrade() -> None:
    with op.batch_alter_table("maintenances") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("told_end")
        batch.drop_column("told_start")
