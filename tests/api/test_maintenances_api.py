"""Maintenance windows over a real database (SQLite and PostgreSQL): scheduled,
changed, cancelled and finished early, each with its silence in the same commit; the
alerts it covers are muted over exactly its window; the status page, its JSON and its
feed show it; every refusal names its field and stores nothing."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock
from tocsin.alerts.matchers import parse_matcher
from tocsin.incidents.maintenance import Maintenance
from tocsin.incidents.model import Refused
from tocsin.runtime import Runtime
from tocsin.timeutil import format_rfc3339

CONFIG = """\
route:
  receiver: default
receivers:
  - name: default
tocsin:
  incidents:
    components: [API, Search]
    maintenance_notice: 48h
"""
H = timedelta(hours=1)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    return path


def schedule(
    client: TestClient, clock: Clock, start: timedelta, end: timedelta, **body: Any
) -> Any:
    window = {
        "startsAt": format_rfc3339(clock.now + start),
        "endsAt": format_rfc3339(clock.now + end),
    }
    r = client.post(
        "/api/v1/maintenances", json={"by": "alice", "title": "DB upgrade", **window, **body}
    )
    assert r.status_code == 201, r.text
    return r.json()


def patch(client: TestClient, number: int, **body: Any) -> Any:
    r = client.patch(f"/api/v1/maintenances/{number}", json={"by": "bob", **body})
    assert r.status_code == 200, r.text
    return r.json()


def silences(client: TestClient) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in client.get("/api/v2/silences").json()}


def alert_state(client: TestClient, service: str) -> str:
    client.post("/api/v2/alerts", json=[{"labels": {"alertname": "Down", "service": service}}])
    (found,) = [a for a in client.get("/api/v2/alerts").json() if a["labels"]["service"] == service]
    state: str = found["status"]["state"]
    return state


def test_a_window_silences_its_alerts_over_exactly_its_window(
    client: TestClient, clock: Clock
) -> None:
    m = schedule(client, clock, H, 3 * H, matchers=['service="orchestrator"'], components=["API"])
    assert (m["id"], m["state"], m["matchers"]) == (1, "scheduled", ['service="orchestrator"'])
    assert m["shortNotice"] == "3600s"  # an hour's notice where 48h are asked
    private = schedule(client, clock, H, 2 * H, matchers=['service="x"'], public=False)
    assert private["shortNotice"] is None  # announced to nobody: no notice owed
    silence = silences(client)[m["silenceId"]]
    assert silence["status"]["state"] == "pending"
    assert (silence["startsAt"], silence["endsAt"]) == (m["startsAt"], m["endsAt"])
    assert silence["comment"] == "maintenance #1: DB upgrade"
    assert alert_state(client, "orchestrator") == "active"  # not yet
    clock.now += 2 * H
    assert alert_state(client, "orchestrator") == "suppressed"
    assert alert_state(client, "billing") == "active"  # not covered
    # it runs over: extended, its silence follows, in place (the same id)
    longer = patch(client, 1, endsAt=format_rfc3339(clock.now + 2 * H))
    assert longer["silenceId"] == m["silenceId"]
    assert silences(client)[m["silenceId"]]["endsAt"] == longer["endsAt"]
    # finished early: the window and its silence end now
    done = patch(client, 1, state="completed")
    assert (done["state"], done["endsAt"]) == ("completed", format_rfc3339(clock.now))
    assert silences(client)[m["silenceId"]]["endsAt"] == done["endsAt"]
    clock.now += timedelta(seconds=1)
    assert silences(client)[m["silenceId"]]["status"]["state"] == "expired"
    assert alert_state(client, "orchestrator") == "active"
    r = client.patch("/api/v1/maintenances/1", json={"by": "bob", "title": "again"})
    assert (r.status_code, r.json()) == (
        400,
        "state: this maintenance is completed: it changes no more",
    )


def test_cancelled_and_moved_windows(client: TestClient, clock: Clock) -> None:
    m = schedule(client, clock, 50 * H, 52 * H, matchers=['job=~"api.*"'])
    assert m["shortNotice"] is None  # 50 hours' notice: enough
    moved = patch(
        client,
        1,
        startsAt=format_rfc3339(clock.now + 60 * H),
        endsAt=format_rfc3339(clock.now + 61 * H),
    )
    assert silences(client)[moved["silenceId"]]["startsAt"] == moved["startsAt"]
    later = patch(client, 1, extendBy="30m")
    assert later["endsAt"] == format_rfc3339(clock.now + 61 * H + timedelta(minutes=30))
    r = client.patch("/api/v1/maintenances/1", json={"by": "bob", "extendBy": "soon"})
    assert r.status_code == 400
    assert r.json().startswith("extendBy: ")
    cancelled = patch(client, 1, state="cancelled")
    assert (cancelled["state"], cancelled["cancelledAt"]) == (
        "cancelled",
        format_rfc3339(clock.now),
    )
    clock.now += timedelta(seconds=1)
    assert silences(client)[moved["silenceId"]]["status"]["state"] == "expired"
    assert client.get("/api/v1/maintenances").json() == []  # not over, but called off
    assert [x["id"] for x in client.get("/api/v1/maintenances?past=true").json()] == [1]
    # a window without matchers is the status page's only: no silence
    bare = schedule(client, clock, H, 2 * H)
    assert bare["silenceId"] is None
    assert bare["matchers"] == []


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ({"title": ""}, "title: a title, on one line"),
        ({"startsAt": "tomorrow"}, "startsAt: not an RFC 3339 timestamp: 'tomorrow'"),
        ({"endsAt": None}, "endsAt: required"),
        ({"components": ["Nope"]}, "components[0]: no such component 'Nope' (known: API, Search)"),
        ({"matchers": ['service=~"("']}, "matchers[0]: "),
        (
            {"matchers": ['service=""']},
            "matchers: at least one matcher must not match the empty string",
        ),
        ({"matchers": "x"}, "matchers[0]: "),
        ({"public": "yes"}, "public: must be true or false"),
        ({"startAt": "x"}, "startAt: unknown field"),
        ({"by": ""}, "by: required, who is doing this"),
    ],
)
def test_a_refused_window_names_its_field_and_stores_nothing(
    client: TestClient, clock: Clock, body: dict[str, Any], answer: str
) -> None:
    window = {
        "by": "alice",
        "title": "DB upgrade",
        "startsAt": format_rfc3339(clock.now + H),
        "endsAt": format_rfc3339(clock.now + 2 * H),
    }
    r = client.post(
        "/api/v1/maintenances", json={k: v for k, v in {**window, **body}.items() if v is not None}
    )
    assert r.status_code == 400
    assert r.json().startswith(answer), r.json()
    assert client.get("/api/v1/maintenances?past=true").json() == []
    assert silences(client) == {}


def test_unknown_windows(client: TestClient) -> None:
    assert client.get("/api/v1/maintenances/9").status_code == 404
    assert client.get("/api/v1/maintenances/x").status_code == 404
    r = client.patch("/api/v1/maintenances/9", json={"by": "bob", "state": "cancelled"})
    assert (r.status_code, r.json()) == (404, "no maintenance 9")


def test_the_status_page_shows_public_windows(
    client: TestClient, clock: Clock, runtime: Runtime
) -> None:
    schedule(client, clock, H, 3 * H, components=["API"], description="API read-only")
    schedule(client, clock, H, 3 * H, title="Internal", components=["Search"], public=False)
    page = client.get("/api/v1/status-page").json()
    assert page["status"] == "operational"
    (shown,) = page["maintenances"]
    assert (shown["title"], shown["state"], shown["description"]) == (
        "DB upgrade",
        "scheduled",
        "API read-only",
    )
    clock.now += 2 * H
    page = client.get("/api/v1/status-page").json()
    assert page["status"] == "under_maintenance"
    assert page["components"] == [
        {"name": "API", "status": "under_maintenance"},
        {"name": "Search", "status": "operational"},  # the private window's says nothing
    ]
    html = client.get("/status").text
    assert "Scheduled maintenance" in html
    assert "API read-only" in html
    assert "Internal" not in html
    assert 'class="banner under_maintenance"' in html
    atom = client.get("/status/feed.atom").text
    assert "Maintenance in progress: DB upgrade" in atom  # the entry, titled as it is now
    assert "Internal" not in atom
    # an incident on the component says more than the maintenance
    r = client.post(
        "/api/v1/incidents",
        json={
            "by": "a",
            "title": "API down",
            "severity": "SEV1",
            "public": True,
            "components": ["API"],
        },
    )
    assert r.status_code == 201
    page = client.get("/api/v1/status-page").json()
    assert page["components"][0] == {"name": "API", "status": "major_outage"}
    assert page["status"] == "major_outage"
    clock.now += 2 * H  # over: completed, shown for a week
    assert client.get("/api/v1/status-page").json()["maintenances"][0]["state"] == "completed"
    clock.now += 8 * 24 * H
    assert client.get("/api/v1/status-page").json()["maintenances"] == []


def test_the_statuspage_shaped_api(client: TestClient, clock: Clock) -> None:
    """What reads an Atlassian Statuspage (widgets, aggregators) reads Tocsin's page."""
    summary = client.get("/status/api/v2/summary.json").json()
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert summary["page"]["name"] == "Service status"
    assert summary["page"]["url"].endswith("/status")
    assert [(c["name"], c["status"], c["position"]) for c in summary["components"]] == [
        ("API", "operational", 1),
        ("Search", "operational", 2),
    ]
    assert (summary["incidents"], summary["scheduled_maintenances"]) == ([], [])
    schedule(client, clock, H, 3 * H, components=["API"], description="API read-only")
    r = client.post(
        "/api/v1/incidents",
        json={"by": "a", "title": "Search slow", "severity": "SEV2", "public": True},
    )
    number = r.json()["id"]
    client.patch(f"/api/v1/incidents/{number}", json={"by": "a", "update": "Looking into it"})
    client.patch(
        f"/api/v1/incidents/{number}",
        json={"by": "a", "status": "identified", "update": "A bad index", "components": ["Search"]},
    )
    summary = client.get("/status/api/v2/summary.json").json()
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    (incident,) = summary["incidents"]
    assert (incident["name"], incident["status"], incident["impact"]) == (
        "Search slow",
        "identified",
        "major",
    )
    # a digest, not the number: the page does not count the private incidents
    assert re.fullmatch("[0-9a-f]{12}", incident["id"])
    assert [(u["status"], u["body"]) for u in incident["incident_updates"]] == [
        ("identified", "A bad index"),  # newest first
        ("investigating", "Looking into it"),
    ]
    assert incident["components"] == [{"id": summary["components"][1]["id"], "name": "Search"}]
    (window,) = summary["scheduled_maintenances"]
    assert (window["name"], window["status"], window["impact"]) == (
        "DB upgrade",
        "scheduled",
        "maintenance",
    )
    assert window["scheduled_for"] == format_rfc3339(clock.now + H)
    assert window["incident_updates"][0]["body"] == "API read-only"
    assert client.get("/status/api/v2/scheduled-maintenances/upcoming.json").json()[
        "scheduled_maintenances"
    ] == [window]
    assert (
        client.get("/status/api/v2/scheduled-maintenances/active.json").json()[
            "scheduled_maintenances"
        ]
        == []
    )
    clock.now += 2 * H
    status = client.get("/status/api/v2/status.json").json()["status"]
    assert status["indicator"] == "major"  # the incident says more than the maintenance
    client.patch(f"/api/v1/incidents/{number}", json={"by": "a", "status": "resolved"})
    assert client.get("/status/api/v2/status.json").json()["status"] == {
        "indicator": "maintenance",
        "description": "Service Under Maintenance",
    }
    components = client.get("/status/api/v2/components.json").json()["components"]
    assert [c["status"] for c in components] == ["under_maintenance", "operational"]
    assert client.get("/status/api/v2/incidents/unresolved.json").json()["incidents"] == []
    (resolved,) = client.get("/status/api/v2/incidents.json").json()["incidents"]
    assert (resolved["status"], resolved["impact"]) == ("resolved", "major")  # it stays
    assert resolved["incident_updates"][0]["status"] == "resolved"
    assert resolved["id"] == incident["id"]  # the same incident, the same id


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ({"startsAt": "0001-01-01T00:30:00+01:00"}, "startsAt: not a time Tocsin can hold"),
        ({"endsAt": "9999-12-31T23:59:59-01:00"}, "endsAt: not a time Tocsin can hold"),
        ({"title": "nul\u0000"}, "title: must not contain a NUL character"),
    ],
)
def test_times_beyond_any_date_and_nul_are_refused(
    client: TestClient, clock: Clock, body: dict[str, Any], answer: str
) -> None:
    window = {
        "by": "alice",
        "title": "x",
        "startsAt": format_rfc3339(clock.now + H),
        "endsAt": format_rfc3339(clock.now + 2 * H),
    }
    r = client.post("/api/v1/maintenances", json={**window, **body})
    assert (r.status_code, r.json()[: len(answer)]) == (400, answer)


def test_an_extension_beyond_any_date_is_refused(client: TestClient, clock: Clock) -> None:
    window = {"by": "a", "title": "x", "startsAt": format_rfc3339(clock.now + H)}
    r = client.post("/api/v1/maintenances", json={**window, "endsAt": "9999-12-31T23:00:00Z"})
    assert r.status_code == 201, r.text
    r = client.patch("/api/v1/maintenances/1", json={"by": "b", "extendBy": "2h"})
    assert (r.status_code, r.json()) == (400, "extendBy: ends beyond any date")


def test_a_refused_window_in_a_batch_writes_nothing(
    client: TestClient, clock: Clock, runtime: Runtime
) -> None:
    """Refused ops share a transaction with others (group commit): the refused one
    must have written nothing when the batch commits."""

    async def both() -> list[object]:
        desk = runtime.maintenances
        bad = desk.schedule(
            "Bad", clock.now + H, clock.now + 2 * H, "a", matchers=[parse_matcher('a=""')]
        )
        good = desk.schedule("Good", clock.now + H, clock.now + 2 * H, "a")
        return list(await asyncio.gather(bad, good, return_exceptions=True))

    bad, good = asyncio.run(both())
    assert isinstance(bad, Refused)
    assert bad.field == "matchers"
    assert isinstance(good, Maintenance)
    assert good.title == "Good"
    assert [m["title"] for m in client.get("/api/v1/maintenances").json()] == ["Good"]


def test_a_silence_expired_on_purpose_stays_expired(client: TestClient, clock: Clock) -> None:
    m = schedule(client, clock, 0 * H, 2 * H, matchers=['service="api"'])
    assert client.delete(f"/api/v2/silence/{m['silenceId']}").status_code == 200  # amtool's expire
    clock.now += timedelta(seconds=1)
    changed = patch(client, 1, title="DB upgrade, longer", extendBy="1h")
    assert changed["silenceId"] == m["silenceId"]
    assert [s["status"]["state"] for s in silences(client).values()] == ["expired"]
    assert alert_state(client, "api") == "active"  # let through, as whoever expired it wanted
    # asked to silence other alerts: a silence of them afresh
    rematched = patch(client, 1, matchers=['service="db"'])
    assert rematched["silenceId"] != m["silenceId"]
    assert silences(client)[rematched["silenceId"]]["status"]["state"] == "active"


def test_what_a_window_silences_can_change(client: TestClient, clock: Clock) -> None:
    m = schedule(client, clock, H, 2 * H, matchers=['service="api"'])
    first = m["silenceId"]
    assert m["updatedAt"] is None
    other = patch(client, 1, matchers=['service="db"', 'env="prod"'])
    assert other["matchers"] == ['service="db"', 'env="prod"']
    assert other["updatedAt"] == format_rfc3339(clock.now)
    found = silences(client)
    assert other["silenceId"] != first  # Alertmanager's rule: other matchers, a new one
    assert [m["name"] for m in found[other["silenceId"]]["matchers"]] == ["service", "env"]
    assert found[first]["endsAt"] == format_rfc3339(clock.now)  # the old one expired
    bare = patch(client, 1, matchers=[])
    assert (bare["silenceId"], bare["matchers"]) == (None, [])
    assert silences(client)[other["silenceId"]]["endsAt"] == format_rfc3339(clock.now)
    again = patch(client, 1, matchers=['service="api"'])
    assert again["silenceId"] not in (None, first, other["silenceId"])
    r = client.patch("/api/v1/maintenances/1", json={"by": "b", "matchers": ['a=""']})
    assert (r.status_code, r.json()) == (
        400,
        "matchers: at least one matcher must not match the empty string",
    )
    assert patch(client, 1, title="t")["silenceId"] == again["silenceId"]  # unchanged
