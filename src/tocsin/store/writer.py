"""Group commit: one writer thread turns many concurrent requests into one transaction.

A request is answered only after its change is committed, yet durability must not cost
throughput: while one transaction commits (an fsync on SQLite, a round trip on
PostgreSQL), the requests that arrive queue up and go into the next transaction
together. The in-memory indexes are changed only after the commit, through overlays,
so nothing a reader sees can be lost by a crash.

An ``Op`` decides first and writes second: when it raises, it must not have written or
staged anything, so the other ops of its batch still commit. An op class may also offer
``apply_many(txn, ops)``: consecutive ops of that class in a batch are then applied by
one call, which returns one (value, refusal) outcome per op, so that a whole batch of
alert puts is one statement instead of one per request (see ``BatchedOp``). An op whose
statement the database itself refuses (a ``DBAPIError``) is different: on PostgreSQL
the transaction is then aborted, and committing it would quietly roll back the whole
batch while its ops are answered as committed; so the batch is rolled back and redone
without that op, whose caller gets the error.

A transaction in which nothing was written is rolled back, not committed: the engine
loops poll through the writer (claim the due notifications, fire the due escalation
steps), and a poll that finds nothing would otherwise cost a commit (an fsync on
SQLite) and a new global revision, several times a second on an idle server. An op
may offer ``wrote_nothing(value) -> bool``, true when, given the value it returned, it
wrote and staged nothing; a batch is rolled back only when every op in it says so (or
was refused), and then nothing is published.

Handing ops over costs too: on an event loop, the ops submitted during one loop
iteration go to the writer thread together (one queue put, one wake-up of the writer),
and the outcomes of a batch come back to each loop in one callback.

Some writes are records nobody is waiting to be answered on (a notification attempt's
outcome, written after the send). Such an op may *linger*: it waits, up to the time it
is given, for the next ops its loop hands over and goes into their transaction. At a
few alerts a second the attempt of one notification then rides in the next alert's
transaction instead of costing a commit of its own (an fsync, a revision, the writer's
wake-up: a third of a quiet server's CPU per alert). A crash while it lingers loses
only what a crash between the send and its record loses anyway (the item is sent
again when its lease ends, with the same idempotency key).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from tocsin.outage import Outage
from tocsin.store.db import DATABASE_ERRORS
from tocsin.store.index import KeyedIndex, Overlay
from tocsin.store.plainsql import raw_cursor

log = logging.getLogger(__name__)

# Seconds a commit may take before it is said to wait (the replica is then not ready):
# far beyond a storm's chunked commits (tens of milliseconds), well within a load
# balancer's patience.
STALLED = 30.0

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

    def journal(self) -> _Journal:
        """What an op is about to stage, to be undone if it is refused."""
        return _Journal(self)

    def publish(self) -> None:
        for overlay in self._overlays.values():
            overlay.publish(self.rev)
        for hook in self.after_commit:
            try:
                hook()
            except Exception:
                # The transaction committed: its callers must hear so whatever a hook
                # (a metric, a counter) does; a hook raising here would leave them waiting.
                log.exception("after-commit hook failed")


class _Journal:
    """One op's staging in a transaction: calling it undoes it (the op was refused);
    ``keep`` ends the journal (it was applied)."""

    def __init__(self, txn: Txn) -> None:
        self._txn = txn
        self._before = dict(txn._overlays)
        self._hooks = len(txn.after_commit)
        for overlay in self._before.values():
            overlay.journal_on()

    def __call__(self) -> None:
        txn = self._txn
        for key in list(txn._overlays):
            if key in self._before:
                txn._overlays[key].journal_undo()
            else:  # made by the refused op
                del txn._overlays[key]
        del txn.after_commit[self._hooks :]

    def keep(self) -> None:
        for overlay in self._before.values():
            overlay.journal_off()


class Op(Protocol[T_co]):
    def apply(self, txn: Txn) -> T_co: ...


Outcome = tuple[Any, Exception | None]  # an op's value, or why it was refused


class BatchedOp(Op[T_co], Protocol):
    """An op whose consecutive instances in a batch are applied by one call.

    ``apply_many`` must give each op the outcome ``apply`` would have (a refused op
    neither writes nor stages anything); raising from it fails the whole batch.
    """

    @classmethod
    def apply_many(cls, txn: Txn, ops: Sequence[Any]) -> list[Outcome]: ...


def _wrote_nothing(ops: Sequence[Op[Any]], applied: Sequence[Outcome]) -> bool:
    """Whether no op of a batch wrote anything: a refused op wrote nothing (that is the
    contract of an op), the others must say so themselves."""
    for op, (value, error) in zip(ops, applied, strict=True):
        if error is not None:
            continue
        check = getattr(op, "wrote_nothing", None)
        if check is None or not check(value):
            return False
    return True


class _NothingWritten(Exception):
    """Roll the batch's transaction back: none of its ops wrote anything."""


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


def apply_all(txn: Txn, ops: Sequence[Op[Any]]) -> list[Outcome]:
    """Apply ``ops`` in order, runs of one ``BatchedOp`` class together.

    Stops after an op the database itself refused (its outcome is a ``DBAPIError``):
    the transaction may be unusable from there on, so fewer outcomes than ops come
    back and the last one is that op's.
    """
    outcomes: list[Outcome] = []
    i = 0
    while i < len(ops):
        kind = type(ops[i])
        many = getattr(kind, "apply_many", None)
        if many is None:
            outcomes.append(_apply_one(txn, ops[i]))
            i += 1
            if _broke_txn(outcomes[-1][1]):
                return outcomes
            continue
        end = i + 1
        while end < len(ops) and type(ops[end]) is kind:
            end += 1
        found: list[Outcome] = many(txn, ops[i:end])
        if len(found) != end - i:
            raise RuntimeError(f"{kind.__name__}.apply_many gave {len(found)} outcomes")
        for outcome in found:
            outcomes.append(outcome)
            if _broke_txn(outcome[1]):
                return outcomes
        i = end
    return outcomes


def _apply_one(txn: Txn, op: Op[Any]) -> Outcome:
    """An op's outcome. A refused op writes nothing, whatever it had done before it
    refused: its statements run inside a savepoint, rolled back with it, and what it
    staged (overlay changes, after-commit hooks) is undone. Each op means to decide
    before it writes; this makes a slip (a check after an insert) harmless."""
    undo = txn.journal()
    # plain SQL on the driver's cursor (valid on SQLite and PostgreSQL):
    # SQLAlchemy's begin_nested costs more than the savepoint itself (0.13 ms a
    # transaction, measured through GroupCommitter)
    with raw_cursor(txn.conn) as cursor:
        if getattr(cursor.connection, "in_transaction", True) is False:
            # sqlite3 opens its transaction at the first write: a savepoint opened
            # before it would be a transaction of its own, committed at its release
            cursor.execute("BEGIN")
        cursor.execute("SAVEPOINT tocsin_op")
        try:
            value = op.apply(txn)
        except Exception as exc:  # a refused op; the others still commit
            cursor.execute("ROLLBACK TO SAVEPOINT tocsin_op")
            cursor.execute("RELEASE SAVEPOINT tocsin_op")
            undo()
            return None, exc
        cursor.execute("RELEASE SAVEPOINT tocsin_op")
    undo.keep()
    return value, None


class _Redo(Exception):
    """Some ops broke the transaction: roll it back and redo the batch without them."""

    def __init__(self, indexes: list[int], applied: list[Outcome]) -> None:
        super().__init__(f"{len(indexes)} op(s) failed in the database")
        self.indexes = indexes
        self.applied = applied


def _broke_txn(error: Exception | None) -> bool:
    """An op refused by the database itself (not by its own decision): the transaction
    may be unusable (PostgreSQL aborts it). The hot paths run statements on the driver's
    own cursor (``plainsql``), whose errors are the driver's, not SQLAlchemy's."""
    return isinstance(error, DATABASE_ERRORS)


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
        self._queue: queue.SimpleQueue[list[_Item] | None] = queue.SimpleQueue()
        self._closed = False
        self._closing = threading.Lock()  # no op is queued behind the stop marker
        # Ops submitted on each event loop during its current iteration (each list is
        # touched by its loop's thread only).
        self._staged: dict[asyncio.AbstractEventLoop, list[_Item]] = {}
        # Lingering ops of each loop, with the timer that hands them over on their own.
        self._lingering: dict[
            asyncio.AbstractEventLoop, tuple[list[_Item], asyncio.TimerHandle]
        ] = {}
        self.batches = 0
        self.ops = 0
        # commits failing (the database gone): logged once, then now and then
        self.outage = Outage(log, "committing to the database")
        self.on_batch: Callable[[int], None] | None = None
        # when the commit in progress began (monotonic), None between commits: a
        # commit that neither ends nor fails (a lock another replica holds, a network
        # that drops packets) is seen by its age (``stalled_for``)
        self._busy_since: float | None = None
        # when the commit that was logged as waiting began (its _busy_since), or None:
        # its end is logged by that commit only (a watcher may read the age of a commit
        # that ends meanwhile, and must not make the next commit's end say "waited")
        self._stall_said: float | None = None
        self._stall_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _check_open(self) -> None:
        if self._closed:
            raise WriterClosed("the writer is shut down")

    def _put(self, items: list[_Item]) -> None:
        with self._closing:
            self._check_open()
            self._queue.put(items)

    async def run(self, op: Op[T], linger: float = 0.0) -> T:
        """Run ``op`` in the next batch; returns once its transaction committed.

        With ``linger`` (seconds), the op waits up to that long for other ops of this
        loop and goes with them (see the module docstring): only for an op whose
        caller can wait that much longer.

        A caller cancelled while waiting does not undo the op: it commits all the same
        (a lingering one is handed over at once).
        """
        self._check_open()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        item: _Item = (op, _Waiter(fut, loop))
        if linger > 0:
            if loop not in self._lingering:
                self._lingering[loop] = ([], loop.call_later(linger, self._hand_over, loop))
            self._lingering[loop][0].append(item)
        else:
            staged = self._staged.get(loop)
            if staged is None:
                staged = self._staged[loop] = []
                loop.call_soon(self._hand_over, loop)
            staged.append(item)
        try:
            return await fut
        except asyncio.CancelledError:
            if linger > 0 and loop in self._lingering:
                self._hand_over(loop)
            raise

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Queue what this loop iteration submitted, and the ops lingering on this
        loop, in one put."""
        items: list[_Item] = []
        if loop in self._lingering:
            items, timer = self._lingering.pop(loop)
            timer.cancel()
        items += self._staged.pop(loop, [])
        if not items:
            return
        try:
            self._put(items)
        except WriterClosed as exc:
            _settle([(waiter, None, exc) for _, waiter in items])

    def run_sync(self, op: Op[T], timeout: float | None = None) -> T:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._put([(op, _Waiter(fut, None))])
        return fut.result(timeout)

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._closing:
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
                batch = list(first)
                stop = False
                while len(batch) < _MAX_BATCH:
                    try:
                        items = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if items is None:
                        stop = True
                        break
                    batch.extend(items)
                self._commit(conn, batch)
                if stop:
                    return

    def stalled_for(self) -> float:
        """Seconds the commit in progress has taken so far; 0 between commits."""
        began = self._busy_since
        return 0.0 if began is None else time.monotonic() - began

    def stalled(self) -> float:
        """How long the commit in progress has waited, if over ``STALLED`` (else 0): a
        commit that hangs fails nothing, and every write waits behind it. Logged once
        (any thread may ask; the runtime does every few seconds), and again when it
        goes through."""
        began = self._busy_since
        waited = 0.0 if began is None else time.monotonic() - began
        if began is None or waited <= STALLED:
            return 0.0
        with self._stall_lock:  # (the watch loop and /-/ready's threads both ask)
            if self._stall_said == began:
                return waited
            self._stall_said = began
            log.warning(
                "a database commit has been waiting for %.0fs (a lock another replica "
                "holds, or a network that stopped answering): every write waits behind it",
                waited,
            )
        return waited

    def _commit(self, conn: Connection, batch: list[_Item]) -> None:
        began = self._busy_since = time.monotonic()
        try:
            self._commit_batch(conn, batch)
        finally:
            self._busy_since = None
            with self._stall_lock:
                said, self._stall_said = self._stall_said == began, None
            if said:
                log.warning(
                    "the database commit that waited ended after %.0fs",
                    time.monotonic() - began,
                )

    def _commit_batch(self, conn: Connection, batch: list[_Item]) -> None:
        refused: list[_Outcome] = []
        while True:
            txn = Txn(conn)
            outcomes: list[_Outcome] = []
            try:
                with conn.begin():
                    if self.on_begin is not None:
                        self.on_begin(txn)
                    ops = [op for op, _ in batch]
                    applied = apply_all(txn, ops)
                    if len(applied) < len(batch) or (applied and _broke_txn(applied[-1][1])):
                        raise _Redo([len(applied) - 1], applied)
                    outcomes = [
                        (waiter, value, error)
                        for (_, waiter), (value, error) in zip(batch, applied, strict=True)
                    ]
                    if _wrote_nothing(ops, applied):
                        raise _NothingWritten
            except _NothingWritten:
                # Rolled back: not published (the store's hook would mark this
                # transaction's revision seen, and the next writer will take it again).
                # No word on an outage either way: a database that reads but refuses
                # writes (a read-only file, a full disk) answers these, and ending the
                # outage here made /-/ready say 200 between failed commits. The next
                # commit that writes (the sign of life's, every 10 s) ends it.
                self.batches += 1
                self.ops += len(batch)
            except _Redo as redo:
                # A statement of this op failed. On PostgreSQL that aborts the whole
                # transaction and its COMMIT would quietly roll back every op of the
                # batch while they are answered as committed: refuse it, and redo the
                # others in a new transaction (nothing was published).
                drop = set(redo.indexes)
                refused += [(batch[i][1], None, redo.applied[i][1]) for i in redo.indexes]
                batch = [item for i, item in enumerate(batch) if i not in drop]
                if batch:
                    continue
            except Exception as exc:
                self.outage.failed(exc)
                outcomes = [(waiter, None, exc) for _, waiter in batch]
            else:
                self.outage.succeeded()
                txn.publish()
                self.batches += 1
                self.ops += len(batch)
                if self.on_batch is not None:
                    self.on_batch(len(batch))
            self._deliver(refused + outcomes)
            return

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
