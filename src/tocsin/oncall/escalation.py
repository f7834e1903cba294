"""The escalation engine's decisions: which step fires when, and whom it pages.

When a group opens, its policy is frozen into an :class:`Escalation` (Grafana OnCall's
"escalation snapshot"): editing the policy afterwards changes later escalations, never a
running one. Every future step is a :class:`StepDue` (the engine stores it as its
group's ladder columns, not as a row of its own) that the engine takes when it comes
due and hands to :func:`fire_step` with the group's current
:class:`~tocsin.oncall.lifecycle.GroupState` and the time. Firing returns the escalation
as it now stands, the :class:`Page` decisions, the one next step to await and audit
entries; nothing here reads a clock, a database or a schedule table (schedules come in
through ``who_is_on_call``), so a week of escalations simulates in milliseconds.

Exactly-once, without locks: an escalation remembers the one step it is waiting for
(``next_due``). A step that is not that one is stale and does nothing: a step of an
older escalation of the group, one delivered twice, one already fired, one superseded
when a snooze or an ack timeout re-scheduled the ladder. A group that is not firing
(acknowledged, snoozed, resolved) fires nothing either.

Timing choices:

* A step's delay counts from the moment the previous step actually fired (``now``), not
  from its scheduled time, so a late engine never shortens a responder's time to ack.
* A step that finds nobody to page (an empty schedule, or a person or receiver that a
  reload removed after the policy was frozen) lets the next step come due at once, as
  PagerDuty does, rather than leaving a critical alert unheard for a delay.
* A person's page expands into one :class:`NotifyDue` per planned contact (their
  notification rules: "Slack at once, email after 2 minutes"); those rows are dropped
  if the group is no longer firing when they come due, so an acknowledgement stops the
  remaining channels too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

import orjson
from msgspec import Struct

from tocsin.config.durations import format_duration, parse_duration
from tocsin.config.escalation import (
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    Urgency,
    check_urgency,
)
from tocsin.oncall.lifecycle import (
    SYSTEM,
    AuditEntry,
    DueKind,
    GroupState,
    LifecycleDue,
    Status,
    Via,
)
from tocsin.timeutil import from_micros, to_micros

__all__ = [
    "DEFAULT_CHANNEL",
    "Escalation",
    "NotificationPlan",
    "NotifyDue",
    "Page",
    "PageReason",
    "Planned",
    "Reachable",
    "Recipient",
    "Standing",
    "StepDue",
    "StepMemo",
    "StepOutcome",
    "WhoIsOnCall",
    "everyone_reachable",
    "expand_notifications",
    "fire_step",
    "notify_stale_reason",
    "page_escalation",
    "policy_from_json",
    "policy_to_json",
    "resume",
    "stale_reason",
    "start_escalation",
]

WhoIsOnCall = Callable[[str, datetime], Sequence[str]]
"""``(schedule name, at) -> people on call``: the schedules module, injected."""

Reachable = Callable[["Recipient", str], bool]
"""``(kind, name) -> whether the configuration, as of now, can page them``: a person or
receiver a reload removed after the policy was frozen cannot."""


def everyone_reachable(kind: Recipient, name: str) -> bool:
    """The :data:`Reachable` of a configuration that names everyone a policy does."""
    return True


class Planned(Protocol):
    """One planned contact of a paged person (the people module's
    ``PlannedNotification`` has this shape)."""

    @property
    def due(self) -> datetime: ...

    @property
    def channel(self) -> str: ...


class Standing(Protocol):
    """What decides whether a due row of a group is stale: the group's status and its
    current escalation (a :class:`~tocsin.oncall.lifecycle.GroupState` has both; the
    engine's step path reads just these two, not the whole state)."""

    @property
    def status(self) -> Status: ...

    @property
    def escalation_id(self) -> str: ...


NotificationPlan = Callable[[str, Urgency, datetime], Sequence[Planned]]
"""``(person, urgency, paged at) -> planned contacts``: the person's notification rules
applied to one page, e.g. ``lambda name, urgency, at: notification_plan(people[name],
urgency, at)``."""

DEFAULT_CHANNEL = "default"
"""Channel of the one notification sent to a person without rules: paging nobody
because a profile is incomplete would be worse than using their default contact."""


class Recipient(StrEnum):
    PERSON = "person"
    RECEIVER = "receiver"


class PageReason(StrEnum):
    STEP = "step"  # the step fired
    RENOTIFY = "renotify"  # the step's targets are reminded (snooze ended, ack timed out)


class StepDue(Struct, frozen=True):
    """A row: step ``step_index`` of round ``round`` of an escalation is due at ``due_at``."""

    escalation_id: str
    step_index: int
    round: int
    due_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "escalation_id": self.escalation_id,
            "step_index": self.step_index,
            "round": self.round,
            "due_at": to_micros(self.due_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepDue:
        return cls(
            data["escalation_id"], data["step_index"], data["round"], from_micros(data["due_at"])
        )


class Escalation(Struct, frozen=True):
    """A running escalation: the frozen policy and where the ladder stands.

    ``(step_index, round)`` is the current step: the one that fired last (``fired``) or,
    before anything fired, the first one. ``next_due`` is the only row that may fire.
    """

    id: str
    group_key: str
    policy_snapshot: EscalationPolicy
    started_at: datetime
    step_index: int = 0
    round: int = 0
    fired: bool = False
    next_due: StepDue | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group_key": self.group_key,
            "policy_snapshot": policy_to_json(self.policy_snapshot),
            "started_at": to_micros(self.started_at),
            "step_index": self.step_index,
            "round": self.round,
            "fired": self.fired,
            "next_due": None if self.next_due is None else self.next_due.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Escalation:
        next_due = data["next_due"]
        return cls(
            id=data["id"],
            group_key=data["group_key"],
            policy_snapshot=policy_from_json(data["policy_snapshot"]),
            started_at=from_micros(data["started_at"]),
            step_index=data["step_index"],
            round=data["round"],
            fired=data["fired"],
            next_due=None if next_due is None else StepDue.from_json(next_due),
        )


class Page(Struct, frozen=True):
    """The decision to page one person or receiver for one step of one round."""

    escalation_id: str
    group_key: str
    recipient: Recipient
    name: str
    urgency: Urgency
    step_index: int
    round: int
    at: datetime
    reason: PageReason = PageReason.STEP

    def to_json(self) -> dict[str, Any]:
        return {
            "escalation_id": self.escalation_id,
            "group_key": self.group_key,
            "recipient": self.recipient.value,
            "name": self.name,
            "urgency": self.urgency,
            "step_index": self.step_index,
            "round": self.round,
            "at": to_micros(self.at),
            "reason": self.reason.value,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Page:
        return cls(
            escalation_id=data["escalation_id"],
            group_key=data["group_key"],
            recipient=Recipient(data["recipient"]),
            name=data["name"],
            urgency=check_urgency(data["urgency"]),
            step_index=data["step_index"],
            round=data["round"],
            at=from_micros(data["at"]),
            reason=PageReason(data["reason"]),
        )


class NotifyDue(Struct, frozen=True):
    """A row: contact ``page.name`` through ``channel`` at ``due_at`` (receivers use the
    channel ``receiver``: their own integrations decide the rest)."""

    page: Page
    channel: str
    due_at: datetime

    @property
    def idempotency_key(self) -> str:
        """The outbox key: the same notification decided twice is sent once."""
        p = self.page
        return (
            f"{p.escalation_id}/r{p.round}/s{p.step_index}/{p.reason.value}@{to_micros(p.at)}"
            f"/{p.recipient.value}:{p.name}/{self.channel}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "page": self.page.to_json(),
            "channel": self.channel,
            "due_at": to_micros(self.due_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NotifyDue:
        return cls(Page.from_json(data["page"]), data["channel"], from_micros(data["due_at"]))


# What follows an escalation id in a page's key (``NotifyDue.idempotency_key``).
_PAGE_KEY = re.compile(r"r[0-9]+/s[0-9]+/")


def page_escalation(key: str) -> str | None:
    """The escalation whose page an outbox item carries, read from the item's key
    (``NotifyDue.idempotency_key``, the integration after it); None for an item that
    is not a page. Escalation ids (``GROUP#N``, see ``escalation_id_for``) hold no
    ``/``."""
    escalation_id, _, rest = key.partition("/")
    return escalation_id if _PAGE_KEY.match(rest) else None


class StepOutcome(NamedTuple):
    """``(escalation', pages, next step awaited or None, audit entries)``."""

    escalation: Escalation
    pages: tuple[Page, ...]
    next_due: StepDue | None
    audit: tuple[AuditEntry, ...]


# --- decisions ---------------------------------------------------------------------------


def start_escalation(
    escalation_id: str, group_key: str, policy: EscalationPolicy, now: datetime
) -> StepOutcome:
    """Freeze ``policy`` and schedule its first step (nothing is paged yet: even a
    0-delay first step goes through a row, so a crash right now cannot lose it)."""
    first = StepDue(escalation_id, 0, 0, now + policy.steps[0].delay)
    escalation = Escalation(escalation_id, group_key, policy, now, next_due=first)
    steps, rounds = len(policy.steps), policy.repeat + 1
    note = f"policy {policy.name!r}: {_count(steps, 'step')}, {_count(rounds, 'round')}"
    audit = AuditEntry(now, group_key, SYSTEM, Via.AUTO, "escalation started", note, escalation_id)
    return StepOutcome(escalation, (), first, (audit,))


def stale_reason(escalation: Escalation, state: Standing, due: StepDue) -> str | None:
    """Why ``due`` must do nothing, or ``None`` if it is the row the escalation awaits."""
    if due.escalation_id != state.escalation_id:
        return f"escalation {due.escalation_id} was superseded by {state.escalation_id}"
    if due.escalation_id != escalation.id:
        return f"row of escalation {due.escalation_id} given escalation {escalation.id}"
    if state.status is not Status.FIRING:
        return f"group is {state.status.value}"
    if due != escalation.next_due:
        position = (due.round, due.step_index)
        if escalation.fired and position <= (escalation.round, escalation.step_index):
            return f"step {due.step_index} of round {due.round} already fired"
        return "superseded by a rescheduled step"
    return None


def fire_step(
    escalation: Escalation,
    state: Standing,
    due: StepDue,
    now: datetime,
    who_is_on_call: WhoIsOnCall,
    memo: StepMemo | None = None,
    reachable: Reachable = everyone_reachable,
) -> StepOutcome:
    """Fire the step ``due`` names, if it is still the one awaited.

    A stale step returns no pages and no next step. A step delivered before its time
    (``now < due_at``) returns itself as the next step, so nothing is lost. Calls that
    share ``who_is_on_call`` and ``reachable`` may share a ``memo``: escalations under
    one policy firing one step at one time then resolve its targets once.
    """
    if stale_reason(escalation, state, due) is not None:
        return StepOutcome(escalation, (), None, ())
    if now < due.due_at:
        return StepOutcome(escalation, (), due, ())
    return _fire(
        escalation,
        due.step_index,
        due.round,
        now,
        who_is_on_call,
        PageReason.STEP,
        memo,
        reachable,
    )


def resume(
    escalation: Escalation,
    state: GroupState,
    now: datetime,
    who_is_on_call: WhoIsOnCall,
    reachable: Reachable = everyone_reachable,
) -> StepOutcome:
    """After a snooze ended or an acknowledgement timed out: notify the current step's
    targets again and go on with the ladder from there. If no step had fired yet, the
    pending step fires now (its wait was spent snoozed). Does nothing unless the group
    is firing under this escalation."""
    if state.escalation_id != escalation.id or state.status is not Status.FIRING:
        return StepOutcome(escalation, (), None, ())
    reason = PageReason.RENOTIFY if escalation.fired else PageReason.STEP
    return _fire(
        escalation,
        escalation.step_index,
        escalation.round,
        now,
        who_is_on_call,
        reason,
        reachable=reachable,
    )


def expand_notifications(
    pages: Sequence[Page], plan: NotificationPlan | None = None
) -> tuple[NotifyDue, ...]:
    """One row per channel: receivers at once, people as their notification rules for
    the page's urgency plan it (one :data:`DEFAULT_CHANNEL` notification, at once, for
    someone without rules: falling back is the escalation's call, not the profile's)."""
    out: list[NotifyDue] = []
    for page in pages:
        if page.recipient is Recipient.RECEIVER:
            out.append(NotifyDue(page, "receiver", page.at))
            continue
        planned = plan(page.name, page.urgency, page.at) if plan is not None else ()
        out.extend(NotifyDue(page, p.channel, p.due) for p in planned)
        if not planned:
            out.append(NotifyDue(page, DEFAULT_CHANNEL, page.at))
    return tuple(out)


def notify_stale_reason(due: NotifyDue, state: Standing, now: datetime) -> str | None:
    """Why a notification row must not be sent, or ``None`` to send it."""
    if due.page.escalation_id != state.escalation_id:
        return f"escalation {due.page.escalation_id} was superseded by {state.escalation_id}"
    if state.status is not Status.FIRING:
        return f"group is {state.status.value}"
    if now < due.due_at:
        return "not due yet"
    return None


# --- the ladder ---------------------------------------------------------------------------


class _StepDecision(NamedTuple):
    """What firing a step decides that is the same for every escalation under the same
    policy firing the same step at the same time: whom it pages, the next step and its
    wait, the audit line."""

    recipients: tuple[tuple[Recipient, str], ...]
    following: tuple[int, int, timedelta] | None
    action: str
    comment: str


StepMemo = dict[tuple[int, int, int, PageReason, datetime], tuple[EscalationPolicy, _StepDecision]]
"""Decisions already taken for ``fire_step`` calls that share a ``who_is_on_call`` (one
batch of the engine: one time, one view of the schedules), by (policy, step, round,
reason, time)."""


def _fire(
    escalation: Escalation,
    step_index: int,
    round_: int,
    now: datetime,
    who_is_on_call: WhoIsOnCall,
    reason: PageReason,
    memo: StepMemo | None = None,
    reachable: Reachable = everyone_reachable,
) -> StepOutcome:
    policy = escalation.policy_snapshot
    memo = {} if memo is None else memo
    key = (id(policy), step_index, round_, reason, now)
    found = memo.get(key)
    if found is None or found[0] is not policy:
        decision = _decide(policy, step_index, round_, now, who_is_on_call, reason, reachable)
        memo[key] = (policy, decision)  # holds the policy: its id stays its own
    else:
        decision = found[1]
    urgency = policy.steps[step_index].urgency
    pages = tuple(
        Page(
            escalation.id,
            escalation.group_key,
            kind,
            name,
            urgency,
            step_index,
            round_,
            now,
            reason,
        )
        for kind, name in decision.recipients
    )
    next_due = None
    if decision.following is not None:
        next_step, next_round, wait = decision.following
        next_due = StepDue(
            escalation.id, next_step, next_round, now + (wait if pages else timedelta(0))
        )
    fired = Escalation(  # not replace(): this runs for every step fired
        escalation.id,
        escalation.group_key,
        escalation.policy_snapshot,
        escalation.started_at,
        step_index,
        round_,
        True,
        next_due,
    )
    audit = AuditEntry(
        now,
        escalation.group_key,
        SYSTEM,
        Via.AUTO,
        decision.action,
        decision.comment,
        escalation.id,
    )
    return StepOutcome(fired, pages, next_due, (audit,))


def _decide(
    policy: EscalationPolicy,
    step_index: int,
    round_: int,
    now: datetime,
    who_is_on_call: WhoIsOnCall,
    reason: PageReason,
    reachable: Reachable,
) -> _StepDecision:
    """A step's targets resolved (each person or receiver once, in target order, with a
    note per target for the audit trail), the step after it, the audit line."""
    recipients: dict[tuple[Recipient, str], None] = {}  # ordered set
    notes: list[str] = []
    for target in policy.steps[step_index].targets:
        found, note = _recipients(target, who_is_on_call, now, reachable)
        recipients.update(dict.fromkeys(found))
        notes.append(note)
    where = f"step {step_index + 1}/{len(policy.steps)}, round {round_ + 1}/{policy.repeat + 1}"
    action = "escalated" if reason is PageReason.STEP else "re-notified"
    following = _following(policy, step_index, round_)
    if following is None:  # said, or a page nobody answers just goes quiet
        notes.append("the policy's last step: nobody else is paged")
    return _StepDecision(tuple(recipients), following, action, f"{where}: {'; '.join(notes)}")


def _recipients(
    target: EscalationTarget, who_is_on_call: WhoIsOnCall, now: datetime, reachable: Reachable
) -> tuple[list[tuple[Recipient, str]], str]:
    # The fields in the order of ``EscalationTarget.kind``, which walks the enum: fine
    # for checking a config, an eighth of a step's time when every step asked it.
    if target.schedule:
        listed = who_is_on_call(target.schedule, now)
        people = [p for p in listed if reachable(Recipient.PERSON, p)]
        gone = "".join(f"; {p} is no longer configured" for p in listed if p not in people)
        if not people:
            return [], f"nobody on call in schedule {target.schedule!r}{gone}"
        note = f"{', '.join(people)} (schedule {target.schedule!r}){gone}"
        return [(Recipient.PERSON, p) for p in people], note
    if not target.person and target.receiver:
        kind, name, note = Recipient.RECEIVER, target.receiver, f"receiver {target.receiver!r}"
    else:
        kind, name, note = Recipient.PERSON, target.person, target.person
    if not reachable(kind, name):
        # removed by a reload after the policy was frozen: paging them would send
        # nothing, so say so and let the next step come due at once
        return [], f"{note} is no longer configured: nobody paged"
    return [(kind, name)], note


def _following(
    policy: EscalationPolicy, step_index: int, round_: int
) -> tuple[int, int, timedelta] | None:
    """The step after ``(step_index, round_)`` and the wait before it; None at the end."""
    if step_index + 1 < len(policy.steps):
        return step_index + 1, round_, policy.steps[step_index + 1].delay
    if round_ < policy.repeat:
        return 0, round_ + 1, policy.round_gap()
    return None


# --- the policy snapshot as JSON -----------------------------------------------------------


def _duration_to_json(value: timedelta | None) -> str | None:
    # Durations keep the config's own spelling ("15m"): readable in a row, and exact to
    # the millisecond, which is the precision of Prometheus durations anyway.
    return None if value is None else format_duration(value)


def _duration_from_json(value: str | None) -> timedelta | None:
    return None if value is None else parse_duration(value)


# Every step of every escalation parses its frozen policy and writes it back, and an
# engine sees few distinct policies: both directions are memoized. The memos are bounded
# (cleared when full) and keyed exactly (the JSON itself; the policy object, held by the
# memo so its id stays its own), so a hit returns what the conversion would have.
_MEMO_SIZE = 256
_parsed: dict[bytes, EscalationPolicy] = {}
_written: dict[int, tuple[EscalationPolicy, dict[str, Any]]] = {}


def policy_to_json(policy: EscalationPolicy) -> dict[str, Any]:
    """The policy as JSON; the result may be shared by other callers: do not change it."""
    found = _written.get(id(policy))
    if found is not None and found[0] is policy:
        return found[1]
    data = _policy_to_json(policy)
    if len(_written) >= _MEMO_SIZE:
        _written.clear()
    _written[id(policy)] = (policy, data)
    return data


def policy_from_json(data: Mapping[str, Any]) -> EscalationPolicy:
    key = orjson.dumps(data)
    found = _parsed.get(key)
    if found is None:
        found = _policy_from_json(data)
        if len(_parsed) >= _MEMO_SIZE:
            _parsed.clear()
        _parsed[key] = found
    return found


def _policy_to_json(policy: EscalationPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "repeat": policy.repeat,
        "repeat_delay": _duration_to_json(policy.repeat_delay),
        "ack_timeout": _duration_to_json(policy.ack_timeout),
        "steps": [
            {
                "delay": format_duration(step.delay),
                "urgency": step.urgency,
                "targets": [{t.kind.value: t.name} for t in step.targets],
            }
            for step in policy.steps
        ],
    }


def _policy_from_json(data: Mapping[str, Any]) -> EscalationPolicy:
    steps = tuple(
        EscalationStep(
            delay=parse_duration(step["delay"]),
            urgency=check_urgency(step["urgency"]),
            targets=tuple(EscalationTarget(**target) for target in step["targets"]),
        )
        for step in data["steps"]
    )
    return EscalationPolicy(
        name=data["name"],
        steps=steps,
        repeat=data["repeat"],
        repeat_delay=_duration_from_json(data["repeat_delay"]),
        ack_timeout=_duration_from_json(data["ack_timeout"]),
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def pending_what(kind: str, payload: Mapping[str, Any]) -> str:
    """A group's pending row (``kind``: "step", "notify" or "lifecycle"; ``payload``:
    the row's) as a responder reads it: "escalation step 2 (round 2)", "page bob by
    email" (a rule's later channel), "snooze ends: escalation resumes"."""
    if kind == "step":
        due = StepDue.from_json(payload)
        again = f" (round {due.round + 1})" if due.round else ""
        return f"escalation step {due.step_index + 1}{again}"
    if kind == "notify":
        notify = NotifyDue.from_json(payload)
        if notify.page.recipient is Recipient.RECEIVER:
            return f"notify receiver {notify.page.name}"
        return f"page {notify.page.name} by {notify.channel}"
    if kind == "lifecycle":
        wake = LifecycleDue.from_json(payload)
        if wake.kind is DueKind.SNOOZE_END:
            return "snooze ends: escalation resumes"
        return "acknowledgement times out: escalation resumes"
    return kind


def paged_why(page: Page) -> str:
    """What a page says of why it comes, beyond its alerts: nothing for a step's first
    page of its first round (the alerts say it); an escalation past the first step or
    round, or a reminder once an acknowledgement or a snooze ran out, says so (a re-page
    read exactly as a first page)."""
    if page.reason is PageReason.RENOTIFY:
        return (
            f"Reminder: still firing and nobody has it: the acknowledgement timed out or "
            f"the snooze ended (escalation step {page.step_index + 1})"
        )
    if page.step_index == 0 and page.round == 0:
        return ""
    again = f", round {page.round + 1}" if page.round else ""
    return (
        f"Escalated to you (step {page.step_index + 1}{again}): nobody acknowledged "
        "the earlier pages"
    )
