"""Two stores on one database, as two worker processes or two replicas run: each sees
the other's writes, and merges decide against the latest rows, not a stale memory."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.storage.test_alert_store import T0, Clock, Opened, posted, silence
from tocsin.alerts.model import PostedAlert
from tocsin.alerts.pd_events import OPEN_END


@pytest.fixture
def pair(db_url: str) -> Iterator[tuple[Opened, Opened, Clock]]:
    clock = Clock(T0)
    a, b = Opened(db_url, clock), Opened(db_url, clock)
    yield a, b, clock
    a.close()
    b.close()


def test_reads_see_the_other_replicas_writes(pair: tuple[Opened, Opened, Clock]) -> None:
    a, b, _ = pair
    asyncio.run(a.store.put_alerts([posted("FromA")]))
    asyncio.run(b.store.put_alerts([posted("FromB")]))
    assert sorted(v.alert.name for v in a.store.views()) == ["FromA", "FromB"]
    assert sorted(v.alert.name for v in b.store.views()) == ["FromA", "FromB"]


def test_a_resolve_through_the_other_replica_merges_with_the_latest_row(
    pair: tuple[Opened, Opened, Clock],
) -> None:
    a, b, clock = pair
    b.store.refresh()  # b has read the (empty) database before a writes
    asyncio.run(a.store.put_alerts([posted("X")]))
    clock.now = T0 + timedelta(minutes=2)
    resolve = PostedAlert({"alertname": "X"}, {}, T0 + timedelta(minutes=1), clock.now, "")
    (stored,) = asyncio.run(b.store.put_alerts([resolve]))
    # the merge saw a's row: the start stays T0 (not the resolve's own startsAt)
    assert stored.starts_at == T0
    assert stored.ends_at == clock.now
    assert a.store.views() == []
    assert b.store.views() == []


def test_silence_written_by_one_is_updated_in_place_by_the_other(
    pair: tuple[Opened, Opened, Clock],
) -> None:
    a, b, _ = pair
    b.store.refresh()
    sid = asyncio.run(a.store.set_silence(silence('alertname="A"', 60)))
    assert asyncio.run(b.store.set_silence(silence('alertname="A"', 90, sid))) == sid
    got = a.store.get_silence(sid)
    assert got is not None
    assert got.ends_at == T0 + timedelta(minutes=90)


def test_concurrent_writers_converge(pair: tuple[Opened, Opened, Clock]) -> None:
    a, b, _ = pair

    def load(o: Opened, prefix: str) -> None:
        async def go() -> None:
            await asyncio.gather(
                *(o.store.put_alerts([posted(f"{prefix}{i % 7}", n=str(i))]) for i in range(60))
            )

        asyncio.run(go())

    threads = [threading.Thread(target=load, args=(o, p)) for o, p in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    a.store.refresh()
    b.store.refresh()
    in_a = {x.fingerprint: x for x in a.store.alerts.values()}
    in_b = {x.fingerprint: x for x in b.store.alerts.values()}
    assert len(in_a) == 120
    assert in_a == in_b


def test_an_event_resolve_through_the_other_replica_ends_the_alert(
    pair: tuple[Opened, Opened, Clock],
) -> None:
    a, b, clock = pair
    b.store.refresh()  # b has read the (empty) database before a writes
    fired = PostedAlert(
        {"alertname": "DiskFull", "integration": "monitoring", "dedup_key": "k"},
        {},
        T0,
        OPEN_END,
        "",
    )
    asyncio.run(a.store.apply_event("monitoring", "k", fired))
    clock.now = T0 + timedelta(minutes=2)
    (ended,) = asyncio.run(b.store.apply_event("monitoring", "k", None))
    assert ended.ends_at == clock.now  # b found a's alert by its identity
    assert a.store.views() == []
    assert b.store.views() == []
