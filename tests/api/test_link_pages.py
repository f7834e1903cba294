"""The pages a signed e-mail link opens (SQLite and PostgreSQL): once the responder
has acted they lead on to the group's console page; opened again when the group's
state makes the action pointless (acknowledged, resolved, fired again since the
page), they say so and offer no button. Opening a link still never acts."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock, app_runtime
from tests.api.test_oncall_api import CONFIG, open_group
from tests.e2e.conftest import wait_until
from tocsin.oncall.links import Action, make_link
from tocsin.runtime import Runtime

BUTTON = "<button"


@pytest.fixture
def app(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[TestClient, Runtime]]:
    with app_runtime(CONFIG, db_url, tmp_path, clock) as both:
        yield both


def episode(rt: Runtime, gid: str) -> str:
    page = rt.group_page(gid)
    assert page is not None
    found: str = page.row.state["lifecycle"]["escalation_id"]
    return found


def link(rt: Runtime, clock: Clock, action: Action, gid: str, who: str) -> str:
    """The link a page of the group's current firing carries."""
    return make_link("", rt.oncall.secret, action, gid, who, clock.now, episode=episode(rt, gid))


def press(client: TestClient, url: str) -> tuple[int, str]:
    """Open the link and press its page's button (POST the page's hidden fields): the
    answer's status and page."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
    assert set(fields) == {"by", "exp", "ep", "sig"}, page.text
    done = client.post(url.split("?")[0], data={k: html.unescape(v) for k, v in fields.items()})
    return done.status_code, done.text


def group(client: TestClient, gid: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/api/v1/groups/{gid}").json()
    return found


def console_link(page: str) -> str:
    found = re.search(r'<a id="console" href="([^"]*)">', page)
    assert found is not None, page
    return html.unescape(found.group(1))


def test_the_done_page_leads_to_the_group_s_console_page(
    app: tuple[TestClient, Runtime], clock: Clock
) -> None:
    client, rt = app
    gid = open_group(client, clock)["id"]
    status, done = press(client, link(rt, clock, Action.ACK, gid, "alice"))
    assert status == 200, done
    assert f"Alert group {gid} acknowledged by alice." in done
    assert "runbook checklist" in done
    assert "declare an incident" in done
    # the link leads there, and there is what the page promised
    href = console_link(done)
    assert href == f"/ui/groups/{gid}"
    console = client.get(href)
    assert console.status_code == 200
    assert 'id="declare-incident"' in console.text
    assert "acknowledged by <strong>alice</strong>" in console.text


def test_a_link_opened_again_after_the_acknowledgement_says_so(
    app: tuple[TestClient, Runtime], clock: Clock
) -> None:
    client, rt = app
    gid = open_group(client, clock)["id"]
    alice = link(rt, clock, Action.ACK, gid, "alice")
    bob = link(rt, clock, Action.ACK, gid, "bob")
    asked = client.get(alice)
    assert f"Acknowledge alert group {gid} as alice?" in asked.text
    assert BUTTON in asked.text
    assert press(client, alice)[0] == 200

    for url in (alice, bob):  # her own link again, and bob's from the same page
        again = client.get(url)
        assert again.status_code == 200, again.text
        assert f"Alert group {gid} is already acknowledged by alice." in again.text
        assert "Acknowledge alert group" not in again.text  # nothing asked
        assert BUTTON not in again.text
        assert "<form" not in again.text
        assert console_link(again.text) == f"/ui/groups/{gid}"
    # the links still work as before: a POST (a script, or a page opened before) is
    # refused, and says where the group is
    refused = client.post(bob)
    assert refused.status_code == 409, refused.text
    assert "already acknowledged by alice" in refused.text
    assert console_link(refused.text) == f"/ui/groups/{gid}"
    assert group(client, gid)["acknowledgedBy"] == "alice"

    # resolving an acknowledged group is not pointless: its link still asks
    resolve = link(rt, clock, Action.RESOLVE, gid, "alice")
    asked = client.get(resolve)
    assert f"Resolve alert group {gid} as alice?" in asked.text
    assert BUTTON in asked.text
    assert 'id="moot"' not in asked.text
    assert group(client, gid)["status"] == "acknowledged"  # opening it did nothing
    status, done = press(client, resolve)
    assert status == 200, done
    assert f"Alert group {gid} resolved by alice." in done
    assert console_link(done) == f"/ui/groups/{gid}"

    # resolved: neither link offers anything
    for url in (resolve, alice):
        gone = client.get(url)
        assert gone.status_code == 200, gone.text
        assert f"Alert group {gid} is resolved: nothing to " in gone.text
        assert BUTTON not in gone.text
        assert console_link(gone.text) == f"/ui/groups/{gid}"
    assert client.post(alice).status_code == 409
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    people = [(a["actor"], a["action"], a["channel"]) for a in audit if a["actor"] != "tocsin"]
    assert people == [
        ("alice", "acknowledged", "email-link"),
        ("alice", "resolved", "email-link"),
    ]


def test_a_link_of_an_earlier_firing_says_so(app: tuple[TestClient, Runtime], clock: Clock) -> None:
    client, rt = app
    gid = open_group(client, clock)["id"]
    first = episode(rt, gid)
    old = link(rt, clock, Action.ACK, gid, "bob")
    # it resolves, then fires again: a new episode, firing, that paged someone else
    gone = {"labels": {"alertname": "ServiceDown"}, "endsAt": clock.now.isoformat()}
    assert client.post("/api/v2/alerts", json=[gone]).status_code == 200
    clock.now += timedelta(minutes=1)
    rt.dispatcher.loop.kick()
    wait_until(lambda: group(client, gid)["status"] == "resolved", 10, "resolved")
    clock.now += timedelta(minutes=1)
    open_group(client, clock)
    rt.dispatcher.loop.kick()
    wait_until(lambda: episode(rt, gid) != first, 10, "the group to fire again")
    assert group(client, gid)["status"] == "firing"

    opened = client.get(old)
    assert opened.status_code == 200, opened.text
    assert f"This page was for an earlier firing of alert group {gid}" in opened.text
    assert BUTTON not in opened.text
    assert console_link(opened.text) == f"/ui/groups/{gid}"
    assert client.post(old).status_code == 409
    # tonight's page's link asks, as ever
    assert BUTTON in client.get(link(rt, clock, Action.ACK, gid, "alice")).text
    assert group(client, gid)["status"] == "firing"


def test_a_forged_or_expired_link_shows_nothing_of_the_group(
    app: tuple[TestClient, Runtime], clock: Clock
) -> None:
    client, rt = app
    gid = open_group(client, clock)["id"]
    alice = link(rt, clock, Action.ACK, gid, "alice")
    assert press(client, alice)[0] == 200
    forged = client.get(alice.replace("by=alice", "by=mallory"))
    assert forged.status_code == 403
    assert "signature does not match" in forged.text
    clock.now += timedelta(hours=25)
    expired = client.get(alice)
    assert expired.status_code == 403
    assert "this link has expired" in expired.text
    for refused in (forged, expired):  # the group's state is for a genuine link only
        assert "already acknowledged" not in refused.text
        assert 'id="group"' not in refused.text
        assert 'id="console"' not in refused.text
