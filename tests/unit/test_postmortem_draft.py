"""The post-mortem draft, pure: the peak severity it reached and when (the config's
order), its alert groups named by their labels in its facts and its timeline, its
summary from the status page's last word, and what a stored post-mortem owed again
does not tell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.incidents.model import (
    Change,
    Entry,
    Incident,
    LinkedGroup,
    Rules,
    decide,
    declare,
    entry_group,
    severity_change,
)
from tocsin.incidents.postmortem import draft, latest_words, severity_spans, since_written

T0 = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
RULES = Rules(("SEV1", "SEV2", "SEV3"), ("commander",))
S = timedelta(seconds=1)
MIN = timedelta(minutes=1)


def run(
    severity: str, steps: list[tuple[timedelta, Change]], rules: Rules = RULES
) -> tuple[Incident, list[Entry]]:
    """An incident declared at T0 and changed at each offset, with its timeline."""
    incident, entries = declare("Checkout failing", severity, "ann", T0, rules)
    for offset, change in steps:
        incident, more = decide(incident, change, "bob", T0 + offset, rules)
        entries += more
    return incident, entries


def severity_line(text: str) -> str:
    (line,) = [x for x in text.splitlines() if x.startswith("- **Severity:**")]
    return line


# (declared at, its changes, the draft's severity line): the user's incident first
PEAKS = [
    (
        "SEV2",
        [
            (5 * MIN + 35 * S, Change(severity="SEV1")),
            (8 * MIN + 49 * S, Change(severity="SEV2")),
            (30 * MIN, Change(status="resolved")),
        ],
        "- **Severity:** SEV2 (peak SEV1, 21:05\u201321:08)",
    ),
    # declared at its peak, lowered: the peak runs from the declaration
    (
        "SEV1",
        [(8 * MIN, Change(severity="SEV3")), (40 * MIN, Change(status="resolved"))],
        "- **Severity:** SEV3 (peak SEV1, 21:00\u201321:08)",
    ),
    # at its peak twice: each stretch
    (
        "SEV2",
        [
            (2 * MIN, Change(severity="SEV1")),
            (4 * MIN, Change(severity="SEV3")),
            (10 * MIN, Change(severity="SEV1")),
            (12 * MIN, Change(severity="SEV2")),
            (20 * MIN, Change(status="resolved")),
        ],
        "- **Severity:** SEV2 (peak SEV1, 21:02\u201321:04, 21:10\u201321:12)",
    ),
    # raised and never lowered: its severity is its peak, nothing to add
    (
        "SEV3",
        [(5 * MIN, Change(severity="SEV1")), (9 * MIN, Change(status="resolved"))],
        "- **Severity:** SEV1",
    ),
    # past midnight: the date where the day is not the declaration's
    (
        "SEV2",
        [
            (3 * 60 * MIN, Change(severity="SEV1")),
            (3 * 60 * MIN + 20 * MIN, Change(severity="SEV3")),
            (4 * 60 * MIN, Change(status="resolved")),
        ],
        "- **Severity:** SEV3 (peak SEV1, 2026-12-08 00:00\u201300:20)",
    ),
    # regraded after its resolution: the time it was open counts, not the regrade
    (
        "SEV1",
        [(30 * MIN, Change(status="resolved")), (90 * MIN, Change(severity="SEV2"))],
        "- **Severity:** SEV2 (peak SEV1, 21:00\u201321:30)",
    ),
    # still open: up to now
    (
        "SEV1",
        [(5 * MIN, Change(severity="SEV2"))],
        "- **Severity:** SEV2 (peak SEV1, 21:00\u201321:05)",
    ),
]


@pytest.mark.parametrize(("declared", "steps", "line"), PEAKS)
def test_the_draft_tells_the_peak_severity_and_when(
    declared: str, steps: list[tuple[timedelta, Change]], line: str
) -> None:
    incident, entries = run(declared, steps)
    assert severity_line(draft(incident, entries, T0 + 5 * 60 * MIN, RULES)) == line


def test_the_peak_follows_the_configured_order() -> None:
    """The config lists its severities most severe first, whatever their names: a
    team whose P3 is its worst sees P3 as the peak, not P1."""
    backwards = Rules(("P3", "P2", "P1"), ("commander",))
    steps = [(MIN, Change(severity="P3")), (3 * MIN, Change(severity="P1"))]
    incident, entries = run("P2", steps, backwards)
    later = T0 + 60 * MIN
    assert severity_line(draft(incident, entries, later, backwards)).endswith(
        "P1 (peak P3, 21:01\u201321:03)"
    )
    # ranked by the default order instead, P1 would be the peak: nothing to add
    assert severity_line(draft(incident, entries, later, RULES)) == "- **Severity:** P1"
    # a severity no longer configured ranks below every configured one
    gone = Rules(("SEV1", "SEV2"), ("commander",))
    old, entries = run("SEV2", [(MIN, Change(severity="SEV1"))], RULES)
    lowered = Incident(**{**old.__dict__, "severity": "SEV9"})
    lowered_at = Entry(T0 + 2 * MIN, "bob", "severity", "severity SEV1 -> SEV9")
    text = draft(lowered, [*entries, lowered_at], T0 + 9 * MIN, gone)
    assert severity_line(text) == "- **Severity:** SEV9 (peak SEV1, 21:01\u201321:02)"


def test_severity_spans_and_the_lines_they_are_read_from() -> None:
    incident, entries = run("SEV2", [(MIN, Change(severity="SEV1"))])
    assert severity_spans(incident, entries, T0 + 3 * MIN) == [
        ("SEV2", T0, T0 + MIN),
        ("SEV1", T0 + MIN, T0 + 3 * MIN),
    ]
    # declared and changed in the same second: the declared severity held no time
    same, at_once = run("SEV3", [(timedelta(0), Change(severity="SEV1"))])
    assert severity_spans(same, at_once, T0 + MIN) == [("SEV1", T0, T0 + MIN)]
    assert severity_change(Entry(T0, "a", "severity", "severity SEV3 -> SEV1")) == ("SEV3", "SEV1")
    assert severity_change(Entry(T0, "a", "note", "severity SEV3 -> SEV1")) is None
    assert severity_change(Entry(T0, "a", "severity", "severity SEV3")) is None


def test_the_draft_names_its_groups_by_their_labels() -> None:
    incident, entries = declare("Errors", "SEV2", "ann", T0, RULES, groups=["8a8a", "b2", "c3"])
    incident, more = decide(incident, Change(unlink=["c3"]), "bob", T0 + MIN, RULES)
    # as the store gives them back: a link's line without its group, only its text
    stored = [Entry(e.at, e.by, e.kind, e.text, e.public) for e in [*entries, *more]]
    said = "alert group 8a8a: opened"
    story = [Entry(T0 - MIN, "tocsin", "group", said, group="8a8a", action="opened"), *stored]
    groups = {
        "8a8a": LinkedGroup("8a8a", (("alertname", "HighErrorRate"), ("service", "api")), "firing"),
        "b2": LinkedGroup("b2", (), "resolved"),  # grouped by nothing: no labels to show
        "c3": LinkedGroup("c3", (("alertname", "Disk\nFull"),), "resolved"),
    }
    text = draft(incident, story, T0 + 9 * MIN, RULES, groups)
    assert "- **Alert groups:** 8a8a (alertname=HighErrorRate, service=api), b2\n" in text
    named = "alert group 8a8a (alertname=HighErrorRate, service=api)"
    assert f"| tocsin | {named}: opened |" in text
    assert f"| ann | {named} linked |" in text
    assert "| ann | alert group b2 linked |" in text
    # unlinked since, still named; a label's line break would break the table
    assert "| bob | alert group c3 (alertname=Disk Full) unlinked |" in text
    # without the groups' rows (gone), the ids alone, as before
    bare = draft(incident, story, T0 + 9 * MIN, RULES)
    assert "- **Alert groups:** 8a8a, b2\n" in bare
    assert "| tocsin | alert group 8a8a: opened |" in bare
    assert [entry_group(e) for e in stored if e.kind in ("linked", "unlinked")] == [
        "8a8a",
        "b2",
        "c3",
        "c3",
    ]
    assert entry_group(Entry(T0, "a", "linked", "alert group a b linked")) == ""


def summary_of(text: str) -> str:
    return text.split("## Summary\n\n", 1)[1].split("\n\n## ", 1)[0]


def test_the_summary_starts_from_the_status_page_s_last_word() -> None:
    hint = "_One paragraph: what broke, for whom._"
    stale = "We are investigating reports of failed payments."
    incident, entries = run(
        "SEV1",
        [
            (MIN, Change(update="A bad deploy; rolling back")),
            (9 * MIN, Change(status="resolved", update="Payments work again since 21:08.")),
        ],
    )
    incident = Incident(**{**incident.__dict__, "summary": stale})
    text = draft(incident, entries, T0 + H, RULES)
    assert summary_of(text) == f"Resolved: Payments work again since 21:08.\n\n{hint}"
    # the summary changed after the last update is the newer word
    edited, more = decide(
        incident, Change(summary="Payments failed for 8 minutes"), "cy", T0 + H, RULES
    )
    assert latest_words(edited, [*entries, *more]).startswith("Payments failed for 8")
    # no update: the summary; nothing at all: the hint alone
    quiet, first = declare("x", "SEV2", "ann", T0, RULES, summary=stale)
    assert summary_of(draft(quiet, first, T0 + H, RULES)) == f"{stale}\n\n{hint}"
    bare, first = declare("x", "SEV2", "ann", T0, RULES)
    assert summary_of(draft(bare, first, T0 + H, RULES)) == hint


def test_what_a_post_mortem_owed_again_does_not_tell() -> None:
    incident, entries = run(
        "SEV1",
        [
            (10 * MIN, Change(status="resolved")),
            (H, Change(postmortem="Root cause: a config push.")),
            (2 * H, Change(status="investigating", note="errors again")),
            (3 * H, Change(status="resolved")),
        ],
    )
    missed = since_written(incident, entries)
    assert missed is not None
    assert [e.text for e in missed] == ["reopened: investigating", "errors again", "resolved"]
    revised, more = decide(
        incident, Change(postmortem="Root cause: two pushes."), "cy", 4 * H + T0, RULES
    )
    assert since_written(revised, [*entries, *more]) is None  # paid: nothing owed again
    never, first = declare("x", "SEV2", "ann", T0, RULES)
    assert since_written(never, first) is None  # none stored: the draft tells it all


H = 60 * MIN
