"""Runbook timers for one incident, pure: which of a runbook's SLAs apply to an alert's
procedure, when each starts, what ends it, and where it stands at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.core.checklists import as_fired
from tocsin.runbooks.model import AlertProcedure, Duration, Sla
from tocsin.runbooks.parser import parse_runbook
from tocsin.runbooks.timers import (
    KEPT,
    POSTMORTEM_WRITTEN,
    STATUS_PAGE_UPDATED,
    UNKEPT,
    Episode,
    Kept,
    after,
    classes_promised,
    episode,
    find_timer,
    fit_in,
    timer,
    timers,
)

RUNBOOKS = Path(__file__).resolve().parents[3] / "shared" / "runbooks"
T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)  # a Friday
M = timedelta(minutes=1)


def minutes(n: float, business: bool = False, amount: float | None = None) -> Duration:
    return Duration(n * 60, amount if amount is not None else n, "minute", business, "", (1, 1))


def sla(action: str, context: str | None, n: float = 5, kind: str = "deadline") -> Sla:
    return Sla(kind, action, minutes(n), f"{action}: {n} minutes", (1, 1), None, context)


def proc(severity: str | None = "critical", category: str | None = None) -> AlertProcedure:
    return AlertProcedure(
        "X", "x", "section", (1, 1), None, severity, None, category, None, None, None, (), ()
    )


@pytest.mark.parametrize(
    ("the_sla", "procedure", "applies_"),
    [
        # a class of alerts: procedures of that severity...
        (sla("Response Time", "Critical Alerts"), proc("critical"), True),
        (sla("Response Time", "Warning Alerts"), proc("critical"), False),
        # ...or category
        (sla("Response Time", "Business Alerts"), proc("warning", "business"), True),
        (sla("Response Time", "Infrastructure Alerts"), proc("warning", "business"), False),
        (sla("Ack", "P1 incidents"), proc("p1"), True),
        (sla("Ack", "Sev-1 pages"), proc("sev1"), True),
        (sla("Ack", "Security incidents"), proc("critical", "security"), True),
        (sla("Ack", "Security incidents"), proc("critical"), False),
        # the incident itself: every procedure
        (sla("Acknowledge alert", "Incident Response Timeline"), proc(None), True),
        (sla("Schedule postmortem", "Incident Response Timeline"), proc("warning"), True),
        (sla("Immediate", "Post-Incident Actions"), proc("info"), True),
        (sla("update the status page", "Communication protocols"), proc(None), True),
        # every incident's, whatever its class ("every" is no class)
        (sla("Acknowledge", "Every incident"), proc("warning"), True),
        (sla("Post-mortem", "All alerts"), proc("critical", "business"), True),
        # not about an incident
        (sla("Remove old key after confirmation", "Rotate API Keys"), proc(), False),
        (sla("Deletion: Honor workspace deletion requests", "Data management"), proc(), False),
        (
            sla("Planned maintenance: announce", "Communication", kind="advance-notice"),
            proc(),
            False,
        ),
    ],
)
def test_which_slas_are_an_incident_s_timers(
    the_sla: Sla, procedure: AlertProcedure, applies_: bool
) -> None:
    """(a runbook-wide promise: one written in an alert's own section is that alert's
    alone, see test_runbook_alert_scope)"""
    assert (fit_in(the_sla, None, procedure) is not None) is applies_


OPEN = Episode(opened=T0)
ACKED = Episode(opened=T0, acknowledged=T0 + 3 * M)
LATE_ACK = Episode(opened=T0, acknowledged=T0 + 9 * M)
RESOLVED = Episode(opened=T0, acknowledged=T0 + 3 * M, resolved=T0 + 40 * M)
RESOLVED_UNACKED = Episode(opened=T0, resolved=T0 + 2 * M, resolved_by_hand=True)
# its alerts resolved before anyone answered: nobody met anything
GONE = Episode(opened=T0, resolved=T0 + 2 * M)
GONE_LATE = Episode(opened=T0, resolved=T0 + 20 * M)


@pytest.mark.parametrize(
    ("the_sla", "ep", "now", "expected"),
    [
        # a response timer runs from the opening until acknowledged
        (sla("Response Time", "Critical"), OPEN, T0 + M, ("opened", T0 + 5 * M, None, "running")),
        (
            sla("Response Time", "Critical"),
            OPEN,
            T0 + 6 * M,
            ("opened", T0 + 5 * M, None, "overdue"),
        ),
        (
            sla("Acknowledge alert", None),
            ACKED,
            T0 + 6 * M,
            ("opened", T0 + 5 * M, T0 + 3 * M, "met"),
        ),
        (
            sla("Acknowledge alert", None),
            LATE_ACK,
            T0 + 9 * M,
            ("opened", T0 + 5 * M, T0 + 9 * M, "missed"),
        ),
        # an escalation timer ends on acknowledgement too; a resolution first ends it
        (
            sla("Escalation: Automatic if not acknowledged", "Critical", 15),
            RESOLVED_UNACKED,
            T0 + 20 * M,
            ("opened", T0 + 15 * M, T0 + 2 * M, "met"),
        ),
        # ...but alerts that resolve by themselves answer nothing
        (
            sla("Escalation: Automatic if not acknowledged", "Critical", 15),
            GONE,
            T0 + 20 * M,
            ("opened", T0 + 15 * M, None, "closed"),
        ),
        (
            sla("Response Time", "Critical"),
            GONE_LATE,
            T0 + 30 * M,
            ("opened", T0 + 5 * M, None, "missed"),
        ),
        # a deadline from the opening that nothing but the end of the incident stops
        (
            sla("update the status page", None, 15),
            ACKED,
            T0 + 20 * M,
            ("opened", T0 + 15 * M, None, "overdue"),
        ),
        # ...resolved after it ran out: it stays overdue (nothing says it was kept)
        (
            sla("update the status page", None, 15),
            RESOLVED,
            T0 + 50 * M,
            ("opened", T0 + 15 * M, None, "overdue"),
        ),
        # ...resolved before it ran out: closed
        (
            sla("update the status page", None, 60),
            RESOLVED,
            T0 + 50 * M,
            ("opened", T0 + 60 * M, None, "closed"),
        ),
        # an escalation that does not say "if not acknowledged" is not ended by one
        (
            sla("Escalation: Manual escalation to email", "Warning", 120),
            ACKED,
            T0 + 50 * M,
            ("opened", T0 + 120 * M, None, "running"),
        ),
        # post-incident work starts at the resolution
        (
            sla("Schedule postmortem", None, 60 * 48),
            ACKED,
            T0 + 50 * M,
            ("resolved", None, None, "waiting"),
        ),
        (
            sla("Schedule postmortem", None, 60 * 48),
            RESOLVED,
            T0 + 50 * M,
            ("resolved", T0 + 40 * M + timedelta(hours=48), None, "running"),
        ),
        (
            sla("Immediate", "Post-Incident Actions", 60),
            RESOLVED,
            T0 + 101 * M,
            ("resolved", T0 + 100 * M, None, "overdue"),
        ),
        # not opened (yet): nothing runs
        (sla("Response Time", "Critical"), Episode(), T0, ("opened", None, None, "waiting")),
    ],
)
def test_where_a_timer_stands(
    the_sla: Sla, ep: Episode, now: datetime, expected: tuple[Any, ...]
) -> None:
    t = timer("rb", the_sla, ep, now)
    assert (t.start, t.due_at, t.met_at, t.state) == expected


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (T0, 3, T0 + timedelta(days=5)),  # Friday + 3 business days: Wednesday
        (T0 - timedelta(days=4), 3, T0 - timedelta(days=1)),  # Monday + 3: Thursday
        (T0 + timedelta(days=1), 1, T0 + timedelta(days=3)),  # Saturday + 1: Monday
    ],
)
def test_business_days_skip_weekends(start: datetime, days: int, due: datetime) -> None:
    assert after(start, Duration(days * 86400, days, "day", True, "", (1, 1))) == due


def line(action: str, minute: int) -> dict[str, Any]:
    return {"action": action, "at": T0 + minute * M}


@pytest.mark.parametrize(
    ("audit", "ep"),
    [
        ([], Episode()),
        ([line("opened", 0), line("acknowledged", 2)], Episode(T0, T0 + 2 * M)),
        # the first acknowledgement counts (a second after a timeout does not move it)
        (
            [line("opened", 0), line("acknowledged", 2), line("acknowledged", 9)],
            Episode(T0, T0 + 2 * M),
        ),
        (
            [line("opened", 0), line("acknowledged", 2), line("resolved", 30)],
            Episode(T0, T0 + 2 * M, T0 + 30 * M, resolved_by_hand=True),
        ),
        # resolved because its alerts did (Tocsin, channel auto)
        (
            [line("opened", 0), line("resolved", 30) | {"channel": "auto"}],
            Episode(T0, None, T0 + 30 * M),
        ),
        # a re-opening starts a new episode
        (
            [line("opened", 0), line("resolved", 30), line("re-opened", 60)],
            Episode(T0 + 60 * M),
        ),
        # other lines say nothing about it
        ([line("opened", 0), line("step done", 1), line("snoozed", 2)], Episode(T0)),
        # an acknowledgement of an earlier opening is not this one's
        (
            [line("opened", 0), line("acknowledged", 1), line("resolved", 5), line("re-opened", 9)],
            Episode(T0 + 9 * M),
        ),
    ],
)
def test_an_episode_from_the_audit_trail(audit: list[dict[str, Any]], ep: Episode) -> None:
    assert episode(audit) == ep


def test_the_shared_runbook_s_timers_for_a_critical_alert() -> None:
    name = "threads-agent-alertmanager"
    book = parse_runbook((RUNBOOKS / f"{name}.md").read_text(), name=name)
    (down,) = [p for p in book.alerts if p.name == "ServiceDown"]
    found = timers({name: book}, [(name, down), (name, down)], ACKED, T0 + 6 * M)
    assert [(t.text, t.state) for t in found] == [
        ("Response Time: < 5 minutes", "met"),
        ("Escalation: Automatic after 15 minutes if not acknowledged", "met"),
        ("Immediate (within 1 hour)", "waiting"),
        ("Short-term (within 24 hours)", "waiting"),
        ("Long-term (within 1 week)", "waiting"),
    ]


def test_a_category_s_promise_wins_over_its_severity_s() -> None:
    """ "Warning (Business)": the Business Alerts' 2 hours, not the Warning Alerts' 30
    minutes (nor their escalation to e-mail)."""
    name = "threads-agent-alertmanager"
    book = parse_runbook((RUNBOOKS / f"{name}.md").read_text(), name=name)
    (business,) = [p for p in book.alerts if p.name == "LowEngagementRate"]
    (warning,) = [p for p in book.alerts if p.name == "HighLatency"]
    assert (business.severity, business.category) == ("warning", "business")
    texts = [t.text for t in timers({name: book}, [(name, business)], OPEN, T0)]
    assert texts[0] == "Response Time: < 2 hours"
    assert not [t for t in texts if "30 minutes" in t or "email" in t]
    plain = [t.text for t in timers({name: book}, [(name, warning)], OPEN, T0)]
    assert plain[:2] == [
        "Response Time: < 30 minutes",
        "Escalation: Manual escalation to email after 2 hours",
    ]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Immediate (within 1 hour):", "Immediate (within 1 hour)"),
        (
            "and update the status page within 15 minutes",
            "Update the status page within 15 minutes",
        ),
        ("Response Time: < 5 minutes", "Response Time: < 5 minutes"),
        ("schedule postmortem within 48 hours.", "Schedule postmortem within 48 hours"),
    ],
)
def test_a_timer_s_label_is_the_sla_s_words_tidied(text: str, label: str) -> None:
    the_sla = Sla("deadline", "x", minutes(5), text, (1, 1), None, None)
    assert timer("rb", the_sla, OPEN, T0).text == label


STATUS = sla("update the status page", None, 15)
POSTMORTEM = sla("Schedule postmortem", None, 60 * 48)


def keeping(ep: Episode, the_sla: Sla, minute: int, kept: bool = True) -> Episode:
    """``ep`` where a person said at ``minute`` that they kept (or had not kept) it."""
    label = timer("rb", the_sla, ep, T0).text
    return replace(ep, kept={("rb", label): Kept(kept, "ann", T0 + minute * M)})


@pytest.mark.parametrize(
    ("the_sla", "ep", "now", "expected"),
    [
        # kept before it ran out: met, by whom and when
        (STATUS, keeping(ACKED, STATUS, 10), T0 + 20 * M, (T0 + 10 * M, "met", "ann")),
        # kept after: missed, still with who kept it
        (STATUS, keeping(ACKED, STATUS, 18), T0 + 20 * M, (T0 + 18 * M, "missed", "ann")),
        # taken back: it runs (or is overdue) again
        (STATUS, keeping(ACKED, STATUS, 10, kept=False), T0 + 12 * M, (None, "running", None)),
        (STATUS, keeping(ACKED, STATUS, 10, kept=False), T0 + 20 * M, (None, "overdue", None)),
        # a resolved incident's ran-out timer that was kept is no longer overdue
        (STATUS, keeping(RESOLVED, STATUS, 12), T0 + 50 * M, (T0 + 12 * M, "met", "ann")),
        # post-incident work kept before the resolution (booked mid-incident): met
        (POSTMORTEM, keeping(ACKED, POSTMORTEM, 20), T0 + 30 * M, (T0 + 20 * M, "met", "ann")),
        (
            POSTMORTEM,
            keeping(RESOLVED, POSTMORTEM, 40 + 49 * 60),
            T0 + 50 * 60 * M,
            (T0 + (40 + 49 * 60) * M, "missed", "ann"),
        ),
        # a response timer is met by an answer to the page: a word of keeping is ignored
        (
            sla("Response Time", "Critical"),
            keeping(OPEN, sla("Response Time", "Critical"), 2),
            T0 + 6 * M,
            (None, "overdue", None),
        ),
        # a word about another timer keeps nothing here
        (STATUS, keeping(ACKED, POSTMORTEM, 10), T0 + 20 * M, (None, "overdue", None)),
    ],
)
def test_a_timer_a_person_kept(
    the_sla: Sla, ep: Episode, now: datetime, expected: tuple[Any, ...]
) -> None:
    t = timer("rb", the_sla, ep, now)
    assert (t.met_at, t.state, t.kept_by) == expected


def said(action: str, minute: int, text: str = "Update the status page: 15 minutes") -> Any:
    return line(action, minute) | {
        "actor": "bob",
        "detail": {"timer": {"runbook": "rb", "line": 3, "text": text}},
    }


@pytest.mark.parametrize(
    ("audit", "kept"),
    [
        ([line("opened", 0), said(KEPT, 4)], {"Update the status page: 15 minutes": (True, 4)}),
        # the newest word on a timer wins
        (
            [line("opened", 0), said(KEPT, 4), said(UNKEPT, 6)],
            {"Update the status page: 15 minutes": (False, 6)},
        ),
        (
            [line("opened", 0), said(KEPT, 4), said(UNKEPT, 6), said(KEPT, 8)],
            {"Update the status page: 15 minutes": (True, 8)},
        ),
        # one timer's word leaves another's alone
        (
            [line("opened", 0), said(KEPT, 4), said(KEPT, 5, "Other")],
            {"Update the status page: 15 minutes": (True, 4), "Other": (True, 5)},
        ),
        # a re-opening is a new incident: nothing kept yet
        ([line("opened", 0), said(KEPT, 4), line("resolved", 9), line("re-opened", 20)], {}),
        # a line without a timer's detail (written by something else) keeps nothing
        ([line("opened", 0), line(KEPT, 4) | {"actor": "x", "detail": {}}], {}),
    ],
)
def test_kept_timers_from_the_audit_trail(
    audit: list[dict[str, Any]], kept: dict[str, tuple[bool, int]]
) -> None:
    found = episode(audit).kept
    assert {text: (k.kept, int((k.at - T0) / M)) for (_, text), k in found.items()} == kept
    assert all(k.who == "bob" for k in found.values())


def incident_line(action: str, minute: int) -> dict[str, Any]:
    """A linked incident's line in the group's trail (``core.incident_ops``)."""
    return line(action, minute) | {"actor": "cy", "comment": "incident #4: Investigating"}


@pytest.mark.parametrize(
    ("the_sla", "audit", "now", "expected"),
    [
        # the linked incident's status page updated in time: met, by whom and which
        (
            STATUS,
            [line("opened", 0), incident_line(STATUS_PAGE_UPDATED, 10)],
            T0 + 20 * M,
            (T0 + 10 * M, "met", "cy (incident #4)"),
        ),
        # ...late: missed; the first update since the opening counts
        (
            STATUS,
            [
                line("opened", 0),
                incident_line(STATUS_PAGE_UPDATED, 18),
                incident_line(STATUS_PAGE_UPDATED, 19),
            ],
            T0 + 20 * M,
            (T0 + 18 * M, "missed", "cy (incident #4)"),
        ),
        # ...before a re-opening: another incident's, keeping nothing now
        (
            STATUS,
            [
                line("opened", 0),
                incident_line(STATUS_PAGE_UPDATED, 5),
                line("resolved", 9),
                line("re-opened", 20),
            ],
            T0 + 50 * M,
            (None, "overdue", None),
        ),
        # its post-mortem written keeps the post-incident work
        (
            POSTMORTEM,
            [line("opened", 0), line("resolved", 40), incident_line(POSTMORTEM_WRITTEN, 600)],
            T0 + 700 * M,
            (T0 + 600 * M, "met", "cy (incident #4)"),
        ),
        # a status-page update keeps no post-mortem, and the reverse
        (
            POSTMORTEM,
            [line("opened", 0), line("resolved", 40), incident_line(STATUS_PAGE_UPDATED, 50)],
            T0 + 60 * M,
            (None, "running", None),
        ),
        (
            STATUS,
            [line("opened", 0), incident_line(POSTMORTEM_WRITTEN, 5)],
            T0 + 20 * M,
            (None, "overdue", None),
        ),
    ],
)
def test_a_timer_a_linked_incident_kept(
    the_sla: Sla, audit: list[dict[str, Any]], now: datetime, expected: tuple[Any, ...]
) -> None:
    """What a linked incident does keeps the promises of its groups' runbooks: its
    status page updated, its post-mortem written."""
    t = timer("rb", the_sla, episode(audit), now)
    assert (t.met_at, t.state, t.kept_by) == expected


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("1", "Response Time: < 5 minutes"),
        ("3", "Immediate (within 1 hour)"),
        ("threads-agent-alertmanager:{line}", "Immediate (within 1 hour)"),
        ("Threads-Agent-Alertmanager:{line}", "Immediate (within 1 hour)"),
        ("0", "'0': this group has 5 timers"),
        ("6", "'6': this group has 5 timers"),
        ("threads-agent-alertmanager:1", "'threads-agent-alertmanager:1': a timer is N or"),
        ("٣", "'٣': a timer is N or RUNBOOK:LINE"),  # not an ASCII digit
        ("", "'': a timer is N or RUNBOOK:LINE"),
    ],
)
def test_a_timer_as_a_person_names_it(text: str, found: str) -> None:
    name = "threads-agent-alertmanager"
    book = parse_runbook((RUNBOOKS / f"{name}.md").read_text(), name=name)
    (down,) = [p for p in book.alerts if p.name == "ServiceDown"]
    listed = timers({name: book}, [(name, down)], OPEN, T0)
    immediate = listed[2].lines[0]
    got = find_timer(listed, text.format(line=immediate))
    assert (got if isinstance(got, str) else got.text).startswith(found)


@given(st.text(max_size=40))
def test_any_text_names_a_listed_timer_or_says_why_not(text: str) -> None:
    listed = [timer("rb", STATUS, OPEN, T0), timer("rb", POSTMORTEM, OPEN, T0)]
    got = find_timer(listed, text)
    assert got in listed or (isinstance(got, str) and got.startswith(repr(text)))


@pytest.mark.parametrize(
    ("label", "response"),
    [
        ("critical", "Response Time: < 5 minutes"),  # the label chose the route that paged
        ("warning", "Response Time: < 30 minutes"),  # as the runbook says
        ("", "Response Time: < 30 minutes"),  # no label: the runbook's
        ("nonsense", "Response Time: < 30 minutes"),  # no severity word: the runbook's
    ],
)
def test_the_alert_s_own_severity_chooses_its_promise(label: str, response: str) -> None:
    """HighLatency is a warning in the runbook; fired with severity="critical" (and
    paged as critical), its response timer is the critical alerts' 5 minutes, not the
    warnings' 30 (phone and runbook author walk-throughs)."""
    name = "threads-agent-alertmanager"
    book = parse_runbook((RUNBOOKS / f"{name}.md").read_text(), name=name)
    (latency,) = [p for p in book.alerts if p.name == "HighLatency"]
    assert latency.severity == "warning"
    labels = {"alertname": "HighLatency", "severity": label} if label else {}
    fired = as_fired(latency, labels, classes_promised(book))
    found = timers({name: book}, [(name, fired)], ACKED, T0 + 6 * M)
    assert [t.text for t in found if t.text.startswith("Response Time")] == [response]


def test_a_label_the_runbook_s_promises_do_not_name_leaves_its_own_severity() -> None:
    """A runbook written in SEV terms, alerts labelled critical (review): its SEV1
    promise still applies (the label chose nothing the runbook promises)."""
    book = parse_runbook(
        "# Ops\n\n## SEV1 Alerts\n- **Response Time**: < 5 minutes\n\n"
        "## DiskFull\n**Severity**: SEV1\n\n1. Clean up\n",
        name="ops",
    )
    (disk,) = book.alerts
    fired = as_fired(disk, {"severity": "critical"}, classes_promised(book))
    assert fired.severity == "sev1"
    found = timers({"ops": book}, [("ops", fired)], ACKED, T0 + 6 * M)
    assert [t.text for t in found] == ["Response Time: < 5 minutes"]
