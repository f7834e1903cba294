"""The console's on-call page for the rota's owner (SQLite and PostgreSQL): each
schedule in its own time zone, the hours nobody is on call shown as such, and
overrides added and removed from the page under the API's rules, each in the
schedule's audit trail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock, app_client
from tocsin.oncall.schedules import uncovered
from tocsin.timeutil import parse_rfc3339

CONFIG = """\
global:
  smtp_smarthost: 127.0.0.1:9            # nothing listens: pages are decided, not mailed
  smtp_from: tocsin@example.org
route:
  receiver: pager
receivers:
  - name: pager
    escalation_policy: business
people:
  - {name: alice, email: alice@example.org}
  - {name: bob, email: bob@example.org}
  - {name: carol, full_name: Carol Danvers, email: carol@example.org}
schedules:
  - name: business
    time_zone: America/New_York
    layers:
      - name: days
        rotation: daily
        start: 2026-12-01
        handoff: "09:00"
        participants: [alice, bob]
        restrictions:
          - {weekdays: ["monday:friday"], start_time: "09:00", end_time: "17:00"}
escalation_policies:
  - name: business
    steps:
      - {delay: 0s, targets: [{schedule: business}]}
"""
SAME_SITE = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}
# Tuesday 8 December 2026, 07:00 in New York (EST, UTC-5): two hours before the day's shift
NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with app_client(CONFIG, db_url, tmp_path, Clock(NOW)) as c:
        yield c


def rows(html: str) -> list[tuple[str, str, str]]:
    """The next days' rows: (who, from, to) as the exact instants of their <time>s."""
    found = re.findall(
        r'<tr(?: class="gap")?><td>(?:<strong class="nobody">)?(\w+)(?:</strong>)?</td>'
        r'<td><time datetime="([^"]+)"[^>]*>[^<]*</time></td>'
        r'<td>(?:<time datetime="([^"]+)")?',
        html,
    )
    return [(who, start, end) for who, start, end in found]


def field_problems(html: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'data-field="(\w+)">\w+: ([^<]*)<', html)}


def test_the_hours_nobody_is_on_call_are_shown_in_the_schedule_s_time_zone(
    client: TestClient,
) -> None:
    page = client.get("/ui/oncall", params={"days": 3}).text
    # nobody now, until the day's shift at 09:00 New York time (14:00 UTC)
    assert '<strong class="nobody">nobody</strong>' in page
    assert (
        'until <time datetime="2026-12-08T14:00:00.000Z" title="2026-12-08T14:00:00.000Z">'
        "Tue 8 Dec 09:00 EST</time>: a page to this schedule reaches no one"
    ) in page
    assert "times in America/New_York" in page
    # the next three days: each shift, and each gap between them, in order
    api = client.get(
        "/api/v1/oncall",
        params={
            "schedule": "business",
            "at": "2026-12-08T12:00:00Z",
            "until": "2026-12-11T12:00:00Z",
        },
    ).json()["business"]
    shifts = [(s["person"], s["start"], s["end"]) for s in api]
    gaps = uncovered(
        ((instant(s), instant(e)) for _, s, e in shifts),
        NOW,
        datetime(2026, 12, 11, 12, tzinfo=UTC),
    )
    assert len(shifts) == 3
    assert len(gaps) == 4  # before each shift (the first is now's), and after the last
    shown = rows(page)
    assert [(w, instant(s), instant(e)) for w, s, e in shown[0::2]] == [
        (w, instant(s), instant(e)) for w, s, e in shifts
    ]
    assert [who for who, _, _ in shown[1::2]] == ["nobody"] * 3
    assert [(instant(s), e and instant(e)) for _, s, e in shown[1::2]] == [
        (gaps[1][0], gaps[1][1]),
        (gaps[2][0], gaps[2][1]),
        (gaps[3][0], ""),  # to the end of the days shown: "…"
    ]
    assert shown[1][1:] == ("2026-12-08T22:00:00.000Z", "2026-12-09T14:00:00.000Z")
    assert "Tue 8 Dec 17:00 EST" in page


def instant(text: str) -> datetime:
    found = parse_rfc3339(text)
    assert found is not None
    return found


def overrides(client: TestClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/api/v1/schedules/business/overrides").json()
    return found


def test_an_override_added_and_removed_from_the_page(client: TestClient) -> None:
    """Carol covers Tuesday 10:00-12:00 New York time for whoever is on call: typed in
    the schedule's zone, stored as the API's, on the page with a Remove button, in the
    schedule's audit trail by name and via the console; removed the same way."""
    fields = {
        "person": "carol",
        "replaces": "",
        "start": "2026-12-08T10:00",
        "end": "2026-12-08T12:00",
        "by": "dora",
    }
    done = client.post(
        "/ui/oncall/business/overrides", data=fields, headers=SAME_SITE, follow_redirects=False
    )
    assert (done.status_code, done.headers["location"]) == (303, "/ui/oncall?done=override")
    (made,) = overrides(client)
    assert (made["person"], made["replaces"], made["source"]) == ("carol", None, "api")
    assert (made["start"], made["end"]) == ("2026-12-08T15:00:00.000Z", "2026-12-08T17:00:00.000Z")
    page = client.get("/ui/oncall?done=override").text
    assert "Override added." in page
    assert f'data-override="{made["id"]}"' in page
    assert f'action="/ui/overrides/{made["id"]}/remove"' in page
    # she holds those two hours of the rota
    on = client.get("/api/v1/oncall", params={"schedule": "business", "at": "2026-12-08T16:00:00Z"})
    assert on.json()["business"][0]["person"] == "carol"
    trail = client.get("/api/v1/schedules/business/audit").json()
    assert (trail[-1]["action"], trail[-1]["actor"], trail[-1]["channel"]) == (
        "override added",
        "dora",
        "console",
    )

    gone = client.post(
        f"/ui/overrides/{made['id']}/remove",
        data={"by": "dora"},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert (gone.status_code, gone.headers["location"]) == (303, "/ui/oncall?done=override-removed")
    assert overrides(client) == []
    trail = client.get("/api/v1/schedules/business/audit").json()
    assert (trail[-1]["action"], trail[-1]["actor"]) == ("override removed", "dora")
    again = client.post(
        f"/ui/overrides/{made['id']}/remove", data={"by": "dora"}, headers=SAME_SITE
    )
    assert again.status_code == 404


GOOD = {
    "person": "carol",
    "replaces": "",
    "start": "2026-12-08T10:00",
    "end": "2026-12-08T12:00",
    "by": "dora",
}


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"person": ""}, "person", "required: who covers"),
        ({"person": "karol"}, "person", "no person 'karol' (did you mean 'carol'?)"),
        (
            {"start": "tuesday"},
            "start",
            "not a time: 'tuesday' (YYYY-MM-DD HH:MM in America/New_York, or RFC 3339)",
        ),
        ({"end": ""}, "end", "required"),
        ({"end": "2026-12-08T09:00"}, "end", "must be after start"),
        (
            {"start": "2026-12-07T09:00", "end": "2026-12-07T10:00"},
            "end",
            "the window is over already",
        ),
        ({"end": "2027-12-10T12:00"}, "end", "at most 366 days after start"),
        (  # (past what a datetime holds once moved to UTC: a 500 before)
            {"end": "9999-12-31T23:59"},
            "end",
            "not a time: '9999-12-31T23:59' (YYYY-MM-DD HH:MM in America/New_York, or RFC 3339)",
        ),
        (
            {"replaces": "carol"},
            "replaces",
            "'carol' is the person covering: the override would change nothing",
        ),
        ({"by": ""}, "by", "required: who is making this change"),
    ],
    ids=[
        "no person",
        "unknown person",
        "not a time",
        "no end",
        "end first",
        "over",
        "too long",
        "year 9999",
        "replaces self",
        "no name",
    ],
)
def test_a_refused_override_names_its_field_and_keeps_what_was_typed(
    client: TestClient, change: dict[str, str], field: str, why: str
) -> None:
    refused = client.post("/ui/oncall/business/overrides", data=GOOD | change, headers=SAME_SITE)
    assert refused.status_code == 400
    assert field_problems(refused.text) == {field: why}
    assert "The override was not added." in refused.text
    assert "<details open>" in refused.text
    assert f'value="{(GOOD | change)["start"]}"' in refused.text
    assert overrides(client) == []


def test_replacing_someone_not_on_call_then_is_refused(client: TestClient) -> None:
    """At 03:00 New York time nobody is on call: replacing alice then changes nothing."""
    asked = GOOD | {"replaces": "alice", "start": "2026-12-09T03:00", "end": "2026-12-09T04:00"}
    refused = client.post("/ui/oncall/business/overrides", data=asked, headers=SAME_SITE)
    assert refused.status_code == 400
    assert field_problems(refused.text) == {
        "replaces": "'alice' is not on call in schedule 'business' from 2026-12-09T08:00:00.000Z "
        "to 2026-12-09T09:00:00.000Z: the override would change nothing"
    }


def test_override_forms_from_another_site_or_for_no_schedule_are_refused(
    client: TestClient,
) -> None:
    other = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    assert client.post("/ui/oncall/business/overrides", data=GOOD, headers=other).status_code == 403
    assert (
        client.post("/ui/oncall/nightly/overrides", data=GOOD, headers=SAME_SITE).status_code == 404
    )
    assert overrides(client) == []


def test_an_override_over_an_earlier_one_says_so(client: TestClient) -> None:
    """The newest wins where windows meet: an owner adding a second cover learns the
    first is now partly undone (rota owner walk-through of session 24)."""
    first = client.post(
        "/api/v1/schedules/business/overrides",
        json={
            "person": "carol",
            "start": "2026-12-08T15:00:00Z",
            "end": "2026-12-08T17:00:00Z",
            "by": "dora",
        },
    )
    assert first.status_code == 200, first.text
    assert first.json()["overlaps"] == []
    second = client.post(
        "/api/v1/schedules/business/overrides",
        json={
            "person": "bob",
            "start": "2026-12-08T16:00:00Z",
            "end": "2026-12-08T18:00:00Z",
            "by": "dora",
        },
    )
    assert [o["id"] for o in second.json()["overlaps"]] == [first.json()["id"]]
    # apart from both: nothing said
    apart = GOOD | {"start": "2026-12-09T10:00", "end": "2026-12-09T11:00"}
    done = client.post(
        "/ui/oncall/business/overrides", data=apart, headers=SAME_SITE, follow_redirects=False
    )
    assert done.headers["location"] == "/ui/oncall?done=override"
    meets = GOOD | {"start": "2026-12-08T12:30", "end": "2026-12-08T13:30"}  # 17:30-18:30 UTC
    done = client.post(
        "/ui/oncall/business/overrides", data=meets, headers=SAME_SITE, follow_redirects=False
    )
    assert done.headers["location"] == "/ui/oncall?done=override-overlaps"
    assert (
        "It overlaps an earlier one: the newest wins." in client.get(done.headers["location"]).text
    )
