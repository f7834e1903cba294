"""Writer ops for schedule overrides made at run time (API, CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tocsin.oncall.lifecycle import AuditEntry, Via
from tocsin.oncall.schedules import Override
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
