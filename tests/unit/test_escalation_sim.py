"""Escalation ladders from the runbooks, simulated minute by minute.

threads-agent (``shared/runbooks/threads-agent-alertmanager.md``): critical alerts page
the on-call engineer and "escalate automatically after 15 minutes if not acknowledged";
the ladder here is primary at 0, secondary at 15 and, as an invented third rung, the
engineering manager (erin) at 30. Warnings go to Slack and "escalate to email after 2
hours".

news-topic-intelligence (``shared/runbooks/news-topic-intelligence.md``, section 7):
SEV-1 pages the on-call engineer, backed up by the tech lead; SEV-2 the on-call
engineer, backed up by the ML engineer. The runbook's only number is "acknowledge
alert within 5 minutes", used as SEV-1's backup delay; it gives none for SEV-2, so the
backup there comes after 15 minutes (our choice, the threads-agent figure).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from tocsin.config.escalation import EscalationPolicy, EscalationStep, EscalationTarget, Urgency
from tocsin.oncall.escalation import (
    Escalation,
    NotificationPlan,
    PageReason,
    Recipient,
    StepDue,
    fire_step,
    start_escalation,
)
from tocsin.oncall.escalation_sim import (
    Ack,
    AlertsResolved,
    EditPolicy,
    Fire,
    Resolve,
    SimEvent,
    SimPage,
    SimResult,
    Snooze,
    simulate,
)
from tocsin.oncall.lifecycle import GroupState, Status

M = timedelta(minutes=1)
STEP, RENOTIFY = PageReason.STEP, PageReason.RENOTIFY
PERSON, RECEIVER = Recipient.PERSON, Recipient.RECEIVER

ON_CALL = {
    "primary": ["alice"],
    "secondary": ["bob"],
    "news-oncall": ["nina"],
}


def who(schedule: str, at: datetime) -> list[str]:
    return ON_CALL[schedule]


def schedule(name: str) -> EscalationTarget:
    return EscalationTarget(schedule=name)


def person(name: str) -> EscalationTarget:
    return EscalationTarget(person=name)


def receiver(name: str) -> EscalationTarget:
    return EscalationTarget(receiver=name)


def step(minutes: int, *targets: EscalationTarget, urgency: Urgency = "high") -> EscalationStep:
    return EscalationStep(minutes * M, targets, urgency)


CRITICAL = EscalationPolicy(
    "critical",
    (step(0, schedule("primary")), step(15, schedule("secondary")), step(15, person("erin"))),
)
WARNING = EscalationPolicy(
    "warning",
    (
        step(0, receiver("slack-warnings"), urgency="low"),
        step(120, receiver("email-oncall"), urgency="low"),
    ),
)
SEV1 = EscalationPolicy("sev-1", (step(0, schedule("news-oncall")), step(5, person("tess"))))
SEV2 = EscalationPolicy("sev-2", (step(0, schedule("news-oncall")), step(15, person("mia"))))
POLICIES = (CRITICAL, WARNING, SEV1, SEV2)


def run(
    events: list[SimEvent],
    end: float = 240,
    *,
    plan: NotificationPlan | None = None,
    deliver_twice: bool = False,
) -> SimResult:
    return simulate(POLICIES, who, events, end, plan=plan, deliver_twice=deliver_twice)


def pages(result: SimResult) -> list[tuple[float, str, int, int, PageReason]]:
    """(minute, who, step, round, why) of every notification sent."""
    return [(p.minute, p.name, p.step, p.round, p.reason) for p in result.pages]


def test_critical_ladder_pages_primary_secondary_then_manager() -> None:
    result = run([Fire(0, "db-down", "critical")])
    assert pages(result) == [
        (0, "alice", 0, 0, STEP),
        (15, "bob", 1, 0, STEP),
        (30, "erin", 2, 0, STEP),
    ]
    assert result.pages[0] == SimPage(0, "db-down", PERSON, "alice", "default", 0, 0)


def test_acknowledging_at_minute_7_stops_the_ladder() -> None:
    result = run([Fire(0, "db-down", "critical"), Ack(7, "db-down", "alice")])
    assert pages(result) == [(0, "alice", 0, 0, STEP)]
    assert [(a.at.minute, a.who, a.action) for a in result.audit] == [
        (0, "tocsin", "opened"),
        (0, "tocsin", "escalation started"),
        (0, "tocsin", "escalated"),
        (7, "alice", "acknowledged"),
    ]


def test_an_ack_at_the_minute_a_step_is_due_wins() -> None:
    result = run([Fire(0, "db-down", "critical"), Ack(15, "db-down", "alice")])
    assert pages(result) == [(0, "alice", 0, 0, STEP)]


def test_ack_timeout_reopens_at_17_and_renotifies_the_current_step() -> None:
    policy = replace(CRITICAL, ack_timeout=10 * M)
    result = simulate(
        [policy], who, [Fire(0, "db-down", "critical"), Ack(7, "db-down", "alice")], 240
    )
    assert pages(result) == [
        (0, "alice", 0, 0, STEP),
        (17, "alice", 0, 0, RENOTIFY),
        (32, "bob", 1, 0, STEP),
        (47, "erin", 2, 0, STEP),
    ]
    assert [(a.at.minute, a.action) for a in result.audit if a.who == "tocsin"][-4:] == [
        (17, "acknowledgement timed out"),
        (17, "re-notified"),
        (32, "escalated"),
        (47, "escalated"),
    ]


def test_ack_timeout_after_the_backup_was_paged_reminds_the_backup() -> None:
    policy = replace(CRITICAL, ack_timeout=10 * M)
    events: list[SimEvent] = [Fire(0, "g", "critical"), Ack(20, "g", "bob")]
    assert pages(simulate([policy], who, events, 240)) == [
        (0, "alice", 0, 0, STEP),
        (15, "bob", 1, 0, STEP),
        (30, "bob", 1, 0, RENOTIFY),
        (45, "erin", 2, 0, STEP),
    ]


def test_a_second_acknowledgement_restarts_the_ack_timeout() -> None:
    policy = replace(CRITICAL, ack_timeout=10 * M)
    events: list[SimEvent] = [Fire(0, "g", "critical"), Ack(7, "g", "alice"), Ack(20, "g", "alice")]
    assert pages(simulate([policy], who, events, 240)) == [
        (0, "alice", 0, 0, STEP),
        (17, "alice", 0, 0, RENOTIFY),
        (30, "alice", 0, 0, RENOTIFY),
        (45, "bob", 1, 0, STEP),
        (60, "erin", 2, 0, STEP),
    ]


def test_warning_goes_to_slack_then_email_after_two_hours() -> None:
    result = run([Fire(0, "latency", "warning")])
    assert [(p.minute, p.recipient, p.name, p.channel) for p in result.pages] == [
        (0, RECEIVER, "slack-warnings", "receiver"),
        (120, RECEIVER, "email-oncall", "receiver"),
    ]


def test_news_sev1_pages_the_tech_lead_after_5_minutes() -> None:
    assert pages(run([Fire(0, "outage", "sev-1")])) == [
        (0, "nina", 0, 0, STEP),
        (5, "tess", 1, 0, STEP),
    ]
    acked = run([Fire(0, "outage", "sev-1"), Ack(4, "outage", "nina")])
    assert pages(acked) == [(0, "nina", 0, 0, STEP)]


def test_news_sev2_pages_the_ml_engineer_after_15_minutes() -> None:
    assert pages(run([Fire(0, "slow", "sev-2")])) == [
        (0, "nina", 0, 0, STEP),
        (15, "mia", 1, 0, STEP),
    ]


def test_repeat_runs_the_ladder_again_then_stops() -> None:
    policy = replace(CRITICAL, repeat=2)
    assert pages(simulate([policy], who, [Fire(0, "g", "critical")], 600)) == [
        (0, "alice", 0, 0, STEP),
        (15, "bob", 1, 0, STEP),
        (30, "erin", 2, 0, STEP),
        (45, "alice", 0, 1, STEP),
        (60, "bob", 1, 1, STEP),
        (75, "erin", 2, 1, STEP),
        (90, "alice", 0, 2, STEP),
        (105, "bob", 1, 2, STEP),
        (120, "erin", 2, 2, STEP),
    ]


def test_snooze_30m_then_resume_from_the_step_it_was_at() -> None:
    events: list[SimEvent] = [Fire(0, "g", "critical"), Snooze(5, "g", "alice", 30)]
    assert pages(run(events)) == [
        (0, "alice", 0, 0, STEP),
        (35, "alice", 0, 0, RENOTIFY),
        (50, "bob", 1, 0, STEP),
        (65, "erin", 2, 0, STEP),
    ]


def test_snooze_after_the_backup_resumes_with_the_backup() -> None:
    events: list[SimEvent] = [Fire(0, "g", "critical"), Snooze(20, "g", "bob", 30)]
    assert pages(run(events)) == [
        (0, "alice", 0, 0, STEP),
        (15, "bob", 1, 0, STEP),
        (50, "bob", 1, 0, RENOTIFY),
        (65, "erin", 2, 0, STEP),
    ]


def test_snooze_without_a_duration_is_refused_and_changes_nothing() -> None:
    result = run([Fire(0, "g", "critical"), Snooze(5, "g", "alice", None)])
    assert [str(r) for r in result.refused] == [
        "cannot snooze alert group 'g': a snooze needs a duration (e.g. 30m)"
    ]
    assert [p[0] for p in pages(result)] == [0, 15, 30]


def test_a_policy_edited_after_escalation_started_does_not_change_it() -> None:
    edited = replace(CRITICAL, steps=(step(0, schedule("primary")), step(10, person("zoe"))))
    events: list[SimEvent] = [
        Fire(0, "g", "critical"),
        EditPolicy(5, edited),
        Resolve(40, "g", "alice"),
        Fire(50, "g", "critical"),  # a new escalation takes the new policy
    ]
    assert pages(run(events)) == [
        (0, "alice", 0, 0, STEP),
        (15, "bob", 1, 0, STEP),
        (30, "erin", 2, 0, STEP),
        (50, "alice", 0, 0, STEP),
        (60, "zoe", 1, 0, STEP),
    ]


def test_resolving_when_alerts_resolve_then_new_alerts_start_over() -> None:
    events: list[SimEvent] = [
        Fire(0, "g", "critical"),
        AlertsResolved(10, "g"),
        Fire(20, "g", "critical"),
    ]
    result = run(events)
    assert pages(result) == [
        (0, "alice", 0, 0, STEP),
        (20, "alice", 0, 0, STEP),
        (35, "bob", 1, 0, STEP),
        (50, "erin", 2, 0, STEP),
    ]
    assert result.steps_fired == (
        ("g#1", 0, 0),
        ("g#2", 0, 0),
        ("g#2", 1, 0),
        ("g#2", 2, 0),
    )


def test_a_stale_step_row_pages_nobody() -> None:
    escalation: Escalation = start_escalation(
        "g#1", "g", CRITICAL, datetime(2026, 1, 5, tzinfo=UTC)
    ).escalation
    reopened = GroupState("g", Status.FIRING, "g#2", 2, escalation.started_at)
    due = StepDue("g#1", 0, 0, escalation.started_at)
    assert fire_step(escalation, reopened, due, escalation.started_at, who) == (
        escalation,
        (),
        None,
        (),
    )


def test_rows_delivered_twice_page_nobody_twice() -> None:
    events: list[SimEvent] = [
        Fire(0, "g", "critical"),
        Snooze(5, "g", "alice", 30),
        Ack(52, "g", "bob"),
    ]
    once, twice = run(events), run(events, deliver_twice=True)
    assert (
        pages(twice)
        == pages(once)
        == [
            (0, "alice", 0, 0, STEP),
            (35, "alice", 0, 0, RENOTIFY),
            (50, "bob", 1, 0, STEP),
        ]
    )
    assert twice.steps_fired == once.steps_fired == (("g#1", 0, 0), ("g#1", 1, 0))


@dataclass(frozen=True)
class Planned:
    due: datetime
    channel: str


def slack_then_email(name: str, urgency: Urgency, at: datetime) -> list[Planned]:
    """Everyone: high urgency Slack at once and email after 2 minutes; low urgency email."""
    if urgency == "low":
        return [Planned(at, "email")]
    return [Planned(at, "slack"), Planned(at + 2 * M, "email")]


def test_notification_rules_send_slack_at_once_and_email_two_minutes_later() -> None:
    result = run([Fire(0, "g", "critical")], 20, plan=slack_then_email)
    assert [(p.minute, p.name, p.channel) for p in result.pages] == [
        (0, "alice", "slack"),
        (2, "alice", "email"),
        (15, "bob", "slack"),
        (17, "bob", "email"),
    ]


def test_an_ack_between_slack_and_email_cancels_the_email() -> None:
    result = run([Fire(0, "g", "critical"), Ack(1, "g", "alice")], 60, plan=slack_then_email)
    assert [(p.minute, p.name, p.channel) for p in result.pages] == [(0, "alice", "slack")]
