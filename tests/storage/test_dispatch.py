"""The dispatcher over a real database (SQLite and PostgreSQL), stepped with a fake
clock: groups flush at group_wait then group_interval, decisions land in the outbox
with the notification log, a restart keeps the group's rhythm, and two replicas
sharing the database flush a group once, not twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.storage.test_alert_store import T0, Clock, posted
from tocsin.alerts.matchers import parse_matchers
from tocsin.alerts.model import Alert, PostedAlert
from tocsin.alerts.silences import Silence
from tocsin.config import parse_config
from tocsin.core.alert_store import AlertStore, StoreSettings
from tocsin.core.dispatch_ops import FlushMany
from tocsin.core.policy import ConfigPolicy
from tocsin.engine import dispatch
from tocsin.engine.dispatch import Dispatcher, DispatchSettings
from tocsin.engine.loop import IDLE
from tocsin.store import outbox_rows
from tocsin.store.db import open_database
from tocsin.store.group_rows import GroupTimer, load_timers, logs_changed_since
from tocsin.store.settings import DatabaseSettings, Durability
from tocsin.store.tables import nflog
from tocsin.store.writer import GroupCommitter

CONFIG = """\
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: pager
    webhook_configs:
      - url: http://127.0.0.1:1/hook
"""


class Node:
    """One Tocsin process's engine parts on a shared database."""

    def __init__(
        self, url: str, clock: Clock, config: str = CONFIG, *, sees_replicas: bool = True
    ) -> None:
        self.engine = open_database(DatabaseSettings(url, Durability.NORMAL))
        self.writer = GroupCommitter(self.engine)
        self.policy = ConfigPolicy(parse_config(config))
        self.store = AlertStore(self.engine, self.writer, clock, StoreSettings, lambda: self.policy)
        self.store.load()
        self.dispatcher = Dispatcher(
            self.writer,
            self._timers,
            clock,
            self.store,
            lambda: self.policy,
            lambda items: None,
            DispatchSettings(),
            changed_logs=self._changed if sees_replicas else None,
        )
        self.store.alerts.listeners.append(self.dispatcher.on_alerts)

    def _changed(self, rev: int, own: Sequence[int]) -> list[tuple[str, int]]:
        with self.engine.connect() as conn:
            return logs_changed_since(conn, rev, own)

    def _timers(self) -> list[GroupTimer]:
        with self.engine.connect() as conn:
            return load_timers(conn)

    def step(self) -> None:
        self.store.refresh()
        asyncio.run(self.dispatcher.step())

    def outbox(self) -> list[tuple[str, list[str]]]:
        with self.engine.connect() as conn:
            items = outbox_rows.recent(conn, 100)
        return sorted(
            (i.created_at.isoformat(), sorted(a.name for a in i.notification.alerts)) for i in items
        )

    def close(self) -> None:
        self.writer.close()
        self.engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def node(db_url: str, clock: Clock) -> Iterator[Node]:
    n = Node(db_url, clock)
    yield n
    n.close()


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def test_group_wait_then_group_interval(node: Node, clock: Clock) -> None:
    asyncio.run(node.store.put_alerts([posted("A", instance="1")]))
    node.step()
    assert node.outbox() == []  # group_wait has not passed
    clock.now = T0 + timedelta(seconds=10)
    asyncio.run(node.store.put_alerts([posted("A", instance="2")]))
    clock.now = T0 + timedelta(seconds=30)
    node.step()
    assert node.outbox() == [(at(30), ["A", "A"])]  # both in the first notification
    clock.now = T0 + timedelta(seconds=60)
    asyncio.run(node.store.put_alerts([posted("A", instance="3")]))
    node.step()
    assert len(node.outbox()) == 1  # a new alert waits for group_interval
    clock.now = T0 + timedelta(seconds=330)
    node.step()
    assert node.outbox()[-1] == (at(330), ["A", "A", "A"])
    with node.engine.connect() as conn:
        (entry,) = conn.execute(select(nflog.c.receiver, nflog.c.integration)).all()
    assert tuple(entry) == ("pager", "webhook[0]")


def test_a_storm_s_groups_flush_in_chunks_each_once(
    db_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Groups due together are flushed a chunk per transaction (every write holds the
    revision lock all replicas wait on): each is notified once, by one replica of
    two, whatever the chunk it fell in."""
    monkeypatch.setattr(dispatch, "FLUSH_CHUNK", 3)
    a, b = Node(db_url, clock), Node(db_url, clock)
    try:
        names = [f"A{n}" for n in range(8)]
        asyncio.run(a.store.put_alerts([posted(name) for name in names]))
        flushes: list[int] = []
        run = a.writer.run

        async def counted(op: Any, linger: float = 0.0) -> Any:
            if isinstance(op, FlushMany):
                flushes.append(len(op.flushes))
            return await run(op, linger)

        monkeypatch.setattr(a.writer, "run", counted)
        a.step()
        b.step()
        clock.now = T0 + timedelta(seconds=30)
        a.step()
        assert flushes == [3, 3, 2]  # 8 groups: three transactions
        b.step()
        notified = sorted(n for _, alerts in a.outbox() for n in alerts)
        assert notified == names
    finally:
        a.close()
        b.close()


def test_a_restart_keeps_the_groups_rhythm(db_url: str, clock: Clock) -> None:
    first = Node(db_url, clock)
    firing = PostedAlert({"alertname": "A"}, {}, T0, T0 + timedelta(hours=1), "")
    asyncio.run(first.store.put_alerts([firing]))
    clock.now = T0 + timedelta(seconds=30)
    first.step()
    assert len(first.outbox()) == 1
    first.close()
    clock.now = T0 + timedelta(seconds=40)
    again = Node(db_url, clock)
    try:
        again.step()  # rebuilt from the alerts, with the stored timer: no new group_wait
        assert len(again.outbox()) == 1
        timers = again._timers()
        assert [t.next_flush_at for t in timers] == [T0 + timedelta(seconds=330)]
        assert timers[0].has_flushed
        clock.now = T0 + timedelta(seconds=330)
        again.step()  # unchanged within repeat_interval: nothing new is sent
        assert len(again.outbox()) == 1
    finally:
        again.close()


def test_two_replicas_flush_a_group_once(db_url: str, clock: Clock) -> None:
    a, b = Node(db_url, clock), Node(db_url, clock)
    try:
        asyncio.run(a.store.put_alerts([posted("A")]))
        a.step()
        b.step()
        clock.now = T0 + timedelta(seconds=30)
        a.step()
        b.step()
        assert len(a.outbox()) == 1
        clock.now = T0 + timedelta(seconds=60)
        asyncio.run(b.store.put_alerts([posted("A", instance="new")]))
        clock.now = T0 + timedelta(seconds=330)
        b.step()
        a.step()
        notes = a.outbox()
        assert len(notes) == 2
        assert notes[-1] == (at(330), ["A", "A"])
    finally:
        a.close()
        b.close()


def test_a_replica_behind_the_database_does_not_flush_what_it_missed(
    db_url: str, clock: Clock
) -> None:
    """A replica that could not read the database for a while holds an alert whose end
    has passed in its memory, though another replica kept it firing: its flush, once
    the transaction has caught up, no longer stands and is not made (no "resolved"
    sent, then "firing" again); decided again from what it now knows, the group sends
    nothing new."""
    a, b = Node(db_url, clock), Node(db_url, clock)
    try:
        firing = PostedAlert({"alertname": "A"}, {}, T0, T0 + timedelta(minutes=10), "")
        asyncio.run(a.store.put_alerts([firing]))
        b.step()
        clock.now = T0 + timedelta(seconds=30)
        b.step()
        assert [status for status, _ in statuses(b)] == ["firing"]
        # b is cut off; Prometheus keeps re-sending the alert to a
        clock.now = T0 + timedelta(minutes=9)
        again = PostedAlert({"alertname": "A"}, {}, T0, T0 + timedelta(minutes=20), "")
        asyncio.run(a.store.put_alerts([again]))
        clock.now = T0 + timedelta(minutes=11)  # past the end b knows of
        asyncio.run(b.dispatcher.step())  # b back: its flush's transaction catches up
        clock.now += timedelta(seconds=1)
        asyncio.run(b.dispatcher.step())
        assert [status for status, _ in statuses(b)] == ["firing"]
    finally:
        a.close()
        b.close()


def statuses(node: Node) -> list[tuple[str, str]]:
    """Each notification's status and time, oldest first."""
    with node.engine.connect() as conn:
        items = outbox_rows.recent(conn, 100)
    return [(i.notification.status, i.created_at.isoformat()) for i in reversed(items)]


def test_a_group_flushes_again_at_group_interval(db_url: str, clock: Clock) -> None:
    """The flush's lease on the group's timer ends with the flush: with a group_interval
    shorter than the lease, the next flush is not held up until the lease runs out."""
    fast = Node(db_url, clock, CONFIG.replace("group_interval: 5m", "group_interval: 10s"))
    try:
        asyncio.run(fast.store.put_alerts([posted("A", instance="1")]))
        fast.step()
        clock.now = T0 + timedelta(seconds=30)
        fast.step()
        assert len(fast.outbox()) == 1
        clock.now = T0 + timedelta(seconds=31)
        asyncio.run(fast.store.put_alerts([posted("A", instance="2")]))
        clock.now = T0 + timedelta(seconds=40)  # group_interval after the first flush
        fast.step()
        assert len(fast.outbox()) == 2
        assert [t.next_flush_at for t in fast._timers()] == [T0 + timedelta(seconds=50)]
    finally:
        fast.close()


def test_an_unchanged_reflush_needs_no_transaction(node: Node, clock: Clock) -> None:
    """Re-flushes that would send nothing (the group as last notified, within
    repeat_interval) are decided from the log this process holds: no write at all."""
    firing = PostedAlert({"alertname": "A"}, {}, T0, T0 + timedelta(hours=1), "")
    asyncio.run(node.store.put_alerts([firing]))
    clock.now = T0 + timedelta(seconds=30)
    node.step()
    assert len(node.outbox()) == 1
    batches = node.writer.batches
    timers = node._timers()
    for minutes in (5, 10, 15):
        clock.now = T0 + timedelta(seconds=30, minutes=minutes)
        node.step()
    assert node.writer.batches == batches
    assert node._timers() == timers  # the stored timer stays behind
    assert node.dispatcher.flushes == 4
    clock.now = T0 + timedelta(minutes=16)
    new = PostedAlert({"alertname": "A", "instance": "new"}, {}, T0, T0 + timedelta(hours=1), "")
    asyncio.run(node.store.put_alerts([new]))
    clock.now = T0 + timedelta(seconds=30, minutes=20)
    node.step()  # a new alert: decided against the database and sent
    assert node.outbox()[-1] == (at(30 + 20 * 60), ["A", "A"])


def test_a_replica_forgets_its_log_of_groups_another_replica_notified(
    db_url: str, clock: Clock
) -> None:
    """A holds the log of its own last notification ({X} firing); B then notifies X
    resolved, and X fires again. A alone flushes next: its cached log would call that
    "unchanged"; it must see B's flush and decide from the database, which says X is
    new."""
    config = CONFIG.replace("repeat_interval: 4h", "repeat_interval: 24h")
    a, b = Node(db_url, clock, config), Node(db_url, clock, config)
    try:
        x = PostedAlert({"alertname": "X"}, {}, T0, T0 + timedelta(hours=1), "")
        asyncio.run(a.store.put_alerts([x]))
        clock.now = T0 + timedelta(seconds=30)
        a.step()  # A notifies {X} and caches that log
        b.step()  # B loses the claim and follows A's timer
        assert len(a.outbox()) == 1
        clock.now = T0 + timedelta(seconds=100)
        resolved = PostedAlert({"alertname": "X"}, {}, T0, clock.now, "")
        asyncio.run(b.store.put_alerts([resolved]))
        clock.now = T0 + timedelta(seconds=330)
        b.step()  # B notifies the resolution
        assert len(b.outbox()) == 2
        clock.now = T0 + timedelta(seconds=400)
        again = PostedAlert({"alertname": "X"}, {}, clock.now, clock.now + timedelta(hours=1), "")
        asyncio.run(b.store.put_alerts([again]))
        clock.now = T0 + timedelta(seconds=630)
        a.step()
        notes = a.outbox()
        assert len(notes) == 3
        assert notes[-1] == (at(630), ["X"])
    finally:
        a.close()
        b.close()


QUICK = (
    CONFIG.replace("group_wait: 30s", "group_wait: 0s")
    .replace("group_interval: 5m", "group_interval: 10s")
    .replace("repeat_interval: 4h", "repeat_interval: 1m")
)


def firing_until(seconds: int) -> PostedAlert:
    return PostedAlert({"alertname": "A"}, {}, T0, T0 + timedelta(seconds=seconds), "")


# What ends a quiet group's run of flushes that send nothing (decided without the
# database, then skipped outright while nothing they depend on changes): each row is
# a behaviour Alertmanager's DedupStage has at every group_interval tick.
@pytest.mark.parametrize(
    ("alert", "silenced_for_s", "sent_at_s"),
    [
        # repeat_interval (1m) fully passed since the last send: the first tick after
        # it repeats (needsUpdate: timestamp < now - repeat_interval)
        (firing_until(3600), None, [0, 70]),
        # the alert's endsAt passes: the next tick notifies it resolved
        (firing_until(25), None, [0, 30]),
        # muted by a silence at first; the silence expires: the next tick notifies it
        (firing_until(3600), 25, [30, 100]),
    ],
)
def test_what_ends_a_quiet_group(
    db_url: str,
    clock: Clock,
    alert: PostedAlert,
    silenced_for_s: int | None,
    sent_at_s: list[int],
) -> None:
    node = Node(db_url, clock, QUICK)
    try:
        if silenced_for_s is not None:
            muting = Silence(
                "",
                tuple(parse_matchers('alertname="A"')),
                T0,
                T0 + timedelta(seconds=silenced_for_s),
                T0,
                "me",
                "",
            )
            asyncio.run(node.store.set_silence(muting))
        asyncio.run(node.store.put_alerts([alert]))
        for seconds in range(0, 110, 10):
            clock.now = T0 + timedelta(seconds=seconds)
            node.step()
        assert [created for created, _ in node.outbox()] == [at(s) for s in sent_at_s]
        assert node.dispatcher.flushes >= 3  # the quiet ticks counted as flushes
    finally:
        node.close()


def test_without_a_view_of_other_replicas_every_flush_reads_the_database(
    db_url: str, clock: Clock
) -> None:
    """A dispatcher that cannot see other replicas' notifications keeps no log of its
    own: every re-flush is decided in a transaction."""
    node = Node(db_url, clock, sees_replicas=False)
    try:
        firing = PostedAlert({"alertname": "A"}, {}, T0, T0 + timedelta(hours=1), "")
        asyncio.run(node.store.put_alerts([firing]))
        clock.now = T0 + timedelta(seconds=30)
        node.step()
        batches = node.writer.batches
        clock.now = T0 + timedelta(seconds=30, minutes=5)
        node.step()
        assert node.writer.batches == batches + 1
        assert len(node.outbox()) == 1
    finally:
        node.close()


SIBLINGS = """\
route:
  receiver: r1
  group_by: [alertname]
  group_wait: 0s
  group_interval: 10s
  repeat_interval: 4h
  routes:
    - receiver: r1
      matchers: ['alertname="A"']
      continue: true
    - receiver: r2
      matchers: ['alertname="A"']
receivers:
  - name: r1
    webhook_configs:
      - url: http://127.0.0.1:1/one
  - name: r2
    webhook_configs:
      - url: http://127.0.0.1:1/two
"""


def test_sibling_routes_sharing_a_group_key_each_see_their_own_log(
    db_url: str, clock: Clock
) -> None:
    """Two sibling routes with the same matchers have one group key. Both notify y
    resolved in one round; when y fires again each must notify it (a log of the round
    that kept only one sibling's new entry made the other call it "unchanged")."""
    node = Node(db_url, clock, SIBLINGS)

    def alert(name: str, start: int, end: int) -> PostedAlert:
        return PostedAlert(
            {"alertname": "A", "n": name},
            {},
            T0 + timedelta(seconds=start),
            T0 + timedelta(seconds=end),
            "",
        )

    def sent_to(receiver: str) -> list[str]:
        with node.engine.connect() as conn:
            items = outbox_rows.recent(conn, 100, receiver)
        return sorted(i.created_at.isoformat() for i in items)

    try:
        asyncio.run(node.store.put_alerts([alert("x", 0, 3600), alert("y", 0, 3600)]))
        node.step()  # both notified at 0
        clock.now = T0 + timedelta(seconds=5)
        asyncio.run(node.store.put_alerts([alert("y", 0, 5)]))  # y resolves
        clock.now = T0 + timedelta(seconds=10)
        node.step()  # both siblings notify the resolution in one round
        clock.now = T0 + timedelta(seconds=15)
        asyncio.run(node.store.put_alerts([alert("y", 15, 3600)]))  # y fires again
        clock.now = T0 + timedelta(seconds=20)
        node.step()
        assert sent_to("r1") == [at(0), at(10), at(20)]
        assert sent_to("r2") == [at(0), at(10), at(20)]
    finally:
        node.close()


def test_a_failed_look_at_other_replicas_loses_nothing(db_url: str, clock: Clock) -> None:
    """When the look at other replicas' notifications fails, no cached log is trusted
    for that round, and the round goes on."""
    calls = {"n": 0}
    node = Node(db_url, clock, QUICK)

    def flaky(rev: int, own: Sequence[int]) -> list[tuple[str, int]]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("database went away for a moment")
        return node._changed(rev, own)

    node.dispatcher._changed_logs = flaky
    try:
        asyncio.run(node.store.put_alerts([firing_until(3600)]))
        node.step()  # notified at 0; the log is now cached
        asyncio.run(
            node.store.put_alerts(
                [PostedAlert({"alertname": "A", "n": "2"}, {}, T0, T0 + timedelta(hours=1), "")]
            )
        )
        clock.now = T0 + timedelta(seconds=10)
        node.step()  # the look fails: nothing is trusted from the cache, nothing lost
        for seconds in (20, 30):
            clock.now = T0 + timedelta(seconds=seconds)
            node.step()
        times = [created for created, _ in node.outbox()]
        assert times[0] == at(0)
        assert len(times) == 2  # the new alert was notified, once
    finally:
        node.close()


M = timedelta(hours=1)


def test_a_failed_round_puts_its_groups_back(db_url: str, clock: Clock) -> None:
    """A round that fails after taking its groups off the heap must put back those it
    did not get to: a group that has flushed before is not re-queued by new alerts."""
    node = Node(db_url, clock, QUICK)
    failures = {"left": 0}

    def runbook(alert: Alert) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("runbook library broken for a moment")

    node.dispatcher._runbook = runbook
    try:
        asyncio.run(node.store.put_alerts([firing_until(3600)]))
        node.step()  # notified at 0
        clock.now = T0 + timedelta(seconds=5)
        second = PostedAlert({"alertname": "A", "n": "2"}, {}, clock.now, clock.now + M, "")
        asyncio.run(node.store.put_alerts([second]))
        clock.now = T0 + timedelta(seconds=10)
        failures["left"] = 1
        with pytest.raises(RuntimeError):
            node.step()
        clock.now = T0 + timedelta(seconds=11)
        node.step()
        assert [created for created, _ in node.outbox()] == [at(0), at(11)]
    finally:
        node.close()


def test_a_round_with_nothing_due_says_nothing_of_an_outage_unless_one_was_seen(
    node: Node,
) -> None:
    """A round that touches no database is idle: it neither ends an outage (it cannot
    tell) nor starts one. After a failed round, the first idle one asks the database,
    so that the loop is not called failing for good on a quiet server."""
    assert asyncio.run(node.dispatcher.step()) is None  # the first: rebuilt from the rows
    assert asyncio.run(node.dispatcher.step()) == IDLE
    node.dispatcher.loop.outage.failed(OSError("the database was gone"))
    batches = node.writer.batches
    assert asyncio.run(node.dispatcher.step()) is None  # it asked: a transaction
    assert node.writer.batches == batches + 1
