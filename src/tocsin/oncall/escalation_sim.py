"""Run escalation policies against a script of alert-group events with a fake clock.

This is the engine loop in miniature, and the reference for how the real one drives
:mod:`tocsin.oncall.lifecycle` and :mod:`tocsin.oncall.escalation`: every future
action is a row with a due time (step rows, notification rows, wake-up rows), rows are
taken in due-time order, each is decided by a pure function given the stored state and
``now``, and what the decision returns (new state, new rows, audit entries) is stored.
(The real engine keeps an escalation's awaited step in its group's ladder columns rather
than in a row of its own, and takes it in the same due-time order.)
With ``deliver_twice`` every row is handed over twice, as a crash between sending and
deleting a row would do, to show that nobody is paged twice for it.

At equal times, people come first (an acknowledgement at minute 15 beats the step due
at minute 15), then wake-up rows, then step rows, then notification rows, each kind in
the order it was scheduled.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tocsin.config.escalation import EscalationPolicy
from tocsin.oncall.escalation import (
    Escalation,
    NotificationPlan,
    NotifyDue,
    PageReason,
    Recipient,
    StepDue,
    StepOutcome,
    WhoIsOnCall,
    expand_notifications,
    fire_step,
    notify_stale_reason,
    resume,
    start_escalation,
)
from tocsin.oncall.lifecycle import (
    AuditEntry,
    GroupState,
    LifecycleDue,
    Refused,
    ResumeEscalation,
    ScheduleDue,
    StartEscalation,
    Transition,
    Via,
    acknowledge,
    alerts_firing,
    alerts_resolved,
    on_due,
    resolve,
    snooze,
)

__all__ = [
    "SIM_START",
    "Ack",
    "AlertsResolved",
    "EditPolicy",
    "Fire",
    "Resolve",
    "SimEvent",
    "SimPage",
    "SimResult",
    "Snooze",
    "simulate",
]

SIM_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""Minute 0 of a simulation unless another start is given (a Monday morning)."""


@dataclass(frozen=True)
class Fire:
    """Alerts fire in ``group``, escalated by the policy named ``policy``."""

    minute: float
    group: str
    policy: str


@dataclass(frozen=True)
class Ack:
    minute: float
    group: str
    by: str
    via: Via = Via.API
    comment: str = ""


@dataclass(frozen=True)
class Resolve:
    minute: float
    group: str
    by: str
    via: Via = Via.API
    comment: str = ""


@dataclass(frozen=True)
class AlertsResolved:
    """Every alert of the group resolved (Alertmanager sent the resolutions)."""

    minute: float
    group: str


@dataclass(frozen=True)
class Snooze:
    minute: float
    group: str
    by: str
    minutes: float | None
    via: Via = Via.API


@dataclass(frozen=True)
class EditPolicy:
    """The configuration is reloaded with a new version of ``policy``."""

    minute: float
    policy: EscalationPolicy


SimEvent = Fire | Ack | Resolve | AlertsResolved | Snooze | EditPolicy


@dataclass(frozen=True)
class SimPage:
    """One notification sent: at which minute, to whom, how, and for which step."""

    minute: float
    group: str
    recipient: Recipient
    name: str
    channel: str
    step: int
    round: int
    reason: PageReason = PageReason.STEP


@dataclass(frozen=True)
class SimResult:
    pages: tuple[SimPage, ...]
    audit: tuple[AuditEntry, ...]
    refused: tuple[Refused, ...]
    steps_fired: tuple[tuple[str, int, int], ...]
    """``(escalation id, step, round)`` of every step that fired (re-notifications of
    a step that already fired are not counted)."""


_HUMAN, _WAKE, _STEP, _NOTIFY = range(4)
_Row = SimEvent | LifecycleDue | StepDue | NotifyDue


@dataclass
class _Engine:
    policies: dict[str, EscalationPolicy]
    who_is_on_call: WhoIsOnCall
    plan: NotificationPlan | None
    start: datetime
    copies: int
    queue: list[tuple[datetime, int, int, _Row]] = field(default_factory=list)
    order: itertools.count[int] = field(default_factory=itertools.count)
    groups: dict[str, GroupState] = field(default_factory=dict)
    group_policy: dict[str, str] = field(default_factory=dict)
    escalations: dict[str, Escalation] = field(default_factory=dict)
    sent: set[str] = field(default_factory=set)
    pages: list[SimPage] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    steps_fired: list[tuple[str, int, int]] = field(default_factory=list)

    def push(self, at: datetime, kind: int, row: _Row) -> None:
        for _ in range(1 if kind == _HUMAN else self.copies):
            heapq.heappush(self.queue, (at, kind, next(self.order), row))

    def minute(self, at: datetime) -> float:
        return (at - self.start) / timedelta(minutes=1)

    def run(self, end: datetime) -> None:
        while self.queue and self.queue[0][0] <= end:
            now, _, _, row = heapq.heappop(self.queue)
            self.handle(row, now)

    def handle(self, row: _Row, now: datetime) -> None:
        if isinstance(row, StepDue):
            escalation = self.escalations[row.escalation_id]
            state = self.groups[escalation.group_key]
            self.take(fire_step(escalation, state, row, now, self.who_is_on_call))
        elif isinstance(row, NotifyDue):
            state = self.groups[row.page.group_key]
            key = row.idempotency_key  # the outbox's idempotency key
            if notify_stale_reason(row, state, now) is None and key not in self.sent:
                self.sent.add(key)
                p = row.page
                self.pages.append(
                    SimPage(
                        self.minute(now),
                        p.group_key,
                        p.recipient,
                        p.name,
                        row.channel,
                        p.step_index,
                        p.round,
                        p.reason,
                    )
                )
        elif isinstance(row, LifecycleDue):
            transition = on_due(self.groups[row.group_key], row, now)
            if transition is not None:
                self.apply(transition, now)
        else:
            self.event(row, now)

    def event(self, event: SimEvent, now: datetime) -> None:
        if isinstance(event, EditPolicy):
            self.policies[event.policy.name] = event.policy
            return
        if isinstance(event, Fire):
            self.group_policy[event.group] = event.policy
            self.apply(alerts_firing(self.groups.get(event.group), event.group, now), now)
            return
        state = self.groups.get(event.group)
        if state is None:
            return  # nothing fired in that group yet: the event has nothing to act on
        result: Transition | Refused
        if isinstance(event, Ack):
            timeout = self.escalations[state.escalation_id].policy_snapshot.ack_timeout
            result = acknowledge(
                state, now, event.by, event.via, ack_timeout=timeout, comment=event.comment
            )
        elif isinstance(event, Resolve):
            result = resolve(state, now, event.by, event.via, comment=event.comment)
        elif isinstance(event, AlertsResolved):
            result = alerts_resolved(state, now)
        else:
            duration = None if event.minutes is None else timedelta(minutes=event.minutes)
            result = snooze(state, now, event.by, event.via, duration)
        if isinstance(result, Refused):
            self.refused.append(result)
        else:
            self.apply(result, now)

    def apply(self, transition: Transition, now: datetime) -> None:
        state = transition.state
        self.groups[state.group_key] = state
        if transition.audit is not None:
            self.audit.append(transition.audit)
        for action in transition.actions:
            if isinstance(action, StartEscalation):
                policy = self.policies[self.group_policy[state.group_key]]
                self.take(start_escalation(action.escalation_id, state.group_key, policy, now))
            elif isinstance(action, ResumeEscalation):
                escalation = self.escalations[action.escalation_id]
                self.take(resume(escalation, state, now, self.who_is_on_call))
            elif isinstance(action, ScheduleDue):
                self.push(action.due.due_at, _WAKE, action.due)
            # Stop and Pause need no row: the step rows see the group's status.

    def take(self, outcome: StepOutcome) -> None:
        escalation = outcome.escalation
        self.escalations[escalation.id] = escalation
        self.audit.extend(outcome.audit)
        if any(entry.action == "escalated" for entry in outcome.audit):
            self.steps_fired.append((escalation.id, escalation.step_index, escalation.round))
        for notify in expand_notifications(outcome.pages, self.plan):
            self.push(notify.due_at, _NOTIFY, notify)
        if outcome.next_due is not None:
            self.push(outcome.next_due.due_at, _STEP, outcome.next_due)


def simulate(
    policies: Iterable[EscalationPolicy] | Mapping[str, EscalationPolicy],
    who_is_on_call: WhoIsOnCall,
    events: Iterable[SimEvent],
    end_minute: float,
    *,
    plan: NotificationPlan | None = None,
    start: datetime = SIM_START,
    deliver_twice: bool = False,
) -> SimResult:
    """Play ``events`` from minute 0 to ``end_minute`` (inclusive) and report every
    notification sent, the audit trail, refused inputs and the steps fired."""
    table = dict(policies) if isinstance(policies, Mapping) else {p.name: p for p in policies}
    engine = _Engine(table, who_is_on_call, plan, start, 2 if deliver_twice else 1)
    for event in events:
        engine.push(start + timedelta(minutes=event.minute), _HUMAN, event)
    engine.run(start + timedelta(minutes=end_minute))
    return SimResult(
        tuple(engine.pages), tuple(engine.audit), tuple(engine.refused), tuple(engine.steps_fired)
    )
