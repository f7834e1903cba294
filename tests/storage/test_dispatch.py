"""The dispatcher over a real database (SQLite and PostgreSQL), stepped with a fake
clock: groups flush at group_wait then group_interval, decisions land in the outbox
with the notification log, a restart keeps the group's rhythm, and two replicas
sharing the database flush a group once, not twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.storage.test_alert_store import T0, Clock, posted
from tocsin.alerts.model import PostedAlert
from tocsin.config import parse_config
from tocsin.core.alert_store import AlertStore, StoreSettings
from tocsin.core.policy import ConfigPolicy
from tocsin.engine.dispatch import Dispatcher, DispatchSettings
from tocsin.store import outbox_rows
from tocsin.store.db import open_database
from tocsin.store.group_rows import GroupTimer, load_timers
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

    def __init__(self, url: str, clock: Clock, config: str = CONFIG) -> None:
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
            lambda: None,
            DispatchSettings(),
        )
        self.store.alerts.listeners.append(self.dispatcher.on_alerts)

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
