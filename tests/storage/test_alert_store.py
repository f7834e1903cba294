"""The alert store over a real database (SQLite and PostgreSQL): what is acknowledged is
committed, survives a reopen, and concurrent writers are grouped into few commits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from tocsin.alerts.labels import LabelSet
from tocsin.alerts.matchers import Matcher, MatchType, parse_matchers
from tocsin.alerts.model import Alert, PostedAlert
from tocsin.alerts.mutes import Muter, NoMutes
from tocsin.alerts.notify_decision import LogEntry
from tocsin.alerts.silences import Silence, SilenceNotFound, SilenceState
from tocsin.core.alert_store import AlertQuery, AlertStore, RouteMatch, StoreSettings
from tocsin.store import group_rows, silence_rows
from tocsin.store.db import open_database
from tocsin.store.revisions import next_revision
from tocsin.store.settings import DatabaseSettings, Durability
from tocsin.store.tables import alerts as alerts_table
from tocsin.store.writer import GroupCommitter, Txn
from tocsin.timeutil import to_micros


class Clock:
    """A settable clock: the store never reads the real time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class OneReceiver:
    """Routing is not under test here: every alert goes to one receiver."""

    def route(self, labels: LabelSet) -> list[RouteMatch]:
        return [RouteMatch("default", "{}:{}", {})]

    def inhibitor(self, firing: Iterable[Alert]) -> Muter:
        return NoMutes()


T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Opened:
    def __init__(self, url: str, clock: Clock) -> None:
        self.engine: Engine = open_database(DatabaseSettings(url, Durability.NORMAL))
        self.writer = GroupCommitter(self.engine)
        self.store = AlertStore(
            self.engine, self.writer, clock, StoreSettings, lambda: OneReceiver()
        )
        self.store.load()

    def close(self) -> None:
        self.writer.close()
        self.engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def opened(db_url: str, clock: Clock) -> Iterator[Opened]:
    o = Opened(db_url, clock)
    yield o
    o.close()


def posted(name: str, **extra: str) -> PostedAlert:
    return PostedAlert({"alertname": name, **extra}, {"summary": f"{name} fired"}, None, None, "")


def test_put_alerts_is_durable_across_reopen(db_url: str, clock: Clock) -> None:
    first = Opened(db_url, clock)
    stored = asyncio.run(first.store.put_alerts([posted("A"), posted("B", severity="critical")]))
    first.close()
    again = Opened(db_url, clock)
    try:
        got = {a.fingerprint: a for a in again.store.alerts.values()}
        assert got == {a.fingerprint: a for a in stored}
        assert got[stored[1].fingerprint].labels == {"alertname": "B", "severity": "critical"}
        assert got[stored[0].fingerprint].ends_at == T0 + timedelta(minutes=5)
    finally:
        again.close()


def test_resolve_after_reopen_resolves(db_url: str, clock: Clock) -> None:
    first = Opened(db_url, clock)
    asyncio.run(first.store.put_alerts([posted("A")]))
    first.close()
    clock.now = T0 + timedelta(minutes=1)
    again = Opened(db_url, clock)
    try:
        assert len(again.store.views()) == 1
        resolve = PostedAlert({"alertname": "A"}, {}, None, clock.now, "")
        asyncio.run(again.store.put_alerts([resolve]))
        assert again.store.views() == []
        (a,) = again.store.alerts.values()
        assert a.starts_at == T0  # the merge kept the original start
        assert a.ends_at == clock.now
    finally:
        again.close()


def test_concurrent_puts_are_grouped_and_all_committed(opened: Opened) -> None:
    async def many() -> None:
        await asyncio.gather(*(opened.store.put_alerts([posted(f"A{i}")]) for i in range(300)))

    asyncio.run(many())
    with opened.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts_table)).scalar_one() == 300
    assert opened.writer.ops == 300
    # group commit: 300 concurrent requests need far fewer than 300 transactions
    assert opened.writer.batches < 300


def test_same_alert_twice_in_one_batch_merges(opened: Opened) -> None:
    first = PostedAlert({"alertname": "A"}, {}, T0 - timedelta(minutes=3), None, "")
    second = PostedAlert({"alertname": "A"}, {}, T0 - timedelta(minutes=1), None, "")
    (stored,) = asyncio.run(opened.store.put_alerts([first, second]))
    assert stored.starts_at == T0 - timedelta(minutes=3)
    assert len(opened.store.alerts) == 1


def silence(matchers: str, minutes: int = 60, sid: str = "") -> Silence:
    return Silence(
        sid, tuple(parse_matchers(matchers)), T0, T0 + timedelta(minutes=minutes), T0, "me", "c"
    )


def test_silence_lifecycle_is_durable(db_url: str, clock: Clock) -> None:
    first = Opened(db_url, clock)
    sid = asyncio.run(first.store.set_silence(silence('alertname="A"')))
    asyncio.run(first.store.put_alerts([posted("A"), posted("B")]))
    views = {v.alert.name: v for v in first.store.views()}
    assert views["A"].status.silenced_by == (sid,)
    assert views["A"].status.state.value == "suppressed"
    assert views["B"].status.state.value == "active"
    first.close()

    clock.now = T0 + timedelta(minutes=1)
    again = Opened(db_url, clock)
    try:
        got = again.store.get_silence(sid)
        assert got is not None
        assert got.matchers == tuple(parse_matchers('alertname="A"'))
        assert [v.alert.name for v in again.store.views(AlertQuery(silenced=False))] == ["B"]
        asyncio.run(again.store.expire_silence(sid))
        clock.now += timedelta(seconds=1)
        expired = again.store.get_silence(sid)
        assert expired is not None
        assert expired.state(clock.now) is SilenceState.EXPIRED
        assert {v.alert.name for v in again.store.views()} == {"A", "B"}
    finally:
        again.close()


def test_a_stored_silence_whose_regex_no_longer_compiles_loads_and_mutes_nothing(
    db_url: str, clock: Clock
) -> None:
    # An earlier Tocsin compiled matchers with Python's re, which accepts what Go's
    # regexp (and now Tocsin) refuses; such a row must not stop the store loading.
    first = Opened(db_url, clock)
    old = Silence(
        "old-1",
        (Matcher("alertname", MatchType.REGEX, "(A)\\1"),),
        T0,
        T0 + timedelta(hours=1),
        T0,
        "ann",
        "x",
    )
    with first.engine.begin() as conn:
        silence_rows.save(conn, [old], next_revision(conn))
    first.close()

    again = Opened(db_url, clock)
    try:
        got = again.store.get_silence("old-1")
        assert got is not None
        assert [(m.name, m.type, m.value) for m in got.matchers] == [
            ("alertname", MatchType.REGEX, "(A)\\1")
        ]
        asyncio.run(again.store.put_alerts([posted("AA"), posted("A")]))
        assert {v.alert.name: v.status.silenced_by for v in again.store.views()} == {
            "AA": (),
            "A": (),
        }
    finally:
        again.close()


def test_silence_update_in_place_and_replace(opened: Opened, clock: Clock) -> None:
    sid = asyncio.run(opened.store.set_silence(silence('alertname="A"', 60)))
    same = asyncio.run(opened.store.set_silence(silence('alertname="A"', 120, sid)))
    assert same == sid
    stored = opened.store.get_silence(sid)
    assert stored is not None
    assert stored.ends_at == T0 + timedelta(minutes=120)
    # changing matchers expires the old silence and creates a new one
    new = asyncio.run(opened.store.set_silence(silence('alertname="B"', 60, sid)))
    assert new != sid
    old = opened.store.get_silence(sid)
    assert old is not None
    assert old.ends_at == clock.now


def test_unknown_silence_id_is_not_found(opened: Opened) -> None:
    with pytest.raises(SilenceNotFound):
        asyncio.run(opened.store.set_silence(silence('alertname="A"', sid="nope")))
    with pytest.raises(SilenceNotFound):
        asyncio.run(opened.store.expire_silence("nope"))


def test_a_refused_op_does_not_spoil_its_batch(opened: Opened) -> None:
    async def both() -> tuple[object, ...]:
        return await asyncio.gather(
            opened.store.expire_silence("missing"),
            opened.store.put_alerts([posted("Kept")]),
            return_exceptions=True,
        )

    results = asyncio.run(both())
    assert isinstance(results[0], SilenceNotFound)
    assert [v.alert.name for v in opened.store.views()] == ["Kept"]


def test_garbage_collection_forgets_old_resolved_alerts(opened: Opened, clock: Clock) -> None:
    asyncio.run(opened.store.put_alerts([posted("Old"), posted("New")]))
    resolve = PostedAlert({"alertname": "Old"}, {}, None, T0 + timedelta(minutes=1), "")
    clock.now = T0 + timedelta(minutes=1)
    asyncio.run(opened.store.put_alerts([resolve]))
    clock.now = T0 + timedelta(hours=121)
    n_alerts, _ = asyncio.run(opened.store.collect_garbage())
    # "New" timed out at T0+5m, "Old" was resolved at T0+1m: both are older than 120h
    assert n_alerts == 2
    assert len(opened.store.alerts) == 0


def test_garbage_collection_forgets_old_notification_log_entries(
    opened: Opened, clock: Clock
) -> None:
    def entry(group: str, at: datetime) -> LogEntry:
        return LogEntry(group, "pager", "webhook[0]", frozenset({"f"}), frozenset(), at)

    class Save:
        def apply(self, txn: Txn) -> None:
            group_rows.save_log_entries(
                txn.conn, [entry("old", T0), entry("new", T0 + timedelta(hours=100))], txn.rev
            )

    opened.writer.run_sync(Save())
    clock.now = T0 + timedelta(hours=121)
    asyncio.run(opened.store.collect_garbage())
    with opened.engine.connect() as conn:
        assert list(group_rows.logs_of(conn, ["old", "new"])) == ["new"]


def test_puts_of_one_batch_see_each_other_and_refusals_stay_alone(opened: Opened) -> None:
    """Concurrent puts are applied together (one statement): each sees the ones before
    it, the last version of an alert is the one stored, and a put that cannot be stored
    is refused alone."""
    early = PostedAlert({"alertname": "A"}, {"n": "1"}, T0 - timedelta(minutes=3), None, "")
    late = PostedAlert({"alertname": "A"}, {"n": "2"}, T0 - timedelta(minutes=1), None, "")
    unencodable = PostedAlert({"alertname": "\ud800"}, {}, None, None, "")

    async def together() -> list[list[Alert] | BaseException]:
        puts = [opened.store.put_alerts([p]) for p in (early, unencodable, late, posted("B"))]
        return list(await asyncio.gather(*puts, return_exceptions=True))

    first, refused, second, other = asyncio.run(together())
    assert isinstance(refused, UnicodeEncodeError)
    assert opened.writer.batches == 1
    assert isinstance(first, list)
    assert isinstance(other, list)
    assert isinstance(second, list)
    (merged,) = second
    assert merged.starts_at == T0 - timedelta(minutes=3)  # merged with the earlier put
    assert merged.annotations == {"n": "2"}
    with opened.engine.connect() as conn:
        rows = conn.execute(select(alerts_table.c.fingerprint, alerts_table.c.starts_at))
        stored = {row.fingerprint: row.starts_at for row in rows}
    assert len(stored) == 2
    assert stored[merged.fingerprint] == to_micros(T0 - timedelta(minutes=3))
    assert {a.name for a in opened.store.alerts.values()} == {"A", "B"}
