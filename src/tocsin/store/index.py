"""In-memory indexes of committed rows, kept in step with the database by revision.

Every committed write carries the revision of its transaction (see ``revisions``), and
an index entry keeps the revision it came from. Changes arrive from two directions — the
local writer publishing its own commits and catch-up reads of what other processes or
replicas committed — and an entry is only ever replaced by a newer revision, so the
order in which those two arrive does not matter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class KeyedIndex(Generic[V]):
    """Committed rows by key; read by the API, changed by the writer and catch-up."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[int, V]] = {}
        self._lock = threading.Lock()
        # Told of every value that replaced an older one, in the order applied (called
        # under the lock, from whichever thread applied: keep them quick).
        self.listeners: list[Callable[[list[V]], None]] = []

    def get(self, key: str) -> V | None:
        found = self._items.get(key)
        return None if found is None else found[1]

    def values(self) -> list[V]:
        with self._lock:
            return [value for _, value in self._items.values()]

    def __len__(self) -> int:
        return len(self._items)

    def apply(self, changes: Iterable[tuple[str, int, V | None]]) -> None:
        """Apply (key, revision, value) changes; None removes. Older revisions lose."""
        applied: list[V] = []
        with self._lock:
            for key, rev, value in changes:
                current = self._items.get(key)
                if current is not None and current[0] > rev:
                    continue
                if value is None:
                    self._items.pop(key, None)
                else:
                    self._items[key] = (rev, value)
                    applied.append(value)
            if applied:
                for listener in self.listeners:
                    listener(applied)


class Overlay(Generic[V]):
    """A batch's uncommitted view of an index: its own changes over the committed rows."""

    def __init__(self, base: KeyedIndex[V]) -> None:
        self.base = base
        self.changes: dict[str, V | None] = {}
        # while an op that may be refused runs: what each of its sets replaced
        self._journal: list[tuple[str, bool, V | None]] | None = None

    def get(self, key: str) -> V | None:
        if key in self.changes:
            return self.changes[key]
        return self.base.get(key)

    def set(self, key: str, value: V | None) -> None:
        if self._journal is not None:
            self._journal.append((key, key in self.changes, self.changes.get(key)))
        self.changes[key] = value

    def journal_on(self) -> None:
        self._journal = []

    def journal_off(self) -> None:
        self._journal = None

    def journal_undo(self) -> None:
        """Put back what the journal's sets replaced, latest first."""
        for key, had, old in reversed(self._journal or []):
            if had:
                self.changes[key] = old
            else:
                self.changes.pop(key, None)
        self._journal = None

    def publish(self, rev: int) -> None:
        self.base.apply((key, rev, value) for key, value in self.changes.items())


class SecondaryIndex(Generic[V]):
    """The keys of an index's values by another key derived from them (``by``; None:
    not indexed), kept by listening to the index. It may still name a key whose value
    has since gone or changed (removals are not announced): callers check the value
    they find, and ``discard`` what is gone."""

    def __init__(self, base: KeyedIndex[V], key: Callable[[V], str], by: Callable[[V], Any]):
        self._key, self._by = key, by
        self._keys: dict[Any, set[str]] = {}
        self._lock = threading.Lock()  # told by the writer, read by the writer and API
        base.listeners.append(self._applied)

    def _applied(self, values: list[V]) -> None:
        with self._lock:
            for value in values:
                by = self._by(value)
                if by is not None:
                    self._keys.setdefault(by, set()).add(self._key(value))

    def get(self, by: Any) -> list[str]:
        with self._lock:
            return sorted(self._keys.get(by, ()))

    def discard(self, by: Any, key: str) -> None:
        with self._lock:
            keys = self._keys.get(by)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys[by]
