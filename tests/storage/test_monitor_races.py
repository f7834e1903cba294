"""A monitor's round on one replica while another replica changes what it watches
(SQLite and PostgreSQL): the round must not fire again an alert the other replica
has just resolved. Replica B reads the heartbeat's row while its job is still
missing; before B compares with the store, replica A stores the job's ping and
resolves the alert. B took the store's alerts before the rows (MonitorLoop.held), so
it still sees the alert firing and leaves it alone; read the other way round, it
would see the alert resolved, and post it firing again."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from tests.storage.test_alert_store import T0, Clock, Opened
from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import Alert, PostedAlert
from tocsin.config.model import Heartbeat
from tocsin.engine.heartbeats import ArmHeartbeats, HeartbeatMonitor
from tocsin.monitors.heartbeats import Beat, firing_alert, status
from tocsin.store import heartbeat_rows

SPEC = Heartbeat("backup", timedelta(hours=1), timedelta(minutes=10))


def stored(posted: PostedAlert) -> Alert:
    assert posted.starts_at is not None
    assert posted.ends_at is not None
    labels, annotations = dict(posted.labels), dict(posted.annotations)
    at = posted.starts_at
    return Alert(
        fingerprint(labels),
        labels,
        annotations,
        at,
        posted.ends_at,
        posted.generator_url,
        at,
        False,
    )


def test_a_round_does_not_fire_again_what_another_replica_resolved(db_url: str) -> None:
    clock = Clock(T0)
    b = Opened(db_url, clock)
    try:
        asyncio.run(b.writer.run(ArmHeartbeats(["backup"], T0)))
        clock.now = T0 + timedelta(hours=2)  # no ping: down
        missing = Beat("backup", T0)
        alert = firing_alert(SPEC, missing, status(SPEC, missing, clock.now), clock.now)
        assert alert is not None
        store = [stored(alert)]  # what replica B's store holds: firing
        posts: list[PostedAlert] = []

        async def post(alerts: list[PostedAlert]) -> None:
            posts.extend(alerts)

        class ReplicaB(HeartbeatMonitor):
            def _read(self) -> dict[str, Beat]:
                rows = super()._read()  # B's read: the job still missing
                # ...then A: the ping committed, the alert resolved (B's store follows)
                with b.engine.begin() as conn:
                    heartbeat_rows.ping(conn, "backup", "ok", "", clock.now, 0)
                store[0] = replace(store[0], ends_at=clock.now)
                return rows

        monitor = ReplicaB(b.engine, b.writer, clock, lambda: [SPEC], lambda: list(store), post)
        asyncio.run(monitor.check())
        assert [p for p in posts if p.ends_at is None or p.ends_at > clock.now] == []
    finally:
        b.close()
