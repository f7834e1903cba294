"""The group-commit writer's hand-over: what one event-loop iteration submits goes to the
writer thread together, runs of one ``apply_many`` op class are applied by one call, a
refused op spoils nothing, a failing ``apply_many`` fails (and rolls back) its whole
batch, and a batch that wrote nothing is rolled back rather than committed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from tocsin.core.oncall_ops import OncallContext, ProcessDue
from tocsin.core.outbox_ops import ClaimDue, Enqueue
from tocsin.notify.message import Notification
from tocsin.notify.outbox import new_item
from tocsin.store.db import open_database
from tocsin.store.index import KeyedIndex
from tocsin.store.plainsql import raw_cursor
from tocsin.store.revisions import current_revision, next_revision
from tocsin.store.settings import DatabaseSettings, Durability
from tocsin.store.writer import GroupCommitter, Op, Outcome, Txn, WriterClosed, apply_all


class Refused(Exception):
    pass


@dataclass
class Note:
    """Writes one row of ``revisions``' neighbour table; refuses negative values."""

    value: int
    calls: list[int]

    def apply(self, txn: Txn) -> int:
        ((value, refusal),) = self.apply_many(txn, [self])
        if refusal is not None:
            raise refusal
        return int(value)

    @classmethod
    def apply_many(cls, txn: Txn, ops: Sequence[Note]) -> list[Outcome]:
        ops[0].calls.append(len(ops))
        out: list[Outcome] = []
        for op in ops:
            if op.value < 0:
                out.append((None, Refused(op.value)))
                continue
            txn.conn.execute(text("INSERT INTO notes (value) VALUES (:v)"), {"v": op.value})
            out.append((op.value * 10, None))
        return out


@dataclass
class Plain:
    value: int

    def apply(self, txn: Txn) -> int:
        return self.value


@dataclass
class Broken:
    """An ``apply_many`` that fails after writing: the whole batch must roll back."""

    @classmethod
    def apply_many(cls, txn: Txn, ops: Sequence[Broken]) -> list[Outcome]:
        txn.conn.execute(text("INSERT INTO notes (value) VALUES (-1)"))
        raise RuntimeError("disk on fire")

    def apply(self, txn: Txn) -> None:
        self.apply_many(txn, [self])


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_database(DatabaseSettings(db_url, Durability.NORMAL))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (value INTEGER NOT NULL)"))
    yield engine
    engine.dispose()


def notes(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(v for (v,) in conn.execute(text("SELECT value FROM notes")))


def run_together(writer: GroupCommitter, ops: Sequence[Op[Any]]) -> list[Any]:
    """Submit ``ops`` in one event-loop iteration (so in one batch), wait for all of
    them and close the writer: their values, or what each was refused with."""

    async def submit() -> list[Any]:
        return await asyncio.gather(*(writer.run(op) for op in ops), return_exceptions=True)

    try:
        return asyncio.run(submit())
    finally:
        writer.close()


def taking_revisions(writer: GroupCommitter) -> GroupCommitter:
    """``writer`` with the store's begin hook: each transaction takes a revision."""
    writer.on_begin = lambda txn: setattr(txn, "rev", next_revision(txn.conn))
    return writer


def test_one_loop_iteration_is_one_batch_and_one_apply_many(engine: Engine) -> None:
    writer = GroupCommitter(engine)
    calls: list[int] = []
    assert run_together(writer, [Note(i, calls) for i in range(5)]) == [0, 10, 20, 30, 40]
    assert writer.batches == 1
    assert calls == [5]
    assert notes(engine) == [0, 1, 2, 3, 4]


def test_a_refused_op_in_apply_many_spoils_nothing(engine: Engine) -> None:
    writer = GroupCommitter(engine)
    calls: list[int] = []
    ops: list[Op[int]] = [Note(1, calls), Note(-5, calls), Note(2, calls), Plain(7), Note(3, calls)]
    got = run_together(writer, ops)
    assert isinstance(got[1], Refused)
    assert [got[0], got[2], got[3], got[4]] == [10, 20, 7, 30]
    assert calls == [3, 1]  # runs of one class, in submission order, around Plain
    assert notes(engine) == [1, 2, 3]


def test_a_failing_apply_many_rolls_back_its_batch(engine: Engine) -> None:
    writer = GroupCommitter(engine)
    calls: list[int] = []

    async def submit() -> list[Any]:
        ops: list[Op[int | None]] = [Note(1, calls), Broken()]
        return await asyncio.gather(*(writer.run(op) for op in ops), return_exceptions=True)

    try:
        got = asyncio.run(submit())
        assert all(isinstance(r, RuntimeError) for r in got)
        assert notes(engine) == []  # not even Note(1): one transaction, rolled back
        assert writer.run_sync(Note(4, calls)) == 40  # and the writer goes on
    finally:
        writer.close()
    assert notes(engine) == [4]


def test_apply_all_checks_the_outcome_count(engine: Engine) -> None:
    class Short(Note):
        @classmethod
        def apply_many(cls, txn: Txn, ops: Sequence[Note]) -> list[Outcome]:
            return []

    with engine.connect() as conn, pytest.raises(RuntimeError, match="0 outcomes"):
        apply_all(Txn(conn), [Short(1, [])])


def test_run_after_close_is_refused(engine: Engine) -> None:
    writer = GroupCommitter(engine)
    writer.close()
    with pytest.raises(WriterClosed):
        asyncio.run(writer.run(Plain(1)))
    with pytest.raises(WriterClosed):
        writer.run_sync(Plain(1))


@pytest.mark.parametrize("linger", [0.0, 0.01])
def test_ops_staged_before_close_are_refused_not_lost(engine: Engine, linger: float) -> None:
    """close() between run() and the loop's hand-over (or while the op lingers): the
    op is refused, never left waiting forever."""
    writer = GroupCommitter(engine)

    async def submit() -> None:
        pending = asyncio.ensure_future(writer.run(Plain(1), linger=linger))
        await asyncio.sleep(0)  # run() staged the op; the hand-over is scheduled
        writer.close()
        with pytest.raises(WriterClosed):
            await asyncio.wait_for(pending, 5)

    asyncio.run(submit())


@pytest.mark.parametrize("linger", [0.0, 600.0])
def test_a_cancelled_caller_does_not_undo_its_op(engine: Engine, linger: float) -> None:
    """Also a lingering op's (the delivery worker at shutdown): it is handed over at
    once, not left behind for a timer its loop may never run."""
    writer = GroupCommitter(engine)
    calls: list[int] = []

    async def submit() -> None:
        task = asyncio.ensure_future(writer.run(Note(9, calls), linger=linger))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(submit())
    finally:
        writer.close()  # commits what is queued
    assert notes(engine) == [9]


def test_a_lingering_op_waits_for_its_loops_next_ops_and_goes_with_them(engine: Engine) -> None:
    """``linger``: the op is not handed over on its own (another thread's batch
    commits without it); the next ops its loop submits take it into their batch."""
    writer = GroupCommitter(engine)
    calls: list[int] = []

    async def submit() -> list[int]:
        lingering = asyncio.ensure_future(writer.run(Note(1, calls), linger=600))
        # a batch without it (the loop stages it meanwhile: its task runs first)
        await asyncio.to_thread(writer.run_sync, Note(2, calls))
        assert (writer.batches, notes(engine), lingering.done()) == (1, [2], False)
        return [await writer.run(Note(3, calls)), await lingering]

    try:
        assert asyncio.run(submit()) == [30, 10]
    finally:
        writer.close()
    assert writer.batches == 2
    assert calls == [1, 2]  # the second batch: one apply_many of both
    assert notes(engine) == [1, 2, 3]


def test_a_lingering_op_alone_commits_once_its_linger_is_over(engine: Engine) -> None:
    writer = GroupCommitter(engine)
    calls: list[int] = []
    try:
        assert asyncio.run(writer.run(Note(4, calls), linger=0.01)) == 40
    finally:
        writer.close()
    assert (writer.batches, notes(engine)) == (1, [4])


@dataclass
class BadSQL:
    """An op whose statement the database refuses (a NOT NULL violation)."""

    def apply(self, txn: Txn) -> None:
        txn.conn.execute(text("INSERT INTO notes (value) VALUES (NULL)"))


@dataclass
class BadRawSQL:
    """The same, through the driver's own cursor (as the hot paths' ``plainsql`` runs
    statements): the error is the driver's, not SQLAlchemy's."""

    def apply(self, txn: Txn) -> None:
        with raw_cursor(txn.conn) as cursor:
            cursor.execute("INSERT INTO notes (value) VALUES (NULL)")


@pytest.mark.parametrize("bad", [BadSQL, BadRawSQL])
def test_an_op_the_database_refuses_does_not_take_its_batch_down(
    engine: Engine, bad: type[BadSQL | BadRawSQL]
) -> None:
    """On PostgreSQL a failed statement aborts the transaction, and its COMMIT would
    quietly roll back the other ops while they are answered as committed: the batch is
    redone without the refused op, whose caller gets the database's error."""
    calls: list[int] = []
    ops: list[Op[int | None]] = [Note(1, calls), bad(), Plain(7), Note(2, calls)]
    got = run_together(GroupCommitter(engine), ops)
    assert isinstance(got[1], DBAPIError | sqlite3.Error | psycopg.Error)
    assert [got[0], got[2], got[3]] == [10, 7, 20]
    assert notes(engine) == [1, 2]  # committed, not only answered


# --- a batch that wrote nothing is rolled back ---------------------------------------


@dataclass
class Maybe:
    """Writes a note when given a value; says it wrote nothing otherwise."""

    value: int | None

    def apply(self, txn: Txn) -> int | None:
        if self.value is not None:
            txn.conn.execute(text("INSERT INTO notes (value) VALUES (:v)"), {"v": self.value})
        txn.after_commit.append(lambda: published.append(self.value))
        return self.value

    def wrote_nothing(self, value: int | None) -> bool:
        return value is None


@dataclass
class Refusing:
    def apply(self, txn: Txn) -> None:
        raise Refused("no")


published: list[int | None] = []


@pytest.mark.parametrize(
    ("ops", "committed", "noted"),
    [
        pytest.param([Maybe(None)], False, [], id="one op that wrote nothing: rolled back"),
        pytest.param([Maybe(None), Maybe(None)], False, [], id="all wrote nothing"),
        pytest.param([Maybe(None), Maybe(3)], True, [3], id="one of them wrote"),
        pytest.param([Maybe(None), Plain(7)], True, [], id="an op that cannot tell"),
        pytest.param([Maybe(None), Refusing()], False, [], id="a refused op wrote nothing"),
    ],
)
def test_a_batch_that_wrote_nothing_is_rolled_back_unpublished(
    engine: Engine, ops: list[Op[Any]], committed: bool, noted: list[int]
) -> None:
    """A poll that finds nothing must not cost a commit (an fsync on SQLite) and a
    revision: the revision stays, and no after-commit hook runs (the store's would mark
    a revision seen that the next writer takes again); the callers get their values."""
    writer = taking_revisions(GroupCommitter(engine))
    with engine.connect() as conn:
        before = current_revision(conn)
    published.clear()
    got = run_together(writer, ops)
    assert writer.batches == 1
    assert [g for g in got if not isinstance(g, Refused)] == [
        getattr(op, "value", None) for op in ops if not isinstance(op, Refusing)
    ]
    with engine.connect() as conn:
        assert current_revision(conn) == before + (1 if committed else 0)
    assert notes(engine) == noted
    expected = [op.value for op in ops if isinstance(op, Maybe)] if committed else []
    assert published == expected


def test_a_batch_that_wrote_nothing_does_not_end_an_outage(engine: Engine) -> None:
    """A database that reads but refuses writes (a read-only file, a full disk) answers
    a batch that writes nothing: that must not end the outage (/-/ready read it as
    over between failed commits); a batch that writes does."""
    writer = taking_revisions(GroupCommitter(engine))
    writer.outage.failed(OSError("attempt to write a readonly database"))
    failing: list[bool] = []

    async def main() -> None:
        for value in (None, 4):
            await writer.run(Maybe(value))
            failing.append(writer.outage.failing)

    try:
        asyncio.run(main())
    finally:
        writer.close()
    assert failing == [True, False]


def test_idle_polls_of_the_engine_loops_commit_nothing(engine: Engine) -> None:
    """The delivery worker's claim and the on-call worker's due rows, with nothing due:
    no revision is taken (an idle server does not write); with something due, it is."""
    writer = taking_revisions(GroupCommitter(engine))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ctx = cast(OncallContext, None)  # never asked: no row is taken

    def revision() -> int:
        with engine.connect() as conn:
            return current_revision(conn)

    try:
        before = revision()
        assert writer.run_sync(ClaimDue(now, now + timedelta(minutes=1), 10)) == []
        assert writer.run_sync(ProcessDue(lambda: now, 10, ctx)) == 0
        assert revision() == before
        note = Notification("team", "{}:{}", {}, (), now, "http://t", idempotency_key="k")
        item = new_item("i1", "team", "webhook[0]", note, now)
        writer.run_sync(Enqueue([item]))
        assert revision() == before + 1
        claimed = writer.run_sync(ClaimDue(now, now + timedelta(minutes=1), 10))
        assert [i.id for i in claimed] == ["i1"]
        assert revision() == before + 2  # the lease was written
    finally:
        writer.close()


@dataclass
class LoudHook:
    """Writes a note, then its after-commit hook raises (a broken metric, say)."""

    value: int

    def apply(self, txn: Txn) -> int:
        txn.conn.execute(text("INSERT INTO notes (value) VALUES (:v)"), {"v": self.value})

        def hook() -> None:
            raise RuntimeError("metric broke")

        txn.after_commit.append(hook)
        txn.after_commit.append(lambda: published.append(self.value))
        return self.value


def test_a_raising_after_commit_hook_does_not_keep_the_callers_waiting(engine: Engine) -> None:
    """The batch committed: every caller gets its value, and the hooks after the one
    that raised still run."""
    published.clear()
    got = run_together(GroupCommitter(engine), [LoudHook(1), Plain(7), LoudHook(2)])
    assert got == [1, 7, 2]
    assert notes(engine) == [1, 2]
    assert published == [1, 2]


@dataclass
class HalfDone:
    """An op that writes, stages and hooks, then refuses: its contract says a refused
    op writes nothing, and the writer keeps it for it."""

    index: KeyedIndex[int]
    hooked: list[str]

    def apply(self, txn: Txn) -> None:
        txn.conn.execute(text("INSERT INTO notes (value) VALUES (666)"))
        txn.overlay(self.index).set("half", 666)
        txn.overlay(self.index).set("kept", 999)  # over a good op's change
        txn.after_commit.append(lambda: self.hooked.append("half"))
        raise Refused("refused after writing")


@dataclass
class Staged:
    index: KeyedIndex[int]
    key: str
    value: int

    def apply(self, txn: Txn) -> int:
        txn.conn.execute(text("INSERT INTO notes (value) VALUES (:v)"), {"v": self.value})
        txn.overlay(self.index).set(self.key, self.value)
        return self.value


@pytest.mark.parametrize("with_revisions", [True, False])
def test_a_refused_op_writes_nothing_whatever_it_did_first(
    engine: Engine, with_revisions: bool
) -> None:
    """Before, after and between good ops of its batch; with the store's begin hook
    (a write first) and without (sqlite3 has no transaction open yet)."""
    index: KeyedIndex[int] = KeyedIndex()
    hooked: list[str] = []
    writer = GroupCommitter(engine)
    if with_revisions:
        taking_revisions(writer)
    ops: list[Op[Any]] = [
        HalfDone(index, hooked),
        Staged(index, "kept", 1),
        HalfDone(index, hooked),
        Staged(index, "other", 2),
        HalfDone(index, hooked),
    ]
    found = run_together(writer, ops)
    assert [type(v).__name__ for v in found] == ["Refused", "int", "Refused", "int", "Refused"]
    assert notes(engine) == [1, 2]
    assert (index.get("kept"), index.get("other"), index.get("half")) == (1, 2, None)
    assert hooked == []
