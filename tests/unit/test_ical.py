"""iCalendar feeds (RFC 5545): structure, CRLF, 75-octet folding that keeps UTF-8
characters whole, TEXT escaping, stable UIDs, summaries that say who is on call, whole
shifts at a feed window's edges, and a reading back through a small unfolding parser
written here (not the code under test)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tocsin.oncall.ical import person_ics, schedule_ics, shift_uid, whole_shifts
from tocsin.oncall.schedules import Layer, Schedule, Shift, shifts

STAMP = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def shift(person: str, start: datetime, end: datetime, layer: str = "weekly") -> Shift:
    return Shift(person, start, end, layer, "rotation")


def unfold(text: str) -> list[str]:
    """RFC 5545 section 3.1: a CRLF followed by one space or tab is removed."""
    assert text.endswith("\r\n")
    return re.sub(r"\r\n[ \t]", "", text)[:-2].split("\r\n")


def events(text: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in unfold(text):
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            found.append(current)
            current = None
        elif current is not None:
            current[name] = value
    return found


def instant(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def test_whole_calendar() -> None:
    text = schedule_ics(
        "primary",
        [
            shift("alice", z(2026, 3, 2, 8), z(2026, 3, 9, 8)),
            Shift("bob", z(2026, 3, 9, 8), z(2026, 3, 9, 12, 30, 15), "o-7", "override"),
        ],
        dtstamp=STAMP,
    )
    lines = text.split("\r\n")
    uids = [line for line in lines if line.startswith("UID:")]
    assert all(re.fullmatch(r"UID:[0-9a-f]{32}@tocsin", uid) for uid in uids)
    assert [line for line in lines if not line.startswith("UID:")] == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Tocsin//On-call schedules//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:On call: primary",
        "BEGIN:VEVENT",
        "DTSTAMP:20260301T120000Z",
        "DTSTART:20260302T080000Z",
        "DTEND:20260309T080000Z",
        "SUMMARY:alice on call (primary)",
        "DESCRIPTION:alice (layer weekly)",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "DTSTAMP:20260301T120000Z",
        "DTSTART:20260309T080000Z",
        "DTEND:20260309T123015Z",
        "SUMMARY:bob on call (primary)",
        "DESCRIPTION:bob (override)",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
        "END:VCALENDAR",
        "",  # the last line ends with CRLF too
    ]
    assert len(uids) == 2
    assert uids[0] != uids[1]


def test_every_line_ends_with_crlf() -> None:
    text = schedule_ics("a\nb", [shift("alice", z(2026, 3, 2), z(2026, 3, 3))], dtstamp=STAMP)
    assert "\n" in text
    assert text.count("\n") == text.count("\r\n")
    assert text.count("\r") == text.count("\r\n")


def test_folding_at_75_octets_keeps_multibyte_characters_whole() -> None:
    # "SUMMARY:On call: " is 17 octets; 57 x make 74, and "é" (2 octets) would make 76,
    # so the fold comes before it. A continuation line is one space plus 74 octets.
    name = "x" * 57 + "ééé" + "y" * 80
    text = person_ics(
        "alice", {name: [shift("alice", z(2026, 3, 2), z(2026, 3, 3))]}, dtstamp=STAMP
    )
    physical = text.split("\r\n")
    start = physical.index("SUMMARY:On call: " + "x" * 57)
    assert physical[start + 1] == " ééé" + "y" * 68
    assert physical[start + 2] == " " + "y" * 12
    assert len(physical[start].encode()) == 74
    assert len(physical[start + 1].encode()) == 75
    assert all(len(line.encode()) <= 75 for line in physical)
    assert events(text)[0]["SUMMARY"] == "On call: " + name


def test_folding_an_exactly_full_line_and_four_byte_characters() -> None:
    # 17 + 58 = 75 octets fill the first line; the emoji (4 octets) goes on the next.
    name = "x" * 58 + "🔥" * 20
    text = person_ics(
        "alice", {name: [shift("alice", z(2026, 3, 2), z(2026, 3, 3))]}, dtstamp=STAMP
    )
    physical = text.split("\r\n")
    start = physical.index("SUMMARY:On call: " + "x" * 58)
    assert physical[start + 1] == " " + "🔥" * 18  # 1 + 72 octets; a 19th would be 77
    assert physical[start + 2] == " " + "🔥" * 2
    assert events(text)[0]["SUMMARY"] == "On call: " + name


def test_text_values_are_escaped() -> None:
    name = "db, eu; \\primary\nnight\r\nshift"
    text = schedule_ics(name, [shift("alice", z(2026, 3, 2), z(2026, 3, 3))], dtstamp=STAMP)
    escaped = "db\\, eu\\; \\\\primary\\nnight\\nshift"
    assert f"X-WR-CALNAME:On call: {escaped}\r\n" in text
    assert events(text)[0]["SUMMARY"] == f"alice on call ({escaped})"


def test_a_schedule_s_events_say_who_is_on_call() -> None:
    """A calendar grid shows an event's summary: each names its person."""
    text = schedule_ics(
        "primary",
        [
            shift("alice", z(2026, 3, 2, 8), z(2026, 3, 9, 8)),
            shift("bob", z(2026, 3, 9, 8), z(2026, 3, 16, 8)),
        ],
        dtstamp=STAMP,
    )
    assert [e["SUMMARY"] for e in events(text)] == [
        "alice on call (primary)",
        "bob on call (primary)",
    ]


def test_uids_are_stable_for_the_same_shift() -> None:
    base = shift("alice", z(2026, 3, 2, 8), z(2026, 3, 9, 8))
    first = events(schedule_ics("primary", [base], dtstamp=STAMP))[0]["UID"]
    later = events(schedule_ics("primary", [base], dtstamp=z(2026, 3, 5)))[0]["UID"]
    longer = shift("alice", z(2026, 3, 2, 8), z(2026, 3, 10, 8))
    assert first == later == shift_uid("primary", longer)  # an end that moved: same event
    assert first != shift_uid("secondary", base)
    assert first != shift_uid("primary", shift("bob", z(2026, 3, 2, 8), z(2026, 3, 9, 8)))
    assert first != shift_uid("primary", shift("alice", z(2026, 3, 2, 9), z(2026, 3, 9, 8)))


def test_reading_back_dtstart_and_dtend_of_shifts_in_any_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    given = [
        shift(
            "alice",
            datetime(2026, 3, 28, 9, tzinfo=berlin),
            datetime(2026, 3, 29, 9, tzinfo=berlin),
        ),
        shift("bob", z(2026, 3, 29, 7), z(2026, 3, 30, 7)),
    ]
    found = events(schedule_ics("primary", given, dtstamp=STAMP))
    assert [(instant(e["DTSTART"]), instant(e["DTEND"])) for e in found] == [
        (z(2026, 3, 28, 8), z(2026, 3, 29, 7)),  # 09:00 CET to 09:00 CEST
        (z(2026, 3, 29, 7), z(2026, 3, 30, 7)),
    ]


def test_person_calendar_takes_their_shifts_from_every_schedule() -> None:
    text = person_ics(
        "alice",
        {
            "primary": [
                shift("bob", z(2026, 3, 1), z(2026, 3, 2)),
                shift("alice", z(2026, 3, 2), z(2026, 3, 3)),
            ],
            "database": [shift("alice", z(2026, 3, 1, 12), z(2026, 3, 1, 18))],
        },
        dtstamp=STAMP,
    )
    assert "X-WR-CALNAME:On call: alice\r\n" in text
    found = events(text)
    assert [(e["SUMMARY"], e["DTSTART"], e["DTEND"]) for e in found] == [
        ("On call: database", "20260301T120000Z", "20260301T180000Z"),
        ("On call: primary", "20260302T000000Z", "20260303T000000Z"),
    ]
    assert all(e["DTSTAMP"] == "20260301T120000Z" for e in found)


BERLIN_WEEKLY = Schedule(
    "primary",
    ZoneInfo("Europe/Berlin"),
    (Layer("weekly", ("alice", "bob"), date(2026, 1, 5), "weekly", time(9), 0),),
)


def weekly(start: datetime, end: datetime) -> list[Shift]:
    """Alice and bob take weeks from Monday 09:00 Berlin (08:00Z in winter)."""
    return shifts(BERLIN_WEEKLY, [], start, end)


def test_whole_shifts_keep_their_real_start_and_end_at_the_window_s_edges() -> None:
    """A feed's window moves with each download (now - 7 days to now + 90 days): its
    first and last shifts are given whole, not cut where the window happens to be."""
    found = whole_shifts(weekly, z(2026, 3, 4, 12), z(2026, 3, 18, 12))
    assert [(s.person, s.start, s.end) for s in found] == [
        ("alice", z(2026, 3, 2, 8), z(2026, 3, 9, 8)),
        ("bob", z(2026, 3, 9, 8), z(2026, 3, 16, 8)),
        ("alice", z(2026, 3, 16, 8), z(2026, 3, 23, 8)),
    ]


def test_a_window_inside_one_shift_gives_that_shift_whole() -> None:
    found = whole_shifts(weekly, z(2026, 3, 3), z(2026, 3, 4))
    assert [(s.person, s.start, s.end) for s in found] == [
        ("alice", z(2026, 3, 2, 8), z(2026, 3, 9, 8)),
    ]
    assert whole_shifts(weekly, z(2025, 1, 1), z(2025, 2, 1)) == []  # before the layer


def test_a_feed_downloaded_later_has_the_same_events() -> None:
    """Two downloads a day apart, both windows inside the same first and last shifts:
    the same events, with the same starts and UIDs (only DTSTAMP moves)."""

    def feed(now: datetime) -> list[dict[str, str]]:
        found = whole_shifts(weekly, now - timedelta(days=7), now + timedelta(days=90))
        return [
            {k: v for k, v in e.items() if k != "DTSTAMP"}
            for e in events(schedule_ics("primary", found, dtstamp=now))
        ]

    first, later = feed(z(2026, 3, 4, 12)), feed(z(2026, 3, 5, 12))
    assert first == later
    assert (first[0]["DTSTART"], first[0]["SUMMARY"]) == (
        "20260223T080000Z",
        "bob on call (primary)",
    )
    assert first[-1]["DTEND"] == "20260608T070000Z"  # Monday 09:00 CEST


def test_empty_calendar_is_still_a_calendar() -> None:
    text = schedule_ics("primary", [], dtstamp=STAMP)
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    assert "BEGIN:VEVENT" not in text
