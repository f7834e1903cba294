"""On-call through the API over a real database (SQLite and PostgreSQL): who is on call
(now, at a time, over a range, with overrides), overrides and the people they name,
iCalendar feeds, and the lifecycle of an alert group under an escalation policy
(acknowledge, refusals, snooze, audit)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from tests.api.conftest import Clock, app_client, app_runtime, first_group, runtime_of
from tests.e2e.conftest import wait_until
from tocsin.oncall.links import Action, make_link
from tocsin.store.tables import people

CONFIG = """\
global:
  smtp_smarthost: 127.0.0.1:9            # nothing listens: pages are decided, not mailed
  smtp_from: tocsin@example.org
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: pager
    escalation_policy: critical
people:
  - name: alice
    email: alice@example.org
  - name: bob
    email: bob@example.org
schedules:
  - name: primary
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        rotation: weekly
        handoff: "09:00"
        handoff_day: monday
        start: 2026-01-05
        participants: [alice, bob]
escalation_policies:
  - name: critical
    steps:
      - delay: 0s
        targets: [{schedule: primary}]
      - delay: 1h
        targets: [{person: bob}]
"""


@pytest.fixture
def client(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    with app_client(CONFIG, db_url, tmp_path, clock) as c:
        yield c


def shifts(client: TestClient, **params: str) -> list[tuple[str, str, str]]:
    r = client.get("/api/v1/oncall", params={"schedule": "primary", **params})
    assert r.status_code == 200, r.text
    return [(s["person"], s["start"], s["end"]) for s in r.json()["primary"]]


@pytest.mark.parametrize(
    ("at", "person"),
    [
        ("2026-03-02T07:59:00Z", "bob"),  # Monday 08:59 Berlin: last minute of bob's week
        ("2026-03-02T08:00:00Z", "alice"),  # 09:00 Berlin (CET, UTC+1): handoff
        ("2026-03-09T10:00:00Z", "bob"),
        ("2026-03-30T07:00:00Z", "alice"),  # after the switch to CEST: 09:00 is 07:00Z
        ("2026-03-30T06:59:00Z", "bob"),
    ],
)
def test_who_is_on_call_at(client: TestClient, at: str, person: str) -> None:
    assert [p for p, _, _ in shifts(client, at=at)] == [person]


def test_at_an_instant_the_shift_in_force_is_shown_whole(client: TestClient) -> None:
    """Who is on call now answers with the shift's start and end, not the instant."""
    assert shifts(client, at="2026-03-04T12:00:00Z") == [
        ("alice", "2026-03-02T08:00:00.000Z", "2026-03-09T08:00:00.000Z"),
    ]


def test_shifts_over_a_range(client: TestClient) -> None:
    assert shifts(client, at="2026-03-02T00:00:00Z", until="2026-03-16T00:00:00Z") == [
        ("bob", "2026-03-02T00:00:00.000Z", "2026-03-02T08:00:00.000Z"),
        ("alice", "2026-03-02T08:00:00.000Z", "2026-03-09T08:00:00.000Z"),
        ("bob", "2026-03-09T08:00:00.000Z", "2026-03-16T00:00:00.000Z"),
    ]


@pytest.mark.parametrize("until", ["2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z"])
def test_a_range_that_does_not_end_after_its_start_is_refused(
    client: TestClient, until: str
) -> None:
    r = client.get("/api/v1/oncall", params={"at": "2026-03-02T00:00:00Z", "until": until})
    assert r.status_code == 400
    assert r.json() == "until: must be after at"


def test_a_range_is_at_most_a_year(client: TestClient) -> None:
    """A century of a weekly rota (megabytes, seconds) is refused, naming ``until``."""
    at = "2026-03-02T00:00:00Z"
    year = client.get("/api/v1/oncall", params={"at": at, "until": "2027-03-03T00:00:00Z"})
    assert year.status_code == 200, year.text  # 366 days
    for until, asked in [("2027-03-03T00:00:01Z", "1y1d1s"), ("2126-03-02T00:00:00Z", "100y3w3d")]:
        r = client.get("/api/v1/oncall", params={"at": at, "until": until})
        assert (r.status_code, r.json()) == (
            400,
            f"until: at most 366 days after at, not {asked}",
        )


def test_an_override_covers_a_window(client: TestClient, clock: Clock) -> None:
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)  # before the window: it can be made
    body = {
        "person": "bob",
        "start": "2026-03-03T12:00:00Z",
        "end": "2026-03-03T14:00:00Z",
        "by": "alice",
    }
    r = client.post("/api/v1/schedules/primary/overrides", json=body)
    assert r.status_code == 200, r.text
    assert [p for p, _, _ in shifts(client, at="2026-03-03T13:00:00Z")] == ["bob"]
    assert [p for p, _, _ in shifts(client, at="2026-03-03T14:00:00Z")] == ["alice"]
    # an override of the override, made later: alice takes back an hour of it
    clock.now += timedelta(minutes=1)
    back = {
        **body,
        "person": "alice",
        "start": "2026-03-03T12:30:00Z",
        "end": "2026-03-03T13:30:00Z",
    }
    assert client.post("/api/v1/schedules/primary/overrides", json=back).status_code == 200
    assert [p for p, _, _ in shifts(client, at="2026-03-03T13:00:00Z")] == ["alice"]
    assert [p for p, _, _ in shifts(client, at="2026-03-03T13:45:00Z")] == ["bob"]
    listed = client.get("/api/v1/schedules/primary/overrides").json()
    assert [(o["person"], o["start"], o["end"]) for o in listed] == [
        ("bob", "2026-03-03T12:00:00.000Z", "2026-03-03T14:00:00.000Z"),
        ("alice", "2026-03-03T12:30:00.000Z", "2026-03-03T13:30:00.000Z"),
    ]
    assert client.delete(f"/api/v1/overrides/{r.json()['id']}").status_code == 204
    assert [p for p, _, _ in shifts(client, at="2026-03-03T13:45:00Z")] == ["alice"]
    # once over, an override leaves the list (past=true shows it) and none can be made
    clock.now = datetime(2026, 3, 4, tzinfo=UTC)
    assert client.get("/api/v1/schedules/primary/overrides").json() == []
    assert len(client.get("/api/v1/schedules/primary/overrides?past=true").json()) == 1
    late = client.post("/api/v1/schedules/primary/overrides", json=back)
    assert (late.status_code, late.json()) == (400, "end: the window is over already")


def test_the_config_file_s_overrides_are_listed_and_changed_in_the_file(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """An override written in the config file is listed with those made at run time
    (``source`` tells them apart); removing it through the API is refused, saying
    where it is changed."""
    in_file = CONFIG.replace(
        "        participants: [alice, bob]\n",
        "        participants: [alice, bob]\n    overrides:\n"
        "      - {person: bob, start: '2026-03-05T08:00:00Z', end: '2026-03-05T20:00:00Z'}\n",
    )
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    with app_client(in_file, db_url, tmp_path, clock) as client:
        body = {"person": "alice", "start": "2026-03-03T12:00:00Z", "end": "2026-03-03T14:00:00Z"}
        made = client.post("/api/v1/schedules/primary/overrides", json={**body, "by": "bob"})
        assert made.status_code == 200, made.text
        listed = client.get("/api/v1/schedules/primary/overrides").json()
        assert [(o["id"], o["person"], o["source"]) for o in listed] == [
            (made.json()["id"], "alice", "api"),
            ("config:primary:0", "bob", "config"),
        ]
        refused = client.delete("/api/v1/overrides/config:primary:0")
        assert refused.status_code == 409
        assert refused.json() == (
            "override 'config:primary:0' is in the config file: remove it there and reload"
        )
        clock.now = datetime(2026, 3, 6, tzinfo=UTC)  # both over
        assert client.get("/api/v1/schedules/primary/overrides").json() == []


@pytest.mark.parametrize(
    "body",
    [
        {
            "person": "nobody",
            "start": "2026-03-03T12:00:00Z",
            "end": "2026-03-03T14:00:00Z",
            "by": "x",
        },
        {
            "person": "bob",
            "start": "2026-03-03T14:00:00Z",
            "end": "2026-03-03T12:00:00Z",
            "by": "x",
        },
        {"person": "bob", "start": "soon", "end": "2026-03-03T12:00:00Z", "by": "x"},
    ],
)
def test_bad_overrides_are_refused(client: TestClient, body: dict[str, str]) -> None:
    assert client.post("/api/v1/schedules/primary/overrides", json=body).status_code == 400


def override(client: TestClient, person: str, start: str, end: str, **more: object) -> Any:
    body = {"person": person, "start": start, "end": end, "by": "carol", **more}
    r = client.post("/api/v1/schedules/primary/overrides", json=body)
    return r.json() if r.status_code == 200 else (r.status_code, r.json())


def test_an_override_s_people_must_exist_and_replaces_must_be_on_call(
    client: TestClient, clock: Clock
) -> None:
    """``replaces`` is checked as check-config checks the file's: a person who does
    not exist, or who is not on call in the window (the override would change
    nothing), is refused, naming the field."""
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    # alice's week runs from Monday 2 March 08:00Z (09:00 Berlin) to the 9th
    start, end = "2026-03-03T12:00:00Z", "2026-03-03T14:00:00Z"
    assert override(client, "alcie", start, end) == (
        400,
        "person: no person 'alcie' (did you mean 'alice'?)",
    )
    assert override(client, "bob", start, end, replaces="alcie") == (
        400,
        "replaces: no person 'alcie' (did you mean 'alice'?)",
    )
    assert override(client, "alice", start, end, replaces="bob") == (
        400,
        "replaces: 'bob' is not on call in schedule 'primary' from "
        "2026-03-03T12:00:00.000Z to 2026-03-03T14:00:00.000Z: the override would change nothing",
    )
    assert override(client, "alice", start, end, replaces="alice") == (
        400,
        "replaces: 'alice' is the person covering: the override would change nothing",
    )
    assert override(client, "bob", start, end, replaces=5) == (
        400,
        "replaces: must be a person's name",
    )
    # a century is a rota change, not an override (and checking it built every shift)
    assert override(client, "bob", start, "2126-03-03T14:00:00Z", replaces="alice") == (
        400,
        "end: at most 366 days after start",
    )
    # bob in place of alice; then alice back in place of bob, who is on call by it
    assert override(client, "bob", start, end, replaces="alice")["replaces"] == "alice"
    clock.now += timedelta(minutes=1)
    back = override(client, "alice", "2026-03-03T12:30:00Z", "2026-03-03T13:00:00Z", replaces="bob")
    assert back["replaces"] == "bob"
    assert [p for p, _, _ in shifts(client, at="2026-03-03T12:45:00Z")] == ["alice"]
    assert [p for p, _, _ in shifts(client, at="2026-03-03T13:15:00Z")] == ["bob"]
    listed = client.get("/api/v1/schedules/primary/overrides").json()
    assert [(o["person"], o["replaces"]) for o in listed] == [("bob", "alice"), ("alice", "bob")]


def test_a_person_made_through_the_api_takes_an_override_and_has_a_calendar(
    client: TestClient, clock: Clock
) -> None:
    """People PUT through the API are listed with the file's: an override names them,
    their calendar is served, as escalation pages them."""
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    frank = {"email": "frank@example.org"}
    assert client.put("/api/v1/people/frank", json=frank).status_code == 200
    made = override(client, "frank", "2026-03-05T08:00:00Z", "2026-03-05T20:00:00Z")
    assert made["person"] == "frank", made
    assert [p for p, _, _ in shifts(client, at="2026-03-05T12:00:00Z")] == ["frank"]
    clock.now += timedelta(minutes=1)  # made later: it wins over frank's
    covered = override(
        client, "bob", "2026-03-05T10:00:00Z", "2026-03-05T11:00:00Z", replaces="frank"
    )
    assert covered["replaces"] == "frank", covered
    r = client.get("/api/v1/people/frank.ics")
    assert r.status_code == 200, r.text
    assert [(e["SUMMARY"], e["DTSTART"], e["DTEND"]) for e in ics_events(r.text)] == [
        ("On call: primary", "20260305T080000Z", "20260305T100000Z"),
        ("On call: primary", "20260305T110000Z", "20260305T200000Z"),
    ]
    # forgotten by the API, frank is nobody again
    assert client.delete("/api/v1/people/frank").status_code == 204
    assert client.get("/api/v1/people/frank.ics").status_code == 404
    assert override(client, "frank", "2026-03-06T08:00:00Z", "2026-03-06T09:00:00Z") == (
        400,
        "person: no person 'frank'",
    )


def ics_events(text: str) -> list[dict[str, str]]:
    """Each VEVENT's properties, its lines unfolded (RFC 5545 section 3.1)."""
    found: list[dict[str, str]] = []
    for block in re.sub(r"\r\n[ \t]", "", text).split("BEGIN:VEVENT\r\n")[1:]:
        lines = block.split("END:VEVENT")[0].split("\r\n")
        found.append(dict(line.split(":", 1) for line in lines if line))
    return found


def test_ical_feeds(client: TestClient, clock: Clock) -> None:
    clock.now = datetime(2026, 3, 4, 12, tzinfo=UTC)  # alice's week (2 to 9 March)
    r = client.get("/api/v1/schedules/primary.ics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/calendar")
    text = r.text
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    found = ics_events(text)
    # each event says who is on call; the first and last are whole shifts, not cut at
    # the feed's window (a week back, 90 days ahead): bob's week from Monday 23
    # February 09:00 Berlin, and bob's from Monday 1 June 09:00 (CEST) to the 8th
    assert [e["SUMMARY"] for e in found[:3]] == [
        "bob on call (primary)",
        "alice on call (primary)",
        "bob on call (primary)",
    ]
    assert (found[0]["DTSTART"], found[0]["DTEND"]) == ("20260223T080000Z", "20260302T080000Z")
    assert (found[-1]["DTSTART"], found[-1]["DTEND"]) == ("20260601T070000Z", "20260608T070000Z")
    # a day later, the same events (UIDs, starts, ends): a subscribed calendar keeps them
    clock.now += timedelta(days=1)
    later = ics_events(client.get("/api/v1/schedules/primary.ics").text)
    assert [(e["UID"], e["DTSTART"], e["DTEND"]) for e in later] == [
        (e["UID"], e["DTSTART"], e["DTEND"]) for e in found
    ]
    mine = ics_events(client.get("/api/v1/people/alice.ics").text)
    assert len(mine) == 7  # every other week of the 15 shifts
    assert {e["SUMMARY"] for e in mine} == {"On call: primary"}
    assert client.get("/api/v1/people/nobody.ics").status_code == 404


def open_group(client: TestClient, clock: Clock) -> dict[str, Any]:
    alert = {"labels": {"alertname": "ServiceDown"}, "startsAt": clock.now.isoformat()}
    assert client.post("/api/v2/alerts", json=[alert]).status_code == 200
    return first_group(client)


def test_lifecycle_through_the_api(client: TestClient, clock: Clock) -> None:
    group = open_group(client, clock)
    assert group["status"] == "firing"
    gid = group["id"]
    assert client.post(f"/api/v1/groups/{gid}/ack", json={}).status_code == 400  # no "by"
    not_an_object = client.post(f"/api/v1/groups/{gid}/ack", json=["alice"])
    assert (not_an_object.status_code, not_an_object.json()) == (
        400,
        "body: must be a JSON object",
    )
    r = client.post(f"/api/v1/groups/{gid}/ack", json={"by": "alice", "comment": "on it"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged"
    again = client.post(f"/api/v1/groups/{gid}/ack", json={"by": "bob"})
    assert again.status_code == 409
    assert "already acknowledged" in again.json()
    # a mistaken acknowledgement is taken back: the group fires, the step pages again
    pages = len(client.get("/api/v1/notifications").json())
    back = client.post(f"/api/v1/groups/{gid}/unack", json={"by": "alice", "comment": "wrong one"})
    assert (back.status_code, back.json()["status"]) == (200, "firing")
    wait_until(
        lambda: len(client.get("/api/v1/notifications").json()) > pages, 30, "the page again"
    )
    twice = client.post(f"/api/v1/groups/{gid}/unack", json={"by": "alice"})
    assert (twice.status_code, "not acknowledged" in twice.json()) == (409, True)
    r = client.post(f"/api/v1/groups/{gid}/ack", json={"by": "alice", "comment": "on it"})
    assert r.status_code == 200, r.text
    for duration, why in [
        ("soon", "duration: "),
        ("0s", "duration: a snooze must last"),
        ("25h", "duration: a snooze lasts at most 1d, not 1d1h"),
    ]:
        bad = client.post(f"/api/v1/groups/{gid}/snooze", json={"by": "bob", "duration": duration})
        assert bad.status_code == 400
        assert bad.json().startswith(why), bad.json()
    snoozed = client.post(f"/api/v1/groups/{gid}/snooze", json={"by": "bob", "duration": "30m"})
    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["status"] == "snoozed"
    assert client.post("/api/v1/groups/nope/ack", json={"by": "x"}).status_code == 404
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    human = [
        (a["actor"], a["action"], a["channel"], a["comment"])
        for a in audit
        if a["actor"] in ("alice", "bob")
    ]
    assert human[0] == ("alice", "acknowledged", "api", "on it")
    assert human[1][:3] == ("alice", "unacknowledged", "api")
    assert human[1][3].endswith("the current step is re-notified: wrong one")
    assert human[2] == ("alice", "acknowledged", "api", "on it")
    assert human[3][:3] == ("bob", "snoozed", "api")
    assert isinstance(datetime.fromisoformat(audit[0]["at"].replace("Z", "+00:00")), datetime)


def test_a_reload_that_moves_the_route_keeps_the_group(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """A route added above the group's moves its route (Alertmanager's route id holds
    the position among siblings): the group is still the one paged and acknowledged,
    not a second one paging from the first step."""
    routed = CONFIG.replace(
        "  group_interval: 1s\n",
        "  group_interval: 1s\n  routes:\n    - {matchers: ['team=\"db\"'], receiver: pager}\n",
    )
    moved = routed.replace(
        "  routes:\n",
        "  routes:\n    - {matchers: ['team=\"web\"'], receiver: pager}\n",
    )
    with app_client(routed, db_url, tmp_path, clock) as client:
        alert = {"labels": {"alertname": "DbDown", "team": "db"}}
        assert client.post("/api/v2/alerts", json=[alert]).status_code == 200
        gid = first_group(client)["id"]
        acked = client.post(f"/api/v1/groups/{gid}/ack", json={"by": "alice"})
        assert acked.status_code == 200, acked.text
        (tmp_path / "alertmanager.yml").write_text(moved)
        assert client.post("/-/reload").status_code == 200
        second = {"labels": {"alertname": "DbDown", "team": "db", "instance": "db2"}}
        assert client.post("/api/v2/alerts", json=[second]).status_code == 200
        clock.now += timedelta(seconds=2)  # past group_interval: a flush holds both
        grown = wait_until(
            lambda: [g for g in client.get("/api/v1/groups").json() if len(g["alerts"]) == 2],
            30,
            "the group to take the second alert",
        )
        assert [(g["id"], g["status"]) for g in grown] == [(gid, "acknowledged")]
        assert len(client.get("/api/v1/groups").json()) == 1


def test_people_are_managed_through_the_api(client: TestClient) -> None:
    people = {p["name"]: p for p in client.get("/api/v1/people").json()}
    assert people["alice"]["email"] == "alice@example.org"
    assert people["alice"]["source"] == "config"
    update = {
        "email": "alice@oncall.example.org",
        "notification_rules": {"high": [{"channel": "email", "after": "2m"}]},
    }
    r = client.put("/api/v1/people/alice", json=update)
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "alice@oncall.example.org"
    assert r.json()["notificationRules"] == {"high": [{"channel": "email", "after": "2m"}]}
    assert client.get("/api/v1/people/alice").json()["source"] == "api"
    # the same checks as the config file, naming the field
    bad = client.put("/api/v1/people/alice", json={"email": "not-an-address"})
    assert bad.status_code == 400
    assert "email" in bad.json()
    slackless = {"notification_rules": {"high": [{"channel": "slack"}]}}
    refused = client.put("/api/v1/people/bob", json=slackless)
    assert refused.status_code == 400
    assert "notification_rules.high[0]" in refused.json()
    assert client.put("/api/v1/people/x", json={"bogus": 1}).status_code == 400
    # a person escalation pages must stay reachable: an update with no contact is refused
    gone = client.put("/api/v1/people/alice", json={"full_name": "Alice"})
    assert gone.status_code == 400
    assert "nothing would reach them" in gone.json()
    # what GET answers, edited, can be PUT back as it is
    shown = client.get("/api/v1/people/alice").json()
    shown["fullName"] = "Alice Liddell"
    back = client.put("/api/v1/people/alice", json=shown)
    assert back.status_code == 200, back.text
    assert back.json()["fullName"] == "Alice Liddell"
    assert back.json()["notificationRules"] == shown["notificationRules"]
    # deleting the API's definition goes back to the file's
    assert client.delete("/api/v1/people/alice").status_code == 204
    assert client.get("/api/v1/people/alice").json()["email"] == "alice@example.org"
    assert client.delete("/api/v1/people/alice").status_code == 404


BOMB = "a0: &a0 [x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 6)
)


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        # a list of addresses, or a header after a line break, added hidden recipients
        (
            '{"email": "alice@example.org\\r\\nBcc: evil@evil.example"}',
            400,
            "email: not one e-mail address",
        ),
        ('{"email": "alice@example.org, evil@evil.example"}', 400, "email: not one e-mail address"),
        # 300 bytes of nested YAML aliases froze the server for minutes (4 GB)
        (BOMB, 400, "(syntax): an alias (*a0): aliases are not accepted here"),
        ('{"full_name": "' + "x" * 70_000 + '"}', 413, "body: over 65536 bytes"),
    ],
    ids=["crlf", "list", "yaml bomb", "too big"],
)
def test_a_person_s_definition_that_could_harm_is_refused(
    client: TestClient, body: str, status: int, said: str
) -> None:
    r = client.put("/api/v1/people/alice", content=body)
    assert r.status_code == status, r.text
    assert r.json().startswith(said), r.json()
    assert client.get("/api/v1/people/alice").json()["email"] == "alice@example.org"


def test_a_person_whose_contacts_come_from_the_api(
    db_url: str, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A file entry with ``contacts_via_api`` passes check-config without a contact;
    the server says at start that nothing reaches them until the API gives one, and
    refuses to forget the API's contacts while escalation can page them."""
    config = CONFIG.replace(
        "  - name: bob\n    email: bob@example.org\n", "  - name: bob\n    contacts_via_api: true\n"
    )
    assert "contacts_via_api" in config
    with caplog.at_level(logging.ERROR), app_client(config, db_url, tmp_path, clock) as client:
        rt = runtime_of(client)
        said = [r.getMessage() for r in caplog.records if r.name == "tocsin.runtime"]
        assert said == [
            "people: 'bob' can be paged by escalation but has no email or slack_user: nothing "
            "would reach them (contacts_via_api: PUT /api/v1/people/NAME)"
        ]
        # only the file may say so: a PUT cannot exempt itself from the reachability check
        sneaky = client.put("/api/v1/people/bob", json={"contacts_via_api": True})
        assert (sneaky.status_code, sneaky.json().split(":")[0]) == (400, "contacts_via_api")
        r = client.put("/api/v1/people/bob", json={"email": "bob@oncall.example.org"})
        assert r.status_code == 200, r.text
        assert rt.people.unreachable() == []
        bob = rt.people.get("bob")
        assert bob is not None
        assert bob.email == "bob@oncall.example.org"
        # forgetting them would leave bob unreachable: refused, naming why
        kept = client.delete("/api/v1/people/bob")
        assert kept.status_code == 409
        assert "PUT new ones instead" in kept.json()
        assert client.get("/api/v1/people/bob").json()["source"] == "api"


def test_a_stored_person_a_newer_check_refuses_is_ignored(client: TestClient) -> None:
    """Stored by an older Tocsin (a webhook rule, refused since): the server still
    starts and the file's entry is in force."""
    rt = runtime_of(client)
    stored = '{"name": "alice", "notification_rules": {"high": [{"channel": "webhook"}]}}'
    with rt.engine.begin() as conn:
        conn.execute(insert(people).values(name="alice", definition=stored, updated_at=0))
    rt.people.refresh()
    assert client.get("/api/v1/people/alice").json()["source"] == "config"


def test_overrides_are_audited(client: TestClient, clock: Clock) -> None:
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    body = {
        "person": "bob",
        "start": "2026-03-03T12:00:00Z",
        "end": "2026-03-03T14:00:00Z",
        "by": "alice",
    }
    made = client.post("/api/v1/schedules/primary/overrides", json=body).json()
    cli = {"x-tocsin-client": "cli"}  # as the CLI sends it: audited through the CLI
    gone = client.delete(f"/api/v1/overrides/{made['id']}", params={"by": "bob"}, headers=cli)
    assert gone.status_code == 204
    trail = client.get("/api/v1/schedules/primary/audit").json()
    assert [(a["actor"], a["action"], a["channel"]) for a in trail] == [
        ("alice", "override added", "api"),
        ("bob", "override removed", "cli"),
    ]
    assert "bob covers 2026-03-03T12:00:00.000Z" in trail[0]["comment"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"by=alice&exp=1&sig=%C3%A9", 403),  # a signature that is not ASCII: refused
        (b"by=alice&exp=soon&sig=x", 400),
        (b"", 400),  # no fields, in the form or the query
        (None, 413),  # an open path: its body is bounded too (one byte over the limit)
    ],
    ids=["non-ascii signature", "exp not a number", "no fields", "too large"],
)
def test_a_bad_signed_action_is_refused(
    client: TestClient, body: bytes | None, status: int
) -> None:
    limit = runtime_of(client).settings.max_body_bytes
    r = client.post("/act/ack/g123", content=b"x" * (limit + 1) if body is None else body)
    assert r.status_code == status, r.text
    if body == b"":
        assert "the link is incomplete: no by, exp, sig" in r.text


def test_a_page_s_link_acts_only_on_the_firing_it_was_sent_for(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """Bob's link from last night's page must not acknowledge tonight's firing of the
    same group, which paged someone else: it names its episode (the escalation)."""
    with app_runtime(CONFIG, db_url, tmp_path, clock) as (client, rt):
        gid = open_group(client, clock)["id"]

        def episode() -> str:
            page = rt.group_page(gid)
            assert page is not None
            found: str = page.row.state["lifecycle"]["escalation_id"]
            return found

        first = episode()
        old = make_link("", rt.oncall.secret, Action.ACK, gid, "bob", clock.now, episode=first)
        assert "&ep=" in old
        # it resolves, then fires again: a new episode of the group
        gone = {"labels": {"alertname": "ServiceDown"}, "endsAt": clock.now.isoformat()}
        assert client.post("/api/v2/alerts", json=[gone]).status_code == 200
        clock.now += timedelta(minutes=1)
        rt.dispatcher.loop.kick()
        wait_until(
            lambda: client.get(f"/api/v1/groups/{gid}").json()["status"] == "resolved",
            10,
            "resolved",
        )
        clock.now += timedelta(minutes=1)
        open_group(client, clock)
        rt.dispatcher.loop.kick()
        wait_until(lambda: episode() != first, 10, "the group to fire again")
        refused = client.post(old)
        assert refused.status_code == 409, refused.text
        assert "this page was for an earlier firing of the group" in refused.text
        assert client.get(f"/api/v1/groups/{gid}").json()["status"] == "firing"
        # the link of tonight's page acts
        new = make_link(
            "", rt.oncall.secret, Action.ACK, gid, "alice", clock.now, episode=episode()
        )
        done = client.post(new)
        assert done.status_code == 200, done.text
        assert client.get(f"/api/v1/groups/{gid}").json()["acknowledgedBy"] == "alice"


def test_a_group_whose_policy_ran_out_says_nobody_else_is_paged(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    with app_runtime(CONFIG, db_url, tmp_path, clock) as (client, rt):
        # firing for hours, as Prometheus keeps re-sending it
        until = (clock.now + timedelta(hours=3)).isoformat()
        alert = {"labels": {"alertname": "ServiceDown"}, "endsAt": until}
        assert client.post("/api/v2/alerts", json=[alert]).status_code == 200
        gid = first_group(client)["id"]

        def shown() -> dict[str, Any]:
            found: dict[str, Any] = client.get(f"/api/v1/groups/{gid}").json()
            return found

        wait_until(lambda: shown()["pending"], 10, "the second step to wait")
        assert [p["what"] for p in shown()["pending"]] == ["escalation step 2"]
        assert shown()["escalationDone"] is False
        assert 'id="exhausted"' not in client.get(f"/ui/groups/{gid}").text
        clock.now += timedelta(hours=1, minutes=1)  # bob's step, the last, comes due
        rt.oncall.kick()
        wait_until(lambda: shown()["escalationDone"], 10, "the policy to run out")
        assert shown()["pending"] == []
        assert 'id="exhausted"' in client.get(f"/ui/groups/{gid}").text
        # acknowledged, it is handled: nothing is said
        assert client.post(f"/api/v1/groups/{gid}/ack", json={"by": "bob"}).status_code == 200
        assert shown()["escalationDone"] is False


NOBODY = CONFIG.replace("start: 2026-01-05", "start: 2099-01-05").replace(
    "      - delay: 1h\n        targets: [{person: bob}]\n", ""
)


def test_a_page_that_reaches_nobody_raises_tocsin_nobody_paged(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """An escalation that ends with nobody paged (its one step's schedule has nobody on
    call) raises TocsinNobodyPaged for the group, naming why, until the group is
    taken; Tocsin's own alert, routed to the same policy, does not raise another."""
    with app_client(NOBODY, db_url, tmp_path, clock) as client:
        gid = open_group(client, clock)["id"]

        def nobody_paged() -> list[dict[str, Any]]:
            found = client.get("/api/v2/alerts", params={"filter": "alertname=TocsinNobodyPaged"})
            return cast(list[dict[str, Any]], found.json())

        (alert,) = wait_until(nobody_paged, 30, "TocsinNobodyPaged")
        assert alert["labels"] == {
            "alertname": "TocsinNobodyPaged",
            "group": gid,
            "receiver": "pager",
            "severity": "critical",
        }
        annotations = alert["annotations"]
        assert annotations["summary"] == (
            'Nobody was paged for {alertname="ServiceDown"} (pager): its escalation reached no one'
        )
        assert "nobody on call in schedule 'primary'" in annotations["description"]
        assert "the policy's last step: nobody else is paged" in annotations["description"]
        assert alert["generatorURL"].endswith(f"/ui/groups/{gid}")
        metrics = client.get("/metrics").text
        assert "tocsin_oncall_groups_nobody_paged 1.0" in metrics

        # its own group (alertname=TocsinNobodyPaged, to the same policy) wakes nobody
        # too, and raises nothing more: the round after its step counts one group only
        def own_group_stepped() -> bool:
            groups = client.get("/api/v1/groups").json()
            other = [g["id"] for g in groups if g["id"] != gid]
            if not other:
                return False
            audit = client.get(f"/api/v1/groups/{other[0]}/audit").json()
            return any(line["action"] == "escalated" for line in audit)

        wait_until(own_group_stepped, 30, "TocsinNobodyPaged's own group escalated")
        taken = client.post(f"/api/v1/groups/{gid}/ack", json={"by": "alice"})
        assert taken.status_code == 200, taken.text
        wait_until(lambda: not nobody_paged(), 30, "TocsinNobodyPaged resolved")
        metrics = client.get("/metrics").text
        assert "tocsin_oncall_groups_nobody_paged 0.0" in metrics
