"""The console's pure parts: times as a responder reads them, the cross-site guard, the
silence form (one row per rule), and what the silences and groups pages list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.matchers import MatchType, parse_matchers
from tocsin.alerts.model import Alert, AlertState
from tocsin.alerts.mutes import AlertStatus
from tocsin.alerts.silences import Silence
from tocsin.api.site_guard import cross_site
from tocsin.core.alert_store import AlertView
from tocsin.store.oncall_rows import OncallGroupRow
from tocsin.timeutil import to_micros
from tocsin.web.forms import FormError, SilenceForm, matchers_text, parse_form, wall_clock
from tocsin.web.pages import group_rows, silences
from tocsin.web.render import relative, span

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=40), "40s"),
        (timedelta(minutes=5, seconds=3), "5m 3s"),
        (timedelta(hours=2, minutes=5, seconds=9), "2h 5m"),  # two largest units only
        (timedelta(days=3, hours=1), "3d 1h"),
        (timedelta(days=1, seconds=5), "1d 5s"),  # an empty unit in between is skipped
        (-timedelta(minutes=1), "1m"),  # the sign is relative()'s business
    ],
)
def test_span(delta: timedelta, shown: str) -> None:
    assert span(delta) == shown


@pytest.mark.parametrize(
    ("offset", "shown"),
    [
        (timedelta(minutes=-5), "5m ago"),
        (timedelta(hours=2, minutes=30), "in 2h 30m"),
        (timedelta(milliseconds=400), "now"),
        (timedelta(milliseconds=-999), "now"),
    ],
)
def test_relative(offset: timedelta, shown: str) -> None:
    assert relative(NOW + offset, NOW) == shown


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({}, False),  # curl, a script: not a browser tricked into posting
        ({"sec-fetch-site": "same-origin", "origin": "http://t:9093", "host": "t:9093"}, False),
        ({"sec-fetch-site": "none"}, False),  # typed by the user
        ({"origin": "http://t:9093", "host": "t:9093"}, False),  # an older browser
        ({"sec-fetch-site": "cross-site", "origin": "http://evil", "host": "t:9093"}, True),
        ({"sec-fetch-site": "same-site", "host": "t:9093"}, True),  # a sibling subdomain
        ({"origin": "http://evil.example", "host": "t:9093"}, True),
        ({"origin": "http://t:9094", "host": "t:9093"}, True),  # another port, another site
        ({"origin": "null", "host": "t:9093"}, True),  # a sandboxed frame or a data: URL
        # behind a proxy that rewrites Host (nginx's $proxy_host): the browser's word
        (
            {"sec-fetch-site": "same-origin", "origin": "https://alerts.example", "host": "t:9093"},
            False,
        ),
    ],
)
def test_cross_site(headers: dict[str, str], refused: bool) -> None:
    why = cross_site(headers.get("sec-fetch-site"), headers.get("origin"), headers.get("host", ""))
    assert (why is not None) is refused


def test_parse_form_keeps_blanks_and_the_last_of_a_repeated_field() -> None:
    assert parse_form(b"a=1&a=2&b=&c=x+y%21") == {"a": "2", "b": "", "c": "x y!"}


def form(**fields: str) -> SilenceForm:
    base = {"matchers": 'alertname="Disk"', "created_by": "ann", "comment": "maintenance"}
    return SilenceForm.from_fields({**base, **fields})


# One row per rule of the form: what it accepts and how long the silence lasts, or
# which fields it names when it refuses.
@pytest.mark.parametrize(
    ("fields", "lasts", "problems"),
    [
        ({}, timedelta(hours=2), None),  # the default length, from now
        ({"duration": "30m"}, timedelta(minutes=30), None),
        ({"ends": "2026-12-05T04:15:00Z"}, timedelta(hours=1, minutes=15), None),
        ({"ends": "2026-12-05T04:00:00Z", "duration": "5m"}, timedelta(hours=1), None),
        ({"matchers": 'a="1"\nb=~"x.*"'}, timedelta(hours=2), None),  # one per line
        ({"matchers": '{a="1", b!="2"}'}, timedelta(hours=2), None),  # amtool's braces
        ({"matchers": ""}, None, {"matchers"}),
        ({"matchers": 'a=~"("'}, None, {"matchers"}),
        ({"matchers": "not a matcher"}, None, {"matchers"}),
        ({"duration": "soon"}, None, {"duration"}),
        ({"duration": "0s"}, None, {"duration"}),
        ({"ends": "2026-12-05T02:00:00Z"}, None, {"ends"}),  # before the start (now)
        ({"starts": "yesterday"}, None, {"starts"}),
        ({"starts": "2026-12-05T05:00:00Z", "ends": "2026-12-05T04:00:00Z"}, None, {"ends"}),
        ({"created_by": "", "comment": ""}, None, {"created_by", "comment"}),
    ],
)
def test_silence_form(
    fields: dict[str, str], lasts: timedelta | None, problems: set[str] | None
) -> None:
    f = form(**fields)
    if problems is not None:
        with pytest.raises(FormError) as err:
            f.silence(NOW)
        assert set(err.value.problems) == problems
        return
    s = f.silence(NOW)
    assert s.ends_at - s.starts_at == lasts
    assert s.starts_at == NOW
    assert (s.created_by, s.comment, s.updated_at) == ("ann", "maintenance", NOW)


def test_silence_form_keeps_the_id_it_edits() -> None:
    assert form(id="abc").silence(NOW).id == "abc"


label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
label_values = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@given(st.dictionaries(label_names, label_values, min_size=1, max_size=6))
def test_a_label_set_shown_as_matchers_parses_back_to_it(labels: dict[str, str]) -> None:
    """The "silence" link of an alert fills the form with its labels; what the form
    parses must be one equality matcher per label, values intact whatever they hold."""
    parsed = parse_matchers(matchers_text(labels))
    assert {m.name: m.value for m in parsed} == labels
    assert {m.type for m in parsed} == {MatchType.EQUAL}


def view(fp: str, silenced_by: tuple[str, ...]) -> AlertView:
    state = AlertState.SUPPRESSED if silenced_by else AlertState.ACTIVE
    labels = {"alertname": "A", "n": fp}
    a = Alert(fingerprint(labels), labels, {}, NOW, NOW + timedelta(hours=1), "", NOW, False)
    return AlertView(a, AlertStatus(state, silenced_by, ()), ())


def silence(sid: str, starts: int, ends: int) -> Silence:
    m = tuple(parse_matchers('alertname="A"'))
    return Silence(
        sid, m, NOW + timedelta(hours=starts), NOW + timedelta(hours=ends), NOW, "me", "why"
    )


def test_the_silences_page_sorts_by_state_and_counts_what_each_mutes() -> None:
    found = [silence("old", -5, -1), silence("now", -1, 2), silence("later", 1, 3)]
    views = [view("1", ("now",)), view("2", ("now",)), view("3", ())]
    page = silences(found, views, NOW)
    assert {k: [(r.silence.id, r.muting) for r in v] for k, v in page.items()} == {
        "active": [("now", 2)],
        "pending": [("later", 0)],
        "expired": [("old", 0)],
    }
    assert page["active"][0].matchers == 'alertname="A"'


def group(gid: str, status: str, updated_min: int) -> OncallGroupRow:
    life = {"status": status, "since": to_micros(NOW), "acknowledged_by": ""}
    state = {"lifecycle": life, "labels": {"alertname": gid}, "alerts": ["f1"], "policy": "p"}
    return OncallGroupRow(gid, "r", "{}", "pager", state, NOW + timedelta(minutes=updated_min))


def test_the_groups_page_puts_what_needs_someone_first() -> None:
    rows = [
        group("resolved", "resolved", 9),
        group("acked", "acknowledged", 8),
        group("old-fire", "firing", 1),
        group("new-fire", "firing", 5),
        group("snoozed", "snoozed", 7),
    ]
    shown = group_rows(rows)
    assert [g.id for g in shown] == ["new-fire", "old-fire", "acked", "snoozed", "resolved"]
    assert [g.open for g in shown] == [True, True, True, True, False]
    assert shown[0].since == NOW
    assert shown[0].alerts == 1


@pytest.mark.parametrize(
    ("typed", "zone", "instant"),
    [
        ("2026-12-08T10:00", "America/New_York", "2026-12-08T15:00:00+00:00"),
        ("2026-12-08 10:00:30", "Europe/Berlin", "2026-12-08T09:00:30+00:00"),
        ("2026-12-08T10:00:00Z", "Europe/Berlin", "2026-12-08T10:00:00+00:00"),  # its own
        # a skipped wall time is the jump itself, as the rota's handoffs read it
        ("2026-03-29T02:30", "Europe/Berlin", "2026-03-29T01:00:00+00:00"),
        # a repeated one, its first time
        ("2026-10-25T02:30", "Europe/Berlin", "2026-10-25T00:30:00+00:00"),
    ],
)
def test_a_wall_clock_time_in_a_schedule_s_zone(typed: str, zone: str, instant: str) -> None:
    assert wall_clock(typed, zone).isoformat() == instant
