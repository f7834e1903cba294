"""Writer ops for runbooks: store (with the search index) and delete."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tocsin.store import runbook_rows
from tocsin.store.runbook_rows import SectionText, StoredRunbook
from tocsin.store.writer import Txn


@dataclass
class SaveRunbook:
    book: StoredRunbook
    sections: Sequence[SectionText]

    def apply(self, txn: Txn) -> None:
        runbook_rows.save(txn.conn, self.book, self.sections, txn.rev)


@dataclass
class DeleteRunbook:
    name: str

    def apply(self, txn: Txn) -> bool:
        return runbook_rows.remove(txn.conn, self.name)
