"""Incidents over a real database (SQLite and PostgreSQL): declared, changed and
listed; every refusal names its field and stores nothing; a severity's debts (a
status-page update, a post-mortem) raise alerts in the store when missed and resolve
when paid; the post-mortem draft; the public status page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock
from tests.e2e.conftest import wait_until
from tocsin.runtime import Runtime
from tocsin.timeutil import format_rfc3339

CONFIG = """\
route:
  receiver: default
  group_wait: 0s
receivers:
  - name: default
tocsin:
  incidents:
    labels: {team: sre}
    components: [API, Checkout, Search]
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    return path


def declare(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/incidents", json={"by": "alice", "severity": "SEV1", **body})
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


def change(client: TestClient, number: int, **body: Any) -> dict[str, Any]:
    r = client.patch(f"/api/v1/incidents/{number}", json={"by": "bob", **body})
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def reminders(client: TestClient) -> dict[str, dict[str, Any]]:
    alerts = client.get("/api/v2/alerts").json()
    return {a["labels"]["alertname"]: a for a in alerts if "incident" in a["labels"]}


def test_declare_change_and_list(client: TestClient, clock: Clock) -> None:
    made = declare(client, title="Checkout failing", summary="Payments time out")
    assert made["status"] == "investigating"
    assert made["roles"] == {"commander": "alice"}  # the declarer, unless another is named
    assert made["groups"] == []
    assert [e["kind"] for e in made["timeline"]] == ["declared", "role"]
    # SEV1 owes a first status-page update within 15 minutes
    assert made["due"] == [
        {
            "kind": "update",
            "at": format_rfc3339(clock.now + timedelta(minutes=15)),
            "what": "a first update",
            "overdue": False,
        }
    ]
    clock.now += timedelta(minutes=3)
    after = change(
        client,
        made["id"],
        status="identified",
        update="A bad deploy; rolling back",
        roles={"communications": "carol", "commander": "bob"},
        severity="SEV2",
    )
    assert after["status"] == "identified"
    assert after["severity"] == "SEV2"
    assert after["roles"] == {"commander": "bob", "communications": "carol"}
    assert after["lastUpdateAt"] == format_rfc3339(clock.now)
    public = [e["text"] for e in after["timeline"] if e["public"]]
    assert public == ["Identified: A bad deploy; rolling back"]
    # the next update is due an hour after this one (SEV2)
    assert after["due"][0]["at"] == format_rfc3339(clock.now + timedelta(hours=1))
    # the same change again changes nothing and writes nothing
    again = change(client, made["id"], status="identified", severity="SEV2")
    assert len(again["timeline"]) == len(after["timeline"])
    declare(client, title="Search slow", severity="SEV3")
    listed = client.get("/api/v1/incidents").json()
    assert [i["title"] for i in listed] == ["Search slow", "Checkout failing"]
    resolved = change(client, made["id"], status="resolved")
    assert resolved["resolvedAt"] == format_rfc3339(clock.now)
    assert [i["title"] for i in client.get("/api/v1/incidents?state=open").json()] == [
        "Search slow"
    ]
    assert [i["id"] for i in client.get("/api/v1/incidents?state=resolved").json()] == [made["id"]]
    reopened = change(client, made["id"], status="investigating")
    assert reopened["resolvedAt"] is None
    assert reopened["timeline"][-1]["text"] == "reopened: investigating"


def test_what_is_owed_says_once_it_is_overdue(client: TestClient, clock: Clock) -> None:
    made = declare(client, title="Checkout failing")
    assert [(d["what"], d["overdue"]) for d in made["due"]] == [("a first update", False)]
    clock.now += timedelta(minutes=15)  # SEV1: a first update within 15 minutes
    late = client.get(f"/api/v1/incidents/{made['id']}").json()
    assert [(d["what"], d["overdue"]) for d in late["due"]] == [("a first update", True)]


# (body, the 400's message starts with)
DECLARE_REFUSED = [
    ({"severity": "SEV1"}, "title: required"),
    ({"title": " ", "severity": "SEV1"}, "title: required"),
    ({"title": "a\nb", "severity": "SEV1"}, "title: one line"),
    ({"title": "x"}, "severity: must be one of SEV1, SEV2, SEV3"),
    ({"title": "x", "severity": "P1"}, "severity: must be one of"),
    ({"title": "x", "severity": "SEV1", "roles": {"boss": "al"}}, "roles.boss: no such role"),
    ({"title": "x", "severity": "SEV1", "roles": {"scribe": 1}}, "roles.scribe: must be"),
    ({"title": "x", "severity": "SEV1", "roles": ["scribe"]}, "roles: must be an object"),
    ({"title": "x", "severity": "SEV1", "public": "yes"}, "public: must be true or false"),
    ({"title": 7, "severity": "SEV1"}, "title: must be a string"),
    ({"title": "x", "severity": "SEV1", "groups": [1]}, "groups: must be a list"),
    # a group that does not exist (a typo would link nothing)
    ({"title": "x", "severity": "SEV1", "groups": ["g1"]}, "groups[0]: no alert group 'g1'"),
    ({"title": "x", "severity": "SEV1", "group": "g1"}, "group: unknown field"),
    ({"title": "x", "severity": "SEV1", "components": ["Web"]}, "components[0]: no component"),
    ({"title": "x", "severity": "SEV1", "components": 3}, "components: must be a list"),
    ({"title": "x", "severity": "SEV1", "by": " al"}, "by: a name on one line"),
]


@pytest.mark.parametrize(("body", "message"), DECLARE_REFUSED)
def test_a_refused_declaration_names_its_field_and_stores_nothing(
    client: TestClient, body: dict[str, Any], message: str
) -> None:
    r = client.post("/api/v1/incidents", json={"by": "alice", **body})
    assert r.status_code == 400
    assert r.json().startswith(message), r.json()
    assert client.get("/api/v1/incidents").json() == []


CHANGE_REFUSED = [
    ({"status": "fixed"}, "status: must be one of investigating, identified, monitoring"),
    ({"severity": "SEV9"}, "severity: must be one of"),
    ({"unlink": ["nope"]}, "unlink[0]: alert group 'nope' is not linked"),
    ({"link": [""]}, "link[0]: an alert group id"),
    ({"link": ["nope"]}, "link[0]: no alert group 'nope'"),
    ({"postmortem": "  "}, "postmortem: empty"),
    ({"colour": "red"}, "colour: unknown field"),
    # a bad field after a good one: the good one is not applied either
    ({"status": "monitoring", "roles": {"boss": "x"}}, "roles.boss: no such role"),
]


@pytest.mark.parametrize(("body", "message"), CHANGE_REFUSED)
def test_a_refused_change_names_its_field_and_changes_nothing(
    client: TestClient, body: dict[str, Any], message: str
) -> None:
    made = declare(client, title="Checkout failing")
    r = client.patch(f"/api/v1/incidents/{made['id']}", json={"by": "bob", **body})
    assert r.status_code == 400
    assert r.json().startswith(message), r.json()
    assert client.get(f"/api/v1/incidents/{made['id']}").json() == made


def test_who_and_which(client: TestClient) -> None:
    assert client.post("/api/v1/incidents", json={"title": "x"}).json().startswith("by: required")
    assert client.post("/api/v1/incidents", content=b"{").status_code == 400
    assert client.get("/api/v1/incidents/42").status_code == 404
    for odd in ("abc", "²", "9" * 30, "-1"):  # not a number, or beyond any id: no 500
        assert client.get(f"/api/v1/incidents/{odd}").status_code == 404, odd
    r = client.patch("/api/v1/incidents/42", json={"by": "bob", "note": "x"})
    assert (r.status_code, r.json()) == (404, "no incident 42")
    assert client.get("/api/v1/incidents?state=closed").status_code == 400
    # a browser's post from another site's page is refused
    r = client.post(
        "/api/v1/incidents",
        json={"by": "eve", "title": "x", "severity": "SEV1"},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert r.status_code == 403


def test_missed_updates_and_post_mortems_raise_alerts_until_paid(
    client: TestClient, runtime: Runtime, clock: Clock
) -> None:
    made = declare(client, title="Checkout failing")
    number = str(made["id"])
    clock.now += timedelta(minutes=16)  # the first update was due at 15
    runtime.incident_reminders.kick()
    late = wait_until(lambda: reminders(client).get("IncidentUpdateOverdue"), 10, "a reminder")
    assert late["labels"] == {
        "alertname": "IncidentUpdateOverdue",
        "incident": number,
        "incident_severity": "SEV1",
        "severity": "warning",
        "team": "sre",
    }
    assert late["startsAt"] == format_rfc3339(clock.now - timedelta(minutes=1))
    assert late["generatorURL"].endswith(f"/ui/incidents/{number}")
    assert "Commander: alice." in late["annotations"]["description"]
    metrics = client.get("/metrics").text
    assert 'tocsin_incidents_open{severity="SEV1"} 1.0' in metrics
    # a severity with none open is 0, not a series that comes and goes
    assert 'tocsin_incidents_open{severity="SEV3"} 0.0' in metrics
    change(client, made["id"], update="Rolling back")
    wait_until(lambda: not reminders(client), 10, "the reminder to resolve")
    change(client, made["id"], status="resolved")
    clock.now += timedelta(hours=48, seconds=1)
    runtime.incident_reminders.kick()
    wait_until(lambda: reminders(client).get("IncidentPostmortemOverdue"), 10, "a post-mortem")
    draft = client.get(f"/api/v1/incidents/{number}/postmortem").json()
    assert draft["stored"] is False
    assert "# Post-mortem: Checkout failing" in draft["markdown"]
    assert "| alice | declared SEV1: Checkout failing |" in draft["markdown"]
    unedited = {"by": "bob", "postmortem": draft["markdown"]}
    refused = client.patch(f"/api/v1/incidents/{number}", json=unedited)
    assert (refused.status_code, refused.json()) == (
        400,
        "postmortem: the draft, unedited: write it before storing it",
    )
    change(client, made["id"], postmortem=draft["markdown"] + "\nRoot cause: a config push.\n")
    wait_until(lambda: not reminders(client), 10, "the post-mortem reminder to resolve")
    stored = client.get(f"/api/v1/incidents/{number}/postmortem").json()
    assert stored["stored"] is True
    assert stored["markdown"].endswith("a config push.\n")


def test_the_status_page_shows_only_what_is_public(client: TestClient) -> None:
    page = client.get("/api/v1/status-page").json()
    components = [{"name": c, "status": "operational"} for c in ("API", "Checkout", "Search")]
    assert page == {
        "title": "Service status",
        "status": "operational",
        "components": components,
        "incidents": [],
        "maintenances": [],
    }
    hidden = declare(client, title="Internal tooling down", severity="SEV1")
    change(client, hidden["id"], note="a private note", update="not public: incident is hidden")
    shown = declare(
        client,
        title="Checkout slow",
        severity="SEV2",
        public=True,
        summary="Slow",
        components=["Checkout"],
    )
    change(client, shown["id"], note="looking at the db", update="We are investigating")
    page = client.get("/api/v1/status-page").json()
    assert page["status"] == "partial_outage"  # the hidden SEV1 does not count
    assert [(c["name"], c["status"]) for c in page["components"]] == [
        ("API", "operational"),
        ("Checkout", "partial_outage"),
        ("Search", "operational"),
    ]
    (incident,) = page["incidents"]
    assert incident["title"] == "Checkout slow"
    # no number, no severity: the public learns nothing of the private incidents
    assert set(incident) == {
        "title",
        "status",
        "summary",
        "components",
        "openedAt",
        "resolvedAt",
        "updates",
    }
    assert incident["components"] == ["Checkout"]
    # the whole list, in its place; a PATCH without it leaves it as it is
    assert change(client, shown["id"], components=["API", "Search"])["components"] == [
        "API",
        "Search",
    ]
    assert change(client, shown["id"], note="x")["components"] == ["API", "Search"]
    assert change(client, shown["id"], components=[])["components"] == []
    assert incident["summary"] == "Slow"
    assert [u["text"] for u in incident["updates"]] == ["Investigating: We are investigating"]
    change(client, shown["id"], status="resolved")
    page = client.get("/api/v1/status-page").json()
    assert page["status"] == "operational"
    assert [u["text"] for u in page["incidents"][0]["updates"]][-1] == "resolved"


def test_the_openapi_document_describes_the_bodies(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    declare = paths["/api/v1/incidents"]["post"]["requestBody"]["content"]["application/json"]
    assert declare["schema"]["required"] == ["title", "severity", "by"]
    change = paths["/api/v1/incidents/{incident_id}"]["patch"]["requestBody"]
    assert "update" in change["content"]["application/json"]["schema"]["properties"]
    assert "/api/v1/status-page" in paths
    assert "/status" not in paths  # the HTML page, as the console's, is not API


def test_the_draft_tells_the_peak_and_the_last_word_and_a_reopening_owes_a_revision(
    client: TestClient, clock: Clock
) -> None:
    """The user's incident: SEV1 for three minutes of a SEV2, its summary stale, then
    reopened and resolved again. The draft says the peak and the status page's last
    word; the post-mortem stored before the reopening, saved again unchanged, is
    refused (it tells the first resolution only) and the debt stays until revised."""
    # 21:00 tomorrow, whatever the hour the test runs at: the times read as the user's
    clock.now = clock.now.replace(hour=21, minute=0, second=0) + timedelta(days=1)
    made = declare(
        client, title="API errors", severity="SEV2", summary="We are investigating errors."
    )
    number = made["id"]
    clock.now += timedelta(minutes=5, seconds=35)
    change(client, number, severity="SEV1")
    clock.now += timedelta(minutes=3, seconds=14)
    change(client, number, severity="SEV2", update="A bad deploy; rolled back.")
    clock.now += timedelta(minutes=20)
    change(client, number, status="resolved", update="Errors are back to normal.")
    markdown = client.get(f"/api/v1/incidents/{number}/postmortem").json()["markdown"]
    assert "- **Severity:** SEV2 (peak SEV1, 21:05\u201321:08)\n" in markdown
    summary = markdown.split("## Summary\n\n")[1].split("\n\n")[0]
    assert summary == "Resolved: Errors are back to normal."
    assert "We are investigating errors." not in markdown

    written = markdown.replace("_One paragraph", "Errors for 29 minutes. _One paragraph")
    change(client, number, postmortem=written)
    clock.now += timedelta(hours=1)
    change(client, number, status="investigating", note="errors again")
    clock.now += timedelta(hours=1)
    again = change(client, number, status="resolved")
    assert [d["what"] for d in again["due"]] == ["a post-mortem"]
    stored = client.get(f"/api/v1/incidents/{number}/postmortem").json()
    assert (stored["stored"], stored["markdown"]) == (True, written)
    refused = client.patch(f"/api/v1/incidents/{number}", json={"by": "bob", "postmortem": written})
    assert refused.status_code == 400
    assert refused.json().startswith(
        "postmortem: the incident was reopened and resolved again since this post-mortem "
        "was written: revise it"
    )
    assert client.get(f"/api/v1/incidents/{number}").json() == again  # nothing written
    revised = change(client, number, postmortem=written + "\nIt came back: a second push.\n")
    assert revised["due"] == []
    assert revised["timeline"][-1]["text"] == "post-mortem revised"
