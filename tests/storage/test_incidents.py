"""Incidents in the database (SQLite and PostgreSQL): two replicas changing one
incident at once lose no change and no timeline line (each change is decided against
the row as its transaction reads it), and ids are unique across replicas."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tests.storage.test_alert_store import T0, Clock, Opened
from tocsin.config.model import IncidentSettings
from tocsin.core.incidents import IncidentDesk
from tocsin.incidents.model import Change, Incident
from tocsin.oncall.lifecycle import Via
from tocsin.store import incident_rows

N = 25
# a role for each change each replica makes: a change decided over a stale row would
# drop the other replica's roles
SETTINGS = IncidentSettings(roles=tuple(f"{w}{i}" for w in "ab" for i in range(N)))


class Ticking:
    """A clock both replicas read, a microsecond later at each reading: the time a
    change takes tells when it took it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._n = 0

    def __call__(self) -> datetime:
        with self._lock:
            self._n += 1
            return T0 + timedelta(microseconds=self._n)


TICKING = Ticking()


class Replica(Opened):
    """A replica as ``serve`` builds one: its writer's transactions begin with the
    store's revision bump (on SQLite that write takes the file's lock first, so what
    an op then reads is the latest)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, Clock(T0))
        self.desk = IncidentDesk(self.engine, self.writer, TICKING, lambda: SETTINGS, lambda: None)


@pytest.fixture
def pair(db_url: str) -> Iterator[tuple[Replica, Replica]]:
    a, b = Replica(db_url), Replica(db_url)
    yield a, b
    a.close()
    b.close()


def test_two_replicas_change_one_incident_at_once(pair: tuple[Replica, Replica]) -> None:
    a, b = pair
    made = asyncio.run(a.desk.declare("Checkout failing", "SEV1", "ann", Via.API))
    go = threading.Barrier(2)

    def changes(replica: Replica, who: str) -> None:
        async def run() -> None:
            go.wait()
            for i in range(N):
                change = Change(roles={f"{who}{i}": who}, note=f"{who} {i}")
                await replica.desk.change(made.id, change, who, Via.API)

        asyncio.run(run())

    threads = [threading.Thread(target=changes, args=(r, w)) for r, w in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for replica in (a, b):
        found = replica.desk.view(made.id)
        assert found is not None
        assert found.incident.roles == {role: role[0] for role in SETTINGS.roles}
        notes = [e.text for e in found.timeline if e.kind == "note"]
        assert sorted(notes) == sorted(f"{w} {i}" for w in "ab" for i in range(N))
        # each replica's own lines in the order it wrote them
        assert [t for t in notes if t.startswith("a ")] == [f"a {i}" for i in range(N)]
        # and the times in the order the lines were written: each change takes its
        # time in its transaction, after the other replica's commit
        times = [e.at for e in found.timeline]
        assert times == sorted(times)


def test_ids_are_unique_across_replicas(pair: tuple[Replica, Replica]) -> None:
    a, b = pair

    async def declare_many(replica: Replica, who: str) -> list[int]:
        made = await asyncio.gather(
            *(replica.desk.declare(f"{who} {i}", "SEV3", who, Via.API) for i in range(10))
        )
        return [m.id for m in made]

    ids = asyncio.run(declare_many(a, "a")) + asyncio.run(declare_many(b, "b"))
    assert sorted(ids) == list(range(1, 21))
    listed = a.desk.listing(open_only=True)
    assert [i.id for i in listed] == list(range(20, 0, -1))  # newest first


def test_the_incidents_linking_a_group(db_url: str) -> None:
    """By the group's exact id: LIKE's wildcards in an id match only themselves."""
    replica = Replica(db_url)
    try:
        base = Incident(0, "x", "SEV1", "investigating", T0, "ann")
        with replica.engine.begin() as conn:
            first = incident_rows.add(conn, replace(base, groups=("a_b%",)), 1)
            incident_rows.add(conn, replace(base, groups=("aXbY",)), 1)
            third = incident_rows.add(conn, replace(base, groups=("z", "a_b%")), 1)
        assert [i.id for i in replica.desk.linking("a_b%")] == [third, first]
        assert replica.desk.linking("a_b") == []
    finally:
        replica.close()
