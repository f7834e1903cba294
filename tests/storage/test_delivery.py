"""The outbox and the delivery worker over a real database (SQLite and PostgreSQL):
every decided notification is delivered or visibly failed, retries back off, a lease
left by a crash expires and the item is sent again, a slow receiver blocks no other.

The sender here is the worker's seam (a channel is tested against real receivers in the
channel tests); it answers what each row of a test says a receiver would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from msgspec import structs
from sqlalchemy import Engine, text, update

from tocsin.core.outbox_ops import ClaimDue, Enqueue, ForgetDone, GiveBack, RecordAttempt
from tocsin.engine.delivery import DeliverySettings, DeliveryWorker, Sender
from tocsin.notify.message import Notification
from tocsin.notify.outbox import DeliveryStatus, OutboxItem, new_item
from tocsin.notify.outcome import Outcome
from tocsin.notify.retry import RetryPolicy
from tocsin.store import outbox_rows
from tocsin.store.db import open_database
from tocsin.store.settings import DatabaseSettings, Durability
from tocsin.store.tables import outbox
from tocsin.store.writer import GroupCommitter, Txn
from tocsin.timeutil import to_micros

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[Engine, GroupCommitter]]:
    engine = open_database(DatabaseSettings(db_url, Durability.NORMAL))
    writer = GroupCommitter(engine)
    yield engine, writer
    writer.close()
    engine.dispose()


def item(receiver: str, n: int, now: datetime) -> OutboxItem:
    note = Notification(
        receiver=receiver,
        group_key=f'{{}}:{{alertname="A{n}"}}',
        group_labels={"alertname": f"A{n}"},
        alerts=(),
        now=now,
        idempotency_key=f"key-{receiver}-{n}",
    )
    return new_item(str(uuid.uuid4()), receiver, "webhook[0]", note, now)


@contextlib.asynccontextmanager
async def running(worker: DeliveryWorker) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(probe: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 20.0
    while not probe():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def statuses(engine: Engine, items: list[OutboxItem]) -> list[DeliveryStatus | None]:
    with engine.connect() as conn:
        found = [outbox_rows.get(conn, i.id) for i in items]
    return [None if f is None else f.status for f in found]


def scripted(answers: dict[str, list[Outcome]], sent: list[str]) -> Sender:
    """Answer per receiver from a list (the last answer repeats)."""

    async def send(it: OutboxItem) -> Outcome:
        queue = answers[it.receiver]
        sent.append(it.idempotency_key)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return send


FAST = DeliverySettings(
    poll=timedelta(milliseconds=20),
    policy=RetryPolicy(base=timedelta(milliseconds=1), cap=timedelta(milliseconds=5)),
)


def test_notifications_done_with_are_forgotten_after_the_retention_in_batches(
    db: tuple[Engine, GroupCommitter],
) -> None:
    """The garbage collector's ``ForgetDone``: sent and given-up notifications created
    before the cutoff go, oldest first and at most ``limit`` per op, with their logged
    attempts; one still being retried stays however old, and so do newer ones."""
    engine, writer = db
    old = [item("r", n, T0 + timedelta(seconds=n)) for n in range(3)]
    new = item("r", 9, T0 + timedelta(days=5))
    writer.run_sync(Enqueue([*old, new]))
    answers = [Outcome.sent("202"), Outcome.permanent("400"), Outcome.retryable("503")]
    for it, answer in zip([*old, new], [*answers, Outcome.sent("202")], strict=True):
        writer.run_sync(RecordAttempt(it, answer, it.created_at, 10, RetryPolicy()))
    cutoff = T0 + timedelta(days=1)

    assert writer.run_sync(ForgetDone(cutoff, 1)) == 1
    assert statuses(engine, [*old, new]) == [
        None,
        DeliveryStatus.FAILED,
        DeliveryStatus.PENDING,
        DeliveryStatus.SENT,
    ]
    assert writer.run_sync(ForgetDone(cutoff, 1)) == 1
    assert writer.run_sync(ForgetDone(cutoff, 1)) == 0
    assert statuses(engine, [*old, new]) == [
        None,
        None,
        DeliveryStatus.PENDING,
        DeliveryStatus.SENT,
    ]
    with engine.connect() as conn:
        logged = {it.id: len(outbox_rows.attempts_of(conn, it.id)) for it in [*old, new]}
        left = conn.execute(text("SELECT COUNT(*) FROM delivery_log")).scalar()
    assert [logged[it.id] for it in [*old, new]] == [0, 0, 1, 1]
    assert left == 2  # no attempt of a forgotten notification is left behind


def later_of(it: OutboxItem, seconds: float, news: bool = False) -> OutboxItem:
    """A newer notification of the same group to the same integration."""
    at = it.created_at + timedelta(seconds=seconds)
    note = structs.replace(it.notification, idempotency_key=f"{it.idempotency_key}+{seconds}")
    return new_item(str(uuid.uuid4()), it.receiver, it.integration, note, at)


@pytest.mark.parametrize(
    ("how", "newer", "superseded"),
    [
        ("retried", "same group", True),  # the receiver was down: the retry would be late
        ("lease lapsed", "same group", True),  # the sender stopped mid-send
        ("retried", "other group", False),
        ("retried", "other integration", False),
        ("retried", "announcement", False),  # news of its own: both are sent
        ("fresh", "same group", False),  # claimed in order: not late
        # the newer one went out already: the claim finds only the late one, and its
        # marking is committed (not rolled back as a claim of nothing)
        ("retried", "already sent", True),
    ],
)
def test_a_late_notification_is_not_sent_after_a_newer_one_of_its_group(
    db: tuple[Engine, GroupCommitter], how: str, newer: str, superseded: bool
) -> None:
    """Sent after a newer notification of its group to the same integration, an older
    one would undo it (PagerDuty's "trigger" after the "resolve"): a retried or lapsed
    one is marked superseded when claimed, and only the newer one is handed out."""
    engine, writer = db
    old = item("r", 1, T0)
    if newer == "announcement":
        old = structs.replace(old, notification=structs.replace(old.notification, news=True))
    writer.run_sync(Enqueue([old]))
    if how == "retried":
        writer.run_sync(RecordAttempt(old, Outcome.retryable("503"), T0, 10, RetryPolicy()))
    elif how == "lease lapsed":
        writer.run_sync(ClaimDue(T0, T0 + timedelta(seconds=60), 10))
    new = later_of(old, 5)
    if newer == "other group":
        new = item("r", 2, T0 + timedelta(seconds=5))
    elif newer == "other integration":
        new = structs.replace(new, integration="webhook[1]")
    writer.run_sync(Enqueue([new]))
    if newer == "already sent":
        writer.run_sync(RecordAttempt(new, Outcome.sent(), new.created_at, 10, RetryPolicy()))
    later = T0 + timedelta(minutes=10)
    claimed = writer.run_sync(ClaimDue(later, later + timedelta(seconds=60), 10))
    wanted = [old.id, new.id] if not superseded else [] if newer == "already sent" else [new.id]
    assert sorted(i.id for i in claimed) == sorted(wanted)
    assert statuses(engine, [old])[0] is (
        DeliveryStatus.SUPERSEDED if superseded else DeliveryStatus.PENDING
    )
    if superseded:
        with engine.connect() as conn:
            found = outbox_rows.get(conn, old.id)
        assert found is not None
        assert found.last_error.startswith("not sent: a newer notification of its group")


def test_a_claim_that_fails_is_retried_and_the_loop_says_so(
    db: tuple[Engine, GroupCommitter], caplog: pytest.LogCaptureFixture
) -> None:
    """The database refuses the claim (its table is gone for a while): the worker logs
    it, says so (``failing``, for /metrics), and claims again at its next poll; once the
    table is back the item is sent. (A failed claim used to end the worker for good.)"""
    engine, writer = db
    sent: list[str] = []
    worker = DeliveryWorker(
        writer, lambda: datetime.now(UTC), scripted({"r": [Outcome.sent()]}, sent), FAST
    )
    it = item("r", 1, datetime.now(UTC))

    def rename(old: str, new: str) -> None:
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))

    async def go() -> None:
        await writer.run(Enqueue([it]))
        rename("outbox", "outbox_away")
        try:
            async with running(worker):
                await until(lambda: worker.loop.failures >= 2, "two failed claims")
                assert worker.loop.failing
                rename("outbox_away", "outbox")
                await until(lambda: statuses(engine, [it]) == [DeliveryStatus.SENT], "the send")
        finally:
            with contextlib.suppress(Exception):
                rename("outbox_away", "outbox")
        assert not worker.loop.failing
        assert sent == [it.idempotency_key]

    asyncio.run(go())
    said = [r for r in caplog.records if r.getMessage().startswith("delivery step")]
    assert [r.getMessage().split(",")[0] for r in said] == [
        "delivery step failed",  # with its traceback, once
        "delivery step works again",  # (the retries between, within 10 s, said nothing)
    ]
    assert said[0].exc_info is not None


def test_an_outage_ends_with_the_first_transaction_that_reaches_the_database(
    db: tuple[Engine, GroupCommitter],
) -> None:
    """A transaction that fails (here its begin: the store's catch-up reads a table
    that is gone) marks the writer's outage (``/-/ready`` says 503); the next one that
    reaches the database and writes ends it. One that writes nothing and is rolled back
    does not (a database that reads may still refuse writes); an idle replica still
    writes its sign of life every 10 s."""
    engine, writer = db

    def catch_up(txn: Txn) -> None:
        txn.conn.execute(text("SELECT COUNT(*) FROM outbox"))

    writer.on_begin = catch_up
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE outbox RENAME TO outbox_away"))
    try:
        with pytest.raises(Exception, match="outbox"):
            writer.run_sync(ClaimDue(T0, T0 + timedelta(seconds=60), 10))
        assert writer.outage.failing
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE outbox_away RENAME TO outbox"))
    assert writer.run_sync(ClaimDue(T0, T0 + timedelta(seconds=60), 10)) == []  # nothing due
    assert writer.outage.failing
    writer.run_sync(Enqueue([item("r", 1, T0)]))
    assert not writer.outage.failing


@pytest.mark.parametrize(
    ("answers", "final", "attempts"),
    [
        ([Outcome.sent("202")], DeliveryStatus.SENT, 1),
        (
            [Outcome.retryable("500"), Outcome.retryable("503"), Outcome.sent()],
            DeliveryStatus.SENT,
            3,
        ),
        ([Outcome.retryable("429", retry_after=0.01), Outcome.sent()], DeliveryStatus.SENT, 2),
        ([Outcome.permanent("400 bad request")], DeliveryStatus.FAILED, 1),
        ([Outcome.retryable("refused"), Outcome.permanent("404")], DeliveryStatus.FAILED, 2),
    ],
)
def test_outcomes(
    db: tuple[Engine, GroupCommitter],
    answers: list[Outcome],
    final: DeliveryStatus,
    attempts: int,
) -> None:
    engine, writer = db
    sent: list[str] = []
    sender = scripted({"r": list(answers)}, sent)
    worker = DeliveryWorker(writer, lambda: datetime.now(UTC), sender, FAST)
    it = item("r", 1, datetime.now(UTC))

    async def go() -> None:
        async with running(worker):
            await writer.run(Enqueue([it]))
            worker.kick()
            await until(lambda: statuses(engine, [it]) == [final], f"status {final}")

    asyncio.run(go())
    assert sent == [it.idempotency_key] * attempts
    with engine.connect() as conn:
        log = outbox_rows.attempts_of(conn, it.id)
    assert [a["attempt"] for a in log] == list(range(1, attempts + 1))
    assert log[-1]["outcome"] == ("sent" if final is DeliveryStatus.SENT else "permanent")


def test_a_receiver_that_keeps_failing_is_logged_as_an_outage(
    db: tuple[Engine, GroupCommitter], caplog: pytest.LogCaptureFixture
) -> None:
    """Retries of a failing receiver are not a log line each (500 notifications to a
    dead webhook wrote 3,764 lines a minute): its first failure, then a line every 10 s
    at most, and when it works again."""
    engine, writer = db
    sent: list[str] = []
    refused = Outcome.retryable("connection refused")
    sender = scripted({"r": [refused] * 6 + [Outcome.sent()]}, sent)
    worker = DeliveryWorker(writer, lambda: datetime.now(UTC), sender, FAST)
    items = [item("r", n, datetime.now(UTC)) for n in range(3)]

    async def go() -> None:
        async with running(worker):
            await writer.run(Enqueue(items))
            worker.kick()
            done = [DeliveryStatus.SENT] * 3
            await until(lambda: statuses(engine, items) == done, "all sent")

    with caplog.at_level(logging.INFO, logger="tocsin.engine.delivery"):
        asyncio.run(go())
    assert len(sent) >= 7  # six refusals, then the sends
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith("sending to r/webhook[0] failed: ")
    assert said[0].endswith(": connection refused; retrying")
    assert said[-1] == "sending to r/webhook[0] works again, after 6 failures"
    # between them, at most a line per 10 s (none on a quick run): not one per retry
    assert all(" still failing (" in line for line in said[1:-1]), said
    assert len(said) < 6


def test_gives_up_after_max_age(db: tuple[Engine, GroupCommitter]) -> None:
    engine, writer = db
    clock = Clock(T0)
    policy = RetryPolicy(
        base=timedelta(seconds=1), cap=timedelta(seconds=1), max_age=timedelta(minutes=10)
    )
    settings = DeliverySettings(poll=timedelta(milliseconds=20), policy=policy)
    sent: list[str] = []
    worker = DeliveryWorker(
        writer, clock, scripted({"r": [Outcome.retryable("down")]}, sent), settings
    )
    it = item("r", 1, T0)

    async def go() -> None:
        async with running(worker):
            await writer.run(Enqueue([it]))
            worker.kick()
            await until(lambda: len(sent) == 1, "first attempt")
            clock.now = T0 + timedelta(minutes=11)  # past max_age: the next failure is final
            worker.kick()
            await until(lambda: statuses(engine, [it]) == [DeliveryStatus.FAILED], "give up")

    asyncio.run(go())
    assert len(sent) == 2


def test_a_lease_left_by_a_crash_expires_and_the_item_is_sent_again(
    db: tuple[Engine, GroupCommitter],
) -> None:
    engine, writer = db
    clock = Clock(T0)
    it = item("r", 1, T0)
    writer.run_sync(Enqueue([it]))
    # a worker leased it and died before recording anything
    (leased,) = writer.run_sync(ClaimDue(T0, T0 + timedelta(seconds=60), 10))
    assert leased.id == it.id
    sent: list[str] = []
    worker = DeliveryWorker(writer, clock, scripted({"r": [Outcome.sent()]}, sent), FAST)

    async def go() -> None:
        async with running(worker):
            worker.kick()
            await asyncio.sleep(0.2)
            assert sent == []  # still leased: nobody else may take it
            clock.now = T0 + timedelta(seconds=61)
            worker.kick()
            await until(lambda: statuses(engine, [it]) == [DeliveryStatus.SENT], "re-send")

    asyncio.run(go())
    assert sent == [it.idempotency_key]
    with engine.connect() as conn:  # the attempt the crash cut short is in the log
        log = outbox_rows.attempts_of(conn, it.id)
    assert [(a["attempt"], a["outcome"]) for a in log] == [(1, "retryable"), (2, "sent")]
    assert log[0]["message"].startswith("lease ran out at 2026-05-01T08:01:00.000Z with no ")


def test_a_hanging_receiver_does_not_block_the_others(db: tuple[Engine, GroupCommitter]) -> None:
    engine, writer = db
    release = asyncio.Event()
    sent: list[str] = []

    async def send(it: OutboxItem) -> Outcome:
        if it.receiver == "slow":
            await release.wait()
        sent.append(it.receiver)
        return Outcome.sent()

    settings = DeliverySettings(concurrency=4, per_receiver=2, poll=timedelta(milliseconds=20))
    worker = DeliveryWorker(writer, lambda: datetime.now(UTC), send, settings)
    now = datetime.now(UTC)
    slow = [item("slow", i, now) for i in range(5)]
    fast = [item("fast", i, now) for i in range(10)]

    async def go() -> None:
        async with running(worker):
            await writer.run(Enqueue(slow + fast))
            worker.kick()
            await until(
                lambda: statuses(engine, fast) == [DeliveryStatus.SENT] * 10, "fast receiver"
            )
            assert "slow" not in sent
            release.set()
            await until(lambda: statuses(engine, slow) == [DeliveryStatus.SENT] * 5, "slow one")

    asyncio.run(go())


def held_sends() -> tuple[asyncio.Event, list[str], Callable[[OutboxItem], Awaitable[Outcome]]]:
    """A sender whose sends hang until the event is set; the keys it started."""
    release = asyncio.Event()
    started: list[str] = []

    async def send(it: OutboxItem) -> Outcome:
        started.append(it.idempotency_key)
        await release.wait()
        return Outcome.sent()

    return release, started, send


@pytest.mark.parametrize("finishes", [True, False], ids=["send finishes", "send hangs"])
def test_a_shutdown_lets_the_sends_in_flight_finish_and_takes_nothing_new(
    db: tuple[Engine, GroupCommitter], finishes: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """``drain`` (a rolling restart's SIGTERM): the send in flight is recorded before
    the worker stops, rather than left to lapse and be sent again a lease later;
    nothing is claimed meanwhile, and an item handed over leased is given back. A send
    that outlasts the drain is left to its lease, and the log says so."""
    engine, writer = db
    release, started, send = held_sends()

    settings = DeliverySettings(poll=timedelta(milliseconds=20), drain=timedelta(seconds=0.3))
    clock = Clock(T0)
    worker = DeliveryWorker(writer, clock, send, settings)
    first, queued, handed = item("r", 1, T0), item("r", 2, T0), item("r", 3, T0)

    async def go() -> None:
        async with running(worker):
            await writer.run(Enqueue([first]))
            worker.kick()
            await until(lambda: started == [first.idempotency_key], "the send in flight")
            draining = asyncio.ensure_future(worker.drain())  # (stops taking at once)
            await writer.run(Enqueue([queued]))
            worker.kick()
            leased = structs.replace(handed, lease_until=T0 + timedelta(seconds=60))
            await writer.run(Enqueue([leased]))
            worker.adopt([leased])
            if finishes:
                release.set()
            await draining
            assert statuses(engine, [first]) == [
                DeliveryStatus.SENT if finishes else DeliveryStatus.PENDING
            ]
        release.set()

    asyncio.run(go())
    assert started == [first.idempotency_key]  # nothing new was claimed or started
    with engine.connect() as conn:
        given_back = outbox_rows.get(conn, handed.id)
    assert given_back is not None
    assert given_back.lease_until.timestamp() == 0
    still = "still being sent at shutdown" in caplog.text
    assert still is not finishes


def test_a_shutdown_gives_back_at_once_what_waited_for_a_send_slot(
    db: tuple[Engine, GroupCommitter],
) -> None:
    """Items claimed but waiting for their receiver's send slot at a shutdown are given
    back then (lease cleared): another replica sends them at once, not a lease (a
    minute) later; the one being sent is finished and recorded."""
    engine, writer = db
    release, started, send = held_sends()

    settings = DeliverySettings(
        poll=timedelta(milliseconds=20), drain=timedelta(seconds=5), per_receiver=1
    )
    worker = DeliveryWorker(writer, Clock(T0), send, settings)
    first, second, third = item("r", 1, T0), item("r", 2, T0), item("r", 3, T0)

    async def go() -> None:
        async with running(worker):
            await writer.run(Enqueue([first, second, third]))
            worker.kick()
            await until(lambda: worker.in_flight == 3 and len(started) == 1, "one sending")
            draining = asyncio.ensure_future(worker.drain())
            waiting = [i for i in (first, second, third) if i.idempotency_key not in started]
            await until(lambda: leases(engine, waiting) == [0, 0], "the waiting given back")
            release.set()
            await draining

    asyncio.run(go())
    assert len(started) == 1  # the waiting two were not started
    sent = [i for i in (first, second, third) if i.idempotency_key in started]
    assert statuses(engine, sent) == [DeliveryStatus.SENT]


def test_an_item_given_back_keeps_another_worker_s_lease(
    db: tuple[Engine, GroupCommitter],
) -> None:
    """A shutdown gives back what it claimed only while the lease is still its own: an
    item whose lease lapsed while it waited, and that another worker claimed since,
    stays that worker's (cleared, a third would send it too)."""
    engine, writer = db
    mine, theirs = item("r", 1, T0), item("r", 2, T0)
    writer.run_sync(Enqueue([mine, theirs]))
    taken = writer.run_sync(ClaimDue(T0, T0 + timedelta(seconds=60), 10, ()))
    assert sorted(i.id for i in taken) == sorted([mine.id, theirs.id])
    later = T0 + timedelta(seconds=61)  # both leases lapsed; another worker claims one
    with engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == theirs.id)
            .values(lease_until=to_micros(later + timedelta(seconds=60)))
        )
    writer.run_sync(GiveBack(taken))
    assert leases(engine, [mine, theirs]) == [0, (later + timedelta(seconds=60)).timestamp()]


def leases(engine: Engine, items: list[OutboxItem]) -> list[float]:
    with engine.connect() as conn:
        found = [outbox_rows.get(conn, i.id) for i in items]
    return [f.lease_until.timestamp() for f in found if f is not None]


def test_retry_policy_backs_off_with_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=60))
    rng = random.Random(7)
    for attempt in range(1, 12):
        bound = min(60.0, 2.0 ** (attempt - 1))
        waits = [policy.delay(attempt, None, rng).total_seconds() for _ in range(50)]
        assert all(0 <= w <= bound for w in waits)
        assert max(waits) > bound / 2  # spread over the range, not pinned to zero
    assert policy.delay(1, 30.0, rng) == timedelta(seconds=30)


def leased(it: OutboxItem, until: datetime) -> OutboxItem:
    return structs.replace(it, lease_until=until)


def test_items_handed_over_leased_are_sent_without_a_claim(
    db: tuple[Engine, GroupCommitter],
) -> None:
    """The dispatcher commits its items leased to its own worker and hands them over:
    they are sent at once and recorded, and no other worker's claim can take them."""
    engine, writer = db
    clock = Clock(T0)
    sent: list[str] = []
    worker = DeliveryWorker(writer, clock, scripted({"r": [Outcome.sent()]}, sent), FAST)
    mine = leased(item("r", 1, T0), T0 + timedelta(seconds=60))
    writer.run_sync(Enqueue([mine]))
    assert writer.run_sync(ClaimDue(T0, T0 + timedelta(seconds=60), 10)) == []

    async def go() -> None:
        worker.adopt([mine])  # before the worker ever claimed: no poll is needed
        await until(lambda: statuses(engine, [mine]) == [DeliveryStatus.SENT], "sent")

    asyncio.run(go())
    assert sent == [mine.idempotency_key]


def test_a_handed_over_item_whose_lease_ran_out_is_left_to_a_claim(
    db: tuple[Engine, GroupCommitter],
) -> None:
    """An item that waited for its receiver's turn past its lease is not sent by the
    worker holding it (another may have claimed it meanwhile), but given back as never
    begun: a claim sends it once, and its log has that one attempt (not one that "may
    have been delivered" for a lease that lapsed: a storm's queue wrote thousands)."""
    engine, writer = db
    clock = Clock(T0)
    sent: list[str] = []
    worker = DeliveryWorker(writer, clock, scripted({"r": [Outcome.sent()]}, sent), FAST)
    stale = leased(item("r", 1, T0), T0 + timedelta(seconds=60))
    writer.run_sync(Enqueue([stale]))
    clock.now = T0 + timedelta(seconds=59)  # within the margin before the lease ends

    async def go() -> None:
        worker.adopt([stale])
        await until(lambda: worker.in_flight == 0, "the handed-over item looked at")
        assert sent == []
        async with running(worker):
            clock.now = T0 + timedelta(seconds=61)
            worker.kick()
            await until(lambda: statuses(engine, [stale]) == [DeliveryStatus.SENT], "claimed")

    asyncio.run(go())
    assert sent == [stale.idempotency_key]
    with engine.connect() as conn:
        log = outbox_rows.attempts_of(conn, stale.id)
    assert [(a["attempt"], a["outcome"]) for a in log] == [(1, "sent")]


def test_unleased_items_handed_over_wait_for_a_claim(db: tuple[Engine, GroupCommitter]) -> None:
    engine, writer = db
    sent: list[str] = []
    worker = DeliveryWorker(
        writer, lambda: datetime.now(UTC), scripted({"r": [Outcome.sent()]}, sent), FAST
    )
    plain = item("r", 1, datetime.now(UTC))
    writer.run_sync(Enqueue([plain]))

    async def go() -> None:
        async with running(worker):
            worker.adopt([plain])
            await until(lambda: statuses(engine, [plain]) == [DeliveryStatus.SENT], "sent")

    asyncio.run(go())
    assert sent == [plain.idempotency_key]


def test_attempts_that_finish_together_are_recorded_together(
    db: tuple[Engine, GroupCommitter],
) -> None:
    """``RecordAttempt.apply_many`` (the writer's path for attempts in one batch) moves
    each item on as ``apply`` would, and logs each attempt."""
    engine, writer = db
    items = [item("r", n, T0) for n in range(3)]
    writer.run_sync(Enqueue(items))
    answers = [Outcome.sent("202"), Outcome.permanent("400"), Outcome.retryable("503")]
    ops = [
        RecordAttempt(it, answer, T0, 10, RetryPolicy())
        for it, answer in zip(items, answers, strict=True)
    ]

    class Together:
        def apply(self, txn: Txn) -> list[Any]:
            return RecordAttempt.apply_many(txn, ops)

    outcomes = writer.run_sync(Together())
    expected = [DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.PENDING]
    assert [after.status for after, _ in outcomes] == expected
    assert statuses(engine, items) == expected
    with engine.connect() as conn:
        logged = [outbox_rows.attempts_of(conn, it.id) for it in items]
    assert [[a["outcome"] for a in log] for log in logged] == [
        ["sent"],
        ["permanent"],
        ["retryable"],
    ]


def count_claims(writer: GroupCommitter, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the claims ``writer`` runs from now on, in order."""
    claims: list[int] = []
    run = writer.run

    async def counting(op: Any, linger: float = 0.0) -> Any:
        value = await run(op, linger)
        if isinstance(op, ClaimDue):
            claims.append(len(value))
        return value

    monkeypatch.setattr(writer, "run", counting)  # the seam counted here
    return claims


def test_a_finished_send_claims_again_only_while_more_may_be_due(
    db: tuple[Engine, GroupCommitter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every slot taken by a claim, a freed slot claims at once (not at the next
    poll, which here is a minute away); once a claim found fewer items than slots, the
    outbox is drained and a finished send costs no claim (a transaction) at all."""
    engine, writer = db
    clock = Clock(T0)
    sent: list[str] = []
    claims = count_claims(writer, monkeypatch)
    settings = DeliverySettings(concurrency=2, per_receiver=2, poll=timedelta(minutes=1))
    answers = {r: [Outcome.sent()] for r in ("a", "b", "c", "d")}
    worker = DeliveryWorker(writer, clock, scripted(answers, sent), settings)
    first = [item(r, 0, T0) for r in ("a", "b", "c")]  # one per receiver: none over its cap
    later = item("d", 0, T0)
    seen: list[int] = []

    async def scenario() -> None:
        await writer.run(Enqueue(first))
        async with running(worker):
            await until(lambda: len(sent) == 3 and worker.in_flight == 0, "three sends")
            await asyncio.sleep(0.2)
            seen.append(len(claims))
            await writer.run(Enqueue([later]))
            worker.kick()  # as a flush that committed items does
            await until(lambda: len(sent) == 4 and worker.in_flight == 0, "the fourth")
            await asyncio.sleep(0.2)  # room for a needless claim to show

    asyncio.run(scenario())
    assert statuses(engine, [*first, later]) == [DeliveryStatus.SENT] * 4
    # both slots filled, then the third item claimed by a freed slot, not by the poll
    assert claims[:2] == [2, 1]
    # one claim for the kick: it found fewer items than slots, so neither the loop nor
    # the send's end claimed again
    assert claims[seen[0] :] == [1]


def claimed_twice(writer: GroupCommitter) -> tuple[OutboxItem, OutboxItem, OutboxItem]:
    """An item claimed by worker A at T0 and, A's lease having run out, by worker B a
    minute later: (the item, as A holds it, as B holds it)."""
    it = item("r", 1, T0)
    writer.run_sync(Enqueue([it]))
    (held_by_a,) = writer.run_sync(ClaimDue(T0, T0 + timedelta(seconds=60), 10))
    later = T0 + timedelta(seconds=61)
    (held_by_b,) = writer.run_sync(ClaimDue(later, later + timedelta(seconds=60), 10))
    assert held_by_b.lease_until != held_by_a.lease_until
    return it, held_by_a, held_by_b


@pytest.mark.parametrize(
    ("late", "final"),
    [
        pytest.param(Outcome.retryable("timeout"), DeliveryStatus.SENT, id="late retry"),
        pytest.param(Outcome.permanent("400"), DeliveryStatus.SENT, id="late failure"),
        pytest.param(Outcome.sent(), DeliveryStatus.SENT, id="late success"),
    ],
)
def test_a_send_that_outlived_its_lease_does_not_undo_the_next_workers_record(
    db: tuple[Engine, GroupCommitter], late: Outcome, final: DeliveryStatus
) -> None:
    """Worker A's send outlives its lease; worker B claims the item, sends and records
    it; A's record, arriving last, is logged as an attempt but moves nothing: the item
    stays as B left it (a late 'retry' would have made it pending, and sent a third
    time)."""
    engine, writer = db
    it, held_by_a, held_by_b = claimed_twice(writer)
    later = held_by_b.lease_until - timedelta(seconds=60)
    policy = RetryPolicy()
    by_b = writer.run_sync(RecordAttempt(held_by_b, Outcome.sent(), later, 1, policy))
    by_a = writer.run_sync(RecordAttempt(held_by_a, late, later + timedelta(seconds=1), 1, policy))
    assert by_b is not None
    assert by_b.status is DeliveryStatus.SENT
    assert by_a is None  # superseded: the worker neither retries nor reports a failure
    with engine.connect() as conn:
        row = outbox_rows.get(conn, it.id)
        logged = outbox_rows.attempts_of(conn, it.id)
    assert row is not None
    assert (row.status, row.attempts) == (final, 2)  # A's send and B's
    # both attempts happened and are in the log, after the lapse B's claim found
    assert [a["message"][:15] for a in logged] == [
        "lease ran out a",
        "",
        late.message[:15],
    ]


def test_a_retry_under_the_held_lease_is_recorded(db: tuple[Engine, GroupCommitter]) -> None:
    """The usual case, for contrast: the worker that holds the lease moves the item."""
    engine, writer = db
    it = item("r", 1, T0)
    writer.run_sync(Enqueue([it]))
    (held,) = writer.run_sync(ClaimDue(T0, T0 + timedelta(seconds=60), 10))
    writer.run_sync(RecordAttempt(held, Outcome.retryable("503"), T0, 1, RetryPolicy()))
    with engine.connect() as conn:
        row = outbox_rows.get(conn, it.id)
    assert row is not None
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.PENDING, 1, "503")
    assert row.lease_until.timestamp() == 0  # given back for the retry


def test_a_receiver_at_its_share_does_not_make_the_worker_spin(
    db: tuple[Engine, GroupCommitter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver that holds its whole share of slots (a hanging webhook) is skipped by
    every claim; with nothing else due, the worker waits for a wake-up (a kick, the
    poll, a freed slot) instead of claiming again and again."""
    engine, writer = db
    claims = count_claims(writer, monkeypatch)
    hang = asyncio.Event()

    async def send(it: OutboxItem) -> Outcome:
        await hang.wait()
        return Outcome.sent()

    settings = DeliverySettings(concurrency=2, per_receiver=1, poll=timedelta(minutes=1))
    worker = DeliveryWorker(writer, Clock(T0), send, settings)
    items = [item("dead", n, T0) for n in range(3)]

    async def scenario() -> None:
        await writer.run(Enqueue(items))
        async with running(worker):
            await until(lambda: worker.in_flight >= 1, "a send in flight")
            await asyncio.sleep(0.5)
            hang.set()
            await until(lambda: statuses(engine, items) == [DeliveryStatus.SENT] * 3, "sent")

    asyncio.run(scenario())
    # the items are sent one after the other as slots free up; while the receiver held
    # its share the worker did not spin (a spinning loop claims hundreds of times here)
    assert sum(claims) >= 3
    assert len(claims) < 20, claims


def test_a_burst_handed_over_to_one_receiver_costs_no_claim_per_send(
    db: tuple[Engine, GroupCommitter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items the dispatcher hands over count against their receiver's share: while it
    holds more than its share, a finished send of it does not claim (the claim would
    skip that receiver anyway); once it is below its share again, one claim looks."""
    engine, writer = db
    claims = count_claims(writer, monkeypatch)
    sent: list[str] = []
    # a share of 4 of the 8 slots; the burst of 7 takes fewer slots than there are, so
    # the worker still claims for the others while the receiver is over its share
    settings = DeliverySettings(concurrency=8, per_receiver=2, poll=timedelta(minutes=1))

    async def send(it: OutboxItem) -> Outcome:
        await asyncio.sleep(0.01)  # a receiver that takes its time
        sent.append(it.idempotency_key)
        return Outcome.sent()

    worker = DeliveryWorker(writer, Clock(T0), send, settings)
    burst = [leased(item("r", n, T0), T0 + timedelta(seconds=60)) for n in range(7)]

    async def scenario() -> None:
        await writer.run(Enqueue(burst))
        async with running(worker):
            await until(lambda: bool(claims), "the first claim")
            worker.adopt(burst)
            worker.kick()  # as the flush of another group would: a claim while r is busy
            await until(lambda: len(sent) == 7 and worker.in_flight == 0, "the burst")
            await asyncio.sleep(0.2)  # room for needless claims to show

    asyncio.run(scenario())
    assert statuses(engine, burst) == [DeliveryStatus.SENT] * 7
    assert sum(claims) == 0  # all seven went by hand-over
    # the first claim, the kicked one, and one when the receiver fell below its share:
    # not one per send while it was over it
    assert len(claims) <= 3, claims


@pytest.mark.parametrize("b_first", [True, False], ids=["winner first", "late one first"])
def test_both_records_of_one_item_in_one_batch_get_their_own_verdict(
    db: tuple[Engine, GroupCommitter], b_first: bool
) -> None:
    """A send that outlived its lease and the re-send of the same item can finish
    together, their records in one batch: the one under the current lease is written
    (and returned), the other is logged and superseded, whatever their order."""
    engine, writer = db
    it, held_by_a, held_by_b = claimed_twice(writer)
    later = held_by_b.lease_until - timedelta(seconds=60)
    policy = RetryPolicy()
    a = RecordAttempt(held_by_a, Outcome.permanent("400"), later, 1, policy)
    b = RecordAttempt(held_by_b, Outcome.sent(), later, 1, policy)
    ops = [b, a] if b_first else [a, b]

    class Together:
        def apply(self, txn: Txn) -> list[Any]:
            return RecordAttempt.apply_many(txn, ops)

    names = ("b", "a") if b_first else ("a", "b")
    outcomes = dict(zip(names, writer.run_sync(Together()), strict=True))
    assert outcomes["a"] == (None, None)
    after_b, _ = outcomes["b"]
    assert after_b is not None
    assert after_b.status is DeliveryStatus.SENT
    assert statuses(engine, [it]) == [DeliveryStatus.SENT]
    with engine.connect() as conn:  # the lapse B's claim found, then A's and B's records
        assert len(outbox_rows.attempts_of(conn, it.id)) == 3


def test_a_slow_receiver_s_hand_over_backlog_does_not_starve_the_claims(
    db: tuple[Engine, GroupCommitter],
) -> None:
    """A storm hands one slow receiver (an audit webhook of every alert) more items
    than the worker's ``concurrency``: they wait for its own send slots, and must not
    take the slots of the claim, or a retry (or any item that needs a claim) of every
    other receiver waits until that backlog drains (measured: 25-27 s for Slack and
    e-mail behind a 200 ms audit sink)."""
    engine, writer = db
    clock = Clock(T0)
    release = asyncio.Event()
    sent: list[str] = []

    async def send(it: OutboxItem) -> Outcome:
        if it.receiver == "audit":
            await release.wait()  # a receiver that takes its time
        sent.append(it.idempotency_key)
        return Outcome.sent()

    settings = DeliverySettings(concurrency=8, per_receiver=2, poll=timedelta(milliseconds=20))
    worker = DeliveryWorker(writer, clock, send, settings)
    backlog = [leased(item("audit", n, T0), T0 + timedelta(seconds=60)) for n in range(20)]
    retry = item("slack", 1, T0)  # unleased and due: only a claim sends it

    async def scenario() -> None:
        await writer.run(Enqueue(backlog))
        async with running(worker):
            worker.adopt(backlog)
            await writer.run(Enqueue([retry]))
            worker.kick()
            try:
                await until(lambda: retry.idempotency_key in sent, "the other receiver's item")
            finally:
                release.set()
            await until(lambda: len(sent) == 21, "the backlog")

    asyncio.run(scenario())
    assert sent.index(retry.idempotency_key) == 0
    assert statuses(engine, [retry, *backlog]) == [DeliveryStatus.SENT] * 21
