"""Properties of escalation over random policies and random event scripts:

* nobody is paged while a group stands acknowledged (from the acknowledgement until the
  ack timeout re-opens it, or for ever without one), whatever the ladder, the snoozes
  before it and the notification delays;
* every (escalation id, step, round) fires at most once, and handing every row over
  twice (a crash between sending and deleting) changes nothing that is sent;
* a running escalation survives its row's JSON round trip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.config.escalation import EscalationPolicy, EscalationStep, EscalationTarget, Urgency
from tocsin.oncall.escalation import (
    Escalation,
    NotificationPlan,
    StepDue,
    fire_step,
    start_escalation,
)
from tocsin.oncall.escalation_sim import (
    SIM_START,
    Ack,
    AlertsResolved,
    Fire,
    Resolve,
    SimEvent,
    Snooze,
    simulate,
)
from tocsin.oncall.lifecycle import GroupState, Status

M = timedelta(minutes=1)
END = 600


def who(schedule: str, at: datetime) -> list[str]:
    """Rotations that change hands at minute 60, so lookups depend on the time."""
    late = at >= SIM_START + 60 * M
    return {
        "primary": ["dave"] if late else ["alice"],
        "secondary": ["bob"],
        "pair": ["alice", "carol"],
        "empty": [],
    }[schedule]


targets = st.sampled_from(
    [
        EscalationTarget(schedule="primary"),
        EscalationTarget(schedule="secondary"),
        EscalationTarget(schedule="pair"),
        EscalationTarget(schedule="empty"),
        EscalationTarget(person="erin"),
        EscalationTarget(receiver="ops-slack"),
    ]
)
steps = st.builds(
    EscalationStep,
    delay=st.integers(0, 30).map(lambda n: n * M),
    targets=st.lists(targets, min_size=1, max_size=3).map(tuple),
    urgency=st.sampled_from(["high", "low"]),
)


@st.composite
def policies(draw: st.DrawFn, ack_timeout: bool = True) -> EscalationPolicy:
    return EscalationPolicy(
        "p",
        tuple(draw(st.lists(steps, min_size=1, max_size=4))),
        repeat=draw(st.integers(0, 3)),
        repeat_delay=draw(st.integers(1, 30)) * M,
        ack_timeout=draw(st.none() | st.integers(1, 60).map(lambda n: n * M))
        if ack_timeout
        else None,
    )


@dataclass(frozen=True)
class Planned:
    due: datetime
    channel: str


def email_after(minutes: int) -> NotificationPlan:
    def plan(name: str, urgency: Urgency, at: datetime) -> list[Planned]:
        return [Planned(at, "slack"), Planned(at + minutes * M, "email")]

    return plan


@settings(max_examples=300, deadline=None)
@given(
    policy=policies(),
    ack_at=st.integers(0, 200),
    snooze=st.none() | st.tuples(st.integers(0, 200), st.integers(1, 60)),
    resolve_after=st.none() | st.integers(0, 200),
    email_delay=st.integers(0, 10),
    twice=st.booleans(),
)
def test_nobody_is_paged_while_the_group_stands_acknowledged(
    policy: EscalationPolicy,
    ack_at: int,
    snooze: tuple[int, int] | None,
    resolve_after: int | None,
    email_delay: int,
    twice: bool,
) -> None:
    events: list[SimEvent] = [Fire(0, "g", "p"), Ack(ack_at, "g", "alice")]
    if snooze is not None and snooze[0] < ack_at:
        events.append(Snooze(snooze[0], "g", "bob", snooze[1]))
    events.append(Ack(ack_at, "g", "bob"))  # a second click: refused, changes nothing
    quiet_until = math.inf
    if policy.ack_timeout is not None:
        quiet_until = ack_at + policy.ack_timeout / M
    if resolve_after is not None:
        events.append(Resolve(ack_at + resolve_after, "g", "alice"))
        if ack_at + resolve_after < quiet_until:
            quiet_until = math.inf
    result = simulate(
        [policy],
        who,
        events,
        END,
        plan=email_after(email_delay),
        deliver_twice=twice,
    )
    assert [p for p in result.pages if ack_at <= p.minute < quiet_until] == []


event_kinds = st.sampled_from(["ack", "resolve", "alerts-resolved", "fire", "snooze"])


@st.composite
def scripts(draw: st.DrawFn) -> list[SimEvent]:
    events: list[SimEvent] = [Fire(0, "g", "p")]
    for kind, minute in draw(st.lists(st.tuples(event_kinds, st.integers(0, 300)), max_size=8)):
        if kind == "ack":
            events.append(Ack(minute, "g", "alice"))
        elif kind == "resolve":
            events.append(Resolve(minute, "g", "alice"))
        elif kind == "alerts-resolved":
            events.append(AlertsResolved(minute, "g"))
        elif kind == "fire":
            events.append(Fire(minute, "g", "p"))
        else:
            events.append(Snooze(minute, "g", "bob", draw(st.integers(1, 60))))
    return events


@settings(max_examples=300, deadline=None)
@given(policy=policies(), events=scripts(), email_delay=st.integers(0, 10))
def test_each_step_fires_at_most_once_even_when_rows_come_twice(
    policy: EscalationPolicy, events: list[SimEvent], email_delay: int
) -> None:
    plan = email_after(email_delay)
    once = simulate([policy], who, events, END, plan=plan)
    twice = simulate([policy], who, events, END, plan=plan, deliver_twice=True)
    assert len(set(twice.steps_fired)) == len(twice.steps_fired)
    assert twice.steps_fired == once.steps_fired
    assert twice.pages == once.pages
    assert twice.audit == once.audit


@settings(max_examples=100, deadline=None)
@given(policy=policies(), fired=st.integers(0, 12))
def test_a_running_escalation_round_trips_through_json(
    policy: EscalationPolicy, fired: int
) -> None:
    outcome = start_escalation("g#1", "g", policy, SIM_START)
    escalation: Escalation = outcome.escalation
    state = GroupState("g", Status.FIRING, "g#1", 1, SIM_START)
    due: StepDue | None = outcome.next_due
    for _ in range(fired):
        if due is None:
            break
        escalation, _, due, _ = fire_step(escalation, state, due, due.due_at, who)
    assert Escalation.from_json(escalation.to_json()) == escalation
