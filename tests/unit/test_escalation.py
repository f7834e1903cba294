"""Escalation decisions, one function at a time: the frozen snapshot, firing a step,
stale rows, resuming, the ladder's positions, notification rows and JSON rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec import structs

from tocsin.config.escalation import EscalationPolicy, EscalationStep, EscalationTarget, Urgency
from tocsin.oncall.escalation import (
    Escalation,
    NotifyDue,
    Page,
    PageReason,
    Recipient,
    StepDue,
    expand_notifications,
    fire_step,
    notify_stale_reason,
    page_escalation,
    paged_why,
    pending_what,
    resume,
    stale_reason,
    start_escalation,
)
from tocsin.oncall.lifecycle import DueKind, GroupState, LifecycleDue, Status

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)

ON_CALL = {"primary": ["alice"], "secondary": ["bob"], "pair": ["alice", "carol"], "empty": []}


def who(schedule: str, at: datetime) -> list[str]:
    return ON_CALL[schedule]


def step(delay: int, *targets: EscalationTarget, urgency: Urgency = "high") -> EscalationStep:
    return EscalationStep(delay * M, targets, urgency)


CRITICAL = EscalationPolicy(
    "critical",
    (
        step(0, EscalationTarget(schedule="primary")),
        step(15, EscalationTarget(schedule="secondary")),
        step(15, EscalationTarget(person="erin")),
    ),
    repeat=1,
    ack_timeout=30 * M,
)
FIRING = GroupState("g", Status.FIRING, "g#1", 1, T0)


def person(name: str, s: int, r: int = 0, at: datetime = T0) -> Page:
    return Page("g#1", "g", Recipient.PERSON, name, "high", s, r, at)


def started() -> Escalation:
    return start_escalation("g#1", "g", CRITICAL, T0).escalation


def test_start_freezes_the_policy_and_schedules_the_first_step() -> None:
    escalation, pages, first, audit = start_escalation("g#1", "g", CRITICAL, T0)
    assert escalation == Escalation("g#1", "g", CRITICAL, T0, next_due=first)
    assert (pages, first) == ((), StepDue("g#1", 0, 0, T0))
    assert [(a.action, a.comment) for a in audit] == [
        ("escalation started", "policy 'critical': 3 steps, 2 rounds")
    ]
    once = replace(CRITICAL, steps=CRITICAL.steps[:1], repeat=0)
    (started_once,) = start_escalation("g#1", "g", once, T0).audit
    assert started_once.comment == "policy 'critical': 1 step, 1 round"


def test_a_first_step_with_a_delay_is_due_after_it() -> None:
    policy = replace(CRITICAL, steps=(step(5, EscalationTarget(person="alice")),))
    assert start_escalation("g#1", "g", policy, T0).next_due == StepDue("g#1", 0, 0, T0 + 5 * M)


def test_fire_step_pages_the_schedule_and_schedules_the_next_step() -> None:
    escalation, pages, next_due, audit = fire_step(
        started(), FIRING, StepDue("g#1", 0, 0, T0), T0, who
    )
    assert pages == (person("alice", 0),)
    assert next_due == StepDue("g#1", 1, 0, T0 + 15 * M)
    assert (escalation.step_index, escalation.round, escalation.fired) == (0, 0, True)
    assert escalation.next_due == next_due
    assert [(a.who, a.action, a.comment) for a in audit] == [
        ("tocsin", "escalated", "step 1/3, round 1/2: alice (schedule 'primary')")
    ]


def test_the_last_step_says_nobody_else_is_paged() -> None:
    once = replace(CRITICAL, steps=CRITICAL.steps[:1], repeat=0)
    escalation = start_escalation("g#1", "g", once, T0).escalation
    outcome = fire_step(escalation, FIRING, StepDue("g#1", 0, 0, T0), T0, who)
    assert outcome.next_due is None
    assert [a.comment for a in outcome.audit] == [
        "step 1/1, round 1/1: alice (schedule 'primary'); "
        "the policy's last step: nobody else is paged"
    ]


def test_a_pages_key_names_its_escalation_and_no_other_key_does() -> None:
    """The outbox key of a page (``NotifyDue.idempotency_key`` and the integration)
    gives back the escalation, so that where pages went is noted as they are written;
    a resolution's key, or a route's notification's, names none."""
    page = NotifyDue(person("alice", 2, 1, T0 + 5 * M), "email", T0 + 5 * M)
    again = NotifyDue(structs.replace(page.page, reason=PageReason.RENOTIFY), "slack", T0)
    assert page_escalation(f"{page.idempotency_key}/email[0]") == "g#1"
    assert page_escalation(f"{again.idempotency_key}/slack[0]") == "g#1"
    assert page_escalation("g#1/resolved/person:alice/email[0]") is None
    assert page_escalation('{}:{alertname="r1/s2/"}/webhook[0]') is None


@given(
    group=st.text(st.characters(blacklist_characters="/#"), min_size=1),
    number=st.integers(1, 10**6),
    step_index=st.integers(0, 50),
    round_=st.integers(0, 50),
    name=st.text(min_size=1),
)
def test_any_pages_key_gives_back_its_escalation(
    group: str, number: int, step_index: int, round_: int, name: str
) -> None:
    page = Page(f"{group}#{number}", group, Recipient.PERSON, name, "high", step_index, round_, T0)
    key = f"{NotifyDue(page, 'email', T0).idempotency_key}/email[0]"
    assert page_escalation(key) == f"{group}#{number}"


def test_the_next_delay_counts_from_when_the_step_actually_fired() -> None:
    late = T0 + 2 * M
    outcome = fire_step(started(), FIRING, StepDue("g#1", 0, 0, T0), late, who)
    assert outcome.next_due == StepDue("g#1", 1, 0, late + 15 * M)


def test_each_person_is_paged_once_per_step_in_target_order() -> None:
    policy = replace(
        CRITICAL,
        steps=(
            step(
                0,
                EscalationTarget(schedule="pair"),
                EscalationTarget(person="alice"),
                EscalationTarget(receiver="ops-slack"),
                EscalationTarget(person="dave"),
            ),
        ),
    )
    escalation = start_escalation("g#1", "g", policy, T0).escalation
    pages = fire_step(escalation, FIRING, StepDue("g#1", 0, 0, T0), T0, who).pages
    assert [(p.recipient, p.name) for p in pages] == [
        (Recipient.PERSON, "alice"),
        (Recipient.PERSON, "carol"),
        (Recipient.RECEIVER, "ops-slack"),
        (Recipient.PERSON, "dave"),
    ]


def test_a_step_with_nobody_on_call_escalates_at_once() -> None:
    policy = replace(
        CRITICAL,
        steps=(
            step(0, EscalationTarget(schedule="empty")),
            step(15, EscalationTarget(schedule="secondary")),
        ),
    )
    escalation = start_escalation("g#1", "g", policy, T0).escalation
    _, pages, next_due, audit = fire_step(escalation, FIRING, StepDue("g#1", 0, 0, T0), T0, who)
    assert pages == ()
    assert next_due == StepDue("g#1", 1, 0, T0)
    assert audit[0].comment == "step 1/2, round 1/2: nobody on call in schedule 'empty'"


# (target of step 1, who the reloaded config no longer names, pages, audit note)
REMOVED_ROWS = [
    (EscalationTarget(person="bob"), {"bob"}, [], "bob is no longer configured: nobody paged"),
    (
        EscalationTarget(receiver="ops-slack"),
        {"ops-slack"},
        [],
        "receiver 'ops-slack' is no longer configured: nobody paged",
    ),
    (EscalationTarget(person="bob"), set(), [(Recipient.PERSON, "bob")], "bob"),
]


@pytest.mark.parametrize(("target", "removed", "paged", "note"), REMOVED_ROWS)
def test_a_target_a_reload_removed_pages_nobody_and_escalates_at_once(
    target: EscalationTarget,
    removed: set[str],
    paged: list[tuple[Recipient, str]],
    note: str,
) -> None:
    # The policy was frozen when the group opened; a reload since removed the person
    # (or receiver). Paging them would send nothing, so the next step must not wait.
    policy = replace(
        CRITICAL,
        steps=(step(0, target), step(15, EscalationTarget(schedule="secondary"))),
    )
    escalation = start_escalation("g#1", "g", policy, T0).escalation
    _, pages, next_due, audit = fire_step(
        escalation,
        FIRING,
        StepDue("g#1", 0, 0, T0),
        T0,
        who,
        None,
        lambda kind, name: name not in removed,
    )
    assert [(p.recipient, p.name) for p in pages] == paged
    assert next_due == StepDue("g#1", 1, 0, T0 if not paged else T0 + timedelta(minutes=15))
    assert audit[0].comment == f"step 1/2, round 1/2: {note}"


@pytest.mark.parametrize(
    ("fired_step", "fired_round", "expected"),
    [
        (0, 0, (1, 0, 15)),  # next step of the same round, after its delay
        (2, 0, (0, 1, 15)),  # last step: next round after the last step's delay
        (2, 1, None),  # last step of the last round: the ladder ends
    ],
)
def test_the_ladder_goes_round_then_stops(
    fired_step: int, fired_round: int, expected: tuple[int, int, int] | None
) -> None:
    due = StepDue("g#1", fired_step, fired_round, T0)
    escalation = structs.replace(started(), next_due=due)
    next_due = fire_step(escalation, FIRING, due, T0, who).next_due
    if expected is None:
        assert next_due is None
    else:
        s, r, minutes = expected
        assert next_due == StepDue("g#1", s, r, T0 + minutes * M)


def test_repeat_delay_replaces_the_first_steps_delay_between_rounds() -> None:
    policy = replace(CRITICAL, repeat_delay=60 * M)
    last = StepDue("g#1", 2, 0, T0)
    escalation = structs.replace(start_escalation("g#1", "g", policy, T0).escalation, next_due=last)
    assert fire_step(escalation, FIRING, last, T0, who).next_due == StepDue(
        "g#1", 0, 1, T0 + 60 * M
    )


FIRST = StepDue("g#1", 0, 0, T0)


@dataclass(frozen=True)
class StaleCase:
    name: str
    state: GroupState
    due: StepDue
    reason: str


def _after_first() -> Escalation:
    return fire_step(started(), FIRING, FIRST, T0, who).escalation


STALE = [
    StaleCase(
        "row of an older escalation of the group",
        structs.replace(FIRING, escalation_id="g#2", escalations=2),
        FIRST,
        "escalation g#1 was superseded by g#2",
    ),
    StaleCase(
        "group acknowledged",
        structs.replace(FIRING, status=Status.ACKNOWLEDGED),
        StepDue("g#1", 1, 0, T0 + 15 * M),
        "group is acknowledged",
    ),
    StaleCase(
        "group snoozed",
        structs.replace(FIRING, status=Status.SNOOZED),
        StepDue("g#1", 1, 0, T0 + 15 * M),
        "group is snoozed",
    ),
    StaleCase(
        "group resolved",
        structs.replace(FIRING, status=Status.RESOLVED),
        StepDue("g#1", 1, 0, T0 + 15 * M),
        "group is resolved",
    ),
    StaleCase(
        "step already fired (row delivered twice)", FIRING, FIRST, "step 0 of round 0 already fired"
    ),
    StaleCase(
        "row superseded by a re-scheduled one",
        FIRING,
        StepDue("g#1", 1, 0, T0 + 20 * M),
        "superseded by a rescheduled step",
    ),
]


@pytest.mark.parametrize("case", STALE, ids=[c.name for c in STALE])
def test_a_stale_step_row_does_nothing(case: StaleCase) -> None:
    escalation = _after_first()
    assert stale_reason(escalation, case.state, case.due) == case.reason
    outcome = fire_step(escalation, case.state, case.due, T0 + 30 * M, who)
    assert outcome == (escalation, (), None, ())


def test_a_row_delivered_early_is_kept_not_fired() -> None:
    escalation = _after_first()
    due = StepDue("g#1", 1, 0, T0 + 15 * M)
    assert fire_step(escalation, FIRING, due, T0 + 14 * M, who) == (escalation, (), due, ())


def test_resume_renotifies_the_current_step_and_reschedules_the_next() -> None:
    at_step_two = fire_step(
        _after_first(), FIRING, StepDue("g#1", 1, 0, T0 + 15 * M), T0 + 15 * M, who
    ).escalation
    now = T0 + 50 * M
    escalation, pages, next_due, audit = resume(at_step_two, FIRING, now, who)
    assert pages == (
        Page("g#1", "g", Recipient.PERSON, "bob", "high", 1, 0, now, PageReason.RENOTIFY),
    )
    assert next_due == StepDue("g#1", 2, 0, now + 15 * M)
    assert escalation.next_due == next_due
    assert [a.action for a in audit] == ["re-notified"]
    # The row the ladder waited for before the pause is now stale.
    assert stale_reason(escalation, FIRING, StepDue("g#1", 2, 0, T0 + 30 * M)) is not None


def test_resume_before_anything_fired_fires_the_pending_step() -> None:
    policy = replace(CRITICAL, steps=(step(5, EscalationTarget(person="alice")),), repeat=0)
    escalation = start_escalation("g#1", "g", policy, T0).escalation
    outcome = resume(escalation, FIRING, T0 + 2 * M, who)
    assert outcome.pages == (
        Page("g#1", "g", Recipient.PERSON, "alice", "high", 0, 0, T0 + 2 * M, PageReason.STEP),
    )
    assert outcome.next_due is None
    # ... and the original row for that step can no longer fire it a second time.
    assert (
        fire_step(
            outcome.escalation, FIRING, StepDue("g#1", 0, 0, T0 + 5 * M), T0 + 5 * M, who
        ).pages
        == ()
    )


def test_resume_does_nothing_unless_the_group_fires_under_this_escalation() -> None:
    escalation = _after_first()
    acked = structs.replace(FIRING, status=Status.ACKNOWLEDGED)
    assert resume(escalation, acked, T0 + 40 * M, who) == (escalation, (), None, ())
    newer = structs.replace(FIRING, escalation_id="g#2")
    assert resume(escalation, newer, T0 + 40 * M, who) == (escalation, (), None, ())


@dataclass(frozen=True)
class Planned:
    due: datetime
    channel: str


def plan(name: str, urgency: Urgency, at: datetime) -> list[Planned]:
    """alice: high urgency Slack at once and email after 2 minutes, low urgency email."""
    rules = {
        ("alice", "high"): [("slack", 0), ("email", 2)],
        ("alice", "low"): [("email", 0)],
    }
    return [
        Planned(at + minutes * M, channel) for channel, minutes in rules.get((name, urgency), [])
    ]


def test_notification_rules_become_rows_with_their_own_due_times() -> None:
    at = T0 + 15 * M
    alice = Page("g#1", "g", Recipient.PERSON, "alice", "high", 1, 0, at)
    alice_low = structs.replace(alice, urgency="low")
    dave = structs.replace(alice, name="dave")
    ops = Page("g#1", "g", Recipient.RECEIVER, "ops-slack", "high", 1, 0, at)
    rows = expand_notifications([alice, alice_low, dave, ops], plan)
    assert [(r.page.name, r.page.urgency, r.channel, r.due_at) for r in rows] == [
        ("alice", "high", "slack", at),
        ("alice", "high", "email", at + 2 * M),
        ("alice", "low", "email", at),
        ("dave", "high", "default", at),  # no rules: the default contact, at once
        ("ops-slack", "high", "receiver", at),
    ]


def test_a_notification_row_is_dropped_once_the_group_stops_firing() -> None:
    row = NotifyDue(person("alice", 0), "email", T0 + 2 * M)
    assert notify_stale_reason(row, FIRING, T0 + 2 * M) is None
    assert notify_stale_reason(row, FIRING, T0 + M) == "not due yet"
    acked = structs.replace(FIRING, status=Status.ACKNOWLEDGED)
    assert notify_stale_reason(row, acked, T0 + 2 * M) == "group is acknowledged"
    reopened = structs.replace(FIRING, escalation_id="g#2")
    assert notify_stale_reason(row, reopened, T0 + 2 * M) == "escalation g#1 was superseded by g#2"


def test_idempotency_keys_tell_channels_steps_and_reminders_apart() -> None:
    page = person("alice", 0)
    keys = {
        NotifyDue(page, "slack", T0).idempotency_key,
        NotifyDue(page, "email", T0 + 2 * M).idempotency_key,
        NotifyDue(structs.replace(page, step_index=1), "slack", T0).idempotency_key,
        NotifyDue(
            structs.replace(page, reason=PageReason.RENOTIFY, at=T0 + 17 * M), "slack", T0
        ).idempotency_key,
    }
    assert len(keys) == 4
    assert (
        NotifyDue(page, "slack", T0).idempotency_key
        == "g#1/r0/s0/step@1767603600000000/person:alice/slack"
    )


def test_rows_and_escalations_round_trip_through_json() -> None:
    policy = replace(
        CRITICAL,
        repeat_delay=90 * M,
        steps=(*CRITICAL.steps, step(5, EscalationTarget(receiver="email"), urgency="low")),
    )
    escalation = fire_step(
        start_escalation("g#1", "g", policy, T0).escalation, FIRING, FIRST, T0, who
    ).escalation
    assert Escalation.from_json(escalation.to_json()) == escalation
    assert escalation.to_json()["policy_snapshot"]["steps"][1] == {
        "delay": "15m",
        "urgency": "high",
        "targets": [{"schedule": "secondary"}],
    }
    page = person("alice", 0)
    row = NotifyDue(page, "email", T0 + 2 * M)
    assert StepDue.from_json(FIRST.to_json()) == FIRST
    assert Page.from_json(page.to_json()) == page
    assert NotifyDue.from_json(row.to_json()) == row


RECEIVER_PAGE = Page("g#1", "g", Recipient.RECEIVER, "pager", "high", 0, 0, T0)


@pytest.mark.parametrize(
    ("kind", "payload", "said"),
    [
        ("step", StepDue("g#1", 1, 0, T0).to_json(), "escalation step 2"),
        ("step", StepDue("g#1", 0, 2, T0).to_json(), "escalation step 1 (round 3)"),
        ("notify", NotifyDue(person("bob", 0), "email", T0).to_json(), "page bob by email"),
        ("notify", NotifyDue(RECEIVER_PAGE, "receiver", T0).to_json(), "notify receiver pager"),
        (
            "lifecycle",
            LifecycleDue(DueKind.SNOOZE_END, "g", "g#1", T0).to_json(),
            "snooze ends: escalation resumes",
        ),
        (
            "lifecycle",
            LifecycleDue(DueKind.ACK_TIMEOUT, "g", "g#1", T0).to_json(),
            "acknowledgement times out: escalation resumes",
        ),
    ],
    ids=["step", "a later round", "a person's page", "a receiver's", "snooze", "ack timeout"],
)
def test_a_pending_row_in_a_responder_s_words(
    kind: str, payload: dict[str, Any], said: str
) -> None:
    """What `tocsin group`, the API's "what" and the group page say is coming: the
    row's own words, not its table's kind ("lifecycle")."""
    assert pending_what(kind, payload) == said


@pytest.mark.parametrize(
    ("page", "said"),
    [
        (person("alice", 0), ""),  # the first page: its alerts say it all
        (person("bob", 1), "Escalated to you (step 2): nobody acknowledged the earlier pages"),
        (
            person("alice", 0, r=1),
            "Escalated to you (step 1, round 2): nobody acknowledged the earlier pages",
        ),
        (
            structs.replace(person("alice", 1), reason=PageReason.RENOTIFY),
            "Reminder: still firing and nobody has it: the acknowledgement timed out or "
            "the snooze ended (escalation step 2)",
        ),
    ],
    ids=["first", "escalated", "next round", "reminder"],
)
def test_a_page_says_why_it_comes_when_its_alerts_do_not(page: Page, said: str) -> None:
    """A re-page read exactly as a first page (phone walk-through)."""
    assert paged_why(page) == said
