"""Precision/recall of runbook extraction against hand-written expectations.

`canonical` turns a Runbook into comparable JSON-like rows per category; `score`
counts matches as a multiset; `report` prints the small table that `pytest -s` shows.
Other runbook tests import these helpers; the tests here check the scoring itself.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tocsin.runbooks import Command, Runbook, Threshold

CATEGORIES = (
    "alerts",
    "procedures",
    "slas",
    "escalation_rows",
    "escalation_levels",
    "categories",
    "contacts",
    "channels",
    "checks",
    "troubleshooting",
)

Row = dict[str, Any]


def _num(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _words(text: str | None, count: int) -> str | None:
    return " ".join(text.split()[:count]) if text else None


def _threshold(t: Threshold | None) -> list[Any] | None:
    return None if t is None else [t.metric, t.operator, _num(t.value), t.unit]


def _command(c: Command) -> str:
    if not c.block:
        return c.text
    return f"```{c.language or ''} {c.text.splitlines()[0]}"


def _channel(kind: str, target: str | None) -> str:
    return f"{kind} {target}" if target else kind


def canonical(runbook: Runbook) -> dict[str, list[Row]]:
    """The comparable form of every extracted item, per category."""
    return {
        "alerts": [
            {
                "line": a.lines[0],
                "name": a.name,
                "severity": a.severity,
                "category": a.category,
                "threshold": _threshold(a.threshold),
                "duration": _num(a.duration.seconds) if a.duration else None,
                "steps": len(a.steps),
            }
            for a in runbook.alerts
        ],
        "procedures": [
            {
                "lines": list(p.lines),
                "title": p.title,
                "steps": [
                    [s.number, _words(s.text, 5), [_command(c) for c in s.commands]]
                    for s in p.steps
                ],
            }
            for p in runbook.procedures
        ],
        "slas": [
            {
                "line": s.lines[0],
                "kind": s.kind,
                "seconds": _num(s.duration.seconds),
                "business": s.duration.business,
                "action": s.action,
                "context": s.context,
            }
            for s in runbook.slas
        ],
        "escalation_rows": [
            {
                "line": r.lines[0],
                "severity": r.severity,
                "criteria": r.criteria,
                "primary": r.primary,
                "backup": r.backup,
            }
            for m in runbook.escalation_matrices
            for r in m.rows
        ],
        "escalation_levels": [
            {
                "line": lv.lines[0],
                "number": lv.number,
                "name": lv.name,
                "delay": _num(lv.delay.seconds) if lv.delay else None,
                "condition": lv.condition,
                "steps": len(lv.steps),
            }
            for lv in runbook.escalation_levels
        ],
        "categories": [
            {
                "line": c.lines[0],
                "name": c.name,
                "severity": c.severity,
                "response_time": _num(c.response_time.seconds) if c.response_time else None,
                "escalation": c.escalation,
                "channels": [_channel(ch.kind, ch.target) for ch in c.channels],
            }
            for c in runbook.categories
        ],
        "contacts": [
            {
                "line": c.lines[0],
                "role": c.role,
                "value": c.value,
                "channels": [_channel(ch.kind, ch.target) for ch in c.channels],
            }
            for c in runbook.contacts
        ],
        "channels": [
            {"line": c.lines[0], "kind": c.kind, "target": c.target} for c in runbook.channels
        ],
        "checks": [
            {
                "line": c.lines[0],
                "kind": c.kind,
                "name": c.name,
                "target": c.target,
                "interval": _num(c.interval.seconds) if c.interval else None,
                "failures": c.failure_threshold,
                "threshold": _threshold(c.threshold),
                "duration": _num(c.duration.seconds) if c.duration else None,
            }
            for c in runbook.checks
        ],
        "troubleshooting": [
            {
                "line": r.lines[0],
                "alert": r.alert,
                "symptom": r.symptom,
                "cause": r.cause,
                "diagnosis": _words(r.diagnosis, 4),
                "mitigation": _words(r.mitigation, 4),
            }
            for t in runbook.troubleshooting
            for r in t.rows
        ],
    }


@dataclass(frozen=True)
class Score:
    matched: int
    extracted: int
    expected: int
    missing: tuple[str, ...]
    extra: tuple[str, ...]

    @property
    def precision(self) -> float:
        return self.matched / self.extracted if self.extracted else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0


def _key(row: Row) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


def score(expected: Sequence[Row], actual: Sequence[Row]) -> Score:
    want = Counter(_key(_normalize(r)) for r in expected)
    got = Counter(_key(_normalize(r)) for r in actual)
    matched = sum((want & got).values())
    return Score(
        matched,
        sum(got.values()),
        sum(want.values()),
        tuple(sorted((want - got).elements())),
        tuple(sorted((got - want).elements())),
    )


def _normalize(row: Any) -> Any:
    """JSON numbers compare by value: 5 == 5.0."""
    if isinstance(row, dict):
        return {k: _normalize(v) for k, v in row.items()}
    if isinstance(row, list | tuple):
        return [_normalize(v) for v in row]
    if isinstance(row, float) and row.is_integer():
        return int(row)
    return row


def score_all(
    expected: Mapping[str, Sequence[Row]], runbook: Runbook, categories: Sequence[str] = CATEGORIES
) -> dict[str, Score]:
    actual = canonical(runbook)
    return {c: score(expected.get(c, []), actual[c]) for c in categories}


def report(name: str, scores: Mapping[str, Score]) -> str:
    lines = [f"{name}", f"  {'category':<18} {'expected':>8} {'found':>6} {'P':>6} {'R':>6}"]
    for category, s in scores.items():
        lines.append(
            f"  {category:<18} {s.expected:>8} {s.extracted:>6} "
            f"{s.precision:>6.2f} {s.recall:>6.2f}"
        )
    return "\n".join(lines)


def failures(scores: Mapping[str, Score]) -> str:
    out = []
    for category, s in scores.items():
        for row in s.missing:
            out.append(f"{category}: missing {row}")
        for row in s.extra:
            out.append(f"{category}: extra   {row}")
    return "\n".join(out)


# --- the scoring itself ------------------------------------------------------------


def test_score_counts_matches_as_a_multiset() -> None:
    s = score([{"a": 1}, {"a": 1}, {"a": 2}], [{"a": 1}, {"a": 3}])
    assert (s.matched, s.extracted, s.expected) == (1, 2, 3)
    assert s.precision == pytest.approx(0.5)
    assert s.recall == pytest.approx(1 / 3)
    assert s.missing == (_key({"a": 1}), _key({"a": 2}))
    assert s.extra == (_key({"a": 3}),)


def test_score_treats_whole_floats_as_ints_and_empty_as_perfect() -> None:
    assert score([{"v": 5}], [{"v": 5.0}]).recall == 1.0
    empty = score([], [])
    assert (empty.precision, empty.recall) == (1.0, 1.0)
    assert score([], [{"v": 1}]).precision == 0.0
