"""On-call: alert groups whose receiver names an ``escalation_policy`` are paged through
it until someone acknowledges.

The dispatcher reports each flush of such a group (``observe``); the worker takes what
is due (escalation steps, from their groups' ladder columns; due rows of per-person
notifications and of ends of snoozes and of acknowledgement grace periods) and runs it
through the writer ops of ``tocsin.core.oncall_ops``, which decide with the pure
functions of ``tocsin.oncall``.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from tocsin.alerts.grouping import FlushBatch
from tocsin.alerts.model import Alert, in_notification_order
from tocsin.alerts.mutes import Muter, NoMutes
from tocsin.alerts.notify_decision import FlushPlan
from tocsin.config import Config
from tocsin.config.escalation import EscalationPolicy
from tocsin.config.oncall import Person
from tocsin.config.receivers import Receiver
from tocsin.core.oncall_ops import Observation, Observe, OncallContext, Paging, ProcessDue
from tocsin.core.policy import PERSON_PREFIX
from tocsin.engine.loop import KickedLoop
from tocsin.notify.message import Notification, tells_of_acks, with_runbook_annotations
from tocsin.notify.outbox import OutboxItem, new_item
from tocsin.oncall.escalation import (
    NotificationPlan,
    NotifyDue,
    Recipient,
    WhoIsOnCall,
    paged_why,
)
from tocsin.oncall.lifecycle import TellAcknowledged
from tocsin.oncall.links import Action, make_link
from tocsin.oncall.people import notification_plan
from tocsin.oncall.schedules import on_call
from tocsin.store import oncall_rows
from tocsin.store.oncall_rows import DueRow, OncallGroupRow
from tocsin.store.writer import GroupCommitter, Txn
from tocsin.timeutil import Clock, to_micros

log = logging.getLogger(__name__)

# Due rows per transaction: enough to amortize a commit, few enough that one round does
# not hold the writer (and so alert ingestion) for long. While rows are backed up (a
# round took a full batch) each round takes twice as many, up to MAX_BATCH, as long as
# a round's transaction (its op and the commit) stays within BUDGET: a storm drains
# with fewer commits, and one round holds the writer some tens of ms at most. A round
# over BUDGET makes the next one proportionally smaller.
BATCH = 200
MAX_BATCH = 5000
BUDGET = 0.05  # seconds
# Added to a sleep until a due time: the event loop may wake a timer up to its clock's
# resolution early, and a round a hair before the due time would find nothing due.
_TIMER_SLACK = 0.001
# The shortest sleep after a round that found nothing more due: rows coming due one
# by one (a storm's first steps: one every millisecond) are taken a few at a time
# rather than in a transaction (and an fsync) each. A step is late by at most this.
_MIN_SLEEP = 0.02
# A person's channel -> the integration of their ``person:NAME`` receiver that serves it.
_CHANNEL_INTEGRATION = {"email": "email[0]", "slack": "slack[0]"}
_ALL_RESOLVED = "every alert of the group has resolved (the group resolves at its next flush)"
_ALL_SILENCED = "every alert of the group firing is silenced"


def _integrations(receiver: Receiver) -> tuple[str, list[str]]:
    return receiver.name, [f"{kind}[{i}]" for kind, i, _ in receiver.integrations()]


def group_id(route_id: str, group_key: str) -> str:
    """A short, stable id for an alert group, for people to type (``tocsin ack ID``)."""
    return hashlib.sha256(f"{route_id}\0{group_key}".encode()).hexdigest()[:12]


class OncallEngine:
    def __init__(
        self,
        writer: GroupCommitter,
        clock: Clock,
        config: Callable[[], Config],
        person: Callable[[str], Person | None],
        alerts: Callable[[str], Alert | None],
        extra: Callable[[Alert], Mapping[str, Any] | None],
        secret: bytes,
        base_url: str,
        on_enqueued: Callable[[], None],
        tick: timedelta = timedelta(milliseconds=200),
        silencer: Callable[[datetime], Muter] = lambda now: NoMutes(),
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._config = config
        self._person = person
        self._alert = alerts
        self._extra = extra
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self._on_enqueued = on_enqueued
        self._tick = tick
        self._silencer = silencer  # the silences in force at a time
        self.loop = KickedLoop("on-call")
        self.claimed = 0  # due rows claimed so far (the loop compares rounds)
        self._batch = BATCH  # rows the next round takes
        self._took = 0.0  # seconds the last round's transaction took
        self._next_due: datetime | None = None  # the soonest row due after the last round
        # told of every committed batch of due rows: when they were taken, and the rows
        self.on_taken: Callable[[datetime, Sequence[DueRow]], None] = lambda now, rows: None
        self._receivers: tuple[Config | None, dict[str, tuple[str, list[str]]]] = (None, {})

    # -- the context the writer ops decide with -------------------------------------

    def policy(self, name: str) -> EscalationPolicy | None:
        return self._config().escalation_policy(name)

    def who_is_on_call(self, txn: Txn) -> WhoIsOnCall:
        config = self._config()
        stored: dict[str, list[Any]] = {}

        def who(schedule: str, at: datetime) -> Sequence[str]:
            found = config.schedule(schedule)
            if found is None:
                return []
            if schedule not in stored:
                stored[schedule] = oncall_rows.overrides(txn.conn, schedule)
            overrides = [*found.config_overrides(), *stored[schedule]]
            return on_call(found.to_schedule(), overrides, at)

        return who

    def reachable(self, kind: Recipient, name: str) -> bool:
        if kind is Recipient.RECEIVER:
            return self._receiver(name) is not None
        return self._person(name) is not None

    def plan(self) -> NotificationPlan:
        def plan(name: str, urgency: Any, at: datetime) -> Sequence[Any]:
            person = self._person(name)
            return [] if person is None else notification_plan(person.to_person(), urgency, at)

        return plan

    def page_items(
        self, read_row: Callable[[], OncallGroupRow], due: NotifyDue, now: datetime
    ) -> Paging:
        """The outbox items that carry one page: to a receiver's integrations, or to the
        person's channel (``default``: e-mail if they have one, else Slack). The group's
        row is read only for a page that builds a notification. None once every alert
        of the group has resolved: the group itself resolves at its next flush (its
        ``group_interval`` later), and until then its steps must not wake anyone for
        what is over."""
        page = due.page
        if page.recipient is Recipient.RECEIVER:
            found = self._receiver(page.name)
            if found is None:
                return Paging([])
            target, names = found
            actor = target
        else:
            person = self._person(page.name)
            if person is None:
                return Paging([])
            target = f"{PERSON_PREFIX}{person.name}"
            channel = due.channel
            if channel == "default":
                channel = "email" if person.email else "slack"
            integration = _CHANNEL_INTEGRATION.get(channel)
            if integration is None:
                log.warning("no way to page %s through %s", person.name, due.channel)
                return Paging([])
            names = [integration]
            actor = person.name
        if not names:
            return Paging([])  # a receiver without integrations: nothing to build
        row = read_row()
        alerts = self._alerts_of(row)
        firing = [a for a in alerts if not a.resolved(now)]
        if alerts and not firing:
            return Paging([], _ALL_RESOLVED)
        # A snooze or an acknowledgement that ran out on a group whose alerts were
        # silenced meanwhile: its next flush says "muted"; until then, nobody is paged
        # about what someone silenced.
        silencer = self._silencer(now)
        if firing and all(silencer.muted_by(a.fingerprint, a.labels) for a in firing):
            return Paging([], _ALL_SILENCED)
        note = self._notification(
            row, target, alerts, due.idempotency_key, now, actor, why=paged_why(page)
        )
        return Paging([new_item(str(uuid.uuid4()), target, name, note, now) for name in names])

    def resolved_items(
        self,
        row: OncallGroupRow,
        paged: Sequence[tuple[str, str]],
        escalation_id: str,
        now: datetime,
    ) -> list[OutboxItem]:
        """The group resolved (its alerts did): each receiver and person its escalation
        paged is told, through each integration a page went through (a person by the
        e-mail and the Slack message they were paged by), as a route's receivers are:
        the chat channel, the ticket, the PagerDuty incident the page opened is closed,
        and the people woken know they can stop (each integration's ``send_resolved``
        decides at the send). Nothing while an alert still fires (a hand resolution):
        that would read as a page. A receiver or person a reload removed is skipped."""
        alerts = self._alerts_of(row)
        if not alerts or not all(a.resolved(now) for a in alerts):
            return []
        return self._tell(row, paged, alerts, f"{escalation_id}/resolved", now)

    def acknowledged_items(
        self,
        row: OncallGroupRow,
        paged: Sequence[tuple[str, str]],
        told: TellAcknowledged,
        now: datetime,
    ) -> list[OutboxItem]:
        """Someone took the group: each receiver and person its escalation paged so
        far is told who, through each integration a page went through (but webhooks
        and PagerDuty: ``tells_of_acks``), so that the second person paged does not get
        up for it too. Not the person who acknowledged. (The notice's alerts fire:
        ``send_resolved`` has no say.)"""
        alerts = self._alerts_of(row)
        if not alerts:
            return []
        tell = [(t, i) for t, i in paged if t != PERSON_PREFIX + told.by and tells_of_acks(i)]
        key = f"{told.escalation_id}/acknowledged/{to_micros(now)}"
        return self._tell(row, tell, alerts, key, now, acknowledged_by=told.by)

    def _tell(
        self,
        row: OncallGroupRow,
        paged: Sequence[tuple[str, str]],
        alerts: Sequence[Alert],
        key: str,
        now: datetime,
        acknowledged_by: str = "",
    ) -> list[OutboxItem]:
        """One notification of the group to each of ``paged`` still configured, through
        the integration a page went through (a person by the e-mail and the Slack
        message they were paged by); ``key/target`` is its idempotency key."""
        items: list[OutboxItem] = []
        notes: dict[str, Notification] = {}
        for target, integration in paged:
            if not self._still_configured(target, integration):
                continue
            note = notes.get(target)
            if note is None:
                note = notes[target] = self._notification(
                    row, target, alerts, f"{key}/{target}", now, acknowledged_by=acknowledged_by
                )
            items.append(new_item(str(uuid.uuid4()), target, integration, note, now))
        return items

    def _still_configured(self, target: str, integration: str) -> bool:
        if target.startswith(PERSON_PREFIX):
            return self._person(target.removeprefix(PERSON_PREFIX)) is not None
        found = self._receiver(target)
        return found is not None and integration in found[1]

    def _alerts_of(self, row: OncallGroupRow) -> list[Alert]:
        """The group's alerts that fired last, as the store holds them now."""
        return [a for fp in row.state.get("alerts", []) if (a := self._alert(fp))]

    def _notification(
        self,
        row: OncallGroupRow,
        target: str,
        held: Sequence[Alert],
        key: str,
        now: datetime,
        actor: str | None = None,
        acknowledged_by: str = "",
        why: str = "",
    ) -> Notification:
        """The group's alerts to ``target``, with their runbooks; with the signed
        acknowledge and resolve links for ``actor`` when it is a page, and ``why`` it
        comes (``paged_why``) when it says more than its alerts."""
        episode = str((row.state.get("lifecycle") or {}).get("escalation_id") or "")
        links: dict[str, str] = {
            "group_id": row.group_id,
            "escalation_id": episode,  # what the page's links and buttons act on
            # the group's console page: its alerts, pending steps and audit trail
            "console_url": f"{self.base_url}/ui/groups/{quote(row.group_id, safe='')}",
        }
        if why:
            links["paged_why"] = why
        if actor is not None:
            for name, action in (("ack_url", Action.ACK), ("resolve_url", Action.RESOLVE)):
                links[name] = make_link(
                    self.base_url, self.secret, action, row.group_id, actor, now, episode=episode
                )
        alerts: list[Alert] = []
        extra: dict[str, Mapping[str, Any]] = {}
        for stored in in_notification_order(held):  # as the group's notifications
            runbook = self._extra(stored)
            # the page carries the runbook in annotations as the group's notifications do
            a = with_runbook_annotations(stored, runbook) if runbook else stored
            alerts.append(a)
            extra[a.fingerprint] = {**(runbook or {}), **links}
        return Notification(
            receiver=target,
            group_key=row.group_key,
            group_labels=row.state.get("labels", {}),
            alerts=tuple(alerts),
            now=now,
            external_url=self.base_url,
            idempotency_key=key,
            extra=extra,
            acknowledged_by=acknowledged_by,
        )

    def _receiver(self, name: str) -> tuple[str, list[str]] | None:
        """A receiver's name and its integrations' names (``webhook[0]``...), looked up
        once per config rather than once per page."""
        config = self._config()
        if self._receivers[0] is not config:
            self._receivers = (
                config,
                {r.name: _integrations(r) for r in reversed(config.receivers)},
            )
        return self._receivers[1].get(name)

    # -- feeding and running -------------------------------------------------------

    def observations(self, flushed: Sequence[tuple[FlushBatch, FlushPlan]]) -> list[Observation]:
        """Which flushed groups have an escalation policy, and what fires in them."""
        config = self._config()
        out: list[Observation] = []
        for batch, plan in flushed:
            receiver = config.receiver(batch.receiver)
            if receiver is None or not receiver.escalation_policy or plan.time_muted:
                continue
            muted = set(plan.muted)
            firing = [a.fingerprint for a in batch.firing if a.fingerprint not in muted]
            silenced = [a.fingerprint for a in batch.firing if a.fingerprint in muted]
            out.append(
                Observation(
                    group_id(batch.route_id, batch.group_key),
                    batch.route_id,
                    batch.group_key,
                    batch.receiver,
                    receiver.escalation_policy,
                    dict(batch.labels),
                    firing,
                    silenced,
                )
            )
        return out

    async def observe(self, flushed: Sequence[tuple[FlushBatch, FlushPlan]]) -> None:
        found = self.observations(flushed)
        if found:
            ctx: OncallContext = self
            await self._writer.run(Observe(found, self._clock(), ctx))
            self.kick()

    def kick(self) -> None:
        self.loop.kick()

    def _claimed(self, n: int) -> None:
        self.claimed += n

    def _committed(self, seconds: float) -> None:
        self._took = seconds

    async def step(self, limit: int = BATCH) -> int:
        ctx: OncallContext = self
        op = ProcessDue(
            self._clock, limit, ctx, self._claimed, self._committed, on_taken=self.on_taken
        )
        self._next_due = None  # (a failed round polls again after a tick)
        enqueued: int = await self._writer.run(op)
        self._next_due = op.next_due
        if enqueued:
            self._on_enqueued()
        return enqueued

    async def run(self) -> None:
        await self.loop.run(self._round, self._sleep_seconds)

    def _sleep_seconds(self) -> float:
        """Until the soonest row comes due, at most a tick: a step fires on time, not
        up to a tick late. The tick still bounds the sleep for what this process is not
        told of (rows another replica adds, rows due but leased or waiting)."""
        tick = self._tick.total_seconds()
        if self._next_due is None:
            return tick
        ahead = (self._next_due - self._clock()).total_seconds() + _TIMER_SLACK
        return min(tick, max(_MIN_SLEEP, ahead))

    async def _round(self) -> bool:
        """One step; True when it claimed a full batch (more rows may be due now)."""
        before, limit = self.claimed, self._batch
        self._took = 0.0
        await self.step(limit)
        full = self.claimed - before >= limit
        self._batch = _next_batch(limit, self._took) if full else BATCH
        return full


def _next_batch(limit: int, took: float) -> int:
    """The size of the round after a full one of ``limit`` rows that took ``took`` s."""
    if took > BUDGET:
        return max(BATCH, int(limit * BUDGET / took))
    if took < BUDGET / 2:
        return min(2 * limit, MAX_BATCH)
    return limit
