"""A monitor's round (and an incident reminder's) on one replica while another
replica changes what it watches
(SQLite and PostgreSQL): the round must not fire again an alert the other replica
has just resolved. Replica B reads the heartbeat's row while its job is still
missing; before B compares with the store, replica A stores the job's ping and
resolves the alert. B took the store's alerts before the rows (MonitorLoop.held), so
it still sees the alert firing and leaves it alone; read the other way round, it
would see the alert resolved, and post it firing again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from msgspec.structs import replace

from tests.storage.test_alert_store import T0, Clock, Opened
from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import Alert, PostedAlert
from tocsin.config.model import Heartbeat, IncidentSettings
from tocsin.core.incidents import IncidentDesk, IncidentView
from tocsin.engine.heartbeats import ArmHeartbeats, HeartbeatMonitor
from tocsin.engine.incident_reminders import IncidentReminders
from tocsin.incidents.model import Change
from tocsin.incidents.reminders import reminder_alerts
from tocsin.monitors.heartbeats import Beat, firing_alert, status
from tocsin.oncall.lifecycle import Via
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


def test_a_reminder_round_does_not_fire_again_a_debt_paid_elsewhere(db_url: str) -> None:
    """The same for an incident's reminder: B reads the incident still owing its
    update; A stores the update and resolves the reminder; B must not fire it again."""
    clock = Clock(T0)
    b = Opened(db_url, clock)
    try:
        desk = IncidentDesk(b.engine, b.writer, clock, IncidentSettings, lambda: None)
        made = asyncio.run(desk.declare("Checkout failing", "SEV1", "ann", Via.API))
        clock.now = T0 + timedelta(minutes=20)  # its first update was due at 15
        (view,) = desk.owing()
        (reminder,) = reminder_alerts(view.incident, view.owed, clock.now, "", {})
        store = [stored(reminder)]
        posts: list[PostedAlert] = []

        async def post(alerts: list[PostedAlert]) -> None:
            posts.extend(alerts)

        class DeskB(IncidentDesk):
            def owing(self) -> list[IncidentView]:
                found = super().owing()  # B's read: the update still owed
                # ...then A: the update stored, the reminder resolved (B's store follows)
                asyncio.run(desk.change(made.id, Change(update="Rolling back"), "bob", Via.API))
                store[0] = replace(store[0], ends_at=clock.now)
                return found

        b_desk = DeskB(b.engine, b.writer, clock, IncidentSettings, lambda: None)
        reminders = IncidentReminders(b_desk, clock, lambda: list(store), post)
        asyncio.run(reminders.check())
        assert [p for p in posts if p.ends_at is None or p.ends_at > clock.now] == []
    finally:
        b.close()
