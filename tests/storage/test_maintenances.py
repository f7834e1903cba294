"""Maintenance windows in the database (SQLite and PostgreSQL): two replicas extending
one window at once lose no extension, and its one silence follows every one of them,
in place (each change is decided against the row and the silence as its transaction
reads them, after the other replica's commit)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.storage.test_alert_store import T0, Clock, Opened
from tocsin.alerts.labels import NameValidation
from tocsin.alerts.matchers import parse_matcher
from tocsin.alerts.silences import SilenceState
from tocsin.config import load_config
from tocsin.config.model import Config, IncidentSettings
from tocsin.core.maintenances import MaintenanceDesk
from tocsin.incidents.maintenance import Plan
from tocsin.store import maintenance_rows, outbox_rows, silence_rows
from tocsin.store.db import create, migrate
from tocsin.store.settings import DatabaseSettings, Durability
from tocsin.timeutil import to_micros

N = 15
SETTINGS = IncidentSettings(components=("API",), announce=("tenants",))


class Replica(Opened):
    def __init__(
        self, url: str, clock: Clock | None = None, receivers: Config | None = None
    ) -> None:
        super().__init__(url, Clock(T0))
        self.desk = MaintenanceDesk(
            self.engine,
            self.writer,
            clock or Clock(T0),
            lambda: SETTINGS,
            self.store.silences,
            NameValidation.LEGACY,
            receiver=(lambda name: None) if receivers is None else receivers.receiver,
        )


@pytest.fixture
def pair(db_url: str) -> Iterator[tuple[Replica, Replica]]:
    a, b = Replica(db_url), Replica(db_url)
    yield a, b
    a.close()
    b.close()


def test_two_replicas_extend_one_window_at_once(pair: tuple[Replica, Replica]) -> None:
    a, b = pair
    matcher = parse_matcher('service="orchestrator"')
    made = asyncio.run(
        a.desk.schedule("Upgrade", T0, T0 + timedelta(hours=1), "ann", matchers=[matcher])
    )
    go = threading.Barrier(2)
    failures: list[BaseException] = []

    def extend(replica: Replica) -> None:
        async def run() -> None:
            go.wait()
            for _ in range(N):
                await replica.desk.change(made.id, Plan(extend_by=timedelta(minutes=1)))

        try:
            asyncio.run(run())
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=extend, args=(r,)) for r in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    final = a.desk.get(made.id)
    assert final is not None
    assert final.ends_at == T0 + timedelta(hours=1, minutes=2 * N)  # none lost
    assert final.silence_id == made.silence_id  # extended in place every time
    with a.engine.connect() as conn:
        stored = [s for _, _, s in silence_rows.changed_since(conn, 0)]
    assert [(s.id, s.ends_at) for s in stored] == [(made.silence_id, final.ends_at)]
    assert stored[0].state(T0) is SilenceState.ACTIVE


def test_two_replicas_announce_each_start_and_end_once(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "am.yml"
    path.write_text(
        "route: {receiver: tenants}\nreceivers:\n"
        "  - {name: tenants, webhook_configs: [{url: 'http://127.0.0.1:9/t'}]}\n"
    )
    config = load_config(path)
    clock = Clock(T0)
    a, b = Replica(db_url, clock, config), Replica(db_url, clock, config)
    try:
        made = asyncio.run(
            a.desk.schedule("Upgrade", T0 + timedelta(hours=1), T0 + timedelta(hours=2), "ann")
        )

        def told() -> list[str]:
            with a.engine.connect() as conn:
                items = outbox_rows.recent(conn, 100, "tenants")
            # "Maintenance #1: Upgrade: started, <window>": what each said
            said = [i.notification.alerts[0].annotations["summary"] for i in items]
            return sorted(x.split("Upgrade: ", 1)[1].split(",")[0] for x in said)

        for at, expected in [
            (T0 + timedelta(minutes=30), ["scheduled"]),  # nothing due yet
            (T0 + timedelta(hours=1), ["scheduled", "started"]),
            (T0 + timedelta(hours=2), ["completed", "scheduled", "started"]),
        ]:
            clock.now = at
            go = threading.Barrier(2)

            def tell(replica: Replica, go: threading.Barrier = go) -> None:
                go.wait()
                asyncio.run(replica.desk.tell_edges([made.id]))

            threads = [threading.Thread(target=tell, args=(r,)) for r in (a, b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert told() == expected  # each once, whichever replica came first
    finally:
        a.close()
        b.close()


def test_the_upgrade_tells_no_old_window(db_url: str) -> None:
    """Migration 0018 adds what a window has announced: windows already started or
    over are marked told, or the loop would announce them all at once."""
    now = datetime.now(UTC)
    engine = create(DatabaseSettings(db_url, Durability.NORMAL))
    try:
        migrate(engine, "0017")
        rows = [  # (title, starts, ends, cancelled)
            ("over", now - timedelta(hours=3), now - timedelta(hours=2), None),
            ("running", now - timedelta(hours=1), now + timedelta(hours=1), None),
            ("coming", now + timedelta(hours=1), now + timedelta(hours=2), None),
            ("called off", now + timedelta(hours=1), now + timedelta(hours=2), now),
        ]
        with engine.begin() as conn:
            for title, starts, ends, cancelled in rows:
                conn.execute(
                    text(
                        "INSERT INTO maintenances (title, starts_at, ends_at, created_by, "
                        "created_at, cancelled_at) VALUES (:t, :s, :e, 'ann', :s, :c)"
                    ),
                    {
                        "t": title,
                        "s": to_micros(starts),
                        "e": to_micros(ends),
                        "c": None if cancelled is None else to_micros(cancelled),
                    },
                )
        migrate(engine)
        with engine.connect() as conn:
            told = {m.title: (m.told_start, m.told_end) for m in maintenance_rows.newest(conn, 10)}
    finally:
        engine.dispose()
    assert told == {
        "over": (True, True),
        "running": (True, False),  # its end is still to be told
        "coming": (False, False),
        "called off": (False, True),
    }
