"""Alert groups' runbook checklists: what the API, the CLI and the console share.

The checklists are computed when asked for, from the group's alerts, the runbook
library and the group's audit trail (``runbooks.checklist``); a tick is one audit line,
written through the writer like every other, so it is committed before it is answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from tocsin.alerts.model import Alert
from tocsin.core.runbook_library import RunbookLibrary
from tocsin.oncall.lifecycle import AuditEntry, Via
from tocsin.runbooks.checklist import (
    DONE,
    UNDONE,
    Checklist,
    Linked,
    StepRef,
    checklists,
    ticks_in,
)
from tocsin.store import oncall_rows
from tocsin.store.oncall_rows import OncallGroupRow
from tocsin.store.writer import Txn


def group_checklists(
    conn: Connection,
    row: OncallGroupRow,
    alert: Callable[[str], Alert | None],
    library: RunbookLibrary,
) -> list[Checklist]:
    """The checklists of the group in ``row``: its alerts' procedures, the first alert
    to fire first, with the ticks its audit trail holds."""
    linked: list[Linked] = []
    alerts = [a for fp in row.state.get("alerts") or () if (a := alert(fp)) is not None]
    # the first to fire first (its procedure is the likeliest cause), then by name
    alerts.sort(key=lambda a: (a.starts_at, a.labels.get("alertname", "")))
    for found in alerts:
        link = library.link(found.labels, found.annotations)
        if link is not None and link.procedure is not None and link.procedure.steps:
            name = found.labels.get("alertname", "")
            linked.append(Linked(name, link.runbook, link.url, link.procedure))
    return checklists(linked, ticks_in(oncall_rows.audit_of(conn, row.group_id)))


@dataclass
class TickStep:
    """Record that ``who`` did (or undid) a step of a group's checklist."""

    group_id: str
    ref: StepRef
    text: str  # the step's text as the responder saw it
    done: bool
    who: str
    via: Via
    now: datetime
    comment: str = ""

    def apply(self, txn: Txn) -> None:
        row = oncall_rows.get_group(txn.conn, self.group_id)
        if row is None:
            raise LookupError(f"no on-call alert group {self.group_id!r}")
        entry = AuditEntry(
            self.now,
            row.group_key,
            self.who,
            self.via,
            DONE if self.done else UNDONE,
            f"{self.ref.procedure} step {self.ref.number}: {self.text}"
            + (f" ({self.comment})" if self.comment else ""),
            checklist=self.ref.detail(self.text),
        )
        oncall_rows.add_audit(txn.conn, self.group_id, [entry])
