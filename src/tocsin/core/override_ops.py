"""Writer ops for schedule overrides made at run time (API, CLI)."""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.oncall.schedules import Override
from tocsin.store import oncall_rows
from tocsin.store.writer import Txn


@dataclass
class AddOverride:
    override: Override
    created_by: str

    def apply(self, txn: Txn) -> Override:
        oncall_rows.add_override(txn.conn, self.override, self.created_by)
        return self.override


@dataclass
class DeleteOverride:
    id: str

    def apply(self, txn: Txn) -> bool:
        return oncall_rows.delete_override(txn.conn, self.id)
