"""``escalation_policies``: who is paged, in which order, until somebody acknowledges.

A policy is a ladder of steps. Each step waits ``delay`` after the previous step fired
(for the first step: after escalation started, so it is usually ``0``) and then pages
its targets: the people on call in a schedule, a person, or an Alertmanager receiver.
``repeat`` runs the whole ladder that many more times (PagerDuty's "num_loops");
``ack_timeout`` re-opens a group that was acknowledged but not resolved in time.

The YAML shape::

    escalation_policies:
      - name: critical
        ack_timeout: 30m
        repeat: 1
        steps:
          - targets: [{schedule: primary}]
          - delay: 15m
            targets: [{schedule: secondary}]
          - delay: 15m
            targets: [{person: erin}]
            urgency: high

How a paged person is then contacted (Slack at once, email after 2 minutes) is theirs
to say, in the people section; an escalation only chooses the ``urgency``. The
dataclasses follow :mod:`tocsin.config.model`:
frozen, YAML keys are field names, ``check()`` reports rules inside one object and
:func:`check_escalation` the references across sections.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from tocsin.config.common import PromDuration
from tocsin.config.decode import Conv, Issue, did_you_mean
from tocsin.oncall.schedules import Span, uncovered

__all__ = [
    "URGENCIES",
    "EscalationPolicy",
    "EscalationStep",
    "EscalationTarget",
    "Span",
    "TargetKind",
    "Urgency",
    "check_escalation",
    "check_urgency",
    "unreached",
]


Urgency = Literal["high", "low"]
"""How loudly a step pages: people's notification rules differ per urgency. The same
literal type as the people module's, so a person's plan can be asked for directly."""
URGENCIES: tuple[Urgency, ...] = ("high", "low")


class TargetKind(StrEnum):
    SCHEDULE = "schedule"
    PERSON = "person"
    RECEIVER = "receiver"


def check_urgency(text: str) -> Urgency:
    for urgency in URGENCIES:
        if text == urgency:
            return urgency
    raise ValueError(f"urgency must be 'high' or 'low', got {text!r}")


UrgencyField = Annotated[Urgency, Conv(check_urgency)]


@dataclass(frozen=True)
class EscalationTarget:
    """Exactly one of ``schedule``, ``person`` or ``receiver``.

    A flat mapping rather than a tagged union so that the YAML reads the way people
    write it (``{schedule: primary}``), as Grafana OnCall and GoAlert targets do.
    """

    schedule: str = ""
    person: str = ""
    receiver: str = ""

    def check(self) -> Iterator[Issue]:
        given = [k for k in TargetKind if getattr(self, k.value)]
        if not given:
            yield Issue("a target needs one of schedule, person or receiver")
        elif len(given) > 1:
            names = " & ".join(k.value for k in given)
            yield Issue(f"a target names exactly one of schedule, person or receiver, not {names}")

    @property
    def kind(self) -> TargetKind:
        return next((k for k in TargetKind if getattr(self, k.value)), TargetKind.PERSON)

    @property
    def name(self) -> str:
        return str(getattr(self, self.kind.value))


@dataclass(frozen=True)
class EscalationStep:
    """Wait ``delay`` after the previous step, then page ``targets`` at ``urgency``."""

    delay: PromDuration = timedelta(0)
    targets: tuple[EscalationTarget, ...] = ()
    urgency: UrgencyField = "high"

    def check(self) -> Iterator[Issue]:
        if not self.targets:
            yield Issue("a step needs at least one target", "targets")


@dataclass(frozen=True)
class EscalationPolicy:
    """A named ladder of steps, frozen into each escalation when it starts.

    ``repeat_delay`` is the wait between the last step of one round and the first step
    of the next (it replaces the first step's own delay, usually 0, which would page
    the primary again in the very minute the last step paged its targets). When unset
    it is the last step's delay, so a ladder of 15-minute steps keeps its 15-minute
    rhythm across rounds, as a PagerDuty policy whose rules all wait 15 minutes does.
    """

    name: str = ""
    steps: tuple[EscalationStep, ...] = ()
    repeat: int = 0
    repeat_delay: PromDuration | None = None
    ack_timeout: PromDuration | None = None

    def check(self) -> Iterator[Issue]:
        if not self.name:
            yield Issue("an escalation policy needs a name", "name")
        if not self.steps:
            yield Issue("an escalation policy needs at least one step", "steps")
        if self.repeat < 0:
            yield Issue("must be 0 (run the steps once) or more", "repeat")
        if self.repeat > 0 and self.steps and self.round_gap() <= timedelta(0):
            yield Issue(
                "repeating needs a pause between rounds: set repeat_delay (the last step's "
                "delay, used by default, is 0)",
                "repeat_delay" if self.repeat_delay is not None else "repeat",
            )
        if self.ack_timeout is not None and self.ack_timeout <= timedelta(0):
            yield Issue("must be positive (leave it out for no timeout)", "ack_timeout")

    def schedules(self) -> list[str]:
        """The schedules its steps target, each once, in the order first named."""
        named = (t.name for s in self.steps for t in s.targets if t.kind is TargetKind.SCHEDULE)
        return list(dict.fromkeys(named))

    def round_gap(self) -> timedelta:
        """The wait before the first step of a repeated round."""
        if self.repeat_delay is not None:
            return self.repeat_delay
        return self.steps[-1].delay if self.steps else timedelta(0)


def check_escalation(
    policies: Iterable[EscalationPolicy],
    people_names: Iterable[str],
    schedule_names: Iterable[str],
    receiver_names: Iterable[str],
    *,
    policy_refs: Iterable[tuple[str, str]] = (),
    section: str = "escalation_policies",
) -> Iterator[tuple[str, str]]:
    """Problems across sections, as ``(dotted key, message)``: duplicate policy names,
    targets naming an unknown person, schedule or receiver, and ``policy_refs``
    (``(key, policy name)`` pairs, e.g. a receiver's ``escalation_policy``) naming an
    unknown policy. Close matches are suggested, as the decoder does for unknown keys."""
    known = {
        TargetKind.PERSON: set(people_names),
        TargetKind.SCHEDULE: set(schedule_names),
        TargetKind.RECEIVER: set(receiver_names),
    }
    seen: set[str] = set()
    for p_index, policy in enumerate(policies):
        at = f"{section}[{p_index}]"
        if policy.name and policy.name in seen:
            yield f"{at}.name", f"escalation policy {policy.name!r} is not unique"
        seen.add(policy.name)
        for s_index, step in enumerate(policy.steps):
            for t_index, target in enumerate(step.targets):
                if target.name and target.name not in known[target.kind]:
                    key = f"{at}.steps[{s_index}].targets[{t_index}].{target.kind.value}"
                    message = f"undefined {target.kind.value} {target.name!r}"
                    yield key, message + did_you_mean(target.name, known[target.kind])
    for key, name in policy_refs:
        if name and name not in seen:
            yield key, f"undefined escalation policy {name!r}" + did_you_mean(name, seen)


def unreached(
    policy: EscalationPolicy, on_call: Mapping[str, Sequence[Span]], start: datetime, end: datetime
) -> list[Span]:
    """The spans of [``start``, ``end``) in which every step of ``policy`` would reach
    nobody, sorted: every target is a schedule and none of them has anyone on call then.

    ``on_call`` gives each schedule's spans with someone on call (sorted; a schedule
    it lacks has nobody). A person or a receiver always reaches someone (whether their
    contacts work is checked elsewhere), so a policy that targets one has no such span.
    Every step is asked at the same moment, its delay left out: the rota's coverage is
    in question, and where a later step's delay would carry its page past a gap's end,
    the steps before it still went unheard.
    """
    if start >= end or any(
        t.kind is not TargetKind.SCHEDULE for s in policy.steps for t in s.targets
    ):
        return []
    return uncovered(
        (span for name in policy.schedules() for span in on_call.get(name, ())), start, end
    )
