"""Writer ops for incidents: each decides with ``tocsin.incidents.model`` against the
row as the transaction reads it, then writes the incident, its timeline entries, a
line in the audit trail of each alert group it links or unlinks (so a group's page
says which incident took it over), and the announcements' outbox items.

A change another replica makes at the same moment is decided after it, not over it:
every write transaction begins with the revision bump (``AlertStore.begin``), whose
row lock (PostgreSQL) or write lock (SQLite) holds the other writer until it commits,
so the row read here is the latest (``tests/storage/test_incidents.py``). Each takes
its time there too, in the transaction, so the timeline's times follow the order its
lines were written in (taken when the request came, two changes at once could show
the later one first)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from tocsin.core.policy import PERSON_PREFIX
from tocsin.incidents.model import Change, Entry, Incident, Refused, Rules, decide, declare
from tocsin.notify.outbox import OutboxItem
from tocsin.oncall.lifecycle import AuditEntry, Via
from tocsin.runbooks.timers import POSTMORTEM_WRITTEN, STATUS_PAGE_UPDATED, incident_comment
from tocsin.store import incident_rows, oncall_rows, outbox_rows
from tocsin.store.writer import Txn
from tocsin.timeutil import Clock

# the notifications announcing a change (``IncidentDesk.announcements``), committed
# with it: a crash after the answer still announces it
Announce = Callable[[Incident, Sequence[Entry]], list[OutboxItem]]


def _no_one(incident: Incident, entries: Sequence[Entry]) -> list[OutboxItem]:
    return []


@dataclass
class Declare:
    title: str
    severity: str
    by: str
    via: Via
    clock: Clock
    rules: Rules
    summary: str = ""
    public: bool = False
    roles: Mapping[str, str] | None = None
    groups: Sequence[str] = ()
    components: Sequence[str] = ()
    announce: Announce = _no_one

    def apply(self, txn: Txn) -> Incident:
        draft, entries = declare(
            self.title,
            self.severity,
            self.by,
            self.clock(),
            self.rules,
            self.summary,
            self.public,
            self.roles,
            self.groups,
            self.components,
        )
        _check_groups(txn, self.groups, "groups")
        incident_id = incident_rows.add(txn.conn, draft, txn.rev)
        stored, items = _announced(replace(draft, id=incident_id), entries, self.announce)
        incident_rows.save(txn.conn, stored, txn.rev)
        incident_rows.add_entries(txn.conn, incident_id, entries)
        _audit_groups(txn, stored, entries, self.via)
        outbox_rows.enqueue(txn.conn, items, txn.rev)
        return stored


@dataclass
class ChangeIncident:
    incident_id: int
    change: Change
    by: str
    via: Via
    clock: Clock
    rules: Rules
    announce: Announce = _no_one

    def apply(self, txn: Txn) -> tuple[Incident, list[Entry]]:
        """The incident after the change, and the entries it wrote (none: it changed
        nothing). Raises LookupError for no such incident, Refused for a bad change."""
        found = incident_rows.get(txn.conn, self.incident_id)
        if found is None:
            raise LookupError(f"no incident {self.incident_id}")
        changed, entries = decide(found, self.change, self.by, self.clock(), self.rules)
        _check_groups(txn, self.change.link, "link")
        if entries:
            changed, items = _announced(changed, entries, self.announce)
            incident_rows.save(txn.conn, changed, txn.rev)
            incident_rows.add_entries(txn.conn, changed.id, entries)
            _audit_groups(txn, changed, entries, self.via)
            outbox_rows.enqueue(txn.conn, items, txn.rev)
        return changed, entries

    def wrote_nothing(self, value: tuple[Incident, list[Entry]]) -> bool:
        return not value[1]


def _announced(
    incident: Incident, entries: Sequence[Entry], announce: Announce
) -> tuple[Incident, list[OutboxItem]]:
    """The announcements of ``entries``, and the incident with their receivers added
    to those told (who then hear the rest, whatever its severity becomes)."""
    items = announce(incident, entries)
    # (a person told of the role given them is not enrolled: they hear their role)
    heard = [i.receiver for i in items if not i.receiver.startswith(PERSON_PREFIX)]
    told = tuple(dict.fromkeys([*incident.told, *heard]))
    return replace(incident, told=told), items


def _check_groups(txn: Txn, groups: Sequence[str], field: str) -> None:
    """Refuse a group that does not exist (a typo would link nothing, silently)."""
    if not groups:
        return
    found = oncall_rows.get_groups(txn.conn, list(groups))
    for i, group in enumerate(groups):
        if group not in found:
            raise Refused(f"{field}[{i}]", f"no alert group {group!r} (tocsin groups lists them)")


def _audit_groups(txn: Txn, incident: Incident, entries: Sequence[Entry], via: Via) -> None:
    """A line in each linked or unlinked group's audit trail; and in each linked group's,
    the incident's status-page updates and its post-mortem, which keep the timers of
    the group's runbooks that promise them (``runbooks.timers``: "update the status page
    within 15 minutes", "post-incident review within 3 business days")."""
    lines = []
    for e in entries:
        if e.kind in ("linked", "unlinked"):
            what = "linked to" if e.kind == "linked" else "unlinked from"
            action = f"{what} incident #{incident.id}"
            lines.append((e.group, AuditEntry(e.at, e.group, e.by, via, action, incident.title)))
            continue
        if e.public and incident.public:
            action, said = STATUS_PAGE_UPDATED, incident_comment(incident.id, e.text)
        elif e.kind == "postmortem":
            action, said = POSTMORTEM_WRITTEN, incident_comment(incident.id, e.text)
        else:
            continue
        lines += [(g, AuditEntry(e.at, g, e.by, via, action, said)) for g in incident.groups]
    if lines:
        oncall_rows.add_audits(txn.conn, lines)
