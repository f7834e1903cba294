"""Extraction of the three shared runbooks against hand-written expectations.

The expectations (tests/unit/data/runbooks/*.json) were written from the runbooks, not
from the parser's output. Run with `-s` to see precision/recall per category.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tocsin.runbooks import Runbook, parse_runbook
from tocsin.runbooks.markdown import decode_source, source_lines
from tocsin.runbooks.names import runbook_for_url

from .test_runbook_scoring import CATEGORIES, Score, failures, report, score_all

RUNBOOKS = Path(__file__).resolve().parents[3] / "shared" / "runbooks"
EXPECTED = Path(__file__).resolve().parent / "data" / "runbooks"
NAMES = ("news-topic-intelligence", "thread-condenser", "threads-agent-alertmanager")


def _load(name: str) -> tuple[bytes, Runbook]:
    path = RUNBOOKS / f"{name}.md"
    if not path.is_file():
        pytest.fail(f"shared runbook missing: {path} (clone shared/ beside the repo)")
    data = path.read_bytes()
    return data, parse_runbook(data, name=name, source=str(path))


def test_shared_runbooks_are_present() -> None:
    for name in NAMES:
        assert (RUNBOOKS / f"{name}.md").is_file(), f"missing {RUNBOOKS / name}.md"


@pytest.mark.parametrize("name", NAMES)
def test_extraction_matches_expectations(name: str) -> None:
    _, runbook = _load(name)
    expected = json.loads((EXPECTED / f"{name}.json").read_text(encoding="utf-8"))
    assert set(expected) == set(CATEGORIES)
    scores = score_all(expected, runbook)
    print("\n" + report(name, scores))
    assert runbook.warnings == ()
    assert all(s.precision == 1.0 and s.recall == 1.0 for s in scores.values()), failures(scores)


def test_overall_precision_and_recall() -> None:
    totals = {c: [0, 0, 0] for c in CATEGORIES}
    for name in NAMES:
        _, runbook = _load(name)
        expected = json.loads((EXPECTED / f"{name}.json").read_text(encoding="utf-8"))
        for category, s in score_all(expected, runbook).items():
            totals[category][0] += s.matched
            totals[category][1] += s.extracted
            totals[category][2] += s.expected
    combined = {c: Score(m, x, e, (), ()) for c, (m, x, e) in totals.items()}
    print("\n" + report("all three runbooks", combined))
    assert all(s.precision == 1.0 and s.recall == 1.0 for s in combined.values())


@pytest.mark.parametrize("name", NAMES)
def test_every_item_names_lines_that_hold_it(name: str) -> None:
    data, runbook = _load(name)
    lines = source_lines(decode_source(data))
    assert runbook.line_count == len(lines)
    for alert in runbook.alerts:
        text = "\n".join(lines[alert.lines[0] - 1 : alert.lines[1]])
        assert alert.name.split()[0] in text
        if alert.threshold is not None:
            first, last = alert.threshold.lines
            assert str(alert.threshold.value).rstrip("0").rstrip(".") in "\n".join(
                lines[first - 1 : last]
            )
    for sla in runbook.slas:
        held = "\n".join(lines[sla.lines[0] - 1 : sla.lines[1]])
        assert sla.duration.text.split()[0] in held


def test_sections_anchor_like_github() -> None:
    _, runbook = _load("news-topic-intelligence")
    anchors = [s.anchor for s in runbook.sections]
    assert "3-common-alerts--playbooks" in anchors
    assert "51-rotate-api-keys" in anchors
    section = runbook.section("52-database-maintenance-postgres")
    assert section is not None
    assert section.parent == "5-operational-tasks"
    assert "VACUUM ANALYZE" in section.text
    # nothing extracted from it, so its list stays as text
    assert [b.kind for b in section.unclassified] == ["list"]


def test_mis_encoded_headings_keep_clean_context() -> None:
    data, runbook = _load("threads-agent-alertmanager")
    assert b"\xc3\xbc\xc3\xb6" in data  # the file really holds mojibake ("üö")
    assert [c.name for c in runbook.categories] == [
        "Critical Alerts",
        "Warning Alerts",
        "Business Alerts",
        "Infrastructure Alerts",
    ]


def test_find_procedure_links_alert_names() -> None:
    _, runbook = _load("threads-agent-alertmanager")
    found = runbook.find_procedure("high_error-rate")
    assert found is not None
    assert found.name == "HighErrorRate"
    assert found.steps[2].commands[0].text.startswith("kubectl exec")
    assert runbook.find_procedure("NoSuchAlert") is None
    _, news = _load("news-topic-intelligence")
    row = news.find_procedure("High5xxRate")
    assert row is not None
    assert row.origin == "table-row"


TABLE = "3-common-alerts--playbooks"  # news-topic-intelligence: one section, four alerts


@pytest.mark.parametrize(
    ("runbook", "anchor", "alertname", "expected"),
    [
        # a table of alerts shares one anchor: the row of the alert's own name
        ("news-topic-intelligence", TABLE, "SlowResponses2s", "Slow responses (>2s)"),
        ("news-topic-intelligence", TABLE, "api_key_failures", "API key failures"),
        # ...and no row at all for an alert of another name: not the first row's steps
        ("news-topic-intelligence", TABLE, "ApiLatencyHigh", None),
        # a section with one procedure: that one, whatever the alert is called
        ("threads-agent-alertmanager", "higherrorrate", "Errors", "HighErrorRate"),
        # a section with no procedure: the alert's own, if any
        ("threads-agent-alertmanager", "nosuchanchor", "HighErrorRate", "HighErrorRate"),
        # ...else the section's one numbered list, as the linked alert's steps
        ("news-topic-intelligence", "2-health-checks", "LivenessDown", "LivenessDown"),
        ("news-topic-intelligence", "4-incident-response-timeline", "IncidentOpen", "IncidentOpen"),
        # ...and none from a section without a list
        ("news-topic-intelligence", "1-service-map", "LivenessDown", None),
    ],
)
def test_a_link_to_an_anchor_finds_the_procedure_it_means(
    runbook: str, anchor: str, alertname: str, expected: str | None
) -> None:
    _, book = _load(runbook)
    found = book.procedure_at(anchor, alertname)
    assert (None if found is None else found.name) == expected


def test_a_link_to_a_section_s_one_list_takes_its_steps() -> None:
    _, book = _load("news-topic-intelligence")
    found = book.procedure_at("4-incident-response-timeline", "IncidentOpen")
    assert found is not None
    assert [s.text for s in found.steps][:2] == ["Acknowledge alert within 5 minutes.", "Triage"]
    assert (found.section, found.origin) == ("4-incident-response-timeline", "section")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "rb/news-topic-intelligence.md#3-common-alerts--playbooks",
            ("news-topic-intelligence", TABLE),
        ),
        ("http://tocsin:9093/runbooks/ops/db%20failover#step-2", ("ops/db failover", "step-2")),
        ("https://wiki.example/pages/thread-condenser.html", ("thread-condenser", "")),
        ("https://wiki.example/pages/other.html#x", None),
        ("", None),
        ("http://[x", None),  # not a URL at all
    ],
)
def test_a_runbook_url_names_a_known_runbook(url: str, expected: tuple[str, str] | None) -> None:
    names = {"news-topic-intelligence", "thread-condenser", "ops/db failover"}
    assert runbook_for_url(url, names) == expected
