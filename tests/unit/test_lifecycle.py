"""Alert-group lifecycle: one row per rule (open, ack, ack timeout, resolve by hand and
automatically, snooze and its end, re-open), refused inputs with their reasons, and
stale wake-up rows that must do nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from msgspec.structs import replace

from tocsin.oncall.lifecycle import (
    Action,
    AuditEntry,
    DueKind,
    GroupState,
    LifecycleDue,
    PauseEscalation,
    Refused,
    ResumeEscalation,
    ScheduleDue,
    StartEscalation,
    Status,
    StopEscalation,
    TellAcknowledged,
    TellResolved,
    Transition,
    Via,
    acknowledge,
    alerts_firing,
    alerts_resolved,
    on_due,
    pending_acts,
    resolve,
    snooze,
    unacknowledge,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)

FIRING = GroupState("g", Status.FIRING, "g#1", 1, T0)
ACKED = GroupState("g", Status.ACKNOWLEDGED, "g#1", 1, T0 + 2 * M, acknowledged_by="alice")
ACKED_WITH_TIMEOUT = GroupState(
    "g", Status.ACKNOWLEDGED, "g#1", 1, T0 + 2 * M, "alice", ack_deadline=T0 + 12 * M
)
SNOOZED = GroupState("g", Status.SNOOZED, "g#1", 1, T0 + 5 * M, snoozed_until=T0 + 35 * M)
# every alert still firing silenced or inhibited since T0 + 20m: snoozed with no end
MUTED = GroupState("g", Status.SNOOZED, "g#1", 1, T0 + 20 * M)
RESOLVED = GroupState("g", Status.RESOLVED, "g#1", 1, T0 + 40 * M)
# resolved by hand while alerts a and b were firing
HELD = GroupState("g", Status.RESOLVED, "g#1", 1, T0 + 40 * M, held=("a", "b"))

Step = Callable[[], Transition | Refused | None]


def audit(
    at: datetime, who: str, via: Via, action: str, comment: str = "", esc: str = "g#1"
) -> AuditEntry:
    return AuditEntry(at, "g", who, via, action, comment, esc)


TRANSITIONS: list[tuple[str, Step, GroupState, tuple[Action, ...], AuditEntry | None]] = [
    (
        "first alerts open the group and start escalation",
        lambda: alerts_firing(None, "g", T0),
        FIRING,
        (StartEscalation("g#1"),),
        audit(T0, "tocsin", Via.AUTO, "opened", "alerts firing"),
    ),
    (
        "alerts joining an open group change nothing",
        lambda: alerts_firing(ACKED, "g", T0 + 3 * M),
        ACKED,
        (),
        None,
    ),
    (
        "acknowledge stops escalation and tells those paged who took it",
        lambda: acknowledge(FIRING, T0 + 7 * M, "alice", Via.SLACK, comment="looking"),
        GroupState("g", Status.ACKNOWLEDGED, "g#1", 1, T0 + 7 * M, acknowledged_by="alice"),
        (StopEscalation("g#1", final=False), TellAcknowledged("g#1", "alice")),
        audit(T0 + 7 * M, "alice", Via.SLACK, "acknowledged", "looking"),
    ),
    (
        "acknowledge under an ack_timeout schedules the re-open",
        lambda: acknowledge(FIRING, T0 + 7 * M, "alice", Via.API, ack_timeout=10 * M),
        GroupState(
            "g", Status.ACKNOWLEDGED, "g#1", 1, T0 + 7 * M, "alice", ack_deadline=T0 + 17 * M
        ),
        (
            StopEscalation("g#1", final=False),
            TellAcknowledged("g#1", "alice"),
            ScheduleDue(LifecycleDue(DueKind.ACK_TIMEOUT, "g", "g#1", T0 + 17 * M)),
        ),
        audit(T0 + 7 * M, "alice", Via.API, "acknowledged"),
    ),
    (
        "the ack timeout re-opens the group and resumes at the current step",
        lambda: on_due(
            ACKED_WITH_TIMEOUT,
            LifecycleDue(DueKind.ACK_TIMEOUT, "g", "g#1", T0 + 12 * M),
            T0 + 12 * M,
        ),
        GroupState("g", Status.FIRING, "g#1", 1, T0 + 12 * M),
        (ResumeEscalation("g#1", DueKind.ACK_TIMEOUT),),
        audit(
            T0 + 12 * M,
            "tocsin",
            Via.AUTO,
            "acknowledgement timed out",
            "alice did not resolve it; the current step is re-notified",
        ),
    ),
    (
        "taking an acknowledgement back fires again: the current step is re-notified",
        lambda: unacknowledge(ACKED_WITH_TIMEOUT, T0 + 4 * M, "bob", Via.CLI, comment="oops"),
        GroupState("g", Status.FIRING, "g#1", 1, T0 + 4 * M),
        (ResumeEscalation("g#1", DueKind.ACK_TIMEOUT),),
        audit(
            T0 + 4 * M,
            "bob",
            Via.CLI,
            "unacknowledged",
            "alice's acknowledgement taken back; the current step is re-notified: oops",
        ),
    ),
    (
        "resolve by hand stops escalation for good",
        lambda: resolve(ACKED, T0 + 20 * M, "alice", Via.CLI, comment="rolled back"),
        GroupState("g", Status.RESOLVED, "g#1", 1, T0 + 20 * M, acknowledged_by="alice"),
        (StopEscalation("g#1", final=True),),
        audit(T0 + 20 * M, "alice", Via.CLI, "resolved", "rolled back"),
    ),
    (
        "all alerts resolved resolves the group automatically; those paged are told",
        lambda: alerts_resolved(FIRING, T0 + 20 * M),
        GroupState("g", Status.RESOLVED, "g#1", 1, T0 + 20 * M),
        (StopEscalation("g#1", final=True), TellResolved("g#1")),
        audit(T0 + 20 * M, "tocsin", Via.AUTO, "resolved", "all alerts resolved"),
    ),
    (
        "every alert still firing muted: not resolved, the escalation waits (no end)",
        lambda: alerts_resolved(FIRING, T0 + 20 * M, "silenced", muted=["a"]),
        MUTED,
        (PauseEscalation("g#1", None),),
        audit(
            T0 + 20 * M,
            "tocsin",
            Via.AUTO,
            "muted",
            "silenced; escalation waits until one fires unmuted",
        ),
    ),
    (
        "an alert firing unmuted again resumes the same escalation at the current step",
        lambda: alerts_firing(MUTED, "g", T0 + 30 * M, ["a"]),
        GroupState("g", Status.FIRING, "g#1", 1, T0 + 30 * M),
        (ResumeEscalation("g#1", DueKind.SNOOZE_END),),
        audit(
            T0 + 30 * M,
            "tocsin",
            Via.AUTO,
            "unmuted",
            "an alert fires unsilenced again; escalation resumes at the current step",
        ),
    ),
    (
        "a muted group's alerts resolving resolves it; those paged are told",
        lambda: alerts_resolved(MUTED, T0 + 30 * M),
        GroupState("g", Status.RESOLVED, "g#1", 1, T0 + 30 * M),
        (StopEscalation("g#1", final=True), TellResolved("g#1")),
        audit(T0 + 30 * M, "tocsin", Via.AUTO, "resolved", "all alerts resolved"),
    ),
    (
        "still muted at a later flush: nothing changes",
        lambda: alerts_resolved(MUTED, T0 + 30 * M, "silenced", muted=["a"]),
        MUTED,
        (),
        None,
    ),
    (
        "an acknowledged group's alerts muted: it stays acknowledged",
        lambda: alerts_resolved(ACKED, T0 + 20 * M, "silenced", muted=["a"]),
        ACKED,
        (),
        None,
    ),
    (
        "a snoozed group's alerts muted: the snooze keeps its end",
        lambda: alerts_resolved(SNOOZED, T0 + 20 * M, "silenced", muted=["a"]),
        SNOOZED,
        (),
        None,
    ),
    (
        "alerts resolving in a group resolved by hand change nothing",
        lambda: alerts_resolved(RESOLVED, T0 + 45 * M),
        RESOLVED,
        (),
        None,
    ),
    (
        "snooze pauses escalation until a time",
        lambda: snooze(FIRING, T0 + 5 * M, "alice", Via.EMAIL_LINK, 30 * M),
        SNOOZED,
        (
            PauseEscalation("g#1", T0 + 35 * M),
            ScheduleDue(LifecycleDue(DueKind.SNOOZE_END, "g", "g#1", T0 + 35 * M)),
        ),
        audit(T0 + 5 * M, "alice", Via.EMAIL_LINK, "snoozed", "until 2026-01-05T09:35:00.000Z"),
    ),
    (
        "snoozing an acknowledged group replaces its ack timeout",
        lambda: snooze(ACKED_WITH_TIMEOUT, T0 + 5 * M, "alice", Via.API, 30 * M),
        GroupState("g", Status.SNOOZED, "g#1", 1, T0 + 5 * M, "alice", snoozed_until=T0 + 35 * M),
        (
            PauseEscalation("g#1", T0 + 35 * M),
            ScheduleDue(LifecycleDue(DueKind.SNOOZE_END, "g", "g#1", T0 + 35 * M)),
        ),
        audit(T0 + 5 * M, "alice", Via.API, "snoozed", "until 2026-01-05T09:35:00.000Z"),
    ),
    (
        "the end of a snooze resumes escalation at the step it was at",
        lambda: on_due(
            SNOOZED, LifecycleDue(DueKind.SNOOZE_END, "g", "g#1", T0 + 35 * M), T0 + 35 * M
        ),
        GroupState("g", Status.FIRING, "g#1", 1, T0 + 35 * M),
        (ResumeEscalation("g#1", DueKind.SNOOZE_END),),
        audit(
            T0 + 35 * M,
            "tocsin",
            Via.AUTO,
            "snooze ended",
            "escalation resumes at the current step",
        ),
    ),
    (
        "acknowledging a snoozed group cancels the snooze",
        lambda: acknowledge(SNOOZED, T0 + 10 * M, "bob", Via.SLACK),
        GroupState("g", Status.ACKNOWLEDGED, "g#1", 1, T0 + 10 * M, acknowledged_by="bob"),
        (StopEscalation("g#1", final=False), TellAcknowledged("g#1", "bob")),
        audit(T0 + 10 * M, "bob", Via.SLACK, "acknowledged"),
    ),
    (
        "new alerts in a resolved group re-open it with a new escalation",
        lambda: alerts_firing(RESOLVED, "g", T0 + 50 * M),
        GroupState("g", Status.FIRING, "g#2", 2, T0 + 50 * M),
        (StartEscalation("g#2"),),
        audit(T0 + 50 * M, "tocsin", Via.AUTO, "re-opened", "alerts firing", esc="g#2"),
    ),
    (
        "resolve by hand while alerts fire holds them: they will not re-open the group",
        lambda: resolve(FIRING, T0 + 40 * M, "alice", Via.API, comment="known", firing=["a", "b"]),
        HELD,
        (StopEscalation("g#1", final=True),),
        audit(
            T0 + 40 * M,
            "alice",
            Via.API,
            "resolved",
            "known (2 alerts still firing; only a new alert re-opens it)",
        ),
    ),
    (
        "the held alerts firing again (Alertmanager re-sends them) leave it resolved",
        lambda: alerts_firing(HELD, "g", T0 + 45 * M, ["b", "a"]),
        HELD,
        (),
        None,
    ),
    (
        "a held alert resolving is no longer held; the rest stay resolved",
        lambda: alerts_firing(HELD, "g", T0 + 45 * M, ["b"]),
        GroupState("g", Status.RESOLVED, "g#1", 1, T0 + 40 * M, held=("b",)),
        (),
        None,
    ),
    (
        "a held alert silenced is still held (a silence is not a resolution)",
        lambda: alerts_firing(HELD, "g", T0 + 45 * M, ["b"], muted=["a"]),
        HELD,
        (),
        None,
    ),
    (
        "every held alert silenced: still held, the group stays resolved",
        lambda: alerts_resolved(HELD, T0 + 45 * M, muted=["a", "b"]),
        HELD,
        (),
        None,
    ),
    (
        "an alert that was not firing when it was resolved re-opens it",
        lambda: alerts_firing(HELD, "g", T0 + 50 * M, ["a", "c"]),
        GroupState("g", Status.FIRING, "g#2", 2, T0 + 50 * M),
        (StartEscalation("g#2"),),
        audit(T0 + 50 * M, "tocsin", Via.AUTO, "re-opened", "alerts firing", esc="g#2"),
    ),
    (
        "all held alerts resolved: whatever fires next is new; those paged are told",
        lambda: alerts_resolved(HELD, T0 + 45 * M),
        RESOLVED,
        (TellResolved("g#1"),),
        None,
    ),
]


@pytest.mark.parametrize(
    ("step", "state", "actions", "entry"),
    [row[1:] for row in TRANSITIONS],
    ids=[row[0] for row in TRANSITIONS],
)
def test_transition(
    step: Step, state: GroupState, actions: tuple[Action, ...], entry: AuditEntry | None
) -> None:
    result = step()
    assert isinstance(result, Transition)
    assert result.state == state
    assert result.actions == actions
    assert result.audit == entry


REFUSALS: list[tuple[str, Step, str, str]] = [
    (
        "acknowledge a resolved group",
        lambda: acknowledge(RESOLVED, T0 + 41 * M, "alice", Via.API),
        "acknowledge",
        "cannot acknowledge alert group 'g': it is resolved; new alerts would re-open it",
    ),
    (
        "acknowledge twice",
        lambda: acknowledge(ACKED, T0 + 3 * M, "bob", Via.SLACK),
        "acknowledge",
        "cannot acknowledge alert group 'g': it is already acknowledged by alice",
    ),
    (
        "snooze without a duration",
        lambda: snooze(FIRING, T0 + M, "alice", Via.CLI, None),
        "snooze",
        "cannot snooze alert group 'g': a snooze needs a duration (e.g. 30m)",
    ),
    (
        "snooze for no time",
        lambda: snooze(FIRING, T0 + M, "alice", Via.CLI, timedelta(0)),
        "snooze",
        "cannot snooze alert group 'g': a snooze must last a positive time (e.g. 30m), not 0s",
    ),
    (
        "snooze for longer than a day",
        lambda: snooze(FIRING, T0 + M, "alice", Via.CLI, timedelta(hours=24, minutes=1)),
        "snooze",
        "cannot snooze alert group 'g': a snooze lasts at most 1d, not 1d1m; "
        "for longer, silence the alerts",
    ),
    (
        "snooze a resolved group",
        lambda: snooze(RESOLVED, T0 + 41 * M, "alice", Via.API, 30 * M),
        "snooze",
        "cannot snooze alert group 'g': it is resolved",
    ),
    (
        "take back an acknowledgement nobody gave",
        lambda: unacknowledge(FIRING, T0 + M, "bob", Via.API),
        "unacknowledge",
        "cannot unacknowledge alert group 'g': it is firing, not acknowledged",
    ),
    (
        "resolve twice",
        lambda: resolve(RESOLVED, T0 + 41 * M, "alice", Via.API),
        "resolve",
        "cannot resolve alert group 'g': it is already resolved",
    ),
]


@pytest.mark.parametrize(
    ("step", "attempted", "reason"),
    [row[1:] for row in REFUSALS],
    ids=[row[0] for row in REFUSALS],
)
def test_refused(step: Step, attempted: str, reason: str) -> None:
    result = step()
    assert isinstance(result, Refused)
    assert (result.attempted, str(result)) == (attempted, reason)


STALE_ROWS: list[tuple[str, GroupState, LifecycleDue, datetime]] = [
    (
        "snooze end after the snooze was extended",
        GroupState("g", Status.SNOOZED, "g#1", 1, T0 + 20 * M, snoozed_until=T0 + 65 * M),
        LifecycleDue(DueKind.SNOOZE_END, "g", "g#1", T0 + 35 * M),
        T0 + 35 * M,
    ),
    (
        "snooze end after someone acknowledged",
        ACKED,
        LifecycleDue(DueKind.SNOOZE_END, "g", "g#1", T0 + 35 * M),
        T0 + 35 * M,
    ),
    (
        "ack timeout after a new acknowledgement moved the deadline",
        GroupState("g", Status.ACKNOWLEDGED, "g#1", 1, T0, "bob", ack_deadline=T0 + 30 * M),
        LifecycleDue(DueKind.ACK_TIMEOUT, "g", "g#1", T0 + 12 * M),
        T0 + 12 * M,
    ),
    (
        "ack timeout once the group is resolved",
        RESOLVED,
        LifecycleDue(DueKind.ACK_TIMEOUT, "g", "g#1", T0 + 12 * M),
        T0 + 42 * M,
    ),
    (
        "a row of the previous escalation",
        GroupState("g", Status.SNOOZED, "g#2", 2, T0, snoozed_until=T0 + 35 * M),
        LifecycleDue(DueKind.SNOOZE_END, "g", "g#1", T0 + 35 * M),
        T0 + 35 * M,
    ),
    (
        "a row delivered before its time",
        SNOOZED,
        LifecycleDue(DueKind.SNOOZE_END, "g", "g#1", T0 + 35 * M),
        T0 + 34 * M,
    ),
]


@pytest.mark.parametrize(
    ("state", "due", "now"), [row[1:] for row in STALE_ROWS], ids=[row[0] for row in STALE_ROWS]
)
def test_stale_wake_up_rows_do_nothing(state: GroupState, due: LifecycleDue, now: datetime) -> None:
    assert on_due(state, due, now) is None


def test_a_group_reopened_twice_counts_its_escalations() -> None:
    first = alerts_firing(None, "g", T0)
    closed = alerts_resolved(first.state, T0 + M)
    second = alerts_firing(closed.state, "g", T0 + 2 * M)
    closed_again = alerts_resolved(second.state, T0 + 3 * M)
    third = alerts_firing(closed_again.state, "g", T0 + 4 * M)
    assert [first.state.escalation_id, second.state.escalation_id, third.state.escalation_id] == [
        "g#1",
        "g#2",
        "g#3",
    ]


@pytest.mark.parametrize("state", [FIRING, ACKED_WITH_TIMEOUT, SNOOZED, RESOLVED, HELD])
def test_group_state_json_round_trip(state: GroupState) -> None:
    assert GroupState.from_json(state.to_json()) == state


def test_a_state_stored_before_held_existed_holds_nothing() -> None:
    data = RESOLVED.to_json()
    del data["held"]
    assert GroupState.from_json(data) == RESOLVED


def test_audit_and_due_rows_json_round_trip() -> None:
    entry = audit(T0 + 7 * M, "alice", Via.EMAIL_LINK, "acknowledged", "on it")
    due = LifecycleDue(DueKind.ACK_TIMEOUT, "g", "g#1", T0 + 17 * M)
    assert AuditEntry.from_json(entry.to_json()) == entry
    assert LifecycleDue.from_json(due.to_json()) == due
    assert entry.to_json()["via"] == "email-link"


ACK_TIMEOUT = LifecycleDue(DueKind.ACK_TIMEOUT, "g", "g#1", T0 + 12 * M).to_json()
SNOOZE_END = LifecycleDue(DueKind.SNOOZE_END, "g", "g#1", T0 + 35 * M).to_json()


@pytest.mark.parametrize(
    ("kind", "state", "payload", "acts"),
    [
        ("step", FIRING, {}, True),
        ("notify", FIRING, {}, True),
        # the escalation waits: its steps and later pages do nothing when due
        ("step", ACKED, {}, False),
        ("notify", ACKED, {}, False),
        ("step", SNOOZED, {}, False),
        ("step", RESOLVED, {}, False),
        ("step", None, {}, False),  # a group whose state cannot be read
        # the wake-up that ends the wait does act
        ("lifecycle", ACKED_WITH_TIMEOUT, ACK_TIMEOUT, True),
        ("lifecycle", SNOOZED, SNOOZE_END, True),
        # ... not one left from an earlier wait: the ack timeout of an acknowledgement
        # the group resolved since, a snooze's end moved on, another firing's row
        ("lifecycle", RESOLVED, ACK_TIMEOUT, False),
        ("lifecycle", FIRING, SNOOZE_END, False),
        ("lifecycle", replace(SNOOZED, snoozed_until=T0 + 50 * M), SNOOZE_END, False),
        ("lifecycle", replace(ACKED_WITH_TIMEOUT, escalation_id="g#2"), ACK_TIMEOUT, False),
    ],
)
def test_which_pending_rows_will_act(
    kind: str, state: GroupState | None, payload: dict[str, Any], acts: bool
) -> None:
    assert pending_acts(kind, state, payload) is acts
