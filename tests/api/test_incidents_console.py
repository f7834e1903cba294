"""Incidents in the console (SQLite and PostgreSQL): declared from the list's form
(from an alert group's link too), changed from the incident's page, refused forms
naming their fields, the post-mortem edited and saved, and the public status page."""

from __future__ import annotations

import html as entities
import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock, app_client, first_group
from tests.api.test_console import CONFIG as CONSOLE_CONFIG
from tests.api.test_console import SAME_SITE, open_group
from tests.e2e.conftest import wait_until
from tocsin.cli.incident_cmds import group_lines

CONFIG = """\
route:
  receiver: default
receivers:
  - name: default
tocsin:
  incidents:
    status_page_title: Example status
    components: [API, Checkout]
"""


@pytest.fixture
def client(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    with app_client(CONFIG, db_url, tmp_path, clock) as c:
        yield c


def problems(html: str) -> dict[str, str]:
    found = re.findall(r'data-field="([\w.\[\]]+)">([^<]*)<', html)
    return {field: entities.unescape(said) for field, said in found}


def post(client: TestClient, url: str, **fields: str) -> tuple[int, str]:
    r = client.post(url, data=fields, headers=SAME_SITE, follow_redirects=False)
    return r.status_code, r.headers.get("location", r.text)


def test_declared_changed_and_written_up_from_the_console(client: TestClient) -> None:
    assert "No open incidents." in client.get("/ui/incidents").text
    form = client.get("/ui/incidents", params={"group": "g-7", "title": "ServiceDown db1"}).text
    assert 'name="group" size="40" value="g-7"' in form
    assert 'value="ServiceDown db1"' in form
    status, html = post(
        client, "/ui/incidents", title="Checkout failing", severity="SEV1", by="ann", group="g-7"
    )
    assert status == 400
    assert problems(html) == {
        "groups[0]": "groups[0]: no alert group 'g-7' (tocsin groups lists them)"
    }
    status, where = post(
        client, "/ui/incidents", title="Checkout failing", severity="SEV1", by="ann"
    )
    assert (status, where) == (303, "/ui/incidents/1?done=declared")
    page = client.get(where).text
    assert "Incident declared." in page
    assert "commander <strong>ann</strong>" in page
    assert 'data-due="update"' in page  # SEV1 owes a first update
    listing = client.get("/ui/incidents").text
    assert 'data-incident="1"' in listing
    assert "Checkout failing" in listing

    # the page's form holds the current values: only what is changed is a change
    current = {
        "title": "Checkout failing",
        "severity": "SEV1",
        "status": "investigating",
        "summary": "",
        "boxes_shown": "1",
        "role_commander": "ann",
        "role_communications": "",
        "role_scribe": "",
        "by": "bob",
    }
    changed = {**current, "status": "identified", "update": "Rolling back", "public": "on"}
    changed["role_scribe"] = "cy"
    assert post(client, "/ui/incidents/1", **changed) == (303, "/ui/incidents/1?done=changed")
    incident = client.get("/api/v1/incidents/1").json()
    assert (incident["status"], incident["public"]) == ("identified", True)
    assert incident["roles"] == {"commander": "ann", "scribe": "cy"}
    kinds = [e["kind"] for e in incident["timeline"]]
    assert kinds == ["declared", "role", "visibility", "role", "status", "update"]
    # unchanged, submitted again: nothing written
    again = {**current, "status": "identified", "public": "on", "role_scribe": "cy"}
    post(client, "/ui/incidents/1", **again)
    assert len(client.get("/api/v1/incidents/1").json()["timeline"]) == len(kinds)

    status, html = post(
        client, "/ui/incidents/1", **{**current, "severity": "P0", "update": "typed at 3 a.m."}
    )
    assert status == 400
    assert problems(html)["severity"].startswith("severity: must be one of SEV1, SEV2, SEV3")
    assert ">typed at 3 a.m.</textarea>" in html  # what was typed is kept, not lost
    # the name typed too (not the one this browser used last, bob's), and the page
    # says at its top that nothing was saved
    status, html = post(client, "/ui/incidents/1", **{**current, "severity": "P0", "by": "zed"})
    assert 'id="by" name="by" value="zed"' in html
    assert '<div class="field-problem" role="alert" id="refused">Not saved: severity:' in html
    status, html = post(client, "/ui/incidents/1", **{**current, "by": ""})
    assert (status, problems(html)) == (400, {"by": "by: required, who makes the change"})

    draft = client.get("/ui/incidents/1/postmortem").text
    assert "# Post-mortem: Checkout failing (incident #1)" in draft
    saved = "# Post-mortem\r\n\r\nRoot cause: a config push.\r\n"
    assert post(client, "/ui/incidents/1/postmortem", postmortem=saved, by="ann") == (
        303,
        "/ui/incidents/1?done=postmortem",
    )
    got = client.get("/api/v1/incidents/1/postmortem").json()
    # the browser's line ends made Unix ones (the form's edges are trimmed)
    assert got == {"incident": 1, "stored": True, "markdown": saved.replace("\r\n", "\n").strip()}
    status, html = post(client, "/ui/incidents/1/postmortem", postmortem=" ", by="ann")
    assert status == 400
    assert problems(html)["postmortem"].startswith("postmortem: empty")


def test_a_refused_declaration_keeps_what_was_typed_and_stores_nothing(
    client: TestClient,
) -> None:
    status, html = post(client, "/ui/incidents", title="", severity="SEV2", summary="Slow", by="a")
    assert status == 400
    assert problems(html) == {
        "title": "title: required, what is happening (e.g. 'Checkout failing')"
    }
    assert 'value="Slow"' in html
    assert '<option value="SEV2" selected>' in html
    status, html = post(client, "/ui/incidents", title="x", severity="SEV2")
    assert (status, problems(html)) == (400, {"by": "by: required, who declares it"})
    assert client.get("/api/v1/incidents").json() == []
    assert client.get("/ui/incidents/9").status_code == 404
    # a form from another site's page changes nothing
    r = client.post(
        "/ui/incidents",
        data={"title": "x", "severity": "SEV1", "by": "eve"},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert r.status_code == 403
    assert client.get("/api/v1/incidents").json() == []


def test_the_status_page(client: TestClient) -> None:
    page = client.get("/status").text
    assert "<title>Example status</title>" in page
    assert 'class="banner operational"' in page
    post(client, "/ui/incidents", title="Internal only", severity="SEV1", by="ann")
    fields = {"title": "Slow logins", "severity": "SEV2", "by": "ann", "public": "on"}
    post(client, "/ui/incidents", **fields, component_1="on")  # Checkout
    page = client.get("/status").text
    assert 'class="banner partial_outage"' in page
    assert '<tr data-component="API"><td>API</td><td class="state operational">' in page
    assert '<td class="state partial_outage">Partial outage</td>' in page
    assert "Affects Checkout" in page
    # times as a customer reads them, the exact instant in the <time> element
    opened = client.get("/api/v1/incidents/2").json()["openedAt"]
    assert re.search(
        rf'since <time datetime="{opened}">[A-Z][a-z]{{2}} \d{{1,2}}, \d\d:\d\d UTC</time>', page
    )
    # unticked on the incident's page: it affects nothing listed any more
    form = client.get("/ui/incidents/2").text
    assert 'name="component_1" checked' in form
    current = {"title": "Slow logins", "severity": "SEV2", "status": "investigating"}
    current |= {"role_commander": "ann", "boxes_shown": "1", "public": "on", "by": "ann"}
    assert post(client, "/ui/incidents/2", **current)[0] == 303
    assert client.get("/api/v1/incidents/2").json()["components"] == []
    assert "Slow logins" in page
    assert "Internal only" not in page


def test_an_incident_declared_from_an_alert_group(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """The group page links to the declaration form, filled in; the group's audit
    trail then says which incident took it over, and the declarer has acknowledged it
    (the next step would page someone else about what is being handled)."""
    with app_client(CONSOLE_CONFIG, db_url, tmp_path, clock) as client:
        group = open_group(client, clock)
        page = client.get(f"/ui/groups/{group['id']}").text
        link = re.search(r'id="declare-incident" href="([^"]+)"', page)
        assert link is not None
        form = client.get(entities.unescape(link.group(1))).text
        assert f'value="{group["id"]}"' in form
        assert 'id="title" name="title" size="60" value="ServiceDown"' in form  # its labels
        fields = {"title": "ServiceDown", "severity": "SEV2", "by": "ann", "group": group["id"]}
        assert post(client, "/ui/incidents", **fields)[0] == 303
        audit = client.get(f"/api/v1/groups/{group['id']}/audit").json()
        assert [(a["actor"], a["action"], a["comment"]) for a in audit][-2:] == [
            ("ann", "linked to incident #1", "ServiceDown"),
            ("ann", "acknowledged", "declared incident #1"),
        ]
        group_page = client.get(f"/ui/groups/{group['id']}").text
        assert "linked to incident #1" in group_page
        assert '<a class="incident" href="/ui/incidents/1">incident #1 ServiceDown</a>' in (
            group_page
        )
        listing = client.get("/ui/groups").text
        assert '<a class="incident" href="/ui/incidents/1">#1 ServiceDown</a>' in listing
        (listed,) = client.get("/api/v1/groups").json()
        assert listed["incident"] == {"id": 1, "title": "ServiceDown", "severity": "SEV2"}
        linked = client.get(f"/api/v1/groups/{group['id']}").json()["incidents"]
        assert linked == [
            {"id": 1, "title": "ServiceDown", "severity": "SEV2", "status": "investigating"}
        ]
        assert client.get(f"/api/v1/groups/{group['id']}").json()["acknowledgedBy"] == "ann"
        # what happens to the group is told with the incident, and in its post-mortem
        acked = client.post(f"/api/v1/groups/{group['id']}/ack", json={"by": "bob"})
        assert acked.status_code == 409, acked.text  # ann has it
        lines = client.get("/api/v1/incidents/1").json()["groupTimeline"]
        said = [(e["by"], e["text"], e["group"]) for e in lines]
        took = f"alert group {group['id']}: acknowledged (declared incident #1)"
        assert ("ann", took, group["id"]) in said
        assert not any("linked to incident" in text for _, text, _ in said)  # not echoed
        markdown = client.get("/api/v1/incidents/1/postmortem").json()["markdown"]
        # the draft names the group by its labels, in its facts and its timeline
        gid = group["id"]
        named = f"alert group {gid} (alertname=ServiceDown)"
        assert f"| ann | {named}: acknowledged (declared incident #1) |" in markdown
        assert f"| ann | {named} linked |" in markdown
        assert f"- **Alert groups:** {gid} (alertname=ServiceDown)\n" in markdown
        assert "- **Time to acknowledge:** 0s\n" in markdown  # the fake clock stood still
        page = client.get("/ui/incidents/1").text
        assert f"alert group {gid}: acknowledged" in page
        # its page and the list of incidents show the group's labels and status by its
        # id, linked to the group's page
        for html in (page, client.get("/ui/incidents").text):
            shown = re.search(rf'data-group="{gid}">(.*?)</(?:li|div)>', html, re.S)
            assert shown is not None, html
            assert f'<a href="/ui/groups/{gid}">{gid}</a>' in shown.group(1)
            chip = '<span class="chip group">alertname="ServiceDown"</span>'
            assert f'{gid}</a> {chip} <span class="state acknowledged">acknowledged</span>' in (
                shown.group(1)
            )
        assert f'<option value="{gid}">{gid} (alertname=ServiceDown)</option>' in page
        # the API says them beside the ids (the CLI prints them from there), the list too
        found = client.get("/api/v1/incidents/1").json()
        assert found["groups"] == [gid]
        assert found["groupLabels"] == {gid: {"alertname": "ServiceDown"}}
        assert found["groupStatus"] == {gid: "acknowledged"}
        assert group_lines(found) == [f"{gid} (alertname=ServiceDown): acknowledged"]
        (listed,) = client.get("/api/v1/incidents").json()
        assert (listed["groupLabels"], listed["groupStatus"]) == (
            found["groupLabels"],
            found["groupStatus"],
        )
        # a server before these fields: the ids alone
        assert group_lines({"groups": [gid]}) == [gid]


def test_a_group_linked_to_an_incident_later_is_acknowledged_by_whoever_linked_it(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """Linking a group to an open incident takes it over as declaring from it does:
    its escalation stops, acknowledged by whoever linked it; one already acknowledged
    keeps its acknowledger."""
    with app_client(CONSOLE_CONFIG, db_url, tmp_path, clock) as client:
        group = open_group(client, clock)
        made = client.post(
            "/api/v1/incidents", json={"title": "Outage", "severity": "SEV2", "by": "al"}
        )
        assert made.status_code == 201, made.text
        linked = client.patch("/api/v1/incidents/1", json={"link": [group["id"]], "by": "bob"})
        assert linked.status_code == 200, linked.text
        audit = client.get(f"/api/v1/groups/{group['id']}/audit").json()
        assert [(a["actor"], a["action"], a["comment"]) for a in audit][-2:] == [
            ("bob", "linked to incident #1", "Outage"),
            ("bob", "acknowledged", "linked to incident #1"),
        ]
        assert client.get(f"/api/v1/groups/{group['id']}").json()["acknowledgedBy"] == "bob"
        # linked to a second incident by someone else: bob keeps it
        client.post("/api/v1/incidents", json={"title": "Other", "severity": "SEV3", "by": "al"})
        again = client.patch("/api/v1/incidents/2", json={"link": [group["id"]], "by": "cy"})
        assert again.status_code == 200, again.text
        assert client.get(f"/api/v1/groups/{group['id']}").json()["acknowledgedBy"] == "bob"


def test_a_save_changes_only_what_was_edited(client: TestClient, tmp_path: Path) -> None:
    """What the form holds but the responder did not edit is not a change: a summary
    set through the API with line breaks the form cannot hold, and a severity the
    config no longer has (the form keeps it, not the list's first)."""
    made = client.post(
        "/api/v1/incidents",
        json={"title": "Slow", "severity": "SEV2", "by": "ann", "summary": "Slow logins\n"},
    ).json()
    (tmp_path / "alertmanager.yml").write_text(
        CONFIG.replace("  incidents:\n", "  incidents:\n    severities: [{name: P1}, {name: P2}]\n")
    )
    assert client.post("/-/reload").status_code == 200
    page = client.get("/ui/incidents/1").text
    assert '<option value="SEV2" selected>SEV2</option>' in page
    form = {
        "title": "Slow",
        "severity": "SEV2",
        "status": "investigating",
        "summary": "Slow logins",  # as a browser sends the textarea, trimmed
        "role_commander": "ann",
        "boxes_shown": "1",
        "note": "looking",
        "by": "bob",
    }
    assert post(client, "/ui/incidents/1", **form)[0] == 303
    after = client.get("/api/v1/incidents/1").json()
    assert (after["severity"], after["summary"]) == ("SEV2", "Slow logins\n")
    assert [e["kind"] for e in after["timeline"]][len(made["timeline"]) :] == ["note"]


def test_the_status_feed(client: TestClient) -> None:
    """The status page's updates as Atom: only the public incidents' public lines,
    newest first, named without the incidents' numbers."""
    atom = "{http://www.w3.org/2005/Atom}"
    empty = client.get("/status/feed.atom")
    assert empty.headers["content-type"] == "application/atom+xml"
    assert ET.fromstring(empty.content).findall(f"{atom}entry") == []
    post(client, "/ui/incidents", title="Internal only", severity="SEV1", by="ann")
    fields = {"title": "Slow <logins>", "severity": "SEV2", "by": "ann", "public": "on"}
    post(client, "/ui/incidents", **fields)
    change = {"update": "Found it", "status": "identified", "by": "ann"}
    assert post(client, "/ui/incidents/2", **change)[0] == 303
    feed = ET.fromstring(client.get("/status/feed.atom").content)
    assert feed.findtext(f"{atom}title") == "Example status"
    entries = feed.findall(f"{atom}entry")
    assert [e.findtext(f"{atom}content") for e in entries] == ["Identified: Found it"]
    assert entries[0].findtext(f"{atom}title") == "Slow <logins>: Identified"
    assert entries[0].findtext(f"{atom}id", "").startswith("urn:tocsin:status:")
    assert "Internal only" not in client.get("/status/feed.atom").text
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{atom}link")}
    assert links == {
        "alternate": "http://testserver/status",  # as the reader reached it
        "self": "http://testserver/status/feed.atom",
    }
    assert feed.findtext(f"{atom}id") == "urn:tocsin:status"
    # a character XML cannot hold, pasted into an update, leaves the feed readable
    pasted = {"by": "ann", "update": "Fixed\x0b for now", "status": "resolved"}
    assert client.patch("/api/v1/incidents/2", json=pasted).status_code == 200
    again = ET.fromstring(client.get("/status/feed.atom").content).findall(f"{atom}entry")
    assert [e.findtext(f"{atom}content") for e in again] == [
        "Resolved: Fixed\ufffd for now",
        "Identified: Found it",
    ]
    # entry ids are stable, and name no incident number
    assert again[1].findtext(f"{atom}id") == entries[0].findtext(f"{atom}id")


def test_a_major_incident_pages_the_on_call(db_url: str, tmp_path: Path, clock: Clock) -> None:
    """A severity with ``alert: true``: while one is open its IncidentOpen alert fires,
    is routed like any alert (critical: the pager's escalation policy) and opens an
    on-call group that pages the on-call; the resolution resolves it."""
    config = CONSOLE_CONFIG + (
        "  incidents:\n    severities:\n      - {name: SEV1, alert: true}\n      - {name: SEV2}\n"
    )
    with app_client(config, db_url, tmp_path, clock) as client:
        fields = {"title": "Checkout failing", "severity": "SEV1", "by": "ann"}
        assert post(client, "/ui/incidents", **fields)[0] == 303
        group = first_group(client)
        assert group["labels"] == {"alertname": "IncidentOpen"}
        assert group["escalationPolicy"] == "critical"
        (alert,) = [a for a in client.get("/api/v2/alerts").json() if "incident" in a["labels"]]
        assert alert["labels"] == {
            "alertname": "IncidentOpen",
            "incident": "1",
            "incident_severity": "SEV1",
            "severity": "critical",
        }
        assert alert["annotations"]["summary"] == "Incident #1 (SEV1): Checkout failing"
        # a SEV2 raises none
        post(client, "/ui/incidents", **{**fields, "title": "Slow", "severity": "SEV2"})
        change = {"status": "resolved", "by": "ann"}
        assert post(client, "/ui/incidents/1", **change)[0] == 303
        wait_until(
            lambda: (
                not [a for a in client.get("/api/v2/alerts").json() if "incident" in a["labels"]]
            ),
            10,
            "the IncidentOpen alert to resolve",
        )


def test_a_linked_incident_s_status_updates_and_post_mortem_reach_its_groups(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """A public incident's status-page update and its post-mortem are written to each
    linked group's trail (they keep its runbooks' timers that promise them); a private
    incident's updates are not status-page updates; the incident does not list them
    again among its groups' lines."""
    with app_client(CONSOLE_CONFIG, db_url, tmp_path, clock) as client:
        group = open_group(client, clock)
        gid = group["id"]
        for title, public in (("Public one", True), ("Private one", False)):
            body = {"title": title, "severity": "SEV2", "by": "ann", "groups": [gid]}
            made = client.post("/api/v1/incidents", json=body | {"public": public})
            assert made.status_code == 201, made.text
        for number in (1, 2):
            update = {"by": "cy", "update": "Rolled back the deploy"}
            assert client.patch(f"/api/v1/incidents/{number}", json=update).status_code == 200
        written = {"by": "cy", "postmortem": "Root cause: a config push."}
        assert client.patch("/api/v1/incidents/1", json=written).status_code == 200
        audit = client.get(f"/api/v1/groups/{gid}/audit").json()
        said = [(a["actor"], a["action"], a["comment"]) for a in audit]
        assert (
            "cy",
            "status page updated",
            "incident #1: Investigating: Rolled back the deploy",
        ) in said
        assert ("cy", "post-mortem written", "incident #1: post-mortem written") in said
        assert not any(c.startswith("incident #2") for _, _, c in said)  # private
        lines = client.get("/api/v1/incidents/1").json()["groupTimeline"]
        assert not any("incident #1:" in e["text"] for e in lines)  # not echoed back


def test_a_post_mortem_owed_again_says_so_and_what_it_does_not_tell(
    client: TestClient,
) -> None:
    """Reopened and resolved again, the incident's stored post-mortem is shown to be
    revised, with the lines since it was written; saved unchanged it is refused, what
    was typed kept; revised it is stored."""
    made = client.post(
        "/api/v1/incidents", json={"title": "Outage", "severity": "SEV1", "by": "al"}
    )
    assert made.status_code == 201, made.text
    for body in (
        {"status": "resolved"},
        {"postmortem": "Root cause: a config push."},
        {"status": "investigating", "note": "errors again"},
    ):
        r = client.patch("/api/v1/incidents/1", json={"by": "al", **body})
        assert r.status_code == 200, r.text
    reopened = client.get("/ui/incidents/1/postmortem").text
    assert "reopened since this post-mortem was written: it is owed again once" in reopened
    r = client.patch("/api/v1/incidents/1", json={"by": "al", "status": "resolved"})
    assert r.status_code == 200, r.text
    page = client.get("/ui/incidents/1/postmortem")
    assert page.status_code == 200, page.text  # (its time written is gone with the reopening)
    assert 'id="owed-again"' in page.text
    assert "reopened and resolved again since this post-mortem was written" in page.text
    since = page.text.split("Since it was written")[1].split("</table>")[0]
    assert "errors again" in since
    assert "post-mortem written" not in since
    assert ">Root cause: a config push.</textarea>" in page.text
    same = {"postmortem": "Root cause: a config push.", "by": "al"}
    status, html = post(client, "/ui/incidents/1/postmortem", **same)
    assert status == 400
    assert problems(html)["postmortem"].startswith(
        "postmortem: the incident was reopened and resolved again"
    )
    assert ">Root cause: a config push.</textarea>" in html
    revised = {"postmortem": "Root cause: two config pushes.", "by": "al"}
    assert post(client, "/ui/incidents/1/postmortem", **revised)[0] == 303
    stored = client.get("/ui/incidents/1/postmortem").text
    assert 'id="owed-again"' not in stored
    assert "Written now; edit and save to revise it." in stored
