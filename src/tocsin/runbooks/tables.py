"""Tables by what their columns mean, whatever the headers say.

A troubleshooting table may say `Problem | Likely cause | How to check | Fix` or
`Alert | Symptom | Diagnostic Steps | Mitigation`; an escalation matrix may say
`Sev | Impact | On-call | Escalate to`. Headers are mapped to roles by synonyms, the
table is classified by the roles it has, and every cell is kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from tocsin.runbooks.fields import collapse
from tocsin.runbooks.markdown import Inline, Table, TableRow
from tocsin.runbooks.model import (
    Cell,
    Column,
    EscalationMatrix,
    EscalationRow,
    TroubleshootingRow,
    TroubleshootingTable,
)
from tocsin.runbooks.steps import inline_commands

TROUBLE_ROLES: Mapping[str, tuple[str, ...]] = {
    "alert": ("alert", "alerts", "alert name", "alertname", "alarm", "alert rule"),
    "symptom": (
        "symptom",
        "symptoms",
        "problem",
        "problems",
        "issue",
        "issues",
        "error",
        "errors",
        "observation",
        "signal",
        "signals",
        "what you see",
        "failure mode",
        "failure",
        "observed",
        "indicator",
        "indicators",
        "scenario",
    ),
    "cause": (
        "cause",
        "causes",
        "likely cause",
        "probable cause",
        "possible cause",
        "possible causes",
        "root cause",
        "reason",
        "why",
    ),
    "diagnosis": (
        "diagnosis",
        "diagnostic",
        "diagnostics",
        "diagnostic steps",
        "investigation",
        "investigate",
        "check",
        "checks",
        "how to check",
        "how to diagnose",
        "verification",
        "verify",
        "triage",
        "debug",
        "debugging",
        "detection",
        "first steps",
    ),
    "mitigation": (
        "mitigation",
        "mitigations",
        "fix",
        "fixes",
        "resolution",
        "resolve",
        "remediation",
        "remedy",
        "solution",
        "solutions",
        "action",
        "actions",
        "workaround",
        "response",
        "what to do",
        "recovery",
        "playbook",
        "steps",
    ),
    "severity": ("severity", "sev", "priority", "urgency"),
    "description": ("description", "summary", "meaning"),
    "threshold": ("threshold", "condition", "trigger", "expression", "expr", "fires when"),
    "duration": ("for", "duration", "pending"),
}

ESCALATION_ROLES: Mapping[str, tuple[str, ...]] = {
    "severity": ("severity", "sev", "priority", "level", "urgency", "incident level"),
    "criteria": (
        "criteria",
        "criterion",
        "condition",
        "conditions",
        "definition",
        "impact",
        "description",
        "examples",
        "example",
        "when",
        "trigger",
        "scope",
    ),
    "primary": (
        "primary",
        "primary contact",
        "primary on-call",
        "owner",
        "first responder",
        "responder",
        "on-call",
        "oncall",
        "assignee",
        "contact",
        "who",
        "first contact",
        "page",
        "notify",
    ),
    "backup": (
        "backup",
        "secondary",
        "secondary contact",
        "escalation",
        "escalate to",
        "escalation contact",
        "fallback",
        "second",
        "escalates to",
        "escalation path",
    ),
}

_SYMPTOM_ROLES = ("symptom", "cause", "diagnosis", "mitigation")


def _norm(header: str) -> str:
    return collapse(re.sub(r"[^\w\s/-]", " ", header)).lower()


def role_of(header: str, roles: Mapping[str, tuple[str, ...]]) -> str | None:
    """Exact synonym first, then the longest synonym found as whole words."""
    name = _norm(header)
    if not name:
        return None
    for role, synonyms in roles.items():
        if name in synonyms:
            return role
    best: tuple[int, str] | None = None
    for role, synonyms in roles.items():
        for synonym in synonyms:
            if re.search(rf"\b{re.escape(synonym)}\b", name) and (
                best is None or len(synonym) > best[0]
            ):
                best = (len(synonym), role)
    return best[1] if best else None


def columns_of(table: Table, roles: Mapping[str, tuple[str, ...]]) -> tuple[Column, ...]:
    """Columns with roles; a role goes to its first column only."""
    seen: set[str] = set()
    out: list[Column] = []
    for cell in table.header.cells:
        name = collapse(cell.text)
        role = role_of(name, roles)
        if role in seen:
            role = None
        if role is not None:
            seen.add(role)
        out.append(Column(name, role))
    return tuple(out)


def cells_of(row: TableRow, columns: Sequence[Column]) -> tuple[Cell, ...]:
    out: list[Cell] = []
    for n, inline in enumerate(row.cells):
        column = columns[n] if n < len(columns) else Column(f"column {n + 1}", None)
        out.append(
            Cell(
                column.name,
                column.role,
                collapse(inline.text),
                tuple(inline_commands(inline)),
                row.lines,
            )
        )
    return tuple(out)


def cell_inline(row: TableRow, columns: Sequence[Column], role: str) -> Inline | None:
    for n, column in enumerate(columns):
        if column.role == role and n < len(row.cells):
            return row.cells[n]
    return None


def _role_text(cells: Sequence[Cell], role: str) -> str | None:
    for cell in cells:
        if cell.role == role:
            return cell.text or None
    return None


def is_troubleshooting(columns: Sequence[Column]) -> bool:
    roles = {c.role for c in columns}
    symptomish = sum(1 for r in _SYMPTOM_ROLES if r in roles)
    return symptomish >= 2 or ("alert" in roles and symptomish >= 1)


def troubleshooting_table(table: Table, section: str | None) -> TroubleshootingTable | None:
    columns = columns_of(table, TROUBLE_ROLES)
    if not is_troubleshooting(columns):
        return None
    rows = []
    for row in table.rows:
        cells = cells_of(row, columns)
        if not any(cell.text for cell in cells):
            continue
        rows.append(
            TroubleshootingRow(
                lines=row.lines,
                cells=cells,
                alert=_role_text(cells, "alert"),
                symptom=_role_text(cells, "symptom"),
                cause=_role_text(cells, "cause"),
                diagnosis=_role_text(cells, "diagnosis"),
                mitigation=_role_text(cells, "mitigation"),
            )
        )
    return TroubleshootingTable(table.lines, section, "table", columns, tuple(rows))


def escalation_matrix(table: Table, section: str | None) -> EscalationMatrix | None:
    columns = columns_of(table, ESCALATION_ROLES)
    roles = {c.role for c in columns}
    if "severity" not in roles or not roles & {"primary", "backup"}:
        return None
    rows = []
    for row in table.rows:
        cells = cells_of(row, columns)
        if not any(cell.text for cell in cells):
            continue
        rows.append(
            EscalationRow(
                lines=row.lines,
                severity=_role_text(cells, "severity"),
                criteria=_role_text(cells, "criteria"),
                primary=_role_text(cells, "primary"),
                backup=_role_text(cells, "backup"),
                cells=cells,
            )
        )
    return EscalationMatrix(table.lines, section, columns, tuple(rows))


def troubleshooting_list(
    items: Sequence[tuple[str, str, tuple[int, int]]], section: str | None
) -> TroubleshootingTable | None:
    """`- **Symptom:** what to do` items of a troubleshooting section, as a table."""
    if not items:
        return None
    columns = (Column("symptom", "symptom"), Column("mitigation", "mitigation"))
    rows = []
    for symptom, mitigation, lines in items:
        cells = (
            Cell("symptom", "symptom", symptom, (), lines),
            Cell("mitigation", "mitigation", mitigation, (), lines),
        )
        rows.append(TroubleshootingRow(lines, cells, None, symptom, None, None, mitigation or None))
    lines_all = (rows[0].lines[0], rows[-1].lines[1])
    return TroubleshootingTable(lines_all, section, "list", columns, tuple(rows))
