"""Table-driven tests for the pieces: quantities, names, decoding, stitching, JSON."""

from __future__ import annotations

import re

import pytest

from tocsin.runbooks import github_anchor, normalize_alert_name, parse_runbook
from tocsin.runbooks.names import clean_title, is_decoration
from tocsin.runbooks.quantities import (
    find_durations,
    find_failure_count,
    find_for_duration,
    find_interval,
    find_thresholds,
)
from tocsin.runbooks.serialize import SCHEMA_VERSION

# --- quantities ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds", "unit", "business"),
    [
        ("5 minutes", 300, "minute", False),
        ("2+ minutes", 120, "minute", False),
        ("1 minute", 60, "minute", False),
        ("30s", 30, "second", False),
        ("10m", 600, "minute", False),
        ("48 hours", 172800, "hour", False),
        ("an hour", 3600, "hour", False),
        ("half an hour", 1800, "hour", False),
        ("15-minute", 900, "minute", False),
        ("1 week", 604800, "week", False),
        ("3 business days", 259200, "business-day", True),
        ("2 working days", 172800, "business-day", True),
        ("two hours", 7200, "hour", False),
        ("1.5 hours", 5400, "hour", False),
    ],
)
def test_durations(text: str, seconds: float, unit: str, business: bool) -> None:
    found = find_durations(f"within {text} please")
    assert len(found) == 1
    assert found[0].duration is not None
    got_seconds, _, got_unit, got_business = found[0].duration
    assert (got_seconds, got_unit, got_business) == (seconds, unit, business)


@pytest.mark.parametrize("text", ["5M requests", "v12 hours", "1000s of users", "x5m"])
def test_not_durations(text: str) -> None:
    assert [f for f in find_durations(text) if f.duration and f.duration[3]] == []
    if text in ("5M requests", "v12 hours", "x5m"):
        assert find_durations(text) == []


@pytest.mark.parametrize(
    ("text", "metric", "operator", "value", "unit"),
    [
        ("Service error rate >5% for 5 minutes", "Service error rate", ">", 5, "%"),
        ("Celery queue >1000 messages for 2+ minutes", "Celery queue", ">", 1000, "messages"),
        ("p95 latency >2s for 10 minutes", "p95 latency", ">", 2, "s"),
        ("Engagement rate <4% for 30 minutes", "Engagement rate", "<", 4, "%"),
        ("OpenAI costs >$5/hour for 15 minutes", "OpenAI costs", ">", 5, "$/hour"),
        ("Cost per follow >$0.02", "Cost per follow", ">", 0.02, "$"),
        ("Slow responses (>2s)", "Slow responses", ">", 2, "s"),
        ("queue length exceeding 20 jobs", "queue length", ">", 20, "jobs"),
        ("flags extraction precision below 0.85.", "extraction precision", "<", 0.85, None),
        ("when CPU is above 90 %", "CPU", ">", 90, "%"),
        ("disk usage >= 1,500 GB", "disk usage", ">=", 1500, "GB"),
        ("up == 0", "up", "=", 0, None),
        ("free memory at most 512 MB", "free memory", "<=", 512, "MB"),
    ],
)
def test_thresholds(text: str, metric: str, operator: str, value: float, unit: str | None) -> None:
    found = find_thresholds(text)
    assert found, text
    assert found[0].threshold == (metric, operator, value, unit)


@pytest.mark.parametrize(
    "text",
    [
        "Service instance is down for >1 minute",
        "for more than 5 minutes",
        "5M requests over 10 minutes",
        "check <service> status",
    ],
)
def test_not_thresholds(text: str) -> None:
    assert find_thresholds(text) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("down for >1 minute", 60),
        ("for 2+ minutes", 120),
        ("for more than 5 minutes", 300),
        ("lasting 10m", 600),
        ("for: 5m", 300),
    ],
)
def test_for_durations(text: str, seconds: float) -> None:
    found = find_for_duration(text)
    assert found is not None
    assert found.duration is not None
    assert found.duration[0] == seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("every 30 seconds", 30),
        ("every minute", 60),
        ("at 5m intervals", 300),
        ("each 2 hours", 7200),
    ],
)
def test_intervals(text: str, seconds: float) -> None:
    found = find_interval(text)
    assert found is not None
    assert found.duration is not None
    assert found.duration[0] == seconds


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("Alert if two consecutive failures occur", 2),
        ("after 3 consecutive failures", 3),
        ("when it fails 5 times", 5),
        ("2 failed checks", 2),
        ("no failures here", None),
    ],
)
def test_failure_counts(text: str, count: int | None) -> None:
    assert find_failure_count(text) == count


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "anchor"),
    [
        ("3. Common Alerts & Playbooks", "3-common-alerts--playbooks"),
        ("5.1 Rotate API Keys", "51-rotate-api-keys"),
        ("Level 2: Manual Escalation (1 hour)", "level-2-manual-escalation-1-hour"),
        ("`HighErrorRate`", "higherrorrate"),
        ("Über Straße", "über-straße"),
        ("snake_case_name", "snake_case_name"),
    ],
)
def test_github_anchor(title: str, anchor: str) -> None:
    assert github_anchor(title.replace("`", "")) == anchor


def test_duplicate_headings_get_numbered_anchors() -> None:
    runbook = parse_runbook("# Steps\n\n## Steps\n\n## Steps\n", name="dup")
    assert [s.anchor for s in runbook.sections] == ["steps", "steps-1", "steps-2"]
    assert [s.parent for s in runbook.sections] == [None, "steps", "steps"]
    assert runbook.sections[0].children == ("steps-1", "steps-2")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("High_Error-Rate", "higherrorrate"),
        ("HighErrorRate", "high error rate"),
        ("KUBE-Pod", "kubepod"),
    ],
)
def test_normalize_alert_name(a: str, b: str) -> None:
    assert normalize_alert_name(a) == normalize_alert_name(b)


def test_normalize_alert_name_keeps_distinct_names_apart() -> None:
    assert normalize_alert_name("HighErrorRate") != normalize_alert_name("HighErrorRates")
    assert normalize_alert_name("") == ""


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        ("Critical Alerts (PagerDuty) \uf8ff\u00fc\u00f6\u00ae", "Critical Alerts (PagerDuty)"),
        ("Warning Alerts (Slack) \u201a\u00f6\u2020\u00d4\u220f\u00e8", "Warning Alerts (Slack)"),
        ("5.1 Queue backlog spike", "Queue backlog spike"),
        ("\U0001f6a8 Critical", "Critical"),
        ("Überwachung", "Überwachung"),
        ("Immediate:", "Immediate"),
    ],
)
def test_clean_title(title: str, clean: str) -> None:
    assert clean_title(title) == clean


def test_decoration_is_not_a_word() -> None:
    assert is_decoration("\U0001f4c8")
    assert is_decoration("\uf8ff\u00fc\u00ec\u00e0")  # U+1F4C8 read as Mac Roman
    assert not is_decoration("Über")
    assert not is_decoration("日本")


# --- decoding and line numbers -------------------------------------------------------


def test_crlf_and_lf_give_the_same_lines() -> None:
    text = "# T\n\n## Alerts\n\n### DiskFull\n**Severity**: critical\n\n1. Run `df -h`\n"
    lf = parse_runbook(text, name="lf")
    crlf = parse_runbook(text.replace("\n", "\r\n").encode(), name="crlf")
    assert lf.to_json()["alerts"] == crlf.to_json()["alerts"]
    assert crlf.alerts[0].steps[0].lines == (8, 8)


def test_invalid_utf8_is_replaced_not_raised() -> None:
    data = b"# Ops \xff\xfe\n\n1. Restart \xc3\x28 it within 5 minutes\n"
    runbook = parse_runbook(data, name="bad")
    assert runbook.title == "Ops \ufffd\ufffd"
    assert runbook.procedures[0].steps[0].text.startswith("Restart \ufffd(")
    assert [s.duration.seconds for s in runbook.slas] == [300]


def test_bom_is_dropped() -> None:
    runbook = parse_runbook("\ufeff# Title\n".encode(), name="bom")
    assert runbook.sections[0].anchor == "title"


def test_empty_and_blank_input() -> None:
    for text in ("", "\n\n", "   "):
        runbook = parse_runbook(text, name="empty")
        assert runbook.sections == ()
        assert runbook.warnings == ()


# --- procedures ----------------------------------------------------------------------


def test_list_split_by_fences_is_stitched() -> None:
    text = (
        "## Deploy\n"
        "1. Build:\n"
        "```bash\n"
        "make build\n"
        "```\n"
        "2. Push the image\n"
        "Then wait for CI.\n"
        "```\n"
        "make push\n"
        "```\n"
        "3. Verify `curl /health`\n"
    )
    runbook = parse_runbook(text, name="stitch")
    assert len(runbook.procedures) == 1
    (procedure,) = runbook.procedures
    assert procedure.lines == (2, 11)
    assert [s.number for s in procedure.steps] == [1, 2, 3]
    first, second, third = procedure.steps
    assert [(c.text, c.language, c.block, c.lines) for c in first.commands] == [
        ("make build", "bash", True, (3, 5))
    ]
    assert first.lines == (2, 5)
    assert [c.text for c in second.commands] == ["make push"]
    assert third.commands[0].text == "curl /health"


def test_a_new_list_starting_at_one_is_a_new_procedure() -> None:
    text = "## A\n1. one\n```\nx\n```\n1. again\n\n## B\n2. two\n"
    runbook = parse_runbook(text, name="two")
    assert [len(p.steps) for p in runbook.procedures] == [1, 1, 1]


def test_unclosed_fence_and_odd_markdown_do_not_break_sections() -> None:
    text = "# Top\n\n```bash\nrm -rf /tmp/x\n\n## Not a heading\n"
    runbook = parse_runbook(text, name="open")
    assert [s.anchor for s in runbook.sections] == ["top"]
    assert runbook.sections[0].lines == (1, 6)
    assert runbook.sections[0].unclassified[0].kind == "code"


def test_severity_in_title_and_identifier_names() -> None:
    text = (
        "## Alerts\n\n### [CRITICAL] DiskFull\n"
        "Summary: disk usage above 90% for 10 minutes\n\n1. Free space\n"
    )
    (alert,) = parse_runbook(text, name="t").alerts
    assert (alert.name, alert.severity, alert.duration and alert.duration.seconds) == (
        "DiskFull",
        "critical",
        600,
    )
    assert alert.threshold is not None
    assert (alert.threshold.metric, alert.threshold.value) == ("disk usage", 90)


def test_plain_sections_are_not_alerts() -> None:
    text = "## Deploying\n\n1. Build\n2. Ship\n\n## GitHub\n\n1. Open a PR\n"
    runbook = parse_runbook(text, name="t")
    assert runbook.alerts == ()
    assert len(runbook.procedures) == 2


# --- JSON ----------------------------------------------------------------------------


def test_to_json_is_the_whole_runbook() -> None:
    text = "# T\n\n## Alerts\n\n### DiskFull\n**Severity**: critical\n"
    data = parse_runbook(text, name="t", source="t.md").to_json()
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["name"] == "t"
    assert data["source"] == "t.md"
    assert data["alerts"][0]["lines"] == [5, 6]
    assert data["alerts"][0]["key"] == "diskfull"
    assert set(data) >= {
        "sections",
        "procedures",
        "alerts",
        "troubleshooting",
        "escalation_matrices",
        "escalation_levels",
        "categories",
        "contacts",
        "channels",
        "slas",
        "checks",
        "warnings",
        "preamble",
        "line_count",
        "title",
    }


def test_schema_doc_names_every_field() -> None:
    import dataclasses
    from pathlib import Path

    from tocsin.runbooks import model

    doc = (Path(__file__).resolve().parents[2] / "docs" / "runbook-schema.md").read_text(
        encoding="utf-8"
    )
    documented = {
        word for span in re.findall(r"`([^`]+)`", doc) for word in re.split(r"[{},\[\]\s|]+", span)
    }
    classes = [
        obj
        for obj in vars(model).values()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj)
    ]
    assert len(classes) >= 20
    for cls in classes:
        assert cls.__name__ in documented, cls.__name__
        for field in dataclasses.fields(cls):
            assert field.name in documented, f"{cls.__name__}.{field.name}"


def test_line_index_overlap_and_containment() -> None:
    from tocsin.runbooks.spans import LineIndex

    index = LineIndex([(10, 20), (3, 4), (30, 30)])
    assert index.overlaps((20, 25))
    assert index.overlaps((1, 3))
    assert not index.overlaps((5, 9))
    assert not index.overlaps((21, 29))
    assert index.contains((11, 19))
    assert not index.contains((15, 25))
    assert not index.contains((4, 10))
    assert not LineIndex([]).overlaps((1, 1))
