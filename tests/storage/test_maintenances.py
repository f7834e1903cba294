"""Maintenance windows in the database (SQLite and PostgreSQL): two replicas extending
one window at once lose no extension, and its one silence follows every one of them,
in place (each change is decided against the row and the silence as its transaction
reads them, after the other replica's commit)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.storage.test_alert_store import T0, Clock, Opened
from tocsin.alerts.labels import NameValidation
from tocsin.alerts.matchers import parse_matcher
from tocsin.alerts.silences import SilenceState
from tocsin.config.model import IncidentSettings
from tocsin.core.maintenances import MaintenanceDesk
from tocsin.incidents.maintenance import Plan
from tocsin.store import silence_rows

N = 15
SETTINGS = IncidentSettings(components=("API",))


class Replica(Opened):
    def __init__(self, url: str) -> None:
        super().__init__(url, Clock(T0))
        self.desk = MaintenanceDesk(
            self.engine,
            self.writer,
            Clock(T0),
            lambda: SETTINGS,
            self.store.silences,
            NameValidation.LEGACY,
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
