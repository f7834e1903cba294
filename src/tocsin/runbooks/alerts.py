"""Alert procedures: the section or table row that says what to do when an alert fires.

A section is an alert when its labels say so (`**Severity**:`, `**Alert**:`), when it
pairs symptoms with actions, or when an alert-like name (`HighErrorRate`) or an
"Alerts"/"Playbooks" parent comes with alert facts. A table row is an alert when the
table has an alert column. Severity, description, threshold, duration and steps are
read from the labels, whatever they are called (see vocabulary.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from tocsin.runbooks.fields import RawField, collapse, label_table, norm_key
from tocsin.runbooks.markdown import Inline, ListBlock, Paragraph, Table, TableRow, walk
from tocsin.runbooks.model import (
    AlertProcedure,
    Duration,
    Field,
    Procedure,
    Step,
    Threshold,
)
from tocsin.runbooks.names import normalize_alert_name
from tocsin.runbooks.quantities import (
    duration_at,
    find_for_duration,
    find_thresholds,
    parse_duration,
    threshold_at,
)
from tocsin.runbooks.sections import Outline
from tocsin.runbooks.steps import inline_commands, list_steps
from tocsin.runbooks.tables import TROUBLE_ROLES, cell_inline, columns_of
from tocsin.runbooks.vocabulary import (
    ALERT_PARENT,
    CONDITION_KEYS,
    DESCRIPTION_KEYS,
    DURATION_KEYS,
    NAME_KEYS,
    RESPONSE_KEYS,
    SEVERITY_KEYS,
    SEVERITY_WORDS,
    SYMPTOM_KEYS,
)

_IDENTIFIER = re.compile(
    r"(?:[A-Z][a-z0-9]+(?:[A-Z0-9]+[a-z0-9]*)+|[a-z][a-z0-9]*(?:[_-][a-z0-9]+)+"
    r"|[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+)"
)
_ALERT_PREFIX = re.compile(r"^(?:alert|alarm)\s*[:\-\u2013\u2014]\s*", re.IGNORECASE)
_TITLE_TAG = re.compile(
    rf"^\[(?P<lead>{SEVERITY_WORDS.pattern})\]\s*[:\-\u2013\u2014]?\s*"
    rf"|\s*[\[(](?P<tail>{SEVERITY_WORDS.pattern})[\])]\s*$",
    re.IGNORECASE,
)
_SEVERITY = re.compile(r"\s*([A-Za-z]+(?:[\s-]?\d+)?)")
_LEVEL = re.compile(r"^(?:escalation\s+)?(?:level|tier|stage)\s*\d", re.IGNORECASE)
_WORDS = re.compile(r"[_-]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# words alert names are made of: `PostgresDiskFull`, `InstanceDown`, `high_error_rate`
_ALERT_WORD = re.compile(
    r"down|high|low|full|slow|lag|stale|missing|absent|oom|spike|backlog|pressure|burn"
    r"|stuck|dead|leak|drops?|dropped|loss|fail\w*|errors?|latency|crash\w*|restart\w*"
    r"|unreachable|expir\w*|exhausted|exceeded|saturat\w*|timeouts?|degraded|throttl\w*"
    r"|unhealthy|overload\w*|flapping|unavailable|outage|broken|too|no|not",
    re.IGNORECASE,
)


def looks_like_alert_name(name: str) -> bool:
    """`HighErrorRate`, `high_error_rate`, `KubePodCrashLooping`: one identifier."""
    return bool(_IDENTIFIER.fullmatch(name.strip("`")))


def named_like_an_alert(name: str) -> bool:
    """A heading that is an alert's name by itself: one identifier made of alert words
    (`InstanceDown`, `disk_full`) or of three CamelCase words (`PostgresReplicationBroken`),
    not a product's name (`PgBouncer`, `PostgreSQL`, `RabbitMQ`)."""
    text = _strip_title(name)[0]
    if not looks_like_alert_name(text):
        return False
    words = [w for w in _WORDS.split(text) if w]
    camel = not re.search(r"[_-]", text)
    return (camel and len(words) >= 3) or any(_ALERT_WORD.fullmatch(w) for w in words)


def normalize_severity(text: str) -> tuple[str | None, str | None]:
    """`Warning (Business)` -> (`warning`, `business`); `SEV-1` -> (`sev1`, None)."""
    m = _SEVERITY.match(text)
    severity = re.sub(r"[\s-]", "", m.group(1)).lower() if m else None
    paren = re.search(r"\(([^)]*)\)", text)
    category = collapse(paren.group(1)).lower() if paren and paren.group(1).strip() else None
    return severity, category


def _keys(fields: Sequence[RawField]) -> set[str]:
    return {f.norm for f in fields}


def is_alert_section(
    outline: Outline,
    fields: Sequence[RawField],
    has_steps: bool,
    parent: Outline | None,
    numbered: bool = False,
) -> bool:
    """``numbered``: numbered steps under it (in its sub-sections, too): with a heading
    that is an alert's name, that is its procedure."""
    if outline.anchor is None or _LEVEL.match(outline.name):
        return False
    if numbered and named_like_an_alert(outline.name):
        return True
    keys = _keys(fields)
    if keys & (SEVERITY_KEYS | NAME_KEYS):
        return True
    facts = keys & (DESCRIPTION_KEYS | CONDITION_KEYS | SYMPTOM_KEYS | DURATION_KEYS)
    responds = bool(keys & RESPONSE_KEYS) or has_steps
    if keys & SYMPTOM_KEYS and responds:
        return True
    alert_parent = parent is not None and bool(ALERT_PARENT.search(parent.name))
    named = looks_like_alert_name(_strip_title(outline.name)[0])
    if facts and (named or alert_parent):
        return True
    return named and alert_parent and responds


def _strip_title(name: str) -> tuple[str, str | None]:
    """Alert name and severity tag from a heading: `[CRITICAL] DiskFull` -> DiskFull."""
    text = _ALERT_PREFIX.sub("", name)
    m = _TITLE_TAG.search(text)
    severity = None
    if m:
        severity = m.group("lead") or m.group("tail")
        text = (text[: m.start()] + text[m.end() :]).strip()
    return text.strip().strip("`").strip(), severity


def _first(fields: Sequence[RawField], keys: frozenset[str]) -> RawField | None:
    return next((f for f in fields if f.norm in keys), None)


def _threshold(candidates: Sequence[tuple[Inline, bool]]) -> Threshold | None:
    for inline, with_code in candidates:
        text = inline.text if with_code else inline.masked
        found = find_thresholds(text)
        if found:
            return threshold_at(inline, text, found[0])
    return None


def _duration(
    explicit: Inline | None, candidates: Sequence[tuple[Inline, bool]]
) -> Duration | None:
    if explicit is not None:
        found = parse_duration(explicit.text)
        if found is not None:
            return duration_at(explicit, explicit.text, found)
    for inline, with_code in candidates:
        text = inline.text if with_code else inline.masked
        found = find_for_duration(text)
        if found is not None:
            return duration_at(inline, text, found)
    return None


def _fallback_steps(outlines: Sequence[Outline]) -> list[Step]:
    """Without a numbered list, bullet lists of actions are the procedure."""
    found: list[Step] = []
    for outline in outlines:
        for block in outline.body:
            if isinstance(block, ListBlock) and not block.ordered:
                steps = list_steps(block)
                labelled = sum(1 for s in steps if re.match(r"^[\w\s/-]{1,40}:", s.text))
                if steps and labelled * 2 < len(steps):
                    found.extend(steps)
                    break
    return found


_FACT_KEYS = (
    DESCRIPTION_KEYS | CONDITION_KEYS | SYMPTOM_KEYS | RESPONSE_KEYS | SEVERITY_KEYS | DURATION_KEYS
)


def fact_subsections(outline: Outline, outlines: Sequence[Outline]) -> list[Outline]:
    """Subsections named like alert labels (`## Meaning`, `## Impact`, `## Mitigation`,
    the kube-prometheus runbook layout); two or more make the parent an alert candidate."""
    found = [outlines[i] for i in outline.children if norm_key(outlines[i].name) in _FACT_KEYS]
    return found if len(found) >= 2 else []


def subsection_fields(subsections: Sequence[Outline]) -> list[RawField]:
    """Each fact subsection as a label whose value is its first paragraph."""
    out: list[RawField] = []
    for sub in subsections:
        para = next((b for b in sub.body if isinstance(b, Paragraph)), None)
        value = para.inline if para is not None else Inline.of((), (sub.lines[0], sub.lines[0]))
        out.append(RawField(sub.name, norm_key(sub.name), value, sub.lines, value, None))
    return out


def section_alert(
    outline: Outline,
    fields: Sequence[RawField],
    procedures: Sequence[Procedure],
    category_names: Mapping[str, str],
    subsections: Sequence[Outline] = (),
) -> AlertProcedure:
    named = _first(fields, NAME_KEYS)
    title_name, title_severity = _strip_title(outline.name)
    name = (
        collapse(named.value.text).strip("`") if named and named.value.text.strip() else title_name
    )
    severity_field = _first(fields, SEVERITY_KEYS)
    severity_text = collapse(severity_field.value.text) if severity_field else title_severity
    severity, category = normalize_severity(severity_text) if severity_text else (None, None)
    description_field = _first(fields, DESCRIPTION_KEYS) or _first(fields, SYMPTOM_KEYS)
    candidates: list[tuple[Inline, bool]] = [
        (f.value, True) for f in fields if f.norm in CONDITION_KEYS
    ]
    candidates += [(f.value, False) for f in fields if f.norm in DESCRIPTION_KEYS]
    candidates += [(f.value, False) for f in fields if f.norm in SYMPTOM_KEYS]
    if outline.heading is not None:
        candidates.append((outline.heading.inline, False))
    duration_field = _first(fields, DURATION_KEYS)
    steps = [step for p in procedures for step in p.steps] or _fallback_steps(
        [outline, *subsections]
    )
    return AlertProcedure(
        name=name,
        key=normalize_alert_name(name),
        origin="section",
        lines=outline.lines,
        section=outline.anchor,
        severity=severity,
        severity_text=severity_text,
        category=category or category_names.get(outline.anchor or ""),
        description=collapse(description_field.value.text) if description_field else None,
        threshold=_threshold(candidates),
        duration=_duration(duration_field.value if duration_field else None, candidates),
        steps=tuple(steps),
        fields=tuple(f.public() for f in fields),
    )


def _row_alert(row: TableRow, table: Table, section: str | None) -> AlertProcedure | None:
    columns = columns_of(table, TROUBLE_ROLES)
    name_cell = cell_inline(row, columns, "alert")
    if name_cell is None or not name_cell.text.strip():
        return None
    name = collapse(name_cell.text)

    def cell(role: str) -> Inline | None:
        found = cell_inline(row, columns, role)
        return found if found is not None and found.text.strip() else None

    severity_cell = cell("severity")
    severity_text = collapse(severity_cell.text) if severity_cell else None
    severity, category = normalize_severity(severity_text) if severity_text else (None, None)
    description_cell = cell("description") or cell("symptom")
    candidates: list[tuple[Inline, bool]] = []
    threshold_cell = cell("threshold")
    if threshold_cell is not None:
        candidates.append((threshold_cell, True))
    candidates.append((name_cell, False))
    for role in ("description", "symptom"):
        found = cell(role)
        if found is not None:
            candidates.append((found, False))
    steps = []
    for role in ("diagnosis", "mitigation"):
        found = cell(role)
        if found is not None:
            steps.append(
                Step(None, collapse(found.text), row.lines, tuple(inline_commands(found)), ())
            )
    fields = tuple(
        Field(
            columns[n].name if n < len(columns) else f"column {n + 1}", collapse(c.text), row.lines
        )
        for n, c in enumerate(row.cells)
        if c.text.strip()
    )
    return AlertProcedure(
        name=name,
        key=normalize_alert_name(name),
        origin="table-row",
        lines=row.lines,
        section=section,
        severity=severity,
        severity_text=severity_text,
        category=category,
        description=collapse(description_cell.text) if description_cell else None,
        threshold=_threshold(candidates),
        duration=_duration(cell("duration"), candidates),
        steps=tuple(steps),
        fields=fields,
    )


def table_alerts(outline: Outline) -> list[AlertProcedure]:
    out: list[AlertProcedure] = []
    for block in walk(outline.body):
        if not isinstance(block, Table):
            continue
        if not any(c.role == "alert" for c in columns_of(block, TROUBLE_ROLES)):
            continue
        if label_table(block):  # `| Alert | DiskFull |` / `| Severity | warning |`
            continue
        for row in block.rows:
            alert = _row_alert(row, block, outline.anchor)
            if alert is not None:
                out.append(alert)
    return out
