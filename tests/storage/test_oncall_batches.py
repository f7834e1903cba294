"""The on-call engine works due rows in batches (SQLite and PostgreSQL): one statement
takes a batch, notifications go before the steps due earlier (but not before an earlier
wake-up row of their own group), rows of one group in one batch see each other's
changes, a step's page goes out in the step's own transaction, a group whose handling
fails is put back for later without holding up the others, and the batch grows while
rows are backed up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from sqlalchemy import text

from tests.storage.test_alert_store import Clock
from tests.storage.test_delivery import running, until
from tests.storage.test_oncall_replicas import CONFIG, T0, fired, pages, runtime
from tocsin.alerts.matchers import parse_matchers
from tocsin.alerts.model import PostedAlert
from tocsin.alerts.silences import Silence
from tocsin.core import oncall_ops
from tocsin.core.oncall_ops import Observation, Observe
from tocsin.engine import oncall as oncall_engine
from tocsin.engine.delivery import DeliveryWorker
from tocsin.notify.outbox import DeliveryStatus, OutboxItem
from tocsin.notify.outcome import Outcome
from tocsin.notify.template_data import template_data
from tocsin.oncall.lifecycle import DueKind, LifecycleDue, Via
from tocsin.runtime import Runtime
from tocsin.store import oncall_rows, outbox_rows
from tocsin.store.oncall_rows import DueRow
from tocsin.timeutil import to_micros

M = timedelta(minutes=1)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def rt(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[Runtime]:
    found = runtime(db_url, tmp_path, clock)
    yield found
    found.close()


def open_groups(rt: Runtime, *names: str) -> None:
    seen = [Observation(g, "route", f"{{}}:{g}", "pager", "ladder", {}, ["fp"]) for g in names]
    rt.writer.run_sync(Observe(seen, rt.clock(), rt.oncall))


def step(rt: Runtime, limit: int = oncall_engine.BATCH) -> None:
    asyncio.run(rt.oncall.step(limit))


def pending(rt: Runtime, group: str) -> list[DueRow]:
    with rt.engine.connect() as conn:
        return oncall_rows.pending_due(conn, group)


def row(id_: str, group: str, kind: str, minutes: float) -> DueRow:
    return DueRow(id_, group, kind, T0 + minutes * M, {"n": id_})


def test_notifications_are_taken_before_earlier_steps(rt: Runtime) -> None:
    with rt.engine.begin() as conn:
        oncall_rows.add_due(
            conn,
            [
                row("step-a", "a", "step", -10),
                row("notify-b", "b", "notify", -1),
                row("wake-c", "c", "lifecycle", -5),
                row("notify-c", "c", "notify", -2),  # behind its group's wake-up row
                row("notify-d", "d", "notify", 5),  # not due yet
            ],
        )
    with rt.engine.begin() as conn:
        first = oncall_rows.take_due(conn, T0, 2)
        rest = oncall_rows.take_due(conn, T0, 10)
        after = oncall_rows.take_due(conn, T0, 10)
    assert [r.id for r in first] == ["notify-b", "step-a"]
    assert [r.id for r in rest] == ["wake-c", "notify-c"]
    assert after == []
    assert [r.id for r in pending(rt, "d")] == ["notify-d"]


def test_a_rolled_back_take_leaves_the_rows_pending(rt: Runtime) -> None:
    with rt.engine.begin() as conn:
        oncall_rows.add_due(conn, [row("step-a", "a", "step", -1)])
    with rt.engine.connect() as conn, conn.begin() as txn:
        assert [r.id for r in oncall_rows.take_due(conn, T0, 10)] == ["step-a"]
        txn.rollback()
    assert [r.id for r in pending(rt, "a")] == ["step-a"]


def test_rows_of_one_group_in_one_batch_see_each_other(rt: Runtime) -> None:
    open_groups(rt, "g1")
    (first,) = pending(rt, "g1")
    with rt.engine.begin() as conn:  # the same step row, delivered twice
        oncall_rows.add_due(conn, [DueRow("again", "g1", "step", first.due_at, first.payload)])
    step(rt)
    assert fired(rt, "g1") == ["step 1/3, round 1/1"]
    assert pages(rt) == ["person:alice"]
    assert [(r.kind, r.due_at) for r in pending(rt, "g1")] == [("step", T0 + 5 * M)]


def test_a_step_pages_in_its_own_transaction(rt: Runtime, clock: Clock) -> None:
    open_groups(rt, "g1", "g2")
    step(rt)
    assert pages(rt) == ["person:alice", "person:alice"]
    for group in ("g1", "g2"):
        assert [r.kind for r in pending(rt, group)] == ["step"]  # no notification left
    clock.now = T0 + 5 * M
    step(rt)
    assert pages(rt) == ["person:alice", "person:alice", "person:bob", "person:bob"]


# g1's step is its class's first (decided on its own), g2's is written from g1's
# outcome (oncall_ops._Class): either failing is put back alone
@pytest.mark.parametrize(("failing", "other"), [("g1", "g2"), ("g2", "g1")])
def test_a_failing_group_is_put_back_for_later(
    rt: Runtime, clock: Clock, monkeypatch: pytest.MonkeyPatch, failing: str, other: str
) -> None:
    open_groups(rt, "g1", "g2")
    real = rt.oncall.page_items

    def broken(row: Callable[[], oncall_rows.OncallGroupRow], *args: Any) -> Any:
        if row().group_id == failing:
            raise RuntimeError("no way to page")
        return real(row, *args)

    monkeypatch.setattr(rt.oncall, "page_items", broken)
    step(rt)
    assert pages(rt) == ["person:alice"]  # the other group's
    assert fired(rt, failing) == []
    assert fired(rt, other) == ["step 1/3, round 1/1"]
    # put off, it keeps its due time: the worker's health metrics count from it
    assert [(r.kind, r.due_at) for r in pending(rt, failing)] == [("step", T0)]
    with rt.engine.connect() as conn:  # its ladder did not move
        assert not oncall_rows.get_ladders(conn, [failing])[failing].fired
    monkeypatch.setattr(rt.oncall, "page_items", real)
    step(rt)
    assert fired(rt, failing) == []  # put back for a while, not retried at once
    clock.now = T0 + timedelta(seconds=31)
    with rt.engine.connect() as conn:
        assert oncall_rows.oldest_pending_due(conn) == T0  # overdue by 31 s
    step(rt)
    assert fired(rt, failing) == ["step 1/3, round 1/1"]
    assert pages(rt) == ["person:alice", "person:alice"]
    # three takes (both steps at T0, the retry at T0 + 31 s): the retry is late by 31 s
    text_ = generate_latest(rt.metrics.registry).decode()
    assert 'tocsin_oncall_due_lateness_seconds_count{kind="step"} 3.0' in text_
    assert 'tocsin_oncall_due_lateness_seconds_sum{kind="step"} 31.0' in text_


def test_a_step_whose_ladder_is_broken_fails_alone(rt: Runtime) -> None:
    """A ladder whose frozen policy is not stored (changed by hand, or by a bug) fails
    its step, which is put off on its own; the batch's other steps fire."""
    open_groups(rt, "g1", "g2", "g3")
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE oncall_groups SET esc_policy = 'gone' WHERE group_id = 'g2'"))
    step(rt)
    assert fired(rt, "g1") == fired(rt, "g3") == ["step 1/3, round 1/1"]
    assert fired(rt, "g2") == []
    assert [(r.kind, r.due_at) for r in pending(rt, "g2")] == [("step", T0)]
    with rt.engine.connect() as conn:
        lease = conn.execute(text("SELECT esc_lease FROM oncall_groups WHERE group_id = 'g2'"))
        assert lease.scalar() == to_micros(T0 + timedelta(seconds=30))


def test_a_malformed_stored_step_row_fails_alone(rt: Runtime) -> None:
    """A stored step row (as a replica older than migration 0013 writes) whose payload
    lacks its fields is put back on its own, with its group's awaited step; the other
    groups' steps fire."""
    open_groups(rt, "g1", "g2")
    with rt.engine.begin() as conn:
        oncall_rows.add_due(conn, [DueRow("bad", "g2", "step", T0, {})])
    step(rt)
    assert fired(rt, "g1") == ["step 1/3, round 1/1"]
    assert fired(rt, "g2") == []
    assert [(r.id, r.due_at) for r in pending(rt, "g2")] == [("bad", T0), ("ladder", T0)]
    with rt.engine.begin() as conn:  # both put off
        assert oncall_rows.take_due(conn, T0 + timedelta(seconds=29), 10) == []
        taken = oncall_rows.take_due(conn, T0 + timedelta(seconds=30), 10)
        assert [r.id for r in taken] == ["bad", "ladder"]


def test_a_group_whose_policy_is_missing_fails_alone_in_every_op(rt: Runtime, clock: Clock) -> None:
    """A group that cannot be read (its frozen policy is not stored) with a stored row
    due beside its step: the batch puts its rows off and the other groups' steps fire;
    a new flush of it is skipped and the others are observed; listed, it shows without
    its escalation; a person can still acknowledge it, which drops that escalation."""
    open_groups(rt, "g1", "g2")
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE oncall_groups SET esc_policy = 'gone' WHERE group_id = 'g2'"))
        escalation = oncall_rows.get_ladders(conn, ["g2"])["g2"].escalation_id
        assert escalation is not None
        wake = LifecycleDue(DueKind.SNOOZE_END, "g2", escalation, T0 - M)
        oncall_rows.add_due(conn, [DueRow("wake-g2", "g2", "lifecycle", T0 - M, wake.to_json())])
    step(rt)
    assert fired(rt, "g1") == ["step 1/3, round 1/1"]
    assert fired(rt, "g2") == []
    assert [(r.id, r.due_at) for r in pending(rt, "g2")] == [
        ("wake-g2", T0 - M),
        ("ladder", T0),
    ]
    open_groups(rt, "g2", "g3")
    assert [r.kind for r in pending(rt, "g3")] == ["step"]
    with rt.engine.connect() as conn:
        listed = {g.group_id: g.state for g in oncall_rows.list_groups(conn)}
    assert sorted(listed) == ["g1", "g2", "g3"]
    assert "escalation" not in listed["g2"]
    assert listed["g2"]["lifecycle"]["status"] == "firing"
    acked = rt.writer.run_sync(oncall_ops.HumanAction("g2", "ack", "bob", Via.API, T0, rt.oncall))
    assert acked["lifecycle"]["status"] == "acknowledged"
    assert [r.id for r in pending(rt, "g2")] == ["wake-g2"]  # no step awaited
    clock.now = T0 + M
    step(rt)  # its wake-up row is taken and does nothing; nothing fails
    assert pending(rt, "g2") == []
    assert fired(rt, "g2") == []


def rows_per_round(rt: Runtime, rounds: int) -> list[int]:
    """How many due rows the on-call engine took in each of ``rounds`` rounds."""
    taken = []
    for _ in range(rounds):
        before = rt.oncall.claimed
        asyncio.run(rt.oncall._round())
        taken.append(rt.oncall.claimed - before)
    return taken


def test_the_batch_grows_while_rows_are_backed_up(
    db_url: str, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oncall_engine, "BATCH", 2)
    monkeypatch.setattr(oncall_engine, "MAX_BATCH", 4)
    rt = runtime(db_url, tmp_path, clock)
    try:
        open_groups(rt, *(f"g{i}" for i in range(12)))
        # full rounds grow to the cap; a short one resets
        assert rows_per_round(rt, 5) == [2, 4, 4, 2, 0]
    finally:
        rt.close()


def test_a_batch_over_the_time_budget_does_not_grow(
    db_url: str, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oncall_engine, "BATCH", 2)
    monkeypatch.setattr(oncall_engine, "MAX_BATCH", 4)
    monkeypatch.setattr(oncall_engine, "BUDGET", 0.0)  # every transaction is too long
    rt = runtime(db_url, tmp_path, clock)
    try:
        open_groups(rt, *(f"g{i}" for i in range(5)))
        assert rows_per_round(rt, 4) == [2, 2, 1, 0]
    finally:
        rt.close()


def test_the_batch_size_follows_the_time_budget() -> None:
    budget = oncall_engine.BUDGET
    assert oncall_engine._next_batch(400, budget / 4) == 800  # quick: grows
    assert oncall_engine._next_batch(400, budget * 0.75) == 400  # near the budget: stays
    assert oncall_engine._next_batch(1000, budget * 2) == 500  # over: shrinks to fit
    assert oncall_engine._next_batch(400, budget * 100) == oncall_engine.BATCH
    assert oncall_engine._next_batch(oncall_engine.MAX_BATCH, 0.0) == oncall_engine.MAX_BATCH


@pytest.mark.parametrize(
    ("due_in", "expected"),
    [
        # nothing pending: poll again after a tick (another replica may add rows)
        (None, 0.2),
        # the soonest row ahead is due in 50 ms: wake then (and a hair after)
        (0.05, 0.05 + oncall_engine._TIMER_SLACK),
        # due in 5 ms: wait the shortest sleep, so that rows due one by one are
        # taken a few at a time
        (0.005, oncall_engine._MIN_SLEEP),
        # due later than a tick: the tick bounds the sleep
        (3600.0, 0.2),
    ],
)
def test_the_worker_sleeps_until_the_next_row_is_due(
    rt: Runtime, clock: Clock, due_in: float | None, expected: float
) -> None:
    rows = [row("now", "a", "lifecycle", -1)]  # taken by the round
    if due_in is not None:
        rows.append(DueRow("ahead", "b", "lifecycle", T0 + timedelta(seconds=due_in), {}))
        rows.append(DueRow("sooner-but-done", "c", "lifecycle", T0 + timedelta(seconds=0.01), {}))
    with rt.engine.begin() as conn:
        oncall_rows.add_due(conn, rows)
        conn.execute(text("UPDATE oncall_due SET done = true WHERE id = 'sooner-but-done'"))
    assert rt.oncall._tick == timedelta(milliseconds=200)
    asyncio.run(rt.oncall._round())
    assert rt.oncall.claimed == 1
    assert rt.oncall._sleep_seconds() == pytest.approx(expected)
    clock.now += timedelta(seconds=0.03)  # time passes while the loop is elsewhere
    if due_in == 0.05:
        assert rt.oncall._sleep_seconds() == pytest.approx(0.02 + oncall_engine._TIMER_SLACK)
    clock.now += timedelta(seconds=1)  # overslept: no negative sleep
    assert oncall_engine._MIN_SLEEP <= rt.oncall._sleep_seconds() <= 0.2


def test_a_failed_round_polls_after_a_tick(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    with rt.engine.begin() as conn:
        oncall_rows.add_due(conn, [DueRow("ahead", "b", "lifecycle", T0 + M, {})])
    asyncio.run(rt.oncall._round())
    assert rt.oncall._sleep_seconds() == pytest.approx(0.2)  # a minute ahead: a tick
    with rt.engine.begin() as conn:
        oncall_rows.add_due(conn, [DueRow("soon", "c", "lifecycle", T0 + M / 1000, {})])
    asyncio.run(rt.oncall._round())
    assert rt.oncall._sleep_seconds() == pytest.approx(0.06 + oncall_engine._TIMER_SLACK)

    def broken(*_: Any) -> Any:
        raise RuntimeError("database gone")

    monkeypatch.setattr(oncall_rows, "take_due", broken)
    with pytest.raises(RuntimeError):
        asyncio.run(rt.oncall._round())
    assert rt.oncall._sleep_seconds() == pytest.approx(0.2)  # not the stale "soon"


def test_the_lateness_of_taken_rows_reaches_metrics(rt: Runtime) -> None:
    """/metrics shows how late the worker took its rows, once their batch committed."""
    with rt.engine.begin() as conn:
        oncall_rows.add_due(
            conn,
            [
                DueRow("late", "a", "lifecycle", T0 - timedelta(seconds=2), {}),
                DueRow("prompt", "b", "lifecycle", T0 - timedelta(milliseconds=40), {}),
                DueRow("ahead", "c", "lifecycle", T0 + M, {}),  # not due: not taken
            ],
        )
    asyncio.run(rt.oncall._round())
    text_ = generate_latest(rt.metrics.registry).decode()
    name = "tocsin_oncall_due_lateness_seconds"
    assert f'{name}_count{{kind="lifecycle"}} 2.0' in text_
    assert f'{name}_bucket{{kind="lifecycle",le="0.05"}} 1.0' in text_
    assert f'{name}_bucket{{kind="lifecycle",le="2.5"}} 2.0' in text_


def test_a_step_without_delay_made_by_a_round_is_taken_after_the_shortest_sleep(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """A round that fires a step whose next step has no delay made a row due now: the
    worker looks again after the shortest sleep, not after a tick."""
    config = CONFIG.replace(
        "{delay: 5m, targets: [{person: bob}]}", "{delay: 0s, targets: [{person: bob}]}"
    )
    assert config != CONFIG
    rt = runtime(db_url, tmp_path, clock, config)
    try:
        open_groups(rt, "g")
        asyncio.run(rt.oncall._round())  # fires step 0; step 1 is due at once
        assert [r.kind for r in pending(rt, "g") if r.due_at == T0] == ["step"]
        assert rt.oncall._sleep_seconds() == pytest.approx(oncall_engine._MIN_SLEEP)
    finally:
        rt.close()


# --- steps taken from the ladders (migration 0013) ----------------------------------------


def test_a_step_that_does_nothing_is_not_taken_again(rt: Runtime, clock: Clock) -> None:
    """An acknowledged group's awaited step comes due: it is taken, pages nobody, and
    its ladder stops awaiting it, so the next rounds take nothing."""
    open_groups(rt, "g1")
    step(rt)  # the first step pages alice; the second waits 5 minutes
    rt.writer.run_sync(oncall_ops.HumanAction("g1", "ack", "alice", Via.API, clock(), rt.oncall))
    clock.now = T0 + 6 * M
    before = rt.oncall.claimed
    step(rt)
    assert rt.oncall.claimed == before + 1
    assert fired(rt, "g1") == ["step 1/3, round 1/1"]
    assert pending(rt, "g1") == []
    step(rt)
    assert rt.oncall.claimed == before + 1
    with rt.engine.connect() as conn:
        assert oncall_rows.get_ladders(conn, ["g1"])["g1"].next_due is None


def test_the_worker_sleeps_until_the_next_step_is_due(rt: Runtime, clock: Clock) -> None:
    open_groups(rt, "g1")
    asyncio.run(rt.oncall._round())  # the first step fires; the next is 5 minutes ahead
    with rt.engine.connect() as conn:
        assert oncall_rows.next_due_from(conn, T0) == T0 + 5 * M
        assert oncall_rows.oldest_pending_due(conn) == T0 + 5 * M
    clock.now = T0 + 5 * M - timedelta(seconds=0.05)
    assert rt.oncall._sleep_seconds() == pytest.approx(0.05 + oncall_engine._TIMER_SLACK)


def test_steps_and_rows_are_taken_in_due_order_up_to_one_time(rt: Runtime, clock: Clock) -> None:
    """A batch takes everything due up to one time, steps and stored rows alike: a row
    due before a step is not left behind it, nor a step behind a row."""
    open_groups(rt, "g1", "g2")  # their first steps: due at T0
    with rt.engine.begin() as conn:
        oncall_rows.add_due(
            conn,
            [row("early", "a", "lifecycle", -1), row("late", "b", "lifecycle", 1)],
        )
    clock.now = T0 + 2 * M
    with rt.engine.begin() as conn:
        first = oncall_rows.take_due(conn, clock(), 2)
        txn_rest = oncall_rows.take_due(conn, clock(), 10)
    assert [r.id for r in first] == ["early", "ladder", "ladder"]  # two steps of one time
    assert {r.group_id for r in first[1:]} == {"g1", "g2"}
    # the ladders were read, not moved: in the same transaction they are still due
    assert sorted(r.id for r in txn_rest) == ["ladder", "ladder", "late"]


def break_policy(rt: Runtime, group: str) -> None:
    with rt.engine.begin() as conn:
        sql = "UPDATE oncall_groups SET esc_policy = 'gone' WHERE group_id = :g"
        conn.execute(text(sql), {"g": group})


def observe(rt: Runtime, group: str, firing: list[str]) -> None:
    seen = [Observation(group, "route", f"{{}}:{group}", "pager", "ladder", {}, firing)]
    rt.writer.run_sync(Observe(seen, rt.clock(), rt.oncall))


def status(rt: Runtime, group: str) -> str:
    with rt.engine.connect() as conn:
        found = oncall_rows.get_group(conn, group)
    assert found is not None
    return str(found.state["lifecycle"]["status"])


def test_a_group_whose_policy_is_missing_still_resolves_and_opens_again(
    rt: Runtime, clock: Clock
) -> None:
    """Its alerts resolving resolve it (dropping the unreadable escalation); firing
    again starts a new escalation with the configured policy, which pages."""
    open_groups(rt, "g1")
    break_policy(rt, "g1")
    observe(rt, "g1", ["fp"])  # still firing: left as it is
    assert status(rt, "g1") == "firing"
    observe(rt, "g1", [])
    assert status(rt, "g1") == "resolved"
    clock.now = T0 + 60 * M
    observe(rt, "g1", ["fp2"])
    step(rt)
    assert status(rt, "g1") == "firing"
    assert pages(rt) == ["person:alice"]


def test_a_resolved_group_whose_old_policy_is_missing_pages_when_it_fires_again(
    rt: Runtime, clock: Clock
) -> None:
    open_groups(rt, "g1")
    step(rt)
    observe(rt, "g1", [])
    break_policy(rt, "g1")  # the resolved escalation's policy is gone
    clock.now = T0 + 60 * M
    observe(rt, "g1", ["fp2"])
    step(rt)
    assert status(rt, "g1") == "firing"
    assert pages(rt) == ["person:alice", "person:alice"]


def test_a_group_whose_policy_is_missing_cannot_be_snoozed(rt: Runtime) -> None:
    """Snoozed, it would never page again (nothing to resume): refused, with why."""
    open_groups(rt, "g1")
    break_policy(rt, "g1")
    snooze = oncall_ops.HumanAction("g1", "snooze", "bob", Via.API, T0, rt.oncall, duration=M)
    with pytest.raises(oncall_ops.OncallRefused, match="acknowledge or resolve it"):
        rt.writer.run_sync(snooze)
    assert status(rt, "g1") == "firing"


def test_a_group_resolved_by_hand_reopens_only_for_a_new_alert(rt: Runtime, clock: Clock) -> None:
    """Alertmanager re-sends the alerts still firing at every flush; those the
    responder resolved the group with do not page again, a new one does."""
    observe(rt, "g1", ["a", "b"])
    step(rt)
    resolve = oncall_ops.HumanAction("g1", "resolve", "bob", Via.API, T0, rt.oncall)
    rt.writer.run_sync(resolve)
    clock.now = T0 + 5 * M
    observe(rt, "g1", ["a", "b"])  # the next flush: the same alerts
    step(rt)
    assert status(rt, "g1") == "resolved"
    # a is silenced for a while: silenced is not resolved, so a stays held
    muted = [Observation("g1", "route", "{}:g1", "pager", "ladder", {}, ["b"], muted=["a"])]
    rt.writer.run_sync(Observe(muted, rt.clock(), rt.oncall))
    observe(rt, "g1", ["a", "b"])  # the silence ended
    step(rt)
    assert status(rt, "g1") == "resolved"
    observe(rt, "g1", ["a"])  # b resolved
    clock.now = T0 + 10 * M
    observe(rt, "g1", ["a", "b"])  # b fires again: new
    step(rt)
    assert status(rt, "g1") == "firing"
    assert pages(rt) == ["person:alice", "person:alice"]


def test_a_renamed_receiver_shows_on_the_open_group(rt: Runtime, clock: Clock) -> None:
    """A reload renamed the route's receiver: the group (same route and key, same id)
    keeps its escalation and shows the new name."""
    observe(rt, "g1", ["a"])
    seen = [Observation("g1", "route", "{}:g1", "pager-2", "ladder", {}, ["a"])]
    clock.now = T0 + 5 * M
    rt.writer.run_sync(Observe(seen, rt.clock(), rt.oncall))
    with rt.engine.connect() as conn:
        found = oncall_rows.get_group(conn, "g1")
    assert found is not None
    assert (found.receiver, found.state["lifecycle"]["escalation_id"]) == ("pager-2", "g1#1")


def test_a_route_a_reload_moved_keeps_its_groups(rt: Runtime, clock: Clock) -> None:
    """A reload added a route above the group's: the route's id (its position among its
    siblings) changed, and with it the id computed for the group; its key and receiver
    did not. The group keeps its escalation and acknowledgement, and nobody is paged
    again; a group of the same key for another receiver is a group of its own."""
    observe(rt, "g1", ["a"])
    step(rt)
    rt.writer.run_sync(oncall_ops.HumanAction("g1", "ack", "bob", Via.API, clock(), rt.oncall))
    clock.now = T0 + 5 * M
    moved = Observation("g1-moved", "route/1", "{}:g1", "pager", "ladder", {}, ["a"])
    other = Observation("g1-other", "route/2", "{}:g1", "pager-2", "ladder", {}, ["a"])
    rt.writer.run_sync(Observe([moved, other], rt.clock(), rt.oncall))
    step(rt)
    with rt.engine.connect() as conn:
        assert oncall_rows.get_group(conn, "g1-moved") is None
        assert oncall_rows.groups_of_keys(conn, ["{}:g1"]) == {
            "{}:g1": [("g1-other", "pager-2"), ("g1", "pager")]
        }
    assert (status(rt, "g1"), status(rt, "g1-other")) == ("acknowledged", "firing")
    assert pages(rt) == ["person:alice", "person:alice"]  # g1's first page, g1-other's
    gone = Observation("g1-moved", "route/1", "{}:g1", "pager", "ladder", {}, [])
    rt.writer.run_sync(Observe([gone], rt.clock(), rt.oncall))  # resolved, on its new route
    assert status(rt, "g1") == "resolved"


def test_sibling_routes_a_reload_shifted_keep_their_own_groups(rt: Runtime, clock: Clock) -> None:
    """Two sibling routes with the same matchers (the ``continue: true`` fan-out) share
    a group key; a route added above them shifts each onto the other's id. Each keeps
    its own group, by its receiver (none is renamed, none merged)."""
    for group, receiver in (("g1", "pager"), ("g2", "pager-2")):
        seen = [Observation(group, "route", "{}:k", receiver, "ladder", {}, ["a"])]
        rt.writer.run_sync(Observe(seen, rt.clock(), rt.oncall))
    step(rt)
    rt.writer.run_sync(oncall_ops.HumanAction("g1", "ack", "bob", Via.API, clock(), rt.oncall))
    clock.now = T0 + 5 * M
    shifted = [  # pager-2 added first: pager-2 now computes g1's id, pager g2's
        Observation("g1", "route/0", "{}:k", "pager-2", "ladder", {}, ["a"]),
        Observation("g2", "route/1", "{}:k", "pager", "ladder", {}, ["a"]),
        Observation("g3", "route/2", "{}:k", "pager-2", "ladder", {}, ["a"]),
    ]
    rt.writer.run_sync(Observe(shifted, rt.clock(), rt.oncall))
    with rt.engine.connect() as conn:
        assert sorted(oncall_rows.groups_of_keys(conn, ["{}:k"])["{}:k"]) == [
            ("g1", "pager"),
            ("g2", "pager-2"),
        ]
    assert (status(rt, "g1"), status(rt, "g2")) == ("acknowledged", "firing")


HOOKED = CONFIG.replace(
    "      - {delay: 0s, targets: [{person: alice}]}",
    "      - {delay: 0s, targets: [{person: alice}, {receiver: hook}]}",
).replace(
    "    escalation_policy: ladder\n",
    "    escalation_policy: ladder\n  - name: hook\n"
    "    webhook_configs: [{url: 'http://127.0.0.1:9/hook'}]\n",
)


def told(rt: Runtime) -> list[tuple[str, str]]:
    """The outbox items: (idempotency key, the notification's status)."""
    with rt.engine.connect() as conn:
        items = outbox_rows.recent(conn, 50)
    return sorted((i.idempotency_key, i.notification.status) for i in items)


def test_a_resolution_tells_whoever_the_escalation_paged(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """Resolved by its alerts, a group tells the receiver and the people its steps
    paged (on the channel each was paged by), once each, and nobody a step did not
    reach; resolved by hand while its alert fired, it tells when that alert
    resolves."""
    rt = runtime(db_url, tmp_path, clock, HOOKED)
    try:
        for name in ("Auto", "ByHand"):
            posted = PostedAlert({"alertname": name}, {}, T0, T0 + 60 * M, "")
            (stored,) = asyncio.run(rt.store.put_alerts([posted]))
            fp = stored.fingerprint
            seen = [Observation(name, "route", f"{{}}:{name}", "pager", "ladder", {}, [fp])]
            rt.writer.run_sync(Observe(seen, rt.clock(), rt.oncall))
        step(rt)
        clock.now = T0 + 5 * M
        step(rt)  # bob, the second step
        assert [status for _, status in told(rt)] == ["firing"] * 6
        by_hand = oncall_ops.HumanAction("ByHand", "resolve", "bob", Via.API, clock(), rt.oncall)
        rt.writer.run_sync(by_hand)
        clock.now = T0 + 10 * M
        for name in ("Auto", "ByHand"):  # both alerts resolve
            ended = PostedAlert({"alertname": name}, {}, T0, T0 + 5 * M, "")
            asyncio.run(rt.store.put_alerts([ended]))
            seen = [Observation(name, "route", f"{{}}:{name}", "pager", "ladder", {}, [])]
            rt.writer.run_sync(Observe(seen, rt.clock(), rt.oncall))
            rt.writer.run_sync(Observe(seen, rt.clock(), rt.oncall))  # a later flush: nothing
        resolved = [key for key, status in told(rt) if status == "resolved"]
        assert resolved == [
            f"{name}#1/resolved/{target}"
            for name in ("Auto", "ByHand")
            for target in ("hook/webhook[0]", "person:alice/email[0]", "person:bob/email[0]")
        ]
        with rt.engine.connect() as conn:  # told: where the pages went is forgotten
            assert [oncall_rows.paged(conn, f"{n}#1") for n in ("Auto", "ByHand")] == [[], []]
    finally:
        rt.close()


def test_an_acknowledgement_tells_those_paged_but_its_author_and_plain_webhooks(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """bob takes a group his step paged: alice (paged first) is told that bob is on
    it, with the status templates see as "acknowledged"; bob himself is not, nor the
    webhook receiver the first step paged (Alertmanager's payload has no such status).
    Acknowledged again after an unacknowledgement, she is told again, apart."""
    rt = runtime(db_url, tmp_path, clock, HOOKED)
    try:
        posted = PostedAlert({"alertname": "Disk"}, {}, T0, T0 + 60 * M, "")
        (stored,) = asyncio.run(rt.store.put_alerts([posted]))
        seen = [
            Observation("Disk", "route", "{}:Disk", "pager", "ladder", {}, [stored.fingerprint])
        ]
        rt.writer.run_sync(Observe(seen, rt.clock(), rt.oncall))
        step(rt)
        clock.now = T0 + 5 * M
        step(rt)  # bob, the second step
        for minute, action in ((6, "ack"), (7, "unack"), (8, "ack")):
            clock.now = T0 + minute * M
            op = oncall_ops.HumanAction("Disk", action, "bob", Via.API, clock(), rt.oncall)
            rt.writer.run_sync(op)
        with rt.engine.connect() as conn:
            items = outbox_rows.recent(conn, 50)
        notices = sorted(
            (i.idempotency_key, i.integration, i.notification.acknowledged_by)
            for i in items
            if i.notification.acknowledged_by
        )
        assert notices == [
            (
                f"Disk#1/acknowledged/{to_micros(T0 + m * M)}/person:alice/email[0]",
                "email[0]",
                "bob",
            )
            for m in (6, 8)
        ]
        notice = next(i.notification for i in items if i.notification.acknowledged_by)
        assert template_data(notice).Status == "acknowledged"
        assert [a.fingerprint for a in notice.alerts] == [stored.fingerprint]
    finally:
        rt.close()


def test_an_acknowledgement_is_dated_when_it_commits(rt: Runtime, clock: Clock) -> None:
    """Asked for at 02:06 but applied at 02:07 (it waited on the revision lock while
    another replica's step paged bob): its audit line says 02:07, after that page,
    not before it."""
    observe(rt, "g1", ["a"])
    asked = T0 + 6 * M
    clock.now = T0 + 7 * M  # the clock inside the transaction
    op = oncall_ops.HumanAction("g1", "ack", "bob", Via.API, asked, rt.oncall, clock=clock)
    rt.writer.run_sync(op)
    with rt.engine.connect() as conn:
        audit = oncall_rows.audit_of(conn, "g1")
    acked = [a for a in audit if a["action"] == "acknowledged"]
    assert [a["at"] for a in acked] == [T0 + 7 * M]


def test_a_page_whose_group_was_taken_since_it_was_decided_is_not_sent(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """bob's page was decided (step 2), then alice acknowledged before it (or her
    own, still in the outbox) went, on another replica a moment later: the pages are
    not sent, and the log says why; the notice of her acknowledgement goes to bob."""
    rt = runtime(db_url, tmp_path, clock)
    try:
        observe(rt, "g1", ["a"])
        step(rt)  # alice
        clock.now = T0 + 5 * M
        step(rt)  # bob's page, decided, in the outbox
        clock.now = T0 + 5 * M + timedelta(seconds=1)
        ack = oncall_ops.HumanAction("g1", "ack", "alice", Via.API, clock(), rt.oncall)
        rt.writer.run_sync(ack)
        sent: list[str] = []

        async def send(item: OutboxItem) -> Outcome:
            sent.append(item.idempotency_key)
            return Outcome.sent()

        def outbox() -> dict[str, OutboxItem]:
            with rt.engine.connect() as conn:
                return {i.idempotency_key: i for i in outbox_rows.recent(conn, 10)}

        def done() -> bool:
            return all(i.status is not DeliveryStatus.PENDING for i in outbox().values())

        async def go() -> None:
            async with running(DeliveryWorker(rt.writer, clock, send, moot=rt.page_moot)):
                await until(done, "every notification sent or not")

        asyncio.run(go())
        after = outbox()
        assert sent == [k for k in after if "/acknowledged/" in k]  # bob's notice
        pages = {k: i for k, i in after.items() if "/acknowledged/" not in k}
        assert sorted(i.receiver for i in pages.values()) == ["person:alice", "person:bob"]
        for page in pages.values():
            assert page.status is DeliveryStatus.SUPERSEDED
            assert page.last_error == "not sent: its group was acknowledged before it went"
    finally:
        rt.close()


@pytest.mark.parametrize("opened", [1, 2], ids=["one group", "two groups (a class)"])
def test_nobody_is_woken_for_alerts_that_have_resolved(
    rt: Runtime, clock: Clock, opened: int
) -> None:
    """Between an alert's resolution and the group's next flush (its group_interval),
    the escalation's next step is withheld, not sent with "[RESOLVED]" and buttons to
    acknowledge; the trail says why. (Two groups whose steps fire together take the
    batch path, one decision for the class.)"""
    names = [f"G{n}" for n in range(opened)]
    for name in names:
        posted = PostedAlert({"alertname": name}, {}, T0, T0 + 60 * M, "")
        (stored,) = asyncio.run(rt.store.put_alerts([posted]))
        seen = [
            Observation(name, "route", f"{{}}:{name}", "pager", "ladder", {}, [stored.fingerprint])
        ]
        rt.writer.run_sync(Observe(seen, rt.clock(), rt.oncall))
    step(rt)
    assert pages(rt) == ["person:alice"] * opened
    clock.now = T0 + 1 * M
    for name in names:  # resolved, as Prometheus sends it; the group flushes later
        asyncio.run(rt.store.put_alerts([PostedAlert({"alertname": name}, {}, T0, T0 + M, "")]))
    clock.now = T0 + 5 * M
    step(rt)
    assert pages(rt) == ["person:alice"] * opened  # bob is not woken
    for name in names:
        with rt.engine.connect() as conn:
            audit = oncall_rows.audit_of(conn, name)
        assert (audit[-1]["action"], audit[-1]["comment"]) == (
            "not paged",
            "bob: every alert of the group has resolved (the group resolves at its next flush)",
        )


def test_groups_are_listed_those_that_need_someone_first(rt: Runtime, clock: Clock) -> None:
    """Firing, acknowledged, snoozed, resolved; the latest change first within each:
    a firing group is at the top however many resolved groups changed after it."""
    for minute, group in enumerate(["firing-old", "acked", "firing-new", "gone", "dozing"]):
        clock.now = T0 + minute * M
        observe(rt, group, ["a"])
    clock.now = T0 + 10 * M
    for action, group, duration in [
        ("ack", "acked", None),
        ("resolve", "gone", None),
        ("snooze", "dozing", 30 * M),
    ]:
        op = oncall_ops.HumanAction(
            group, action, "bob", Via.API, clock(), rt.oncall, duration=duration
        )
        rt.writer.run_sync(op)
    with rt.engine.connect() as conn:
        listed = [g.group_id for g in oncall_rows.list_groups(conn)]
        top = [g.group_id for g in oncall_rows.list_groups(conn, limit=1)]
    assert listed == ["firing-new", "firing-old", "acked", "dozing", "gone"]
    assert top == ["firing-new"]


def test_a_silenced_group_waits_and_resumes_as_the_same_episode(rt: Runtime, clock: Clock) -> None:
    """Its alert silenced before anyone answered, a group is not resolved (the trail
    must not say the problem is gone): its escalation waits, nobody is paged; when
    the silence ends and the alert still fires, the same escalation resumes at its
    current step (not a new one from the first step), and the trail says so."""
    observe(rt, "g1", ["a"])
    step(rt)  # alice, the first step
    clock.now = T0 + 2 * M
    silenced = [Observation("g1", "route", "{}:g1", "pager", "ladder", {}, [], muted=["a"])]
    rt.writer.run_sync(Observe(silenced, rt.clock(), rt.oncall))
    assert status(rt, "g1") == "snoozed"
    clock.now = T0 + 20 * M  # bob's step came due meanwhile: nobody is paged
    step(rt)
    assert pages(rt) == ["person:alice"]
    rt.writer.run_sync(Observe(silenced, rt.clock(), rt.oncall))  # a later flush: the same
    clock.now = T0 + 30 * M
    observe(rt, "g1", ["a"])  # the silence ended; the alert fires
    step(rt)
    assert status(rt, "g1") == "firing"
    assert pages(rt) == ["person:alice", "person:alice"]  # the current step, again
    with rt.engine.connect() as conn:
        audit = oncall_rows.audit_of(conn, "g1")
    assert [(a["action"], a["comment"]) for a in audit] == [
        ("opened", "alerts firing"),
        ("escalation started", "policy 'ladder': 3 steps, 1 round"),
        ("escalated", "step 1/3, round 1/1: alice"),
        (
            "muted",
            "every alert still firing is silenced or inhibited; "
            "escalation waits until one fires unmuted",
        ),
        ("unmuted", "an alert fires unsilenced again; escalation resumes at the current step"),
        ("re-notified", "step 1/3, round 1/1: alice"),  # not re-opened, not step 2 skipped
    ]


def test_a_flush_that_changes_nothing_leaves_the_group_row_as_it_was(
    rt: Runtime, clock: Clock
) -> None:
    """A group is observed at every flush of its alerts; when they are the same, its
    row is not written again, so its changed time says when it last changed."""

    def updated(group: str) -> object:
        with rt.engine.connect() as conn:
            found = oncall_rows.get_group(conn, group)
        assert found is not None
        return found.updated_at

    observe(rt, "g1", ["fp"])
    opened = updated("g1")
    clock.now = T0 + 5 * M
    observe(rt, "g1", ["fp"])  # the same alert, a re-flush
    assert updated("g1") == opened
    clock.now = T0 + 6 * M
    observe(rt, "g1", ["fp", "fp2"])  # one more alert: changed
    assert updated("g1") == T0 + 6 * M


def test_where_pages_went_is_forgotten_once_no_resolution_can_tell_it(
    rt: Runtime, clock: Clock
) -> None:
    """The garbage collector's part: rows of an escalation that is no group's current
    one, or whose group resolved before the cutoff, go; those of an open group's
    escalation, or of one resolved since the cutoff (its held alerts may yet end), stay."""
    open_groups(rt, "open", "done")
    step(rt)
    rt.writer.run_sync(
        oncall_ops.HumanAction("done", "resolve", "bob", Via.API, clock(), rt.oncall)
    )
    with rt.engine.begin() as conn:
        oncall_rows.add_paged(
            conn, {("open#0", "hook", "webhook[0]"), ("gone#1", "hook", "webhook[0]")}
        )

    def kept(cutoff: datetime) -> list[str]:
        with rt.engine.begin() as conn:
            oncall_rows.forget_paged_before(conn, cutoff)
            rows = conn.execute(text("SELECT DISTINCT escalation_id FROM oncall_paged"))
            return sorted(r[0] for r in rows)

    assert kept(T0 - M) == ["done#1", "open#1"]  # resolved since the cutoff: kept
    assert kept(T0 + M) == ["open#1"]


def test_nobody_is_paged_about_alerts_silenced_during_a_snooze(rt: Runtime, clock: Clock) -> None:
    """Snoozed, then its alert silenced: when the snooze ends (before the group's next
    flush says it is muted) the current step is withheld, not paged, and the trail
    says why."""
    posted = PostedAlert({"alertname": "Quiet"}, {}, T0, T0 + 60 * M, "")
    (stored,) = asyncio.run(rt.store.put_alerts([posted]))
    seen = [Observation("Q", "route", "{}:Q", "pager", "ladder", {}, [stored.fingerprint])]
    rt.writer.run_sync(Observe(seen, rt.clock(), rt.oncall))
    step(rt)
    assert pages(rt) == ["person:alice"]
    snooze = oncall_ops.HumanAction(
        "Q", "snooze", "bob", Via.API, clock(), rt.oncall, duration=10 * M
    )
    rt.writer.run_sync(snooze)
    matchers = tuple(parse_matchers('alertname="Quiet"'))
    quiet = Silence("", matchers, clock(), clock() + 120 * M, clock(), "bob", "db work")
    asyncio.run(rt.store.set_silence(quiet))
    clock.now = T0 + 11 * M
    step(rt)
    assert pages(rt) == ["person:alice"]  # not again
    with rt.engine.connect() as conn:
        audit = oncall_rows.audit_of(conn, "Q")
    assert (audit[-1]["action"], audit[-1]["comment"]) == (
        "not paged",
        "alice: every alert of the group firing is silenced",
    )
