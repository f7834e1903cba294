"""A runbook procedure as the responder's checklist for one alert group.

The procedures are those the group's alerts link to (one list per procedure, however
many alerts share it); a step is ticked or unticked by a line of the group's audit
trail, so who did what, and when, is recorded where the rest of the incident is, and
survives a crash as every audit line does. The newest line about a step wins.

A tick names its step by runbook, procedure and number, and carries the step's text:
if the runbook is edited under an incident so that step N now says something else, the
old tick no longer counts for it (the responder did the old step, not the new one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tocsin.runbooks.model import AlertProcedure
from tocsin.timeutil import from_micros

DONE = "step done"
UNDONE = "step undone"
ACTIONS = (DONE, UNDONE)


@dataclass(frozen=True, slots=True)
class StepRef:
    """One step of one procedure: ``number`` counts from 1, as runbooks number them."""

    runbook: str
    procedure: str  # the alert procedure's name, as the runbook writes it
    number: int

    def __str__(self) -> str:
        return f"{self.runbook}/{self.procedure}:{self.number}"

    def detail(self, text: str) -> dict[str, Any]:
        """What an audit line about this step stores beside its columns."""
        return {
            "runbook": self.runbook,
            "procedure": self.procedure,
            "step": self.number,
            "text": text,
        }


@dataclass(frozen=True, slots=True)
class Tick:
    ref: StepRef
    text: str
    done: bool
    who: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChecklistStep:
    ref: StepRef
    text: str
    commands: tuple[str, ...]  # inline code and code blocks, as the step has them
    blocks: tuple[str, ...]  # its code blocks: what to show apart (the text has the rest)
    done_by: str | None = None
    done_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.done_by is not None


@dataclass(frozen=True, slots=True)
class Checklist:
    runbook: str
    procedure: str
    url: str
    severity: str | None
    description: str | None
    alerts: tuple[str, ...]  # the group's alert names that link here
    steps: tuple[ChecklistStep, ...]

    @property
    def done(self) -> int:
        return sum(s.done for s in self.steps)


@dataclass(frozen=True, slots=True)
class Linked:
    """An alert of the group and the procedure it links to (``RunbookLink``'s parts)."""

    alertname: str
    runbook: str
    url: str
    procedure: AlertProcedure


def ticks_in(audit: Iterable[Mapping[str, Any]]) -> list[Tick]:
    """The step lines of an audit trail (``oncall_rows.audit_of``'s dicts, oldest
    first) since the group's latest opening: a re-opened group is a new incident, whose
    steps nobody has done yet."""
    audit = list(audit)
    audit = audit[latest_opening(audit) :]
    out: list[Tick] = []
    for line in audit:
        if line["action"] not in ACTIONS:
            continue
        step = line["detail"].get("checklist") or {}
        try:
            ref = StepRef(str(step["runbook"]), str(step["procedure"]), int(step["step"]))
        except (KeyError, TypeError, ValueError):
            continue  # written by something else: not a tick
        at = line["at"]
        out.append(
            Tick(
                ref,
                str(step.get("text", "")),
                line["action"] == DONE,
                line["actor"],
                at if isinstance(at, datetime) else from_micros(int(at)),
            )
        )
    return out


OPENINGS = ("opened", "re-opened")


def latest_opening(audit: Sequence[Mapping[str, Any]]) -> int:
    """The index of the latest line that opened the group (0 when none did)."""
    found = [i for i, line in enumerate(audit) if line["action"] in OPENINGS]
    return found[-1] if found else 0


def checklists(linked: Sequence[Linked], ticks: Sequence[Tick]) -> list[Checklist]:
    """One checklist per procedure the group's alerts link to, in the order the alerts
    come, each step done by the newest tick that names it with its current text."""
    latest = {tick.ref: tick for tick in ticks}  # the newest tick of each step
    by_procedure: dict[tuple[str, str], list[Linked]] = {}
    for link in linked:
        by_procedure.setdefault((link.runbook, link.procedure.name), []).append(link)
    out: list[Checklist] = []
    for (runbook, name), links in by_procedure.items():
        proc = links[0].procedure
        steps = []
        for number, step in enumerate(proc.steps, start=1):
            ref = StepRef(runbook, name, number)
            done = latest.get(ref)
            if done is not None and not (done.done and done.text == step.text):
                done = None  # undone since, or done when the step said something else
            steps.append(
                ChecklistStep(
                    ref,
                    step.text,
                    tuple(c.text for c in step.commands),
                    tuple(c.text for c in step.commands if c.block),
                    done.who if done else None,
                    done.at if done else None,
                )
            )
        out.append(
            Checklist(
                runbook,
                name,
                links[0].url,
                proc.severity,
                proc.description,
                tuple(dict.fromkeys(link.alertname for link in links)),
                tuple(steps),
            )
        )
    return out


def find_step(lists: Sequence[Checklist], ref: StepRef) -> ChecklistStep | None:
    for checklist in lists:
        for step in checklist.steps:
            if step.ref == ref:
                return step
    return None


def _procedure(where: str, lists: Sequence[Checklist]) -> Checklist | None:
    """The checklist ``where`` names: ``RUNBOOK/PROCEDURE`` or, when only one has that
    name, ``PROCEDURE``; letter case aside."""
    key = where.casefold()
    for match in (
        lambda c: f"{c.runbook}/{c.procedure}".casefold() == key,
        lambda c: c.procedure.casefold() == key,
    ):
        found = [c for c in lists if match(c)]
        if len(found) == 1:
            return found[0]
    return None


def parse_ref(text: str, lists: Sequence[Checklist]) -> StepRef | str:
    """A step as a person names it: ``N`` when the group has one checklist, else
    ``RUNBOOK/PROCEDURE:N`` as listed (or ``PROCEDURE:N``, in any letter case, when
    that names one); the ref, or why it names no step."""
    where, _, number = text.rpartition(":")
    if not (number.isascii() and number.isdigit()):
        return f"{text!r}: a step is N, or RUNBOOK/PROCEDURE:N (tocsin checklist GROUP lists them)"
    names = {f"{c.runbook}/{c.procedure}": c for c in lists}
    have = ", ".join(names) or "none"
    if not where:
        if len(lists) != 1:
            return f"{text!r}: say which procedure (RUNBOOK/PROCEDURE:N); this group has: {have}"
        chosen = lists[0]
    else:
        found = _procedure(where, lists)
        if found is None:
            return f"{text!r}: this group has no procedure {where!r}; it has: {have}"
        chosen = found
    ref = StepRef(chosen.runbook, chosen.procedure, int(number))
    if find_step(lists, ref) is None:
        return f"{text!r}: {chosen.runbook}/{chosen.procedure} has {len(chosen.steps)} steps"
    return ref
