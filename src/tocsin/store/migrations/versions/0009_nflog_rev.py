"""``nflog.rev``: the transaction that wrote each notification log entry, indexed, so a
dispatcher that caches the log can ask which entries other replicas wrote since its
last look.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nflog") as batch:
        batch.add_column(sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"))
    op.create_index("ix_nflog_rev", "nflog", ["rev"])


def downgrade() -> None:
    op.drop_index("ix_nflog_rev", table_name="nflog")
    with op.batch_alter_table("nflog") as batch:
        batch.drop_column("rev")
