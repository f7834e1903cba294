"""Two Tocsin runtimes on one database (SQLite, and PostgreSQL as replicas would run):
both work the on-call due rows at the same time, and every escalation step still fires
exactly once and pages exactly once; a restart in between neither skips nor repeats."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.storage.test_alert_store import Clock
from tocsin.core.oncall_ops import Observation, Observe
from tocsin.engine import oncall as oncall_engine
from tocsin.runtime import Runtime, Settings
from tocsin.store import oncall_rows
from tocsin.store.settings import Durability
from tocsin.store.tables import outbox

CONFIG = """\
global:
  smtp_smarthost: 127.0.0.1:9            # nothing listens: pages are decided, not mailed
  smtp_from: tocsin@example.org
route:
  receiver: pager
receivers:
  - name: pager
    escalation_policy: ladder
people:
  - {name: alice, email: alice@example.org}
  - {name: bob, email: bob@example.org}
  - {name: carol, email: carol@example.org}
escalation_policies:
  - name: ladder
    steps:
      - {delay: 0s, targets: [{person: alice}]}
      - {delay: 5m, targets: [{person: bob}]}
      - {delay: 5m, targets: [{person: carol}]}
"""
T0 = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)


def runtime(url: str, tmp_path: Path, clock: Clock, config_text: str = CONFIG) -> Runtime:
    config = tmp_path / "alertmanager.yml"
    config.write_text(config_text)
    settings = Settings(
        config_path=config, data_dir=tmp_path, database_url=url, sqlite_durability=Durability.NORMAL
    )
    return Runtime(settings, clock)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def pair(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[Runtime, Runtime]]:
    a, b = runtime(db_url, tmp_path, clock), runtime(db_url, tmp_path, clock)
    yield a, b
    a.close()
    b.close()


def open_group(rt: Runtime) -> str:
    seen = Observation("g1", "route", "{}:{}", "pager", "ladder", {}, ["fp1"])
    rt.writer.run_sync(Observe([seen], rt.clock(), rt.oncall))
    return "g1"


def both_step(a: Runtime, b: Runtime) -> None:
    """Both replicas work the due rows at the same moment, several times."""

    def work(rt: Runtime) -> None:
        for _ in range(3):
            asyncio.run(rt.oncall.step())

    threads = [threading.Thread(target=work, args=(rt,)) for rt in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def pages(rt: Runtime) -> list[str]:
    with rt.engine.connect() as conn:
        return sorted(r.receiver for r in conn.execute(select(outbox.c.receiver)))


def fired(rt: Runtime, group: str) -> list[str]:
    with rt.engine.connect() as conn:
        audit = oncall_rows.audit_of(conn, group)
    return [a["comment"].split(":")[0] for a in audit if a["action"] == "escalated"]


def test_two_replicas_fire_each_step_once(pair: tuple[Runtime, Runtime], clock: Clock) -> None:
    a, b = pair
    group = open_group(a)
    for minutes, expected in (
        (0, ["person:alice"]),
        (4, ["person:alice"]),  # step 2 not due yet
        (5, ["person:alice", "person:bob"]),
        (10, ["person:alice", "person:bob", "person:carol"]),
        (30, ["person:alice", "person:bob", "person:carol"]),  # the ladder ended
    ):
        clock.now = T0 + timedelta(minutes=minutes)
        both_step(a, b)
        assert pages(a) == expected, minutes
    assert fired(a, group) == ["step 1/3, round 1/1", "step 2/3, round 1/1", "step 3/3, round 1/1"]


def test_two_replicas_share_a_storm_and_fire_each_step_once(
    pair: tuple[Runtime, Runtime], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many steps due at once, small batches, both replicas taking at the same moment:
    every step fires once. (Takes exclude each other because every write transaction
    first bumps the revision counter, a row lock held to its commit.)"""
    a, b = pair
    monkeypatch.setattr(oncall_engine, "BATCH", 7)  # many rounds, interleaved
    names = [f"s{i}" for i in range(60)]
    seen = [Observation(g, "route", f"{{}}:{g}", "pager", "ladder", {}, ["fp"]) for g in names]
    a.writer.run_sync(Observe(seen, clock(), a.oncall))

    def work(rt: Runtime) -> None:
        for _ in range(12):
            asyncio.run(rt.oncall.step(oncall_engine.BATCH))

    threads = [threading.Thread(target=work, args=(rt,)) for rt in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert a.oncall.claimed + b.oncall.claimed == len(names)  # none taken twice
    assert {g: fired(a, g) for g in names} == {g: ["step 1/3, round 1/1"] for g in names}
    assert pages(a) == ["person:alice"] * len(names)


def test_a_restart_neither_skips_nor_repeats(db_url: str, tmp_path: Path, clock: Clock) -> None:
    first = runtime(db_url, tmp_path, clock)
    group = open_group(first)
    asyncio.run(first.oncall.step())
    first.close()  # the process goes away with step 2 pending
    clock.now = T0 + timedelta(minutes=6)
    again = runtime(db_url, tmp_path, clock)
    try:
        asyncio.run(again.oncall.step())
        asyncio.run(again.oncall.step())
        assert pages(again) == ["person:alice", "person:bob"]
        assert fired(again, group) == ["step 1/3, round 1/1", "step 2/3, round 1/1"]
    finally:
        again.close()
