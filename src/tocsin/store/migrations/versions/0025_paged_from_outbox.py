"""Where the escalations open at the upgrade to 0022 paged, read back from the outbox.

Migration 0022 began writing down each page's receiver and integration as it is built,
so that a group's resolution tells the people its escalation paged. An escalation
already paging when a server was upgraded across it had its earlier pages written
nowhere but the outbox: its resolution would tell only the route's receivers. The
outbox keeps every page (each item's key is ``ESCALATION/rN/sN/...``) for the
retention, longer than any escalation runs unanswered, so they are read back from
there, for each group's current escalation (one resolved by hand while its alerts
still fire is told when they resolve; the garbage collector forgets the rest). A
fallback receiver's copy of a page (``.../fallback``) is not a page.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

# What follows an escalation id in a page's key (a copy: a migration runs as written,
# whatever ``oncall.escalation`` becomes).
_PAGE_KEY = re.compile(r"r[0-9]+/s[0-9]+/")


def upgrade() -> None:
    conn = op.get_bind()
    current = {
        row[0]
        for row in conn.execute(
            sa.text("SELECT escalation_id FROM oncall_groups WHERE escalation_id IS NOT NULL")
        )
    }
    if not current:
        return
    found = set()
    # streamed: the outbox holds the retention's notifications (a scan, once)
    items = conn.execute(
        sa.text(
            "SELECT idempotency_key, receiver, integration FROM outbox "
            "WHERE idempotency_key LIKE '%#%/%'"
        ).execution_options(stream_results=True, yield_per=5000)
    )
    for key, receiver, integration in items:
        escalation_id, _, rest = key.partition("/")
        if escalation_id in current and _PAGE_KEY.match(rest) and not key.endswith("/fallback"):
            found.add((escalation_id, receiver, integration))
    if found:
        conn.execute(
            sa.text(
                "INSERT INTO oncall_paged (escalation_id, receiver, integration) "
                "VALUES (:e, :r, :i) ON CONFLICT (escalation_id, receiver, integration) DO NOTHING"
            ),
            [{"e": e, "r": r, "i": i} for e, r, i in sorted(found)],
        )


def downgrade() -> None:
    pass  # the rows are what 0022's table holds anyway
