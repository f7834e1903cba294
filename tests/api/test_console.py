"""The web console over a real runtime and database (SQLite and PostgreSQL): each page
shows what the API holds, and each form changes what the API then shows (a silence
saved, edited and expired; an alert group acknowledged, snoozed, resolved, with the
console in its audit trail), refusals name their field and write nothing, and a form
posted from another site is refused."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock, app_client, first_group
from tests.api.test_runbooks_api import RUNBOOKS
from tests.e2e.conftest import wait_until
from tocsin.timeutil import format_rfc3339
from tocsin.web import pages
from tocsin.web.forms import MAX_FORM_BYTES
from tocsin.web.render import url_value, web_link

CONFIG = f"""\
global:
  smtp_smarthost: 127.0.0.1:9            # nothing listens: pages are decided, not mailed
  smtp_from: tocsin@example.org
route:
  receiver: slack
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  routes:
    - receiver: pager
      matchers: ['severity="critical"']
receivers:
  - name: slack
  - name: pager
    escalation_policy: critical
people:
  - {{name: alice, full_name: Alice Liddell, email: alice@example.org, time_zone: Europe/Berlin}}
  - {{name: bob, email: bob@example.org}}
schedules:
  - name: primary
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        rotation: weekly
        start: 2026-01-05
        participants: [alice, bob]
escalation_policies:
  - name: critical
    steps:
      - {{delay: 0s, targets: [{{schedule: primary}}]}}
      - {{delay: 1h, targets: [{{person: bob}}]}}
tocsin:
  runbooks:
    paths: [{RUNBOOKS}]
"""
SAME_SITE = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}


@pytest.fixture
def client(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    with app_client(CONFIG, db_url, tmp_path, clock) as c:
        yield c


def post_alert(client: TestClient, clock: Clock, **labels: str) -> None:
    alert = {
        "labels": labels,
        "annotations": {"summary": f"{labels['alertname']} <b>is</b> down"},
        "startsAt": clock.now.isoformat(),
        "generatorURL": "http://prometheus.example/graph",
    }
    assert client.post("/api/v2/alerts", json=[alert]).status_code == 200


def open_group(client: TestClient, clock: Clock) -> dict[str, Any]:
    post_alert(client, clock, alertname="ServiceDown", severity="critical")
    return first_group(client)


def field_problems(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-field="(\w+)">\w+: ([^<]*)<', html))


def test_home_is_the_alerts_page(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (307, "/ui/alerts")


def test_the_alerts_page_shows_what_fires_grouped_as_the_api_groups_it(
    client: TestClient, clock: Clock
) -> None:
    post_alert(client, clock, alertname="DiskFull", instance="db1", severity="warning")
    post_alert(client, clock, alertname="DiskFull", instance="db2", severity="warning")
    post_alert(client, clock, alertname="HighLatency", severity="warning")
    page = client.get("/ui/alerts")
    assert page.status_code == 200
    html = page.text
    api = client.get("/api/v2/alerts/groups").json()
    shown = re.findall(r'data-fingerprint="(\w+)"', html)
    assert sorted(shown) == sorted(a["fingerprint"] for g in api for a in g["alerts"])
    assert html.count('class="box alert-group"') == len(api) == 2
    assert "<title>Alerts (3) · Tocsin</title>" in html
    # annotations are escaped, never markup
    assert "DiskFull &lt;b&gt;is&lt;/b&gt; down" in html
    # each alert links to a silence of exactly its labels
    assert "/ui/silences/new?matchers=alertname%3D%22DiskFull%22%2C+instance%3D%22db1%22" in html
    # the alert a shared runbook answers links to its procedure
    assert re.search(r'class="runbook" href="[^"]*threads-agent-alertmanager#[^"]+"', html)


def test_a_storm_is_shown_most_severe_first_and_a_big_group_in_part(
    client: TestClient, clock: Clock
) -> None:
    """A group of 30 warnings sorts before an error's group by its key: the error's box
    comes first; the big one shows its oldest 25 and links to all of them."""
    for n in range(30):
        post_alert(client, clock, alertname="DiskFull", instance=f"db{n}", severity="warning")
    post_alert(client, clock, alertname="ServiceDown", severity="error")
    html = client.get("/ui/alerts").text
    assert "<title>Alerts (31) · Tocsin</title>" in html
    names = re.findall(r'class="alertname">(\w+)<', html)
    assert names[0] == "ServiceDown"
    assert names[1:] == ["DiskFull"] * 25
    assert '<span class="muted">30 alerts</span>' in html
    more = re.search(r'class="more" href="([^"]+)">5 more alerts of this group<', html)
    assert more is not None, html
    everything = client.get(more.group(1).replace("&amp;", "&")).text
    assert re.findall(r'class="alertname">(\w+)<', everything) == ["DiskFull"] * 30
    assert 'class="more"' not in everything


def test_a_storm_of_groups_shows_the_most_severe_and_says_how_many_more(
    client: TestClient, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten thousand groups of one alert (group_by ['...']) made a 19.5 MB page: it
    shows the most severe PAGE_GROUPS (3 here) and a line with how many more, linking
    to every group."""
    monkeypatch.setattr(pages, "PAGE_GROUPS", 3)
    for n in range(4):
        post_alert(client, clock, alertname=f"Disk{n}", severity="warning")
    post_alert(client, clock, alertname="ServiceDown", severity="critical")
    html = client.get("/ui/alerts").text
    assert "<title>Alerts (5) · Tocsin</title>" in html  # every alert counted
    names = re.findall(r'class="alertname">(\w+)<', html)
    assert names[0] == "ServiceDown"
    assert len(names) == 3
    more = re.search(
        r'id="more-groups">2 more groups, less severe, not shown: .*href="([^"]+)"', html
    )
    assert more is not None, html
    everything = client.get(more.group(1).replace("&amp;", "&")).text
    assert len(re.findall(r'class="alertname">(\w+)<', everything)) == 5
    assert 'id="more-groups"' not in everything


def test_only_web_links_are_links(client: TestClient, clock: Clock) -> None:
    # generatorURL comes from whoever posts the alert: a javascript: URL is a valid URI
    for name, url in (("Web", "https://prometheus.example/graph"), ("Script", "javascript:x()")):
        alert = {"labels": {"alertname": name}, "generatorURL": url}
        assert client.post("/api/v2/alerts", json=[alert]).status_code == 200
    html = client.get("/ui/alerts").text
    assert 'href="https://prometheus.example/graph"' in html
    assert "javascript:" not in html


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://grafana.example/d/x", "https://grafana.example/d/x"),
        ("HTTP://grafana.example/", "HTTP://grafana.example/"),
        ("/runbooks/db#disk-full", "/runbooks/db#disk-full"),
        ("//evil.example/x", ""),  # another host, whatever the scheme of the page
        ("javascript:alert(1)", ""),
        (" javascript:alert(1)", ""),
        ("data:text/html,<script>", ""),
        ("", ""),
    ],
)
def test_web_link(url: str, link: str) -> None:
    assert web_link(url) == link


@pytest.mark.parametrize(
    ("value", "link"),
    [
        ("https://grafana.example/d/x?var-host=db1", "https://grafana.example/d/x?var-host=db1"),
        ("http://wiki/runbooks/db", "http://wiki/runbooks/db"),
        ("See https://grafana.example/d/x", ""),  # a sentence holding a link
        ("https://a.example/ https://b.example/", ""),
        ("/var is full", ""),  # a path is not a link in an annotation
        ("runbooks/db.md#disk-full", ""),
        ("javascript:alert(1)", ""),
        ("", ""),
    ],
)
def test_url_value(value: str, link: str) -> None:
    assert url_value(value) == link


def test_the_group_page_links_each_alert_to_its_runbook_source_and_url_annotations(
    client: TestClient, clock: Clock
) -> None:
    dashboard = "https://grafana.example/d/api?var-instance=db1"
    alert = {
        "labels": {"alertname": "ServiceDown", "severity": "critical"},
        "annotations": {"dashboard": dashboard, "description": "see https://x.example now"},
        "startsAt": clock.now.isoformat(),
        "generatorURL": "http://prometheus.example/graph",
    }
    assert client.post("/api/v2/alerts", json=[alert]).status_code == 200
    page = client.get(f"/ui/groups/{first_group(client)['id']}").text
    assert f'<a href="{dashboard.replace("&", "&amp;")}" rel="noreferrer">' in page
    assert "<dd>see https://x.example now</dd>" in page
    assert '<a href="http://prometheus.example/graph" rel="noreferrer">source</a>' in page
    assert re.search(r'class="runbook" href="[^"]*threads-agent-alertmanager#[^"]+"', page)


@pytest.mark.parametrize(
    ("query", "shown", "status"),
    [
        ({}, {"db1", "db2"}, 200),
        ({"filter": 'instance="db1"'}, {"db1"}, 200),
        ({"filter": '{instance=~"db.*", instance!="db2"}'}, {"db1"}, 200),
        ({"filter": 'instance="nope"'}, set(), 200),
        ({"receiver": "pager"}, set(), 200),
        ({"receiver": "sla.*"}, {"db1", "db2"}, 200),
        ({"filter": 'instance=~"("'}, set(), 400),
    ],
)
def test_the_alerts_page_filters(
    client: TestClient, clock: Clock, query: dict[str, str], shown: set[str], status: int
) -> None:
    post_alert(client, clock, alertname="DiskFull", instance="db1")
    post_alert(client, clock, alertname="DiskFull", instance="db2")
    page = client.get("/ui/alerts", params=query)
    assert page.status_code == status
    assert set(re.findall(r'<span class="chip">instance="(\w+)"</span>', page.text)) == shown
    if status == 400:
        assert "filter: invalid regular expression" in page.text


def test_a_silence_saved_edited_and_expired_from_the_console(
    client: TestClient, clock: Clock
) -> None:
    post_alert(client, clock, alertname="DiskFull", instance="db1")
    form = client.get("/ui/silences/new", params={"matchers": 'alertname="DiskFull"'})
    assert form.status_code == 200
    assert 'Firing alerts these matchers catch <span class="muted">1</span>' in form.text
    fields = {"matchers": 'alertname="DiskFull"', "created_by": "ann", "comment": "resize"}
    saved = client.post("/ui/silences", data=fields, headers=SAME_SITE, follow_redirects=False)
    assert (saved.status_code, saved.headers["location"]) == (303, "/ui/silences?done=silenced")
    assert "tocsin_who=ann" in saved.headers["set-cookie"]
    (silence,) = client.get("/api/v2/silences").json()
    assert silence["status"]["state"] == "active"
    assert (silence["createdBy"], silence["comment"]) == ("ann", "resize")
    assert client.get("/api/v2/alerts").json()[0]["status"]["silencedBy"] == [silence["id"]]

    listing = client.get("/ui/silences?done=silenced").text
    assert "Silence saved." in listing
    assert re.search(rf'<tr id="{silence["id"]}" class="silence">', listing)
    assert "<td>1 alert</td>" in listing
    # muted alerts leave the default alerts page, and come back with "silenced"
    assert 'id="none"' in client.get("/ui/alerts").text
    assert "suppressed" in client.get("/ui/alerts", params={"silenced": "true"}).text

    edit = client.get("/ui/silences/new", params={"id": silence["id"]})
    assert f'name="id" value="{silence["id"]}"' in edit.text
    assert 'value="ann"' in edit.text
    edited = {**fields, "id": silence["id"], "comment": "resize, day 2", "duration": "4h"}
    assert client.post("/ui/silences", data=edited, headers=SAME_SITE).status_code == 200
    (after,) = client.get("/api/v2/silences").json()
    assert (after["id"], after["comment"]) == (silence["id"], "resize, day 2")

    expire = client.post(f"/ui/silences/{silence['id']}/expire", headers=SAME_SITE)
    assert expire.status_code == 200  # followed the redirect to the list
    clock.now += timedelta(seconds=1)  # it ends at the instant it was expired
    assert client.get("/api/v2/silences").json()[0]["status"]["state"] == "expired"
    assert client.get("/api/v2/alerts").json()[0]["status"]["state"] == "active"
    # expiring it again is what was asked already
    assert client.post(f"/ui/silences/{silence['id']}/expire", headers=SAME_SITE).is_success
    assert client.post("/ui/silences/nope/expire", headers=SAME_SITE).status_code == 404


def test_a_refused_silence_names_each_field_keeps_what_was_typed_and_writes_nothing(
    client: TestClient,
) -> None:
    fields = {"matchers": 'job=~"("', "duration": "forever", "created_by": "", "comment": "x"}
    r = client.post("/ui/silences", data=fields, headers=SAME_SITE)
    assert r.status_code == 400
    problems = field_problems(r.text)
    assert set(problems) == {"matchers", "duration", "created_by"}
    assert "invalid regular expression" in problems["matchers"]
    assert "job=~&#34;(&#34;</textarea>" in r.text  # what was typed, escaped
    assert client.get("/api/v2/silences").json() == []
    r = client.post(
        "/ui/silences",
        data={"id": "gone", "matchers": 'a="b"', "created_by": "x", "comment": "y"},
        headers=SAME_SITE,
    )
    assert r.status_code == 404
    assert set(field_problems(r.text)) == {"id"}
    assert client.get("/api/v2/silences").json() == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example", "sec-fetch-site": "cross-site"},
        {"origin": "http://evil.example"},
        {"sec-fetch-site": "same-site"},
    ],
)
def test_a_form_posted_from_another_site_changes_nothing(
    client: TestClient, clock: Clock, headers: dict[str, str]
) -> None:
    group = open_group(client, clock)
    fields = {"matchers": 'a="b"', "created_by": "x", "comment": "y"}
    assert client.post("/ui/silences", data=fields, headers=headers).status_code == 403
    acked = client.post(f"/ui/groups/{group['id']}/ack", data={"by": "x"}, headers=headers)
    assert acked.status_code == 403
    assert client.get("/api/v2/silences").json() == []
    assert client.get(f"/api/v1/groups/{group['id']}").json()["status"] == "firing"


def test_an_oversized_form_is_refused(client: TestClient) -> None:
    big = {"matchers": 'a="b"', "created_by": "x", "comment": "y" * MAX_FORM_BYTES}
    assert client.post("/ui/silences", data=big, headers=SAME_SITE).status_code == 413
    assert client.get("/api/v2/silences").json() == []


def test_an_alert_group_acknowledged_snoozed_and_resolved_from_the_console(
    client: TestClient, clock: Clock
) -> None:
    group = open_group(client, clock)
    gid = group["id"]
    listing = client.get("/ui/groups").text
    assert f'data-group="{gid}"' in listing
    assert f'action="/ui/groups/{gid}/ack"' in listing

    def fired_first_step() -> Any:
        # the first step (no delay) fires in the app's background loop, after the group
        # opened: then the next step, due in an hour, is pending
        found = client.get(f"/ui/groups/{gid}")
        return found if "<td>escalation step 2</td>" in found.text else None

    page = wait_until(fired_first_step, 30, "the first step to fire")
    assert page.status_code == 200
    assert '<span class="state firing" id="status">firing</span>' in page.text
    assert "ServiceDown" in page.text
    # the audit trail's detail is words, not the stored entry's dict
    assert f'<span class="muted">escalation id: {gid}#1</span>' in page.text
    assert "{&#39;at&#39;" not in page.text

    # refused: no name; snooze without a duration; both name the field, change nothing
    r = client.post(f"/ui/groups/{gid}/ack", data={"by": ""}, headers=SAME_SITE)
    assert (r.status_code, set(field_problems(r.text))) == (400, {"by"})
    r = client.post(f"/ui/groups/{gid}/snooze", data={"by": "bob"}, headers=SAME_SITE)
    assert (r.status_code, set(field_problems(r.text))) == (400, {"duration"})
    for duration in ("0s", "2d"):  # nothing, or longer than a snooze may last
        r = client.post(
            f"/ui/groups/{gid}/snooze", data={"by": "bob", "duration": duration}, headers=SAME_SITE
        )
        assert (r.status_code, set(field_problems(r.text))) == (400, {"duration"}), duration
    assert client.get(f"/api/v1/groups/{gid}").json()["status"] == "firing"

    acked = client.post(
        f"/ui/groups/{gid}/ack",
        data={"by": "alice", "comment": "looking", "back": "/ui/groups"},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert (acked.status_code, acked.headers["location"]) == (303, "/ui/groups?done=ack")
    assert client.get(f"/api/v1/groups/{gid}").json()["acknowledgedBy"] == "alice"
    # acknowledged: the escalation waits, so step 2 is no longer shown as coming
    acked_page = client.get(f"/ui/groups/{gid}").text
    assert "<td>escalation step 2</td>" not in acked_page
    assert "Nothing: no step waits." in acked_page
    assert client.get(f"/api/v1/groups/{gid}").json()["pending"] == []
    # acknowledging twice is refused, by the same rule as the API's
    again = client.post(f"/ui/groups/{gid}/ack", data={"by": "bob"}, headers=SAME_SITE)
    assert again.status_code == 409
    assert set(field_problems(again.text)) == {"action"}
    # the refused form keeps bob's name, not alice's, who acted last from here
    assert 'id="by" name="by" value="bob"' in again.text

    snoozed = client.post(
        f"/ui/groups/{gid}/snooze", data={"by": "alice", "duration": "30m"}, headers=SAME_SITE
    )
    assert snoozed.status_code == 200
    assert "Alert group snoozed." in snoozed.text
    assert client.get(f"/api/v1/groups/{gid}").json()["status"] == "snoozed"

    resolved = client.post(f"/ui/groups/{gid}/resolve", data={"by": "bob"}, headers=SAME_SITE)
    assert resolved.status_code == 200
    assert client.get(f"/api/v1/groups/{gid}").json()["status"] == "resolved"
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    by_console = [(a["actor"], a["action"], a["channel"]) for a in audit if a["actor"] != "-"]
    assert ("alice", "acknowledged", "console") in by_console
    assert ("alice", "snoozed", "console") in by_console
    assert ("bob", "resolved", "console") in by_console
    # a resolved group leaves the open list, and stays in the whole one
    assert f'data-group="{gid}"' not in client.get("/ui/groups").text
    assert f'data-group="{gid}"' in client.get("/ui/groups", params={"all": "true"}).text
    assert (
        client.post("/ui/groups/nope/ack", data={"by": "x"}, headers=SAME_SITE).status_code == 404
    )
    assert client.post(f"/ui/groups/{gid}/wake", data={"by": "x"}).status_code == 404


def test_a_storm_s_firing_groups_are_acknowledged_at_once(client: TestClient, clock: Clock) -> None:
    """/ui/groups offers to acknowledge every group firing on it; the form carries
    their ids, so one bob took meanwhile is left to him (the page says so) and the
    others are alice's."""
    names = ("DiskFull", "HighLatency", "ServiceDown")
    for name in names:
        post_alert(client, clock, alertname=name, severity="critical")

    def three_open() -> list[str] | None:
        groups = client.get("/api/v1/groups").json()
        found = [g["id"] for g in groups if dict(g["labels"]).get("alertname") in names]
        return sorted(found) if len(found) == 3 else None

    ids: list[str] = wait_until(three_open, 30, "three groups to open")
    page = client.get("/ui/groups").text
    shown = re.search(r'name="groups" value="([^"]*)"', page)
    assert shown is not None
    assert set(ids) <= set(shown.group(1).split())  # (a self-alert's group may fire too)
    assert f"Acknowledge all {len(shown.group(1).split())} firing" in page
    taken = client.post(f"/api/v1/groups/{ids[0]}/ack", json={"by": "bob"})
    assert taken.status_code == 200, taken.text
    fields = {"groups": shown.group(1), "by": "alice"}
    done = client.post("/ui/groups", data=fields, headers=SAME_SITE)
    assert done.status_code == 409
    refusals = dict(re.findall(r'data-field="([^"]+)">[^:]+: ([^<]*)<', done.text))
    assert list(refusals) == ["done", ids[0]]
    asked = len(shown.group(1).split())
    assert refusals["done"] == f"{asked - 1} of {asked} acknowledged; not these:"
    assert "already acknowledged by bob" in refusals[ids[0]]
    by = {g["id"]: g["acknowledgedBy"] for g in client.get("/api/v1/groups").json()}
    assert [by[i] for i in ids] == ["bob", "alice", "alice"]
    # none of them is offered again (the pages to people fail here: a self-alert's
    # group may fire meanwhile)
    offered = re.search(r'name="groups" value="([^"]*)"', client.get("/ui/groups").text)
    assert offered is None or not set(offered.group(1).split()) & set(ids)
    nobody = client.post("/ui/groups", data={"groups": ids[1]}, headers=SAME_SITE)
    assert (nobody.status_code, set(field_problems(nobody.text))) == (400, {"by"})


def test_who_is_on_call_and_the_notifications(client: TestClient, clock: Clock) -> None:
    oncall = client.get("/ui/oncall")
    assert oncall.status_code == 200
    api = client.get("/api/v1/oncall", params={"schedule": "primary"}).json()["primary"]
    (now_on,) = re.findall(r'<strong class="person">(\w+)</strong>', oncall.text)
    assert now_on == api[0]["person"]
    feed = re.search(r'href="(/api/v1/schedules/primary.ics\?token=[0-9a-f]{32})"', oncall.text)
    assert feed is not None
    assert client.get(feed.group(1)).status_code == 200
    assert "Alice Liddell" in oncall.text

    open_group(client, clock)  # pages whoever is on call: a notification to show
    items = wait_until(lambda: client.get("/api/v1/notifications").json(), 30, "a page")
    page = client.get("/ui/notifications")
    assert set(re.findall(r'class="notification" data-id="([\w-]+)"', page.text)) == {
        i["id"] for i in items
    }
    # a full page links to the next, by its last notification; a status filters
    first = client.get("/ui/notifications", params={"limit": 1}).text
    assert f"before={items[0]['id']}" in first
    assert 'id="older"' in first
    assert 'id="older"' not in page.text  # (not a full page)
    none = client.get("/ui/notifications", params={"status": "superseded"}).text
    assert 'id="none"' in none
    assert client.get("/ui/runbooks").text.count('<a href="/runbooks/') == 3


def test_forms_start_with_the_name_the_browser_logged_in_with(
    client: TestClient, clock: Clock
) -> None:
    """Behind basic auth, the first acknowledgement is one click too: the name field
    starts with the login; a name used here before (the cookie) wins."""
    group = open_group(client, clock)
    login = {"authorization": "Basic " + base64.b64encode(b"erin:secret").decode()}
    page = client.get(f"/ui/groups/{group['id']}", headers=login).text
    assert 'name="by" value="erin"' in page
    form = client.get("/ui/silences/new", headers=login).text
    assert 'name="created_by" value="erin"' in form
    client.cookies.set("tocsin_who", "ann")
    assert 'name="by" value="ann"' in client.get(f"/ui/groups/{group['id']}", headers=login).text


def test_a_group_s_page_says_what_is_wrong_and_how_to_act_first(
    client: TestClient, clock: Clock
) -> None:
    """On a phone the summary was three screens down, below the forms and the
    checklist (phone walk-through): what is wrong comes first, then the buttons, the
    name field offering the people, snoozes of a tap, and a silence of the whole group."""
    gid = open_group(client, clock)["id"]
    page = client.get(f"/ui/groups/{gid}").text
    wrong = page.index('id="wrong"')
    # its summary, escaped as everything an alert says
    assert "<li><strong>ServiceDown &lt;b&gt;is&lt;/b&gt; down</strong></li>" in page
    assert wrong < page.index('id="act"') < page.index('id="alerts"')
    # and the list of groups says it for each, under its labels (cut short on a phone)
    listed = client.get("/ui/groups").text
    assert '<div class="summary">ServiceDown &lt;b&gt;is&lt;/b&gt; down</div>' in listed
    assert '<datalist id="people"><option value="alice"><option value="bob"></datalist>' in page
    silence = re.search(r'id="silence-group" href="([^"]+)"', page)
    assert silence is not None
    form = client.get(unescape(silence.group(1))).text
    assert "alertname=&#34;ServiceDown&#34;" in form
    assert f"alert group {gid}" in form
    # a snooze of a tap: the preset's value wins over the empty field before it
    fields = {"by": "alice", "duration": "", "comment": ""}
    done = client.post(
        f"/ui/groups/{gid}/snooze",
        content=urlencode({**fields}) + "&duration=1h",
        headers={**SAME_SITE, "content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    shown = client.get(f"/api/v1/groups/{gid}").json()
    assert shown["status"] == "snoozed"
    assert shown["snoozedUntil"] == format_rfc3339(clock.now + timedelta(hours=1))
