"""Group commit: one writer thread turns many concurrent requests into one transaction.

A request is answered only after its change is committed, yet durability must not cost
throughput: while one transaction commits (an fsync on SQLite, a round trip on
PostgreSQL), the requests that arrive queue up and go into the next transaction
together. The in-memory indexes are changed only after the commit, through overlays,
so nothing a reader sees can be lost by a crash.

An ``Op`` decides first and writes second: when it raises, it must not have written or
staged anything, so the other ops of its batch still commit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
V = TypeVar("V")

_MAX_BATCH = 1024


class KeyedIndex(Generic[V]):
    """An in-memory map of committed rows, read by the API, changed only by the writer."""

    def __init__(self) -> None:
        self._items: dict[str, V] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        return self._items.get(key)

    def values(self) -> list[V]:
        with self._lock:
            return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def replace_all(self, items: Iterable[tuple[str, V]]) -> None:
        fresh = dict(items)
        with self._lock:
            self._items = fresh

    def apply(self, changes: dict[str, V | None]) -> None:
        with self._lock:
            for key, value in changes.items():
                if value is None:
                    self._items.pop(key, None)
                else:
                    self._items[key] = value


class Overlay(Generic[V]):
    """A batch's uncommitted view of an index: its own changes over the committed rows."""

    def __init__(self, base: KeyedIndex[V]) -> None:
        self.base = base
        self.changes: dict[str, V | None] = {}

    def get(self, key: str) -> V | None:
        if key in self.changes:
            return self.changes[key]
        return self.base.get(key)

    def set(self, key: str, value: V | None) -> None:
        self.changes[key] = value


class Txn:
    """What an op sees: the connection of the open transaction and the batch overlays."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._overlays: dict[int, Overlay[Any]] = {}
        self.after_commit: list[Callable[[], None]] = []

    def overlay(self, index: KeyedIndex[V]) -> Overlay[V]:
        found = self._overlays.get(id(index))
        if found is None:
            found = self._overlays[id(index)] = Overlay(index)
        return found

    def publish(self) -> None:
        for overlay in self._overlays.values():
            overlay.base.apply(overlay.changes)
        for hook in self.after_commit:
            hook()


class Op(Protocol[T_co]):
    def apply(self, txn: Txn) -> T_co: ...


class WriterClosed(RuntimeError):
    pass


_Item = tuple[Op[Any], "concurrent.futures.Future[Any]"]


class GroupCommitter:
    """Runs ops in batches on one thread and one connection; see the module docstring."""

    def __init__(self, engine: Engine, name: str = "tocsin-writer") -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._closed = False
        self.batches = 0
        self.ops = 0
        self.on_batch: Callable[[int], None] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, op: Op[T]) -> concurrent.futures.Future[T]:
        if self._closed:
            raise WriterClosed("the writer is shut down")
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((op, fut))
        return fut

    async def run(self, op: Op[T]) -> T:
        return await asyncio.wrap_future(self.submit(op))

    def run_sync(self, op: Op[T], timeout: float | None = None) -> T:
        return self.submit(op).result(timeout)

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        with self._engine.connect() as conn:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < _MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                self._commit(conn, batch)
                if stop:
                    return

    def _commit(self, conn: Connection, batch: list[_Item]) -> None:
        txn = Txn(conn)
        results: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        try:
            with conn.begin():
                for op, fut in batch:
                    try:
                        results.append((fut, op.apply(txn), None))
                    except Exception as exc:  # a refused op; the others still commit
                        results.append((fut, None, exc))
        except Exception as exc:
            log.exception("commit of %d ops failed", len(batch))
            for _, fut in batch:
                fut.set_exception(exc)
            return
        txn.publish()
        self.batches += 1
        self.ops += len(batch)
        if self.on_batch is not None:
            self.on_batch(len(batch))
        for fut, value, error in results:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(value)
