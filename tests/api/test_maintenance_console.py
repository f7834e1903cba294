"""Maintenance windows in the console (SQLite and PostgreSQL): scheduled from the
list's form, extended, finished and cancelled with a window's buttons, and refused
forms naming their field and keeping what was typed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock, app_client
from tests.api.test_incidents_console import post, problems
from tests.api.test_maintenances_api import CONFIG
from tocsin.timeutil import format_rfc3339


@pytest.fixture
def client(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    with app_client(CONFIG, db_url, tmp_path, clock) as c:
        yield c


def windows(client: TestClient) -> list[dict[str, object]]:
    found: list[dict[str, object]] = client.get("/api/v1/maintenances?past=true").json()
    return found


def test_scheduled_extended_and_finished_from_the_console(client: TestClient, clock: Clock) -> None:
    page = client.get("/ui/maintenance").text
    assert "No upcoming or running maintenance windows." in page
    assert 'name="public" checked' in page  # public unless unticked
    status, where = post(
        client,
        "/ui/maintenance",
        title="Database upgrade",
        start="",
        duration="2h",
        description="API read-only",
        matchers='service="orchestrator"\n\njob=~"db.*"\n',
        component_0="on",
        public="on",
        by="ann",
    )
    assert (status, where) == (303, "/ui/maintenance?done=scheduled")
    (m,) = windows(client)
    assert (m["state"], m["components"], m["createdBy"]) == ("in_progress", ["API"], "ann")
    assert m["matchers"] == ['service="orchestrator"', 'job=~"db.*"']
    assert m["endsAt"] == format_rfc3339(clock.now + timedelta(hours=2))
    page = client.get("/ui/maintenance?done=scheduled").text
    assert "Maintenance scheduled." in page
    assert 'data-maintenance="1"' in page
    assert "in progress" in page
    assert "Finish now" in page
    assert post(client, "/ui/maintenance/1", action="extend", by_how_much="30m")[0] == 303
    assert windows(client)[0]["endsAt"] == format_rfc3339(clock.now + timedelta(minutes=150))
    assert post(client, "/ui/maintenance/1", action="finish")[0] == 303
    assert windows(client)[0]["state"] == "completed"
    # finished twice (a stale page): the refusal shows, though the window is not listed
    status, html = post(client, "/ui/maintenance/1", action="finish")
    assert status == 400
    assert problems(html) == {
        "windows[1]": "state: this maintenance is completed: it changes no more"
    }
    assert "No upcoming or running" in client.get("/ui/maintenance").text
    assert "Database upgrade" in client.get("/ui/maintenance?past=1").text


def test_a_window_scheduled_later_is_cancelled(client: TestClient, clock: Clock) -> None:
    later = (clock.now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    status, _ = post(client, "/ui/maintenance", title="Later", start=later, duration="1h", by="bo")
    assert status == 303
    (m,) = windows(client)
    assert (m["state"], m["public"], m["startsAt"]) == ("scheduled", False, f"{later}:00.000Z")
    status, html = post(client, "/ui/maintenance/1", action="finish")
    assert status == 400
    assert problems(html) == {
        "windows[1]": "state: only a maintenance in progress can be finished early"
    }
    assert post(client, "/ui/maintenance/1", action="cancel")[0] == 303
    assert windows(client)[0]["state"] == "cancelled"
    assert post(client, "/ui/maintenance/7", action="cancel")[0] == 404
    other_site = {"sec-fetch-site": "cross-site"}  # another site's page posting it
    r = client.post("/ui/maintenance/1", data={"action": "cancel"}, headers=other_site)
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("fields", "field", "said"),
    [
        ({"title": ""}, "title", "title: a title, on one line"),
        ({"by": ""}, "by", "by: required, who schedules it"),
        ({"duration": "soon"}, "duration", "duration: "),
        ({"start": "tomorrow"}, "startsAt", "startsAt: not a date and time: 'tomorrow'"),
        ({"matchers": 'a="b"\nnot a matcher'}, "matchers", "matchers[1]: "),
    ],
)
def test_a_refused_form_names_its_field_and_keeps_what_was_typed(
    client: TestClient, fields: dict[str, str], field: str, said: str
) -> None:
    typed = {"title": "Upgrade", "duration": "1h", "by": "ann", "description": "kept", **fields}
    status, html = post(client, "/ui/maintenance", **typed)
    assert status == 400
    found = problems(html)
    assert list(found) == [field]
    assert found[field].startswith(said), found
    assert 'value="kept"' in html
    assert 'name="public" checked' not in html  # it was not ticked: it stays unticked
    assert windows(client) == []
