"""Schedule overrides made at run time (API, CLI, console): the rules one must meet,
and the writer ops that store and remove them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tocsin.config.decode import did_you_mean
from tocsin.core.people import PeopleDirectory
from tocsin.oncall.lifecycle import AuditEntry, Via
from tocsin.oncall.schedules import RANGE_MAX, Override, Shift
from tocsin.store import oncall_rows
from tocsin.store.writer import Txn
from tocsin.timeutil import format_rfc3339


@dataclass
class AddOverride:
    override: Override
    created_by: str
    via: Via = Via.API

    def apply(self, txn: Txn) -> Override:
        o = self.override
        oncall_rows.add_override(txn.conn, o, self.created_by)
        what = f"{o.person} covers {format_rfc3339(o.start)} to {format_rfc3339(o.end)}"
        if o.replaces:
            what += f" for {o.replaces}"
        entry = AuditEntry(
            o.created_at,
            schedule_audit_id(o.schedule),
            self.created_by,
            self.via,
            "override added",
            what,
        )
        oncall_rows.add_audit(txn.conn, schedule_audit_id(o.schedule), [entry])
        return o


@dataclass
class DeleteOverride:
    id: str
    by: str
    now: datetime
    via: Via = Via.API

    def apply(self, txn: Txn) -> bool:
        found = next((o for o in oncall_rows.overrides(txn.conn) if o.id == self.id), None)
        if found is None:
            return False
        oncall_rows.delete_override(txn.conn, self.id)
        key = schedule_audit_id(found.schedule)
        entry = AuditEntry(
            self.now,
            key,
            self.by,
            self.via,
            "override removed",
            f"{found.person} no longer covers from {format_rfc3339(found.start)}",
        )
        oncall_rows.add_audit(txn.conn, key, [entry])
        return True


def schedule_audit_id(schedule: str) -> str:
    """Overrides are audited per schedule, in the same trail as alert groups."""
    return f"schedule:{schedule}"


def override_problem(
    o: Override,
    now: datetime,
    people: PeopleDirectory,
    timeline: Callable[[datetime, datetime], Sequence[Shift]] | None,
) -> str | None:
    """Why ``o`` is refused, naming the field, or None. Its people are looked up where
    escalation finds whom to page (``people``: the file's and those PUT through the
    API), as check-config checks the file's overrides. One that ``replaces`` someone
    never on call in its window would change nothing: stored, it would tell whoever
    reads the list that the window is covered (a wrong name, schedule or window).
    ``timeline``: the schedule's shifts, its stored overrides applied."""
    if o.end <= o.start:
        return "end: must be after start"
    if o.end <= now:
        return "end: the window is over already"
    for field, name in (("person", o.person), ("replaces", o.replaces)):
        if name is not None and people.find(name) is None:
            return f"{field}: no person {name!r}{did_you_mean(name, people.names())}"
    if o.end - o.start > RANGE_MAX:
        # (a rota change, not an override; and its check below builds every shift)
        return f"end: at most {RANGE_MAX.days} days after start"
    if o.replaces is None:
        return None
    if o.replaces == o.person:
        return f"replaces: {o.person!r} is the person covering: the override would change nothing"
    # (stored overrides applied: replacing whoever covers by an override works too)
    if timeline is not None and any(s.person == o.replaces for s in timeline(o.start, o.end)):
        return None
    window = f"{format_rfc3339(o.start)} to {format_rfc3339(o.end)}"
    return (
        f"replaces: {o.replaces!r} is not on call in schedule {o.schedule!r} from {window}: "
        "the override would change nothing"
    )


def overlapping(o: Override, others: Sequence[Override]) -> list[Override]:
    """The overrides of ``o``'s schedule whose windows overlap its own (the newest
    wins where they do: said when one is added, so the rota's owner sees that an
    earlier cover is now partly undone)."""
    return [
        x
        for x in others
        if x.id != o.id and x.schedule == o.schedule and x.start < o.end and o.start < x.end
    ]
