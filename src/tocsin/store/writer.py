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
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from tocsin.store.index import KeyedIndex, Overlay

log = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
V = TypeVar("V")

_MAX_BATCH = 1024


class Txn:
    """What an op sees: the open transaction, its revision and the batch overlays."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rev = 0  # set by the committer's ``begin`` hook
        self._overlays: dict[int, Overlay[Any]] = {}
        self.after_commit: list[Callable[[], None]] = []

    def overlay(self, index: KeyedIndex[V]) -> Overlay[V]:
        found = self._overlays.get(id(index))
        if found is None:
            found = self._overlays[id(index)] = Overlay(index)
        return found

    def publish(self) -> None:
        for overlay in self._overlays.values():
            overlay.publish(self.rev)
        for hook in self.after_commit:
            hook()


class Op(Protocol[T_co]):
    def apply(self, txn: Txn) -> T_co: ...


class WriterClosed(RuntimeError):
    pass


class _Waiter:
    """Where an op's outcome goes: an asyncio future (resolved on its loop, one wake-up
    per batch for all of that loop's ops) or a concurrent future for threads."""

    __slots__ = ("future", "loop")

    def __init__(
        self,
        future: asyncio.Future[Any] | concurrent.futures.Future[Any],
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.future = future
        self.loop = loop


_Item = tuple[Op[Any], _Waiter]
_Outcome = tuple[_Waiter, Any, BaseException | None]


def _settle(outcomes: list[_Outcome]) -> None:
    for waiter, value, error in outcomes:
        fut = waiter.future
        if isinstance(fut, asyncio.Future) and fut.done():
            continue  # the caller was cancelled; the change is committed all the same
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(value)


class GroupCommitter:
    """Runs ops in batches on one thread and one connection; see the module docstring."""

    def __init__(self, engine: Engine, name: str = "tocsin-writer") -> None:
        self._engine = engine
        # Runs first in every transaction (the store takes the revision and catches up).
        self.on_begin: Callable[[Txn], None] | None = None
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._closed = False
        self.batches = 0
        self.ops = 0
        self.on_batch: Callable[[int], None] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, op: Op[Any], waiter: _Waiter) -> None:
        if self._closed:
            raise WriterClosed("the writer is shut down")
        self._queue.put((op, waiter))

    async def run(self, op: Op[T]) -> T:
        """Run ``op`` in the next batch; returns once its transaction committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._put(op, _Waiter(fut, loop))
        # shield: a client that goes away must not make us forget a committed result
        return await asyncio.shield(fut)

    def run_sync(self, op: Op[T], timeout: float | None = None) -> T:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._put(op, _Waiter(fut, None))
        return fut.result(timeout)

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
        outcomes: list[_Outcome] = []
        try:
            with conn.begin():
                if self.on_begin is not None:
                    self.on_begin(txn)
                for op, waiter in batch:
                    try:
                        outcomes.append((waiter, op.apply(txn), None))
                    except Exception as exc:  # a refused op; the others still commit
                        outcomes.append((waiter, None, exc))
        except Exception as exc:
            log.exception("commit of %d ops failed", len(batch))
            outcomes = [(waiter, None, exc) for _, waiter in batch]
        else:
            txn.publish()
            self.batches += 1
            self.ops += len(batch)
            if self.on_batch is not None:
                self.on_batch(len(batch))
        self._deliver(outcomes)

    @staticmethod
    def _deliver(outcomes: list[_Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop | None, list[_Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].loop, []).append(outcome)
        for loop, items in by_loop.items():
            if loop is None:
                _settle(items)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(_settle, items)
