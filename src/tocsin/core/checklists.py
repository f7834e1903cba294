"""Alert groups' runbook checklists and timers: what the API, the CLI and the console
share.

They are computed when asked for, from the group's alerts, the runbook library and the
group's audit trail (``runbooks.checklist``, ``runbooks.timers``); a tick, and a timer a
person kept, is one audit line, written through the writer like every other, so it is
committed before it is answered.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tocsin.alerts.model import Alert
from tocsin.core.runbook_library import RunbookLibrary
from tocsin.oncall.lifecycle import AuditEntry, Via
from tocsin.runbooks.alerts import normalize_severity
from tocsin.runbooks.checklist import (
    DONE,
    UNDONE,
    Checklist,
    Linked,
    StepRef,
    checklists,
    ticks_in,
)
from tocsin.runbooks.model import AlertProcedure, Runbook
from tocsin.runbooks.timers import KEPT, UNKEPT, Timer, classes_promised, episode, timers
from tocsin.store import oncall_rows
from tocsin.store.oncall_rows import DueRow, OncallGroupRow
from tocsin.store.writer import Txn


@dataclass(frozen=True)
class GroupRunbook:
    """What a group's runbooks ask of its responders: checklists and timers."""

    checklists: list[Checklist]
    timers: list[Timer]


@dataclass(frozen=True)
class GroupPage:
    """An on-call group as its page shows it (``Runtime.group_page``)."""

    row: OncallGroupRow
    pending: list[DueRow]  # only the rows that will act (lifecycle.pending_acts)
    audit: list[dict[str, Any]]
    runbook: GroupRunbook

    @property
    def exhausted(self) -> bool:
        """Firing with nothing left to page: its policy's last step (and round) is
        done, and nobody else will be paged while nobody acts."""
        status = (self.row.state.get("lifecycle") or {}).get("status")
        return status == "firing" and not self.pending and bool(self.row.state.get("policy"))


GroupAlerts = Callable[[OncallGroupRow, datetime | None], list[Alert]]
"""The alerts of a group's incident: (its row, its latest opening) -> alerts."""


def group_runbook(
    row: OncallGroupRow,
    audit: Sequence[Mapping[str, Any]],
    alerts_of: GroupAlerts,
    library: RunbookLibrary,
    now: datetime,
) -> GroupRunbook:
    """The checklists and timers of the group in ``row``: the procedures of its
    incident's alerts (the first alert to fire first), ticked by its audit trail
    (``oncall_rows.audit_of``), and their runbooks' SLAs run for its latest opening."""
    ep = episode(audit)
    alerts = alerts_of(row, ep.opened)
    # the first to fire first (its procedure is the likeliest cause), then by name
    alerts.sort(key=lambda a: (a.starts_at, a.labels.get("alertname", "")))
    linked: list[Linked] = []
    books: dict[str, Runbook] = {}
    for found in alerts:
        link = library.link(found.labels, found.annotations)
        if link is None or link.procedure is None:
            continue
        book = books.get(link.runbook) or library.get(link.runbook)
        if book is not None:
            books[link.runbook] = book
        promised = classes_promised(book) if book is not None else set()
        fired = as_fired(link.procedure, found.labels, promised)
        linked.append(Linked(found.labels.get("alertname", ""), link.runbook, link.url, fired))
    procedures = [(x.runbook, x.procedure) for x in linked]
    return GroupRunbook(
        checklists([x for x in linked if x.procedure.steps], ticks_in(audit)),
        timers(books, procedures, ep, now),
    )


def as_fired(
    procedure: AlertProcedure, labels: Mapping[str, str], promised: Collection[str]
) -> AlertProcedure:
    """``procedure`` with the alert's own severity, when its ``severity`` label names
    a class its runbook writes promises for (``promised``: ``classes_promised``): it
    chose the route that paged, so it chooses the promise too (a critical page ran the
    warnings' 30-minute response timer because the runbook's section said warning).
    A label the runbook's promises do not name ("critical" in a runbook of "SEV1
    Alerts", "page") leaves the runbook's own severity, whose promises still apply."""
    severity, _ = normalize_severity(labels.get("severity", ""))
    if severity is None or severity not in promised or severity == procedure.severity:
        return procedure
    return replace(procedure, severity=severity)


@dataclass(frozen=True)
class Mark:
    """A person's mark on a group's runbook (a step done, a timer kept, or undone), as
    its audit line says it."""

    action: str
    words: str
    checklist: Mapping[str, Any] | None = None
    timer: Mapping[str, Any] | None = None


def step_mark(ref: StepRef, text: str, done: bool) -> Mark:
    """``text``: the step's text when ticked (a reworded step is another step)."""
    words = f"{ref.procedure} step {ref.number}: {text}"
    return Mark(DONE if done else UNDONE, words, checklist=ref.detail(text))


def timer_mark(timer: Timer, kept: bool) -> Mark:
    return Mark(KEPT if kept else UNKEPT, timer.text, timer=timer.detail())


@dataclass
class MarkRunbook:
    """Record that ``who`` made ``mark`` on a group's runbook: one audit line."""

    group_id: str
    mark: Mark
    who: str
    via: Via
    now: datetime
    comment: str = ""

    def apply(self, txn: Txn) -> None:
        row = oncall_rows.get_group(txn.conn, self.group_id)
        if row is None:
            raise LookupError(f"no on-call alert group {self.group_id!r}")
        m = self.mark
        entry = AuditEntry(
            self.now,
            row.group_key,
            self.who,
            self.via,
            m.action,
            m.words + (f" ({self.comment})" if self.comment else ""),
            checklist=m.checklist,
            timer=m.timer,
        )
        oncall_rows.add_audit(txn.conn, self.group_id, [entry])
