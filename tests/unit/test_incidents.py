"""The incident domain, pure: one table row per rule of declaring and changing an
incident (``incidents.model``), what a severity makes it owe and when
(``incidents.reminders``), the reminder alerts, the status page's word, the
post-mortem draft, the config's checks, and the CLI's ROLE=PERSON parser (a property
test)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from tocsin.cli.incident_cmds import parse_roles
from tocsin.config import ConfigError, load_config
from tocsin.config.model import DEFAULT_SEVERITIES, IncidentSeverity
from tocsin.incidents.announce import announcement, news
from tocsin.incidents.model import (
    Change,
    Entry,
    Incident,
    Refused,
    Rules,
    decide,
    declare,
    page_status,
)
from tocsin.incidents.postmortem import draft, duration_text
from tocsin.incidents.reminders import dues, open_alert, reminder_alerts

T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
RULES = Rules(("SEV1", "SEV2", "SEV3"), ("commander", "scribe"), ("API", "Checkout"))
MIN = timedelta(minutes=1)


def opened(**fields: Any) -> Incident:
    made, _ = declare("Checkout failing", "SEV1", "ann", T0, RULES)
    return Incident(**{**made.__dict__, "id": 4, **fields})


def test_declaring() -> None:
    made, entries = declare(
        " Checkout failing ", "SEV2", "ann", T0, RULES, groups=["g1", "g1", "g2"]
    )
    assert (made.title, made.severity, made.status) == ("Checkout failing", "SEV2", "investigating")
    assert made.roles == {"commander": "ann"}  # the declarer commands unless told
    assert made.groups == ("g1", "g2")  # a group named twice is linked once
    assert [e.text for e in entries] == [
        "declared SEV2: Checkout failing",
        "commander: ann",
        "alert group g1 linked",
        "alert group g2 linked",
    ]
    other, _ = declare("x", "SEV1", "ann", T0, RULES, roles={"commander": "bob"})
    assert other.roles == {"commander": "bob"}
    no_commander, _ = declare("x", "SEV1", "ann", T0, Rules(("SEV1",), ("scribe",)))
    assert no_commander.roles == {}  # a config without the role: nobody takes it


# (change, the incident's fields after it, the entries' (kind, text, public))
CHANGES: list[tuple[Change, dict[str, Any], list[tuple[str, str, bool]]]] = [
    (
        Change(title="  Payments down "),
        {"title": "Payments down"},
        [("title", "title: Payments down", False)],
    ),
    (
        Change(severity="SEV2"),
        {"severity": "SEV2", "severity_at": T0 + MIN},
        [("severity", "severity SEV1 -> SEV2", False)],
    ),
    (Change(summary="Slow"), {"summary": "Slow"}, [("summary", "summary: Slow", False)]),
    (Change(public=True), {"public": True}, [("visibility", "shown on the status page", False)]),
    (
        Change(roles={"scribe": "cy"}),
        {"roles": {"commander": "ann", "scribe": "cy"}},
        [("role", "scribe: cy", False)],
    ),
    (Change(roles={"commander": ""}), {"roles": {}}, [("role", "commander: unassigned", False)]),
    (Change(link=["g9"]), {"groups": ("g9",)}, [("linked", "alert group g9 linked", False)]),
    (
        Change(components=["Checkout", "API", "Checkout"]),
        {"components": ("Checkout", "API")},
        [("components", "affects: Checkout, API", False)],
    ),
    (Change(components=[]), {}, []),  # none before, none after
    # a status change is news for the status page, said by the status alone...
    (
        Change(status="identified"),
        {"status": "identified", "last_update_at": T0 + MIN},
        [("status", "status: identified", True)],
    ),
    # ...or by the update that comes with it (then the update is the public line)
    (
        Change(status="monitoring", update="Fix deployed"),
        {"status": "monitoring", "last_update_at": T0 + MIN},
        [("status", "status: monitoring", False), ("update", "Monitoring: Fix deployed", True)],
    ),
    (
        Change(status="resolved"),
        {"status": "resolved", "resolved_at": T0 + MIN, "last_update_at": T0 + MIN},
        [("status", "resolved", True)],
    ),
    (Change(note="db is fine"), {}, [("note", "db is fine", False)]),
    (
        Change(update="Still looking"),
        {"last_update_at": T0 + MIN},
        [("update", "Investigating: Still looking", True)],
    ),
    (
        Change(postmortem="# PM"),
        {"postmortem": "# PM", "postmortem_at": T0 + MIN},
        [("postmortem", "post-mortem written", False)],
    ),
    # what is so already writes nothing
    (Change(title="Checkout failing", severity="SEV1", status="investigating"), {}, []),
    (Change(roles={"commander": "ann"}, public=False, summary=""), {}, []),
]


@pytest.mark.parametrize(("change", "after", "said"), CHANGES)
def test_a_change(change: Change, after: dict[str, Any], said: list[tuple[str, str, bool]]) -> None:
    before = opened()
    new, entries = decide(before, change, "bob", T0 + MIN, RULES)
    assert new == Incident(**{**before.__dict__, **after})
    assert [(e.kind, e.text, e.public) for e in entries] == said
    assert all((e.at, e.by) == (T0 + MIN, "bob") for e in entries)


def test_reopening_and_revising() -> None:
    done = opened(status="resolved", resolved_at=T0, postmortem="v1", postmortem_at=T0)
    back, entries = decide(done, Change(status="identified"), "bob", T0 + MIN, RULES)
    assert (back.status, back.resolved_at, back.reopened_at) == ("identified", None, T0 + MIN)
    assert [e.text for e in entries] == ["reopened: identified"]
    # its IncidentOpen alert starts at the reopening (the one before had ended)
    paging = open_alert(back, IncidentSeverity("SEV1", alert=True), 0, T0 + 2 * MIN, "http://t", {})
    assert paging is not None
    assert paging.starts_at == T0 + MIN
    revised, entries = decide(done, Change(postmortem="v2"), "bob", T0 + MIN, RULES)
    assert revised.postmortem_at == T0 + MIN
    assert [e.text for e in entries] == ["post-mortem revised"]
    # a reopened incident owes its post-mortem again: the text kept tells the first
    # resolution only, so saved unchanged it pays nothing; revised, it does
    back, _ = decide(done, Change(status="identified"), "bob", T0 + MIN, RULES)
    assert (back.postmortem, back.postmortem_at) == ("v1", None)
    again, _ = decide(back, Change(status="resolved"), "bob", T0 + H, RULES)
    assert [d.kind for d in dues(again, SEV1, T0 + H)] == ["postmortem"]
    for same in ("v1", "v1\n"):
        with pytest.raises(Refused, match="reopened and resolved again since this post-mortem"):
            decide(again, Change(postmortem=same), "bob", T0 + 2 * H, RULES)
    with pytest.raises(Refused, match="was reopened since this post-mortem was written"):
        decide(back, Change(postmortem="v1"), "bob", T0 + 2 * MIN, RULES)
    rewritten = Change(postmortem="v1\nIt came back: v2")
    paid, entries = decide(again, rewritten, "bob", T0 + 2 * H, RULES)
    assert paid.postmortem_at == T0 + 2 * H
    assert [e.text for e in entries] == ["post-mortem revised"]
    assert dues(paid, SEV1, T0 + 2 * H) == []
    # not owed: the same text again is no change at all
    assert decide(paid, Change(postmortem=paid.postmortem), "bob", T0 + 3 * H, RULES)[1] == []
    unlinked, entries = decide(opened(groups=("a", "b")), Change(unlink=["a"]), "x", T0, RULES)
    assert unlinked.groups == ("b",)
    assert entries[0].group == "a"


# (change, the field Refused names)
REFUSED = [
    (Change(title=""), "title"),
    (Change(title="x" * 201), "title"),
    (Change(title="two\nlines"), "title"),
    (Change(severity="P1"), "severity"),
    (Change(status="closed"), "status"),
    (Change(summary="x" * 10_001), "summary"),
    (Change(roles={"boss": "x"}), "roles.boss"),
    (Change(roles={"scribe": " cy"}), "roles.scribe"),
    (Change(link=[""]), "link[0]"),
    (Change(unlink=["g-none"]), "unlink[0]"),
    (Change(note="x" * 10_001), "note"),
    (Change(update="x" * 10_001), "update"),
    (Change(postmortem=" \n"), "postmortem"),
    (Change(postmortem="x" * 60_001), "postmortem"),
    (Change(components=["API", "Search"]), "components[1]"),
]


@pytest.mark.parametrize(("change", "field"), REFUSED)
def test_a_refused_change_names_its_field(change: Change, field: str) -> None:
    with pytest.raises(Refused) as refused:
        decide(opened(), change, "bob", T0, RULES)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("typed", "severity"),
    [("SEV1", "SEV1"), ("sev1", "SEV1"), ("Sev3", "SEV3"), ("sev2 ", None), ("P1", None)],
)
def test_a_severity_is_named_whatever_its_case(typed: str, severity: str | None) -> None:
    """``-s sev1`` at 3 a.m. is SEV1 (stored as configured); anything else is refused,
    naming the field."""
    if severity is None:
        with pytest.raises(Refused, match=r"^severity: must be one of SEV1, SEV2, SEV3"):
            declare("Checkout failing", typed, "ann", T0, RULES)
        return
    made, _ = declare("Checkout failing", typed, "ann", T0, RULES)
    assert made.severity == severity
    graded, said = decide(opened(severity="SEV2"), Change(severity=typed), "bob", T0, RULES)
    assert graded.severity == severity
    assert [e.text for e in said] == [f"severity SEV2 -> {severity}"]


def test_a_severity_no_longer_configured_sent_back_unchanged_is_no_change() -> None:
    kept, said = decide(opened(severity="P0"), Change(severity="P0"), "bob", T0, RULES)
    assert (kept.severity, said) == ("P0", [])


def test_who_is_required() -> None:
    with pytest.raises(Refused, match=r"^by: "):
        decide(opened(), Change(note="x"), "", T0, RULES)
    with pytest.raises(Refused, match=r"^by: "):
        declare("x", "SEV1", "", T0, RULES)


SEV1 = DEFAULT_SEVERITIES[0]  # first update 15m, then every 30m, post-mortem in 48h
H = timedelta(hours=1)

# (the incident's fields, its severity, what it owes: (kind, due at))
DUES: list[tuple[dict[str, Any], IncidentSeverity | None, list[tuple[str, datetime]]]] = [
    ({}, SEV1, [("update", T0 + 15 * MIN)]),  # the first update, from the declaration
    ({"last_update_at": T0 + 10 * MIN}, SEV1, [("update", T0 + 40 * MIN)]),  # then every 30m
    ({}, IncidentSeverity("S", update_every=H), [("update", T0 + H)]),  # first: every, unset
    ({}, IncidentSeverity("S", first_update_within=timedelta(0), update_every=H), []),
    ({"last_update_at": T0}, IncidentSeverity("S"), []),  # a severity owing nothing
    ({"status": "resolved", "resolved_at": T0 + H}, SEV1, [("postmortem", T0 + 49 * H)]),
    ({"status": "resolved", "resolved_at": T0, "postmortem_at": T0}, SEV1, []),  # written
    ({"status": "resolved", "resolved_at": T0}, DEFAULT_SEVERITIES[2], []),  # SEV3: none
    ({}, None, []),  # a severity no longer configured
    # raised to SEV1 an hour in: its first update counts from the raise, not the opening
    ({"severity_at": T0 + H}, SEV1, [("update", T0 + H + 15 * MIN)]),
    # an update before the raise does not count for the new severity
    ({"severity_at": T0 + H, "last_update_at": T0 + 50 * MIN}, SEV1, [("update", T0 + 75 * MIN)]),
    ({"severity_at": T0 + H, "last_update_at": T0 + 70 * MIN}, SEV1, [("update", T0 + 100 * MIN)]),
    # owed until 30 days past its deadline (48h): then no longer (a severity that
    # starts owing post-mortems does not call in the past's)
    (
        {"status": "resolved", "resolved_at": T0 - timedelta(days=31)},
        SEV1,
        [("postmortem", T0 - timedelta(days=29))],
    ),
    ({"status": "resolved", "resolved_at": T0 - timedelta(days=33)}, SEV1, []),
    # no first update owed: after a severity change the cadence goes on from the last
    (
        {"severity_at": T0 + H, "last_update_at": T0 + 50 * MIN},
        IncidentSeverity("S", first_update_within=timedelta(0), update_every=H),
        [("update", T0 + 110 * MIN)],
    ),
]


@pytest.mark.parametrize(("fields", "severity", "owed"), DUES)
def test_what_an_incident_owes(
    fields: dict[str, Any], severity: IncidentSeverity | None, owed: list[tuple[str, datetime]]
) -> None:
    assert [(d.kind, d.at) for d in dues(opened(**fields), severity, T0 + 2 * H)] == owed


def test_reminder_alerts() -> None:
    owed = dues(opened(roles={"commander": "bob"}), SEV1, T0)
    assert reminder_alerts(opened(), owed, T0 + 14 * MIN, "http://t", {}) == []  # not yet
    (alert,) = reminder_alerts(opened(), owed, T0 + 20 * MIN, "http://t", {"team": "sre"})
    assert alert.labels == {
        "severity": "warning",
        "team": "sre",
        "alertname": "IncidentUpdateOverdue",
        "incident": "4",
        "incident_severity": "SEV1",
    }
    assert alert.starts_at == T0 + 15 * MIN  # from when it fell due, on every replica
    assert alert.generator_url == "http://t/ui/incidents/4"
    assert alert.annotations["summary"].startswith("Incident #4 (SEV1, Checkout failing) owes")
    pm = dues(opened(status="resolved", resolved_at=T0), SEV1, T0)
    (late,) = reminder_alerts(opened(), pm, T0 + 49 * H, "", {"severity": "page"})
    assert late.labels["alertname"] == "IncidentPostmortemOverdue"
    assert late.labels["severity"] == "page"  # the config's labels win over the default


# (open incidents' severities, the page's word)
PAGE = [
    ([], "operational"),
    (["SEV3"], "degraded_performance"),
    (["SEV2", "SEV3"], "partial_outage"),
    (["SEV3", "SEV1"], "major_outage"),
    (["GONE"], "degraded_performance"),  # a severity no longer configured: the least
]


@pytest.mark.parametrize(("severities", "word"), PAGE)
def test_the_status_page_word(severities: list[str], word: str) -> None:
    shown = [opened(severity=s) for s in severities]
    shown.append(opened(severity="SEV1", status="resolved"))  # a resolved one never counts
    assert page_status(shown, RULES) == word


def test_a_component_s_word_is_that_of_the_incidents_affecting_it() -> None:
    shown = [
        opened(severity="SEV2", components=("API",)),
        opened(severity="SEV3", components=("API", "Checkout")),
        opened(severity="SEV1"),  # affects no listed component: the page's word only
        opened(severity="SEV1", components=("Checkout",), status="resolved"),
    ]
    assert page_status(shown, RULES) == "major_outage"
    assert page_status(shown, RULES, "API") == "partial_outage"
    assert page_status(shown, RULES, "Checkout") == "degraded_performance"
    assert page_status(shown, RULES, "Search") == "operational"


def test_the_post_mortem_draft() -> None:
    incident, entries = declare("Checkout | failing", "SEV1", "ann", T0, RULES, groups=["g1"])
    incident, more = decide(incident, Change(status="resolved"), "bob", T0 + 95 * MIN, RULES)
    text = draft(incident, entries + more, T0 + 5 * H, RULES)
    assert text.startswith("# Post-mortem: Checkout | failing (incident #0)\n")
    assert "- **Resolved:** 2026-12-07T04:35:00.000Z (after 1h 35m)" in text
    assert "- **Commander:** ann" in text
    assert "- **Alert groups:** g1" in text
    assert "| 2026-12-07 03:00:00 | ann | declared SEV1: Checkout \\| failing |" in text
    # a private incident's public lines are not said to be on the status page
    assert "| 2026-12-07 04:35:00 | bob | resolved |" in text
    public = draft(replace(incident, public=True), entries + more, T0 + 5 * H, RULES)
    assert "| 2026-12-07 04:35:00 | bob | resolved (status page) |" in public
    for heading in ("Summary", "Root cause", "Action items", "Timeline (UTC)"):
        assert f"\n## {heading}\n" in text
    still_open = draft(opened(), [], T0 + 26 * H, RULES)
    assert "- **Status:** investigating (open for 1d 2h 0m so far)" in still_open


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=33), "33s"),  # not "0m", as if it took no time
        (MIN, "1m"),
        (59 * MIN, "59m"),
        (H, "1h 0m"),
        (timedelta(days=2, minutes=5), "2d 5m"),
    ],
)
def test_duration_text(span: timedelta, text: str) -> None:
    assert duration_text(span) == text


names = st.text(
    alphabet=st.characters(blacklist_characters="=\n\r", blacklist_categories=["Cs"]), min_size=1
)


@given(
    role=names.filter(lambda r: r.strip() != ""),
    person=st.text(alphabet=st.characters(blacklist_categories=["Cs"])),
)
def test_role_options_parse(role: str, person: str) -> None:
    assert parse_roles([f"{role}={person}"]) == {role.strip(): person.strip()}


@pytest.mark.parametrize("bad", ["ann", "=ann", " =ann"])
def test_a_role_option_without_a_role_is_a_usage_error(bad: str) -> None:
    with pytest.raises(typer.Exit) as stopped:
        parse_roles([bad])
    assert stopped.value.exit_code == 2


HEAD = "route:\n  receiver: x\nreceivers:\n  - name: x\ntocsin:\n  incidents:\n"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("    roles: [lead]\n", None),
        ("    severities: []\n", "7: tocsin.incidents.severities: at least one severity"),
        ("    severities:\n      - {description: x}\n", "8: tocsin.incidents.severities[0].name: "),
        ("    severities:\n      - {name: P 1}\n", "8: tocsin.incidents.severities[0].name: "),
        (
            "    severities:\n      - {name: P1}\n      - {name: P1}\n",
            "9: tocsin.incidents.severities[1].name: duplicate 'P1'",
        ),
        (
            "    severities:\n      - {name: P1, update_every: -1m}\n",
            "8: tocsin.incidents.severities[0].update_every: ",
        ),
        (
            "    severities:\n      - {name: P1, postmortem_within: 2 days}\n",
            "8: tocsin.incidents.severities[0].postmortem_within: ",
        ),
        ("    roles: [lead, lead]\n", "7: tocsin.incidents.roles[1]: duplicate 'lead'"),
        ("    roles: ['a b']\n", "7: tocsin.incidents.roles[0]: letters, digits"),
        ("    components: [API, API]\n", "7: tocsin.incidents.components[1]: duplicate 'API'"),
        ("    components: [' API']\n", "7: tocsin.incidents.components[0]: a name"),
        ("    labels: {incident: x}\n", "7: tocsin.incidents.labels.incident: set by Tocsin"),
        ("    status_page: x\n", "7: tocsin.incidents.status_page: unknown"),
        ("    maintenance_notice: 2 days\n", "7: tocsin.incidents.maintenance_notice: "),
        ("    maintenance_notice: -1h\n", "7: tocsin.incidents.maintenance_notice: "),
        ("    announce: [x, nope]\n", "7: tocsin.incidents.announce[1]: undefined receiver 'nope'"),
        (
            "    severities:\n      - {name: P1, announce: [nope]}\n",
            "8: tocsin.incidents.severities[0].announce[0]: undefined receiver 'nope'",
        ),
    ],
)
def test_check_config_names_file_line_and_key(
    tmp_path: Path, section: str, problem: str | None
) -> None:
    path = tmp_path / "am.yml"
    path.write_text(HEAD + section)
    if problem is None:
        loaded = load_config(path).tocsin.incidents
        assert loaded.roles == ("lead",)
        assert [s.name for s in loaded.severities] == ["SEV1", "SEV2", "SEV3"]  # the default
        return
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert f"{path}:{problem}" in str(raised.value), str(raised.value)


def test_announcements() -> None:
    incident, entries = declare("Checkout failing", "SEV1", "ann", T0, RULES)
    assert [e.kind for e in news(entries)] == ["declared"]  # a role is not news
    later = T0 + H
    done, more = decide(
        incident, Change(status="resolved", update="Fixed", note="x"), "bob", later, RULES
    )
    said = news(more)
    assert [e.kind for e in said] == ["status", "update"]
    note = announcement(done, said, "ops", "http://t", later, 0, "k2")
    (alert,) = note.alerts
    assert note.status == "resolved"  # resolved with the incident
    assert note.news  # sent where send_resolved is false too
    assert alert.labels == {
        "alertname": "Incident",
        "incident": "0",
        "incident_severity": "SEV1",
        "severity": "critical",  # the most severe: a word receivers' templates take
    }
    # what changed in the summary, the update's words once, in the description
    assert alert.annotations["summary"] == (
        "Incident #0 (SEV1): Checkout failing: resolved; status-page update"
    )
    assert alert.annotations["description"] == "Resolved: Fixed\ncommander ann"
    assert (note.receiver, note.group_key) == ("ops", "incident:0")
    # "View in Tocsin" opens the incident's page
    assert note.group_labels == {"alertname": "Incident", "incident": "0"}
    assert note.extra_for(alert) == {"console_url": "http://t/ui/incidents/0"}
    still = announcement(incident, news(entries), "ops", "http://t", T0, 2, "k1")
    assert (
        still.alerts[0].annotations["summary"] == "Incident #0 (SEV1): Checkout failing: declared"
    )
    assert still.status == "firing"
    said_so, first = declare("Checkout failing", "SEV1", "ann", T0, RULES, summary="Carts fail")
    told = announcement(said_so, news(first), "ops", "http://t", T0, 0, "k0")
    assert told.alerts[0].annotations["description"] == "Carts fail\ncommander ann"
    assert "impact" not in told.alerts[0].annotations  # the summary, said once
    (firing,) = still.alerts
    assert firing.labels["severity"] == "warning"
    assert firing.timeout  # no end of its own: a webhook shows Alertmanager's zero time
    assert (still.idempotency_key, note.idempotency_key) == (
        "incident/0/ops/k1",
        "incident/0/ops/k2",
    )


def test_the_draft_s_key_times_come_from_the_linked_groups() -> None:
    incident, entries = declare("Checkout failing", "SEV1", "ann", T0 + 10 * MIN, RULES)
    incident, more = decide(incident, Change(status="resolved"), "bob", T0 + 70 * MIN, RULES)

    def line(at: datetime, action: str) -> Entry:
        return Entry(at, "tocsin", "group", f"alert group g: {action}", group="g", action=action)

    story = [line(T0, "opened"), line(T0 + 4 * MIN, "acknowledged"), *entries, *more]
    text = draft(incident, story, T0 + 2 * H, RULES)
    assert "- **Time to acknowledge:** 4m\n" in text
    assert "- **Time to declare:** 10m\n" in text
    assert "- **Time to resolve:** 1h 10m (from the first page)\n" in text
    # no group opened: no key times (nothing to count from)
    assert "Time to" not in draft(incident, [*entries, *more], T0 + 2 * H, RULES)
    # declared before its group opened: no time to declare
    later = [line(T0 + 20 * MIN, "opened"), *entries, *more]
    assert "Time to declare" not in draft(incident, later, T0 + 2 * H, RULES)


ALERTING = IncidentSeverity("SEV1", alert=True)

# (the incident's fields, its severity, its rank, config labels, the alert's labels)
OPEN_ROWS: list[
    tuple[dict[str, Any], IncidentSeverity | None, int, dict[str, str], dict[str, str] | None]
] = [
    ({}, ALERTING, 0, {}, {"severity": "critical", "alertname": "IncidentOpen"}),
    ({}, ALERTING, 1, {}, {"severity": "warning", "alertname": "IncidentOpen"}),
    (
        {},
        ALERTING,
        0,
        {"severity": "page", "team": "sre"},
        {"severity": "page", "team": "sre", "alertname": "IncidentOpen"},
    ),
    ({}, SEV1, 0, {}, None),  # its severity raises none
    ({}, None, 0, {}, None),  # a severity no longer configured
    ({"status": "resolved", "resolved_at": T0}, ALERTING, 0, {}, None),  # resolved: none
]


@pytest.mark.parametrize(("fields", "severity", "rank", "labels", "raised"), OPEN_ROWS)
def test_the_open_incident_alert(
    fields: dict[str, Any],
    severity: IncidentSeverity | None,
    rank: int,
    labels: dict[str, str],
    raised: dict[str, str] | None,
) -> None:
    alert = open_alert(opened(**fields), severity, rank, T0 + H, "http://t", labels)
    if raised is None:
        assert alert is None
        return
    assert alert is not None
    assert alert.labels == {**raised, "incident": "4", "incident_severity": "SEV1"}
    assert alert.starts_at == T0  # from its declaration, on every replica
    assert alert.generator_url == "http://t/ui/incidents/4"
