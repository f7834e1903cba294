"""The composition root: settings -> config -> database -> writer -> store.

One ``Runtime`` is one running Tocsin. The API, the CLI's ``serve`` and the tests build
it the same way; nothing else reaches for globals.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection

from tocsin import __version__
from tocsin.alerts.grouping import FlushBatch
from tocsin.alerts.labels import NameValidation
from tocsin.alerts.model import Alert
from tocsin.alerts.notify_decision import FlushPlan
from tocsin.alerts.routing import group_key, match
from tocsin.config import Config, ConfigProblem, load_config
from tocsin.config.oncall import Person
from tocsin.config.redact import shown
from tocsin.config.web import WebConfig, load_web_config
from tocsin.core.alert_store import AlertStore, StoreSettings
from tocsin.core.checklists import (
    GroupPage,
    Mark,
    MarkRunbook,
    group_runbook,
    step_mark,
    timer_mark,
)
from tocsin.core.incidents import IncidentDesk
from tocsin.core.maintenances import MaintenanceDesk
from tocsin.core.oncall_ops import HumanAction, OncallRefused
from tocsin.core.ops import EndingEvents
from tocsin.core.outbox_ops import Enqueue, ForgetDone
from tocsin.core.override_ops import AddOverride, override_problem
from tocsin.core.pd_intake import EventIntake
from tocsin.core.people import PeopleDirectory
from tocsin.core.policy import PERSON_PREFIX, ConfigPolicy
from tocsin.core.replicas import ALIVE_WITHIN, SIGN_EVERY, SignOfLife, cluster
from tocsin.core.runbook_library import RunbookLibrary
from tocsin.defaults import DEFAULT_LISTEN, DEFAULT_MAX_BODY
from tocsin.engine.config_warnings import config_warnings
from tocsin.engine.delivery import DeliverySettings, DeliveryWorker
from tocsin.engine.dispatch import Dispatcher, DispatchSettings
from tocsin.engine.health import ReceiverHealth
from tocsin.engine.heartbeats import HeartbeatMonitor
from tocsin.engine.incident_reminders import IncidentReminders
from tocsin.engine.loop import IDLE, RETRY_FAILED, KickedLoop
from tocsin.engine.maintenance_edges import MaintenanceEdges
from tocsin.engine.nobody_paged import NobodyPaged
from tocsin.engine.oncall import OncallEngine
from tocsin.engine.probes import ProbeMonitor
from tocsin.engine.runbook_timers import LOOKBACK as TIMER_LOOKBACK
from tocsin.engine.runbook_timers import RunbookTimerAlerts
from tocsin.engine.senders import ChannelSender
from tocsin.metrics import Metrics
from tocsin.notify.outbox import DeliveryStatus, OutboxItem
from tocsin.notify.outcome import Outcome, OutcomeKind
from tocsin.notify.payload import common_pairs
from tocsin.notify.templates import Templates
from tocsin.oncall.escalation import page_escalation
from tocsin.oncall.lifecycle import GroupState, Via, pending_acts
from tocsin.oncall.schedules import Override, Shift, shifts
from tocsin.runbooks.checklist import Checklist, find_step, parse_ref
from tocsin.runbooks.timers import Timer, find_timer
from tocsin.store import oncall_rows, outbox_rows, replica_rows
from tocsin.store.db import close_database, is_sqlite, open_database, reclaim_space, sqlite_url
from tocsin.store.group_rows import GroupTimer, load_timers, logs_changed_since
from tocsin.store.oncall_rows import DueRow, OncallGroupRow
from tocsin.store.replica_rows import Replica
from tocsin.store.secrets import link_secret
from tocsin.store.settings import DatabaseSettings, Durability
from tocsin.store.writer import GroupCommitter
from tocsin.timeutil import Clock, format_rfc3339, utcnow

log = logging.getLogger(__name__)
_T = TypeVar("_T")
# Notifications forgotten per transaction by the garbage collector.
_FORGET_BATCH = 5000
# The first collection comes this soon after the start: a server restarted more often
# than its interval (a deploy a day, say) would otherwise never forget anything.
GC_FIRST_AFTER = timedelta(seconds=60)
# Seconds between looks at whether a commit hangs (it is said once it passes
# ``writer.STALLED``).
COMMIT_WATCH_EVERY = 5.0


@dataclass(frozen=True)
class Settings:
    config_path: Path
    data_dir: Path = Path("data")
    database_url: str | None = None
    listen: str = DEFAULT_LISTEN
    external_url: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    sqlite_durability: Durability = Durability.FULL
    name_validation: NameValidation = NameValidation.LEGACY
    retention: timedelta = timedelta(hours=120)
    gc_interval: timedelta = timedelta(minutes=15)
    follow_interval: timedelta = timedelta(seconds=1)
    # How long a notification being sent stays leased: after a crash mid-send it is
    # sent again once this has passed. Longer than any channel's timeout.
    delivery_lease: timedelta = timedelta(seconds=60)
    instance_name: str = field(default_factory=socket.gethostname)
    # TLS and basic auth for the HTTP server (exporter-toolkit's web config file)
    web_config_path: Path | None = None

    def database(self) -> DatabaseSettings:
        url = self.database_url or sqlite_url(self.data_dir)
        return DatabaseSettings(url=url, sqlite_durability=self.sqlite_durability)

    def base_url(self, scheme: str = "http") -> str:
        """The external URL, or the listen address served with ``scheme``."""
        if self.external_url:
            return self.external_url.rstrip("/")
        return f"{scheme}://{self.listen}"


class Runtime:
    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self.started_at = clock()
        self.instance_name = settings.instance_name
        # the name other replicas know it by: replicas of one host differ by their port
        self.replica_name = f"{settings.instance_name}:{settings.listen.rpartition(':')[2]}"
        self.members = 0  # replicas seen lately, at this one's last sign of life
        self.replicas = KickedLoop("replicas")  # its sign of life, every SIGN_EVERY
        self.retention = KickedLoop("retention")  # forgets what --retention has passed
        self.commit_watch = KickedLoop("commit watch")
        self._nobody_next = 0.0  # (monotonic) when a step may kick the nobody-paged loop
        self._forget_at = self.started_at + min(settings.gc_interval, GC_FIRST_AFTER)
        self._config_lock = threading.Lock()
        config = load_config(settings.config_path)  # a bad config stops start-up here
        self.web = self._load_web_config()
        # TLS on or off is fixed at start (a reload that would change it is refused)
        self.scheme = "http" if self.web.tls_server_config is None else "https"
        # called after a reload took a new web config (the server's TLS certificates)
        self.on_web_reload: list[Callable[[WebConfig], None]] = []
        self._config = config
        self._policy = ConfigPolicy(config, self._person)
        self._store_settings = self._derive_store_settings(config)
        self.metrics = Metrics(clock)
        self.metrics.config_loaded(config.original, self.started_at)
        self.engine = open_database(settings.database())
        self.writer = GroupCommitter(self.engine)
        # reads what other replicas commit (see ``follow_replicas``); its outage is
        # /-/ready's
        self.follow = KickedLoop("follow")
        self.people = PeopleDirectory(self.engine, self.writer, clock, lambda: self._config)
        self.people.refresh()
        self._say_unreachable()
        self.writer.on_batch = self.metrics.commit_batch.observe
        self.store = AlertStore(
            self.engine, self.writer, clock, self.store_settings, lambda: self._policy
        )
        self.store.load()
        self.runbooks = RunbookLibrary(
            self.engine,
            self.writer,
            clock,
            lambda: self._config.tocsin.runbooks,
            lambda: Path(self._config.source).resolve().parent,
            settings.base_url(self.scheme),
        )
        self.runbooks.load()
        _warn_of(config, self._policy.templates, self.runbooks, clock())
        self.sender = ChannelSender(
            lambda name: self._policy.receiver(name),
            lambda: self._policy.templates,
            clock,
            lambda: self.members <= 1,
        )
        self.delivery = DeliveryWorker(
            self.writer,
            clock,
            self.sender,
            DeliverySettings(lease=settings.delivery_lease),
            moot=self.page_moot,
        )
        self.dispatcher = Dispatcher(
            self.writer,
            self._load_timers,
            clock,
            self.store,
            lambda: self._policy,
            self.delivery.adopt,
            DispatchSettings(
                external_url=settings.base_url(self.scheme), handoff_lease=settings.delivery_lease
            ),
            runbook=self._runbook_extra,
            on_flushed=self._observe_flushes,
            changed_logs=self._changed_logs,
        )
        self.oncall = OncallEngine(
            self.writer,
            clock,
            lambda: self._config,
            self._person,
            self.store.alerts.get,
            self._runbook_extra,
            link_secret(self.engine),
            settings.base_url(self.scheme),
            self.delivery.kick,
            silencer=self.store.silencer,
        )
        self.store.alerts.listeners.append(self.dispatcher.on_alerts)
        self.health = ReceiverHealth(
            clock,
            lambda: self._config.tocsin,
            lambda name: self._policy.receiver(name),
            self.store.put_alerts,
            self._enqueue,
            self.sender.configured,
            self.store.alert,
        )
        self.delivery.listeners.append(self.health.on_attempt)
        self.heartbeats = HeartbeatMonitor(
            self.engine,
            self.writer,
            clock,
            lambda: self._config.tocsin.heartbeats,
            self.store.all_alerts,
            self.store.put_alerts,
            settings.base_url(self.scheme),
        )
        self.probes = ProbeMonitor(
            self.engine,
            self.writer,
            clock,
            lambda: self._config.tocsin.probes,
            self.store.all_alerts,
            self.store.put_alerts,
            settings.base_url(self.scheme),
        )
        self.incidents = IncidentDesk(
            self.engine,
            self.writer,
            clock,
            lambda: self._config.tocsin.incidents,
            self._incident_changed,
            lambda name: self._policy.receiver(name),
            settings.base_url(self.scheme),
        )
        self.incidents.on_taken = self._take_groups
        self.maintenances = MaintenanceDesk(
            self.engine,
            self.writer,
            clock,
            lambda: self._config.tocsin.incidents,
            self.store.silences,
            settings.name_validation,
            self._maintenance_changed,
            lambda name: self._policy.receiver(name),
            settings.base_url(self.scheme),
        )
        self.maintenance_edges = MaintenanceEdges(self.maintenances, clock)
        self.incident_reminders = IncidentReminders(
            self.incidents,
            clock,
            self.store.all_alerts,
            self.store.put_alerts,
            settings.base_url(self.scheme),
        )
        self.runbook_timers = RunbookTimerAlerts(
            clock,
            self._group_timers,
            self.store.all_alerts,
            self.store.put_alerts,
            settings.base_url(self.scheme),
        )
        self.nobody_paged = NobodyPaged(
            clock,
            partial(self._read, oncall_rows.unheard),
            self.store.alert,
            self.store.silencer,
            self.store.all_alerts,
            self.store.put_alerts,
            settings.base_url(self.scheme),
        )
        self.events = EventIntake(
            self.store, lambda: self._config, self.oncall_groups_of, self._ack_by_event, clock
        )
        self.oncall.on_taken = self._due_rows_taken
        self.delivery.timers.append(self._count_attempt)
        self.delivery.listeners.append(self._count_failed)
        self._known_integrations()
        self.metrics.add_state_gauges(
            "tocsin_alerts",
            "Firing alerts by state (active, suppressed), as alertmanager_alerts.",
            self._alert_counts,
        )
        loops = [
            self.dispatcher.loop,
            self.delivery.loop,
            self.oncall.loop,
            self.heartbeats.loop,
            self.probes.loop,
            self.incident_reminders.loop,
            self.runbook_timers.loop,
            self.nobody_paged.loop,
            self.maintenance_edges.loop,
            self.replicas,
            self.retention,
            self.follow,
        ]
        self.metrics.add_labelled_gauges(
            "tocsin_loop_failing",
            "1 while the loop's last round failed (logged; it retries): a failing dispatch, "
            "delivery or on-call loop flushes, sends or pages nothing.",
            "loop",
            lambda: {loop.name: float(loop.failing) for loop in loops},
        )
        self.metrics.add_labelled_counters(
            "tocsin_loop_failures",
            "Rounds of the loop that failed since the start.",
            "loop",
            lambda: {loop.name: float(loop.failures) for loop in loops},
        )
        self.metrics.add_state_gauges("tocsin_silences", "Silences by state.", self._silence_counts)
        self.metrics.add_state_gauges(
            "tocsin_heartbeats",
            "Configured heartbeats by state (new, up, late, down, failed) at the last check.",
            lambda: self.heartbeats.counts,
        )
        self.metrics.add_state_gauges(
            "tocsin_probes",
            "Configured probes by state (unknown, up, failing, down) at the last round.",
            lambda: self.probes.counts,
        )
        self.metrics.add_labelled_gauges(
            "tocsin_probe_success",
            "1 if the probe's last request passed, else 0 (blackbox exporter's probe_success).",
            "probe",
            lambda: self.probes.success,
        )
        self.metrics.add_labelled_gauges(
            "tocsin_probe_duration_seconds",
            "How long the probe's last request took.",
            "probe",
            lambda: self.probes.seconds,
        )
        self.metrics.add_labelled_gauges(
            "tocsin_probe_ssl_earliest_cert_expiry",
            "When the TLS certificate the probe's last request saw expires (Unix time).",
            "probe",
            lambda: self.probes.cert_expiry,
        )
        self.metrics.add_labelled_gauges(
            "tocsin_incidents_open",
            "Open incidents by severity, at the reminder loop's last round.",
            "severity",
            lambda: self.incident_reminders.open,
        )
        self.metrics.add_labelled_gauges(
            "tocsin_heartbeat_last_ping_timestamp_seconds",
            "When the heartbeat last pinged (Unix time).",
            "heartbeat",
            lambda: self.heartbeats.last_pings,
        )
        self.metrics.add_gauge(
            "tocsin_cluster_members",
            "Replicas sharing this database seen in the last 30 s, this one included, as of "
            "its last sign of life (as alertmanager_cluster_members): fewer than you run, "
            "one is down or cut off.",
            lambda: float(self.members),
        )
        self.metrics.add_gauge(
            "tocsin_oncall_groups_nobody_paged",
            "Firing groups whose escalation ended reaching nobody (each raises "
            "TocsinNobodyPaged), as of the last check.",
            lambda: float(self.nobody_paged.groups),
        )
        self.metrics.add_gauge(
            "tocsin_database_commit_age_seconds",
            "How long this replica's commit in progress has taken; 0 between commits. "
            "Growing: a lock another replica holds, or a database that stopped answering "
            "(over 30 s, /-/ready answers 503).",
            self.writer.stalled_for,
        )
        self.metrics.add_overdue_gauge(
            "tocsin_oncall_due_overdue_seconds",
            "How long the oldest pending on-call row (escalation step, page, wake-up) has "
            "been due; 0 when none is. Growing: the on-call worker is stopped or behind.",
            lambda: self._read(oncall_rows.oldest_pending_due),
        )
        self.metrics.add_overdue_gauge(
            "tocsin_outbox_overdue_seconds",
            "How long the oldest notification waiting in the outbox has been due to be "
            "sent; 0 when none is. Growing: the delivery worker is stopped or behind.",
            lambda: self._read(outbox_rows.oldest_pending),
        )

    @property
    def config(self) -> Config:
        return self._config

    def store_settings(self) -> StoreSettings:
        return self._store_settings

    def _derive_store_settings(self, config: Config) -> StoreSettings:
        return StoreSettings(
            resolve_timeout=config.global_.resolve_timeout,
            name_validation=self.settings.name_validation,
            retention=self.settings.retention,
        )

    def _count_failed(self, item: OutboxItem, last: Outcome) -> None:
        if item.status is DeliveryStatus.FAILED:
            self.metrics.notification_failed(item.integration, item.receiver, last)

    def _known_integrations(self) -> None:
        """The notification metrics' series of every configured integration, at zero."""
        people = [f"{PERSON_PREFIX}{p.name}" for p in self._config.people]
        receivers = [self._policy.receiver(name) for name in people]
        receivers += list(self._config.receivers)
        self.metrics.integrations_known(
            (kind, r.name) for r in receivers if r is not None for kind, _, _ in r.integrations()
        )

    def reload(self) -> None:
        """Load the config file again; on any error keep the running config and raise."""
        with self._config_lock:
            try:
                config = load_config(self.settings.config_path)
                policy = ConfigPolicy(config, self._person)
                web = self._load_web_config()
                for apply in self.on_web_reload:
                    apply(web)
            except Exception as exc:
                self.metrics.reload_ok.set(0)
                # logged here, whoever asked (SIGHUP, POST /-/reload): the server's log
                # is where an operator looks for why the new config is not in force
                log.error("reload refused, keeping old config: %s", exc)
                raise
            self._config, self._policy, self.web = config, policy, web
            self._store_settings = self._derive_store_settings(config)
            self.dispatcher.reload()
            # arms new heartbeats and probes; removed ones' alerts resolve
            self.heartbeats.kick()
            self.probes.kick()
            self.incident_reminders.kick()  # a severity's debts may have changed
            self._known_integrations()
            self.metrics.config_loaded(config.original, self.clock())
            log.info("configuration reloaded from %s", self.settings.config_path)
            self._say_unreachable()
            try:
                self.runbooks.load()
            except OSError as exc:  # the config is in force; say which file failed
                log.error("reading runbooks failed: %s", exc)
            _warn_of(config, policy.templates, self.runbooks, self.clock())

    def _say_unreachable(self) -> None:
        for problem in self.people.unreachable():
            log.error("people: %s (contacts_via_api: PUT /api/v1/people/NAME)", problem)

    def _load_web_config(self) -> WebConfig:
        path = self.settings.web_config_path
        return WebConfig() if path is None else load_web_config(path)

    def _maintenance_changed(self) -> None:
        self.maintenance_edges.kick()  # a window moved: its next start or end
        self.delivery.kick()  # the announcements committed with the change

    def _incident_changed(self) -> None:
        self.incident_reminders.kick()  # a debt paid resolves its alert at once
        self.runbook_timers.kick()  # its status page updated keeps its groups' timers
        self.delivery.kick()  # the announcements committed with the change

    def _person(self, name: str) -> Person | None:
        return self.people.get(name)

    async def _observe_flushes(self, flushed: list[tuple[FlushBatch, FlushPlan]]) -> None:
        await self.oncall.observe(flushed)

    def _runbook_extra(self, alert: Alert) -> dict[str, Any] | None:
        link = self.runbooks.link(alert.labels, alert.annotations)
        return None if link is None else link.extra(alert.labels)

    async def _enqueue(self, items: list[OutboxItem]) -> None:
        await self.writer.run(Enqueue(items))
        self.delivery.kick()

    def _changed_logs(self, rev: int, own: Sequence[int]) -> list[tuple[str, int]]:
        with self.engine.connect() as conn:
            return logs_changed_since(conn, rev, own)

    def _load_timers(self) -> list[GroupTimer]:
        with self.engine.connect() as conn:
            return load_timers(conn)

    async def collect_garbage(self) -> tuple[int, int, int]:
        """Forget what the retention has passed: resolved alerts, expired silences, the
        notification log's entries, and the notifications done with (in bounded
        batches, the writer free between them). Returns the alerts, silences and
        notifications forgotten."""
        alerts, silences = await self.store.collect_garbage()
        cutoff = self.clock() - self.settings.retention
        notifications = 0
        while True:
            n = await self.writer.run(ForgetDone(cutoff, _FORGET_BATCH))
            notifications += n
            if n < _FORGET_BATCH:
                break
        if alerts or silences or notifications:
            # what was forgotten goes back to the file system (SQLite: the file never
            # shrank); a failure here is the round's, retried with it
            await asyncio.to_thread(reclaim_space, self.engine)
        return alerts, silences, notifications

    async def follow_replicas(self) -> None:
        """Keep the in-memory indexes current with what other replicas commit, every
        ``follow_interval`` (the app runs it). Reads catch up by themselves; this bounds
        how stale the state is that background work (metrics, dispatch) sees."""

        async def catch_up() -> None:
            await asyncio.to_thread(self.store.refresh)
            await asyncio.to_thread(self.people.refresh)

        await self.follow.run(catch_up, self.settings.follow_interval.total_seconds)

    async def watch_commits(self) -> None:
        """Log a commit that hangs (see ``GroupCommitter.stalled``): checked every few
        seconds by this loop, as the writer's own thread is the one waiting."""

        async def check() -> str:
            self.writer.stalled()
            return IDLE

        await self.commit_watch.run(check, lambda: COMMIT_WATCH_EVERY)

    async def run_retention(self) -> None:
        """:meth:`collect_garbage` a minute after the start, then every ``gc_interval``
        (the app runs it)."""
        await self.retention.run(self._forget_when_due, self._until_forget)

    async def _forget_when_due(self) -> object:
        now = self.clock()
        if now < self._forget_at:
            return IDLE  # woken early: not yet
        try:
            alerts, silences, notifications = await self.collect_garbage()
        except Exception:
            self._forget_at = now + timedelta(seconds=RETRY_FAILED)  # logged by the loop
            raise
        self._forget_at = now + self.settings.gc_interval
        if alerts or silences or notifications:
            log.info(
                "forgot %d resolved alerts, %d expired silences and %d notifications",
                alerts,
                silences,
                notifications,
            )
        return None

    def _until_forget(self) -> float:
        return max(0.0, (self._forget_at - self.clock()).total_seconds())

    async def page_moot(self, item: OutboxItem) -> str | None:
        """Why a page need not be sent any more (its group acknowledged, snoozed or
        resolved since it was decided: the second person is not woken for what the
        first took a moment ago), or None; other notifications always go."""
        escalation = page_escalation(item.idempotency_key)
        if escalation is None:
            return None
        return await asyncio.to_thread(self._read, lambda c: oncall_rows.page_moot(c, escalation))

    async def run_replicas(self) -> None:
        """The sign of life every ``replicas.SIGN_EVERY`` (the app runs it)."""
        await self.replicas.run(self.sign_of_life, SIGN_EVERY.total_seconds)

    async def sign_of_life(self) -> None:
        """Record this replica alive, and count those seen lately."""
        me = Replica(
            self.replica_name,
            self.settings.base_url(self.scheme),
            __version__,
            self.started_at,
            self.clock(),
        )
        # counted here, not at a scrape: a database away must not fail /metrics
        self.members = len(await self.writer.run(SignOfLife(me)))

    def live_replicas(self) -> list[Replica]:
        """The replicas seen within ``replicas.ALIVE_WITHIN``, this one among them once
        it has signed."""
        since = self.clock() - ALIVE_WITHIN
        return self._read(lambda conn: replica_rows.seen_since(conn, since))

    def cluster(self) -> dict[str, Any]:
        """The ``cluster`` of ``/api/v2/status``."""
        return cluster(self.replica_name, self.live_replicas(), not is_sqlite(self.engine))

    def _count_attempt(self, item: OutboxItem, outcome: Outcome, seconds: float) -> None:
        """A send, for /metrics; not one for a receiver or integration this replica's
        configuration lacks (a rolling reload, or removed on purpose): no request was
        made, and counted failed it fired the failing-receiver rules of a receiver that
        is gone."""
        if outcome.kind is not OutcomeKind.SENT and not self.sender.configured(item):
            return
        first = item.attempts == 0
        self.metrics.notification_attempt(item.integration, item.receiver, first, outcome, seconds)

    def _due_rows_taken(self, now: datetime, rows: Sequence[DueRow]) -> None:
        """The on-call engine committed a batch of due rows (on the writer's thread)."""
        self.metrics.due_rows_taken(now, ((r.kind, r.due_at) for r in rows))
        # a step may have reached nobody; at most a round a second (a storm's batches
        # come back to back, and a round reads every firing group)
        if any(r.kind == "step" for r in rows) and time.monotonic() >= self._nobody_next:
            self._nobody_next = time.monotonic() + 1.0
            self.nobody_paged.kick()

    def _read(self, query: Callable[[Connection], _T]) -> _T:
        with self.engine.connect() as conn:
            return query(conn)

    def config_text(self) -> str:
        """The file as loaded, its secrets shown as ``<secret>`` (as Alertmanager's) and
        Tocsin's own keys commented out (so that Alertmanager's tools parse it)."""
        config = self._config
        return shown(config.original, config)

    # -- services the edges share (API, console) ---------------------------------------

    async def act_on_group(
        self,
        group_id: str,
        action: str,
        who: str,
        via: Via,
        comment: str = "",
        duration: timedelta | None = None,
        episode: str | None = None,
    ) -> dict[str, Any]:
        """Acknowledge, resolve or snooze an alert group; returns its new state.
        ``episode``: the escalation a page's link or button was for (refused once the
        group fired again since). Raises LookupError (no such group) or OncallRefused
        (not in this state, or not that episode)."""
        human = HumanAction(
            group_id,
            action,
            who,
            via,
            self.clock(),
            self.oncall,
            comment,
            duration,
            episode,
            self.clock,
        )
        op: HumanAction | EndingEvents = human
        if action == "resolve":
            op = EndingEvents(human, self.store.alerts, self.store.by_event)
        state: dict[str, Any] = await self.writer.run(op)
        self.oncall.kick()
        if self.nobody_paged.groups:  # this may be one of them: its alert resolves now
            self.nobody_paged.kick()
        return state

    async def _take_groups(self, groups: Sequence[str], by: str, via: Via, why: str) -> None:
        """Alert groups an incident took over (declared from them or linked to it):
        whoever did it took them, so each one still firing is acknowledged by them (its
        escalation stops: the next step would page someone else about what is being
        handled). One acknowledged, snoozed or resolved already stays as it is."""
        for group_id in groups:
            try:
                await self.act_on_group(group_id, "ack", by, via, why)
            except (OncallRefused, LookupError):
                continue
            except Exception:  # the incident is committed: its change must answer so
                log.exception("acknowledging group %s (%s)", group_id, why)

    def group_page(self, group_id: str) -> GroupPage | None:
        """What the API and the console show of an on-call alert group, read once: its
        row, the pending rows that will act, its audit trail, and its runbooks'
        checklists and timers. None: no such group."""
        self.store.refresh()  # alerts other replicas committed
        with self.engine.connect() as conn:
            row = oncall_rows.get_group(conn, group_id)
            if row is None:
                return None
            lifecycle = row.state.get("lifecycle")
            due = oncall_rows.pending_due(conn, group_id)
            audit = oncall_rows.audit_of(conn, group_id)
        state = GroupState.from_json(lifecycle) if lifecycle else None
        pending = [d for d in due if pending_acts(d.kind, state, d.payload)]
        runbook = group_runbook(row, audit, self._incident_alerts, self.runbooks, self.clock())
        return GroupPage(row, pending, audit, runbook)

    def held_alerts(self, row: OncallGroupRow, first: int | None = None) -> list[Alert]:
        """The alerts a group's row holds that the store still has (its ``first``)."""
        fps = (row.state.get("alerts") or [])[:first]
        return [a for fp in fps if (a := self.store.alerts.get(fp))]

    def shared_labels(self, row: OncallGroupRow) -> dict[str, str]:
        """The labels every alert of a group has (what its runbook steps' placeholders
        are filled from)."""
        return common_pairs([a.labels for a in self.held_alerts(row)])

    def shared_labels_of(self, group_id: str) -> dict[str, str]:
        """:meth:`shared_labels` of the group read by its id; empty for no such group."""
        with self.engine.connect() as conn:
            row = oncall_rows.get_group(conn, group_id)
        return {} if row is None else self.shared_labels(row)

    def _incident_alerts(self, row: OncallGroupRow, opened: datetime | None) -> list[Alert]:
        """The alerts of a group's incident: those firing in it, and those of its
        route and group labels that were firing at or after its latest opening and
        have resolved since (a resolved group's procedures and post-incident timers
        stay; the store keeps resolved alerts for its retention, 120 h by default)."""
        fingerprints = row.state.get("alerts") or ()
        found = [a for fp in fingerprints if (a := self.store.alerts.get(fp)) is not None]
        if opened is None:
            return found
        seen = {a.fingerprint for a in found}
        labels = (row.state.get("labels") or {}).items()
        for a in self.store.all_alerts():
            if a.fingerprint in seen or a.ends_at < opened:
                continue
            if all(a.labels.get(k) == v for k, v in labels) and (row.group_key, row.receiver) in (
                self.oncall_keys_of(dict(a.labels))
            ):
                found.append(a)
        return found

    def checklists(self, group_id: str) -> list[Checklist] | None:
        found = self.group_page(group_id)
        return None if found is None else found.runbook.checklists

    def timers(self, group_id: str) -> list[Timer] | None:
        found = self.group_page(group_id)
        return None if found is None else found.runbook.timers

    async def tick_step(
        self, group_id: str, step: str, done: bool, who: str, via: Via, comment: str = ""
    ) -> list[Checklist]:
        """Tick (or untick) a step of a group's checklist (``step``: ``N`` or
        ``RUNBOOK/PROCEDURE:N``); returns the checklists. A step already so is left as
        it is (its first tick keeps its time). Raises LookupError (no such group) or
        ValueError (no such step, with why)."""

        def mark(lists: list[Checklist]) -> Mark | None:
            ref = parse_ref(step, lists)
            if isinstance(ref, str):
                raise ValueError(ref)
            found = find_step(lists, ref)
            assert found is not None  # parse_ref names only steps it found
            # already so: the trail records what changed, not a second tick
            return None if found.done == done else step_mark(ref, found.text, done)

        return await self._mark(group_id, self.checklists, mark, who, via, comment)

    async def keep_timer(
        self, group_id: str, which: str, kept: bool, who: str, via: Via, comment: str = ""
    ) -> list[Timer]:
        """Say that a runbook timer of a group was kept (or, ``kept`` false, was not):
        ``which`` is ``N`` as listed or ``RUNBOOK:LINE``; returns the timers. Timers an
        answer to the page meets are refused, and a timer already so is left as it is.
        Raises LookupError (no such group) or ValueError (no such timer, with why)."""

        def mark(found: list[Timer]) -> Mark | None:
            chosen = find_timer(found, which)
            if isinstance(chosen, str):
                raise ValueError(chosen)
            if not chosen.keepable:
                raise ValueError(
                    f"{which!r} ({chosen.text}) is met by acknowledging the group, not by hand"
                )
            return None if (chosen.kept_by is not None) == kept else timer_mark(chosen, kept)

        return await self._mark(group_id, self.timers, mark, who, via, comment)

    async def _mark(
        self,
        group_id: str,
        read: Callable[[str], list[_T] | None],
        mark: Callable[[list[_T]], Mark | None],
        who: str,
        via: Via,
        comment: str,
    ) -> list[_T]:
        """Write the mark a person makes on what ``read`` lists of a group's runbook
        (None: it is so already), and list it again."""
        found = await asyncio.to_thread(read, group_id)
        if found is None:
            raise LookupError(f"no on-call alert group {group_id!r}")
        made = mark(found)
        if made is None:
            return found
        await self.writer.run(MarkRunbook(group_id, made, who, via, self.clock(), comment))
        self.runbook_timers.kick()  # a timer kept resolves its alert at once
        return await asyncio.to_thread(read, group_id) or []

    def _group_timers(self, now: datetime) -> list[tuple[OncallGroupRow, list[Timer]]]:
        """The runbook timers of the groups that may have some running: open, or
        resolved within the loop's lookback. A group's audit trail is read only when
        one of its alerts links to a runbook that promises something (a storm's groups
        of alerts without one cost a lookup each)."""
        out: list[tuple[OncallGroupRow, list[Timer]]] = []
        with self.engine.connect() as conn:
            for row in oncall_rows.open_or_resolved_since(conn, now - TIMER_LOOKBACK):
                fingerprints = row.state.get("alerts") or ()
                held = [a for fp in fingerprints if (a := self.store.alerts.get(fp))]
                if not any(self._promises(a) for a in held):
                    continue
                audit = oncall_rows.audit_of(conn, row.group_id)
                alerts_of = partial(_held_alerts, held)
                found = group_runbook(row, audit, alerts_of, self.runbooks, now)
                if found.timers:
                    out.append((row, found.timers))
        return out

    def _promises(self, alert: Alert) -> bool:
        """Whether the alert links to a runbook that states a timer (an SLA)."""
        link = self.runbooks.link(alert.labels, alert.annotations)
        book = None if link is None else self.runbooks.get(link.runbook)
        return book is not None and bool(book.slas)

    def oncall_keys_of(self, labels: dict[str, str]) -> list[tuple[str, str]]:
        """The group key and receiver of each alert group an alert with ``labels``
        joins, one per route it reaches: what makes an on-call group the same group."""
        root = self._policy.root
        return [(group_key(node, labels), node.receiver) for node in match(root, labels)]

    def oncall_groups_of(self, alerts: list[dict[str, str]]) -> set[str]:
        """The ids of the on-call groups alerts with these labels are in (a read)."""
        keys = {k for labels in alerts for k in self.oncall_keys_of(labels)}
        with self.engine.connect() as conn:
            found = oncall_rows.groups_of_keys(conn, {key for key, _ in keys})
        return {g for key, to in keys for g, receiver in found.get(key, ()) if receiver == to}

    async def _ack_by_event(self, group_id: str, who: str, comment: str) -> dict[str, Any]:
        return await self.act_on_group(group_id, "ack", who, Via.EVENTS_API, comment)

    def overrides(self, schedule: str, past: bool = False) -> list[Override] | None:
        """A schedule's overrides by start, the file's and those made at run time, those
        over already only with ``past``; None when there is no such schedule."""
        found = self._config.schedule(schedule)
        if found is None:
            return None
        now = self.clock()
        with self.engine.connect() as conn:
            every = [*found.config_overrides(), *oncall_rows.overrides(conn, schedule)]
        return sorted((o for o in every if past or o.end > now), key=lambda o: (o.start, o.id))

    async def add_override(self, override: Override, by: str, via: Via) -> str | None:
        """Store ``override`` if it meets the rules (``override_problem``); else why not."""
        problem = await asyncio.to_thread(
            override_problem,
            override,
            self.clock(),
            self.people,
            self.timeline(override.schedule),
        )
        if problem is None:
            await self.writer.run(AddOverride(override, by, via))
        return problem

    def shifts(self, schedule: str, start: datetime, end: datetime) -> list[Shift] | None:
        """A schedule's shifts over [start, end), overrides (config and stored) applied;
        None when there is no such schedule."""
        timeline = self.timeline(schedule)
        return None if timeline is None else timeline(start, end)

    def timeline(self, schedule: str) -> Callable[[datetime, datetime], list[Shift]] | None:
        """:meth:`shifts` of one schedule for any range, its stored overrides read once
        (for questions that look at several ranges); None when there is no such schedule."""
        found = self._config.schedule(schedule)
        if found is None:
            return None
        with self.engine.connect() as conn:
            stored = oncall_rows.overrides(conn, schedule)
        bound, overrides = found.to_schedule(), [*found.config_overrides(), *stored]
        return lambda start, end: shifts(bound, overrides, start, end)

    def receiver_names(self) -> list[str]:
        return self._policy.receiver_names()

    def version_info(self) -> dict[str, str]:
        return {
            "branch": "main",
            "buildDate": "",
            "buildUser": "tocsin",
            "goVersion": f"python{platform.python_version()}",
            "revision": "",
            "version": __version__,
        }

    def holdings(self) -> str:
        """What the database holds, said at start: after a crash, what came back."""
        alerts, silences = self._alert_counts(), self._silence_counts()
        waiting, leased, until = self._read(lambda c: outbox_rows.waiting(c, self.clock()))
        line = (
            f"holding alerts: {alerts['active']} active, {alerts['suppressed']} suppressed; "
            f"silences: {silences['active']} active, {silences['pending']} pending; "
            f"notifications to send: {waiting}"
        )
        if leased and until is not None:
            line += (
                f" ({leased} leased until {format_rfc3339(until)}: being sent by another "
                "replica, or were by a run that stopped, and go again when the lease lapses)"
            )
        return line

    def _alert_counts(self) -> dict[str, int]:
        counts = Counter(v.status.state.value for v in self.store.views(fresh=False))
        return {"active": counts.get("active", 0), "suppressed": counts.get("suppressed", 0)}

    def _silence_counts(self) -> dict[str, int]:
        now = self.clock()
        counts = Counter(s.state(now).value for s in self.store.silences.values())
        return {state: counts.get(state, 0) for state in ("active", "pending", "expired")}

    def close(self) -> None:
        self.writer.close()
        close_database(self.engine)  # its write-ahead log emptied: see close_database


def _warn_of(config: Config, templates: Templates, library: RunbookLibrary, now: datetime) -> None:
    """Log what ``check-config`` warns of in a configuration now in force (what its
    notifications cannot do), where whoever wonders why pages fail looks; its runbook
    links checked against the runbooks loaded (those uploaded through the API too),
    not read from their files a second time."""
    books = {n: (b, library.source(n) or n) for n in library.names() if (b := library.get(n))}
    try:
        found = config_warnings(config, templates, books, now=now)
    except Exception:  # a warning must not refuse, or half apply, the config
        log.exception("checking the configuration for warnings failed")
        return
    for warning in found:
        log.warning("%s", warning.as_warning() if isinstance(warning, ConfigProblem) else warning)


def _held_alerts(held: list[Alert], row: OncallGroupRow, opened: datetime | None) -> list[Alert]:
    """A group's alerts as the timer loop reads them: those it holds, not the store's
    every alert searched for the rest of its incident (``Runtime._incident_alerts``),
    which is a scan per group."""
    return list(held)
