"""Maintenance windows, pure (``tocsin.incidents.maintenance``): one row per rule of
their states, of scheduling and changing one, of the silence they make, and of what
the status page shows and says."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tocsin.alerts.matchers import parse_matcher
from tocsin.core import maintenance_ops
from tocsin.incidents import announce, feed, statuspage
from tocsin.incidents.maintenance import (
    CANCELLED,
    COMPLETED,
    IN_PROGRESS,
    SCHEDULED,
    UNDER_MAINTENANCE,
    Maintenance,
    Plan,
    change,
    edge,
    next_edge,
    page_word,
    schedule,
    shown,
    silence_of,
    told,
    under_maintenance,
)
from tocsin.incidents.model import Entry, Incident, Refused

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
KNOWN = ("API", "Search")


def window(**changes: Any) -> Maintenance:
    m = Maintenance(1, "DB upgrade", T0 + H, T0 + 3 * H, "alice", T0, components=("API",))
    return replace(m, **changes)


@pytest.mark.parametrize(
    ("m", "at", "state"),
    [
        (window(), T0, SCHEDULED),  # before its start
        (window(), T0 + H, IN_PROGRESS),  # from its start
        (window(), T0 + 3 * H - timedelta(microseconds=1), IN_PROGRESS),
        (window(), T0 + 3 * H, COMPLETED),  # from its end
        (window(cancelled_at=T0), T0 + 2 * H, CANCELLED),  # cancelled wins over the time
    ],
)
def test_state(m: Maintenance, at: datetime, state: str) -> None:
    assert m.state(at) == state


@pytest.mark.parametrize(
    ("title", "starts", "ends", "components", "by", "field"),
    [
        ("", T0 + H, T0 + 2 * H, (), "alice", "title"),
        ("two\nlines", T0 + H, T0 + 2 * H, (), "alice", "title"),
        ("ok", T0 + H, T0 + H, (), "alice", "endsAt"),  # empty window
        ("ok", T0 + 2 * H, T0 + H, (), "alice", "endsAt"),  # ends before it starts
        ("ok", T0 - 2 * H, T0 - H, (), "alice", "endsAt"),  # over already
        ("ok", T0 + H, T0 + 2 * H, ("API", "Nope"), "alice", "components[1]"),
        ("ok", T0 + H, T0 + 2 * H, (), " ", "createdBy"),
    ],
)
def test_schedule_refuses_naming_the_field(
    title: str,
    starts: datetime,
    ends: datetime,
    components: tuple[str, ...],
    by: str,
    field: str,
) -> None:
    with pytest.raises(Refused) as caught:
        schedule(title, starts, ends, by, T0, KNOWN, components=components)
    assert caught.value.field == field


def test_schedule_takes_a_window_that_started_already() -> None:
    """ "I forgot to schedule it": a window that began before it was scheduled."""
    m = schedule("late", T0 - H, T0 + H, "alice", T0, KNOWN)
    assert (m.state(T0), m.notice()) == (IN_PROGRESS, timedelta(0))
    assert schedule("ok", T0 + 48 * H, T0 + 50 * H, "a", T0, KNOWN).notice() == 48 * H


@pytest.mark.parametrize(
    ("at", "plan", "expected"),
    [
        # a scheduled window may move, retitle, change what it affects or hide
        (T0, Plan(starts_at=T0 + 2 * H), window(starts_at=T0 + 2 * H)),
        (T0, Plan(title="New", public=False), window(title="New", public=False)),
        (T0, Plan(components=()), window(components=())),
        # cancelled before it starts, or while it runs
        # (the change that ends it announces its end: nothing left for the loop)
        (T0, Plan(state=CANCELLED), window(cancelled_at=T0, told_start=True, told_end=True)),
        (
            T0 + 2 * H,
            Plan(state=CANCELLED),
            window(cancelled_at=T0 + 2 * H, told_start=True, told_end=True),
        ),
        # a running window may end later (it runs over) or sooner
        # (a change while it runs says it has begun: the loop will not say it again)
        (T0 + 2 * H, Plan(ends_at=T0 + 4 * H), window(ends_at=T0 + 4 * H, told_start=True)),
        # extended: from the end it has when the change is made
        (T0 + 2 * H, Plan(extend_by=H), window(ends_at=T0 + 4 * H, told_start=True)),
        # finished early: it ends now
        (
            T0 + 2 * H,
            Plan(state=COMPLETED),
            window(ends_at=T0 + 2 * H, told_start=True, told_end=True),
        ),
        # over, and published by mistake: it may still be taken off the page
        (T0 + 4 * H, Plan(public=False), window(public=False)),
        (
            T0 + 2 * H,
            Plan(description="two\nlines"),
            window(description="two\nlines", told_start=True),
        ),
        # moved to start now: its rescheduling says so
        (T0, Plan(starts_at=T0), window(starts_at=T0, told_start=True)),
        # what it silences, in its place
        (T0, Plan(matchers=(parse_matcher("a=b"),)), window(matchers=(parse_matcher("a=b"),))),
    ],
)
def test_change(at: datetime, plan: Plan, expected: Maintenance) -> None:
    changed = change(window(), plan, at, KNOWN)
    assert changed.updated_at == at  # its last change, for the page's updated_at
    assert replace(changed, updated_at=None) == expected


@pytest.mark.parametrize(
    ("m", "at", "plan", "field"),
    [
        (window(), T0 + 3 * H, Plan(title="x"), "state"),  # completed: history
        (window(cancelled_at=T0), T0, Plan(title="x"), "state"),  # cancelled: history
        (window(), T0 + 2 * H, Plan(starts_at=T0 + 90 * timedelta(minutes=1)), "startsAt"),
        (window(), T0, Plan(state=COMPLETED), "state"),  # not started: cancel it instead
        (window(), T0, Plan(state="paused"), "state"),
        (window(), T0, Plan(ends_at=T0 + H), "endsAt"),  # empty
        (window(), T0 + 2 * H, Plan(ends_at=T0 + H + timedelta(minutes=30)), "endsAt"),  # past
        (window(), T0, Plan(components=("Nope",)), "components[0]"),
        (window(), T0 + 2 * H, Plan(extend_by=-2 * H), "endsAt"),  # "extended" into the past
        (window(), T0, Plan(title=""), "title"),
        (window(), T0, Plan(title="a\rb"), "title"),  # any control character
        (window(), T0, Plan(description="nul\x00"), "description"),
        # a cancellation or an early finish checks the rest of what the change says
        (window(), T0, Plan(state=CANCELLED, title=" "), "title"),
        (window(), T0 + 2 * H, Plan(state=COMPLETED, components=("Nope",)), "components[0]"),
        (window(), T0, Plan(ends_at=T0 + 5 * H, extend_by=H), "extendBy"),
        (window(ends_at=datetime.max.replace(tzinfo=UTC)), T0, Plan(extend_by=H), "extendBy"),
        # history, but for being taken off the page: nothing else
        (window(), T0 + 4 * H, Plan(public=False, title="x"), "state"),
    ],
)
def test_change_refuses_naming_the_field(
    m: Maintenance, at: datetime, plan: Plan, field: str
) -> None:
    with pytest.raises(Refused) as caught:
        change(m, plan, at, KNOWN)
    assert caught.value.field == field


def test_the_silence_covers_exactly_the_window() -> None:
    assert silence_of(window()) is None  # no matchers: the status page only
    matcher = parse_matcher('service="orchestrator"')
    s = silence_of(window(id=7, matchers=(matcher,), silence_id="abc"))
    assert s is not None
    assert (s.id, s.matchers, s.starts_at, s.ends_at) == ("abc", (matcher,), T0 + H, T0 + 3 * H)
    assert (s.created_by, s.comment) == ("alice", "maintenance #7: DB upgrade")


def test_what_the_status_page_shows() -> None:
    running = window(id=1)
    later = window(id=2, starts_at=T0 + 5 * H, ends_at=T0 + 6 * H, components=("Search",))
    hidden = window(id=3, public=False, components=("Search",))
    called_off = window(id=4, cancelled_at=T0)
    done_lately = window(id=5, starts_at=T0 - 5 * H, ends_at=T0 - H)
    done_long_ago = window(id=6, starts_at=T0 - 10 * 24 * H, ends_at=T0 - 9 * 24 * H)
    found = [later, hidden, running, called_off, done_lately, done_long_ago]
    now = T0 + 2 * H
    assert [m.id for m in shown(found, now, timedelta(days=7))] == [5, 1, 2]
    # only the running public windows' components: not the hidden one's, not the later one's
    assert under_maintenance(found, now) == {"API"}


@pytest.mark.parametrize(
    ("incidents_say", "under", "word"),
    [
        ("operational", False, "operational"),
        ("operational", True, UNDER_MAINTENANCE),
        # an incident says more than a maintenance: an outage during it is an outage
        ("partial_outage", True, "partial_outage"),
        ("major_outage", False, "major_outage"),
    ],
)
def test_page_word(incidents_say: str, under: bool, word: str) -> None:
    assert page_word(incidents_say, under) == word


def test_the_feed_announces_each_window_when_scheduled() -> None:
    m = window(description="Read-only for up to 2 hours", created_at=T0 - H)
    body = feed.atom("Status", "http://x/status", "http://x/status/feed.atom", [], T0, [m])
    text = body.decode()
    assert "<title>Scheduled maintenance: DB upgrade</title>" in text
    assert "From 2026-12-07T13:00:00.000Z to 2026-12-07T15:00:00.000Z, affecting API." in text
    assert "Read-only for up to 2 hours" in text
    assert "<updated>2026-12-07T11:00:00.000Z</updated>" in text
    # the same window gives the same entry id wherever the feed is read
    again = feed.atom("Other", "http://y/status", "http://y/feed", [], T0 + H, [m]).decode()
    entry_id = text.split("<entry>")[1].split("<id>")[1].split("</id>")[0]
    assert entry_id in again
    # changed (extended, or started: updated_at moves), the entry is updated, not added
    extended = replace(m, ends_at=m.ends_at + H, updated_at=T0 + H)
    later = feed.atom("Status", "http://x/status", "http://x/f", [], T0 + H, [extended]).decode()
    assert later.count("<entry>") == 1
    assert entry_id in later
    assert "<title>Maintenance in progress: DB upgrade</title>" in later
    assert "<updated>2026-12-07T13:00:00.000Z</updated>" in later
    assert "to 2026-12-07T16:00:00.000Z" in later


@pytest.mark.parametrize(
    ("kind", "text", "status", "body"),
    [
        ("update", "Identified: A bad index", "identified", "A bad index"),
        ("update", "Monitoring: fixed: watching", "monitoring", "fixed: watching"),  # one split
        ("status", "resolved", "resolved", "resolved"),
        ("status", "status: monitoring", "monitoring", "status: monitoring"),
        ("status", "reopened: investigating", "investigating", "reopened: investigating"),
    ],
)
def test_statuspage_updates(kind: str, text: str, status: str, body: str) -> None:
    """A public timeline line as a Statuspage incident update: the status it was
    written under, and its words without that status."""
    line = Entry(T0, "ann", kind, text, public=True)
    i = Incident(1, "Search slow", "SEV2", "identified", T0, "ann", public=True)
    (update,) = statuspage.incident(i, [line], "partial_outage")["incident_updates"]
    assert (update["status"], update["body"]) == (status, body)


@pytest.mark.parametrize(
    ("after", "at", "said"),
    [
        (window(cancelled_at=T0), T0, "cancelled"),
        (window(ends_at=T0 + 2 * H), T0 + 2 * H, "finished"),  # finished early, now
        (window(ends_at=T0 + 4 * H), T0, "new end"),  # extended or shortened
        (window(starts_at=T0 + 2 * H, ends_at=T0 + 4 * H), T0, "rescheduled"),
        (window(title="Bigger upgrade"), T0, "updated"),
        # made private: those told hear once more that it is off
        (window(public=False), T0, "withdrawn from the status page"),
    ],
)
def test_what_a_change_announces(after: Maintenance, at: datetime, said: str) -> None:
    assert maintenance_ops.news(window(), after, at) == said


def test_an_announcement_fires_until_the_window_ends() -> None:
    m = window(id=3, description="Read-only")
    note = announce.maintenance_notice(m, "scheduled", "ops", "http://x", T0, "k1")
    (alert,) = note.alerts
    assert (note.firing, note.news, note.idempotency_key) == (
        (alert,),
        True,
        "maintenance/3/ops/k1",
    )
    assert (alert.ends_at, alert.annotations["affects"]) == (T0 + 3 * H, "API")
    called_off = announce.maintenance_notice(
        replace(m, cancelled_at=T0), "cancelled", "ops", "http://x", T0, "k2"
    )
    assert called_off.resolved == called_off.alerts  # resolved at once
    withdrawn = announce.maintenance_notice(
        replace(m, public=False), "withdrawn from the status page", "ops", "http://x", T0, "k3"
    )
    assert withdrawn.resolved == withdrawn.alerts


@pytest.mark.parametrize(
    ("m", "at", "said", "next_at"),
    [
        (window(), T0, None, T0 + H),  # before its start: its start is next
        (window(), T0 + H, "started", T0 + H),
        (window(told_start=True), T0 + 2 * H, None, T0 + 3 * H),  # then its end
        (window(told_start=True), T0 + 3 * H, "completed", T0 + 3 * H),
        # both passed unannounced (a short window, a loop late): only its end
        (window(), T0 + 4 * H, "completed", T0 + H),
        (window(told_start=True, told_end=True), T0 + 4 * H, None, None),  # all told
        (window(public=False), T0 + H, None, None),  # private: no one is told
        (window(cancelled_at=T0), T0 + H, None, None),
    ],
)
def test_edges_to_announce(
    m: Maintenance, at: datetime, said: str | None, next_at: datetime | None
) -> None:
    assert (edge(m, at), next_edge(m)) == (said, next_at)
    if said is not None:
        after = told(m, said, at)
        assert after.updated_at == at
        assert edge(after, at) is None  # told once
        assert after.told_end == (said == "completed")


def test_a_window_scheduled_after_its_start_has_told_its_start() -> None:
    late = schedule("late", T0 - H, T0 + H, "alice", T0, KNOWN)
    assert (late.told_start, edge(late, T0)) == (True, None)
