"""The structured runbook: frozen dataclasses, every item with its source lines.

Everything extracted from a Markdown runbook is a value here, so that the rest of Tocsin
(linking alerts to procedures, SLA timers, suggestions) never touches Markdown again.
`lines` is always a 1-based, inclusive `(first, last)` range in the decoded source (with
newlines normalized to ``\\n``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tocsin.runbooks.names import normalize_alert_name
from tocsin.runbooks.serialize import runbook_to_json

Lines = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Duration:
    """A stated length of time. Business days keep `business=True`; their `seconds`
    count calendar days (86400 each) so that they still sort and compare."""

    seconds: float
    amount: float
    unit: str
    business: bool
    text: str
    lines: Lines


@dataclass(frozen=True, slots=True)
class Threshold:
    """`metric operator value unit`, e.g. `p95 latency > 2 s` or `Celery queue > 1000 messages`."""

    metric: str | None
    operator: str
    value: float
    unit: str | None
    text: str
    lines: Lines


@dataclass(frozen=True, slots=True)
class Command:
    """Inline code (`block=False`) or a code block (`block=True`, `language` from the fence)."""

    text: str
    language: str | None
    block: bool
    lines: Lines


@dataclass(frozen=True, slots=True)
class Note:
    """Text that belongs to a step without being the step itself (nested bullets, paragraphs)."""

    text: str
    lines: Lines


@dataclass(frozen=True, slots=True)
class Step:
    number: int | None
    text: str
    lines: Lines
    commands: tuple[Command, ...]
    notes: tuple[Note, ...]


@dataclass(frozen=True, slots=True)
class Procedure:
    """A numbered list (stitched back together when code fences split it)."""

    title: str
    section: str | None
    lines: Lines
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Field:
    """A `**Key**: value` (or `Key: value`) line."""

    key: str
    value: str
    lines: Lines


@dataclass(frozen=True, slots=True)
class AlertProcedure:
    """What to do when one named alert fires: from a section or from a table row."""

    name: str
    key: str
    origin: str
    lines: Lines
    section: str | None
    severity: str | None
    severity_text: str | None
    category: str | None
    description: str | None
    threshold: Threshold | None
    duration: Duration | None
    steps: tuple[Step, ...]
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    role: str | None


@dataclass(frozen=True, slots=True)
class Cell:
    column: str
    role: str | None
    text: str
    commands: tuple[Command, ...]
    lines: Lines


@dataclass(frozen=True, slots=True)
class TroubleshootingRow:
    lines: Lines
    cells: tuple[Cell, ...]
    alert: str | None
    symptom: str | None
    cause: str | None
    diagnosis: str | None
    mitigation: str | None


@dataclass(frozen=True, slots=True)
class TroubleshootingTable:
    """Symptom/cause/diagnosis/mitigation rows, from a table or a `**symptom:** fix` list."""

    lines: Lines
    section: str | None
    form: str
    columns: tuple[Column, ...]
    rows: tuple[TroubleshootingRow, ...]


@dataclass(frozen=True, slots=True)
class Sla:
    """A timer the runbook promises: kind is deadline, interval, advance-notice or
    response-time; `context` is the alert category or section it applies to."""

    kind: str
    action: str
    duration: Duration
    text: str
    lines: Lines
    section: str | None
    context: str | None


@dataclass(frozen=True, slots=True)
class Channel:
    """Where people are reached: slack/teams channel, email address, pagerduty, ..."""

    kind: str
    target: str | None
    text: str
    lines: Lines
    section: str | None
    context: str | None


@dataclass(frozen=True, slots=True)
class EscalationRow:
    lines: Lines
    severity: str | None
    criteria: str | None
    primary: str | None
    backup: str | None
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class EscalationMatrix:
    lines: Lines
    section: str | None
    columns: tuple[Column, ...]
    rows: tuple[EscalationRow, ...]


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    number: int
    name: str
    lines: Lines
    section: str | None
    delay: Duration | None
    condition: str | None
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class AlertCategory:
    """A class of alerts with its channels and timers (e.g. `### Critical Alerts (PagerDuty)`)."""

    name: str
    lines: Lines
    section: str | None
    severity: str | None
    channels: tuple[Channel, ...]
    response_time: Duration | None
    escalation: str | None
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Contact:
    role: str
    value: str
    lines: Lines
    section: str | None
    channels: tuple[Channel, ...]


@dataclass(frozen=True, slots=True)
class Check:
    """A health check or threshold rule written as prose (kind: http, tcp, queue, ...)."""

    kind: str
    name: str | None
    target: str | None
    text: str
    lines: Lines
    section: str | None
    interval: Duration | None
    failure_threshold: int | None
    threshold: Threshold | None
    duration: Duration | None


@dataclass(frozen=True, slots=True)
class TextBlock:
    """A block nothing could classify: kept verbatim in its section."""

    kind: str
    text: str
    lines: Lines


@dataclass(frozen=True, slots=True)
class Section:
    anchor: str
    title: str
    level: int
    lines: Lines
    parent: str | None
    children: tuple[str, ...]
    text: str
    body_lines: Lines | None
    unclassified: tuple[TextBlock, ...]


@dataclass(frozen=True, slots=True)
class Runbook:
    name: str
    source: str | None
    title: str | None
    line_count: int
    preamble: TextBlock | None
    sections: tuple[Section, ...]
    procedures: tuple[Procedure, ...]
    alerts: tuple[AlertProcedure, ...]
    troubleshooting: tuple[TroubleshootingTable, ...]
    escalation_matrices: tuple[EscalationMatrix, ...]
    escalation_levels: tuple[EscalationLevel, ...]
    categories: tuple[AlertCategory, ...]
    contacts: tuple[Contact, ...]
    channels: tuple[Channel, ...]
    slas: tuple[Sla, ...]
    checks: tuple[Check, ...]
    warnings: tuple[str, ...]

    def find_procedure(self, alertname: str) -> AlertProcedure | None:
        """The alert procedure for `alertname`, matched case- and separator-insensitively
        (`High_Error-Rate` finds `### HighErrorRate`); None if the runbook has none."""
        key = normalize_alert_name(alertname)
        if not key:
            return None
        for alert in self.alerts:
            if alert.key == key:
                return alert
        return None

    def procedure_at(self, anchor: str, alertname: str) -> AlertProcedure | None:
        """The procedure a link to ``anchor`` means for ``alertname``: the one in that
        section if it is the only one, else the one of that name (in the section, or,
        when none is or the link has no anchor, anywhere). None when a section holds
        several procedures (a table of alerts) and none is named so: a responder must
        not get another alert's steps."""
        if not anchor:
            return self.find_procedure(alertname)
        here = [p for p in self.alerts if p.section == anchor]
        key = normalize_alert_name(alertname)
        named = [p for p in here if key and p.key == key]
        if named:
            return named[0]
        if len(here) == 1:
            return here[0]
        if here:
            return None
        return self.find_procedure(alertname) or self._listed_at(anchor, alertname)

    def _listed_at(self, anchor: str, alertname: str) -> AlertProcedure | None:
        """An alert linked to a section that names no alert but holds one numbered
        list ("4. Incident response timeline", "2. Health checks"): that list is its
        procedure (a link says so: the steps are the responder's). Several lists: none,
        rather than a guess."""
        lists = [p for p in self.procedures if p.section == anchor and p.steps]
        if len(lists) != 1:
            return None
        (found,) = lists
        return AlertProcedure(
            name=alertname,
            key=normalize_alert_name(alertname),
            origin="section",
            lines=found.lines,
            section=anchor,
            severity=None,
            severity_text=None,
            category=None,
            description=found.title or None,
            threshold=None,
            duration=None,
            steps=found.steps,
            fields=(),
        )

    def section(self, anchor: str) -> Section | None:
        for section in self.sections:
            if section.anchor == anchor:
                return section
        return None

    def to_json(self) -> dict[str, Any]:
        """The whole runbook as JSON-ready data (see docs/runbook-schema.md)."""
        return runbook_to_json(self)
