"""Runbooks through the API over a real database (SQLite and PostgreSQL): loaded from
the configured folder, linked to alerts, served as HTML and JSON, imported with PUT,
searched with FTS5 / PostgreSQL full-text search."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import CONFIG, Clock, app_client

RUNBOOKS = Path(__file__).resolve().parents[3] / "shared" / "runbooks"


@pytest.fixture
def client(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    assert RUNBOOKS.is_dir(), f"the shared runbooks are missing at {RUNBOOKS}"
    config = (
        CONFIG
        + f"""\
tocsin:
  runbooks:
    paths: [{RUNBOOKS}]
    links:
      QueueBacklog: thread-condenser#51-queue-backlog-spike
      SlowResponses2s: news-topic-intelligence#3-common-alerts--playbooks
      ApiSlow: runbooks/news-topic-intelligence.md#3-common-alerts--playbooks
"""
    )
    with app_client(
        config, db_url, tmp_path, clock, external_url="http://tocsin.example:9093"
    ) as c:
        yield c


def test_configured_runbooks_are_listed_with_their_alerts(client: TestClient) -> None:
    books = {b["name"]: b for b in client.get("/api/v1/runbooks").json()}
    assert sorted(books) == [
        "news-topic-intelligence",
        "thread-condenser",
        "threads-agent-alertmanager",
    ]
    threads = books["threads-agent-alertmanager"]
    assert "HighErrorRate" in threads["alerts"]
    assert threads["url"] == "http://tocsin.example:9093/runbooks/threads-agent-alertmanager"


@pytest.mark.parametrize(
    ("alertname", "runbook", "anchor", "steps"),
    [
        ("HighErrorRate", "threads-agent-alertmanager", "higherrorrate", 5),  # by name
        ("high_error-rate", "threads-agent-alertmanager", "higherrorrate", 5),  # separators
        ("QueueBacklog", "thread-condenser", "51-queue-backlog-spike", 4),  # explicit link
    ],
)
def test_alerts_link_to_procedures(
    client: TestClient, alertname: str, runbook: str, anchor: str, steps: int
) -> None:
    r = client.get(f"/api/v1/runbooks/for-alert/{alertname}")
    assert r.status_code == 200, r.text
    link = r.json()
    assert (link["runbook"], link["anchor"]) == (runbook, anchor)
    assert link["url"] == f"http://tocsin.example:9093/runbooks/{runbook}#{anchor}"
    assert len(link["procedure"]["steps"]) == steps


def test_a_link_to_a_table_of_alerts_takes_the_row_of_the_alert_s_name(
    client: TestClient,
) -> None:
    """The section lists four alerts: SlowResponses2s gets its own row's steps, and
    ApiSlow (no row of that name; linked by the file's path) the link without steps,
    not the first row's."""
    slow = client.get("/api/v1/runbooks/for-alert/SlowResponses2s").json()
    assert slow["procedure"]["name"] == "Slow responses (>2s)"
    other = client.get("/api/v1/runbooks/for-alert/ApiSlow").json()
    assert other["anchor"] == "3-common-alerts--playbooks"
    assert other["procedure"] is None


def test_a_runbook_name_not_found_is_shown_escaped(client: TestClient) -> None:
    """The name is the request's: a link to /runbooks/<img onerror=...> ran its script
    in Tocsin's origin (security review)."""
    r = client.get("/runbooks/%3Cimg%20src=x%20onerror=alert(1)%3E")
    assert r.status_code == 404
    assert r.text == "runbook &lt;img src=x onerror=alert(1)&gt; not found"


def test_unknown_alert_has_no_procedure(client: TestClient) -> None:
    assert client.get("/api/v1/runbooks/for-alert/NoSuchAlert").status_code == 404


def test_page_has_the_section_anchors(client: TestClient) -> None:
    r = client.get("/runbooks/threads-agent-alertmanager")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert 'id="higherrorrate"' in r.text
    assert "kubectl rollout restart deployment/&lt;service&gt;" in r.text
    structured = client.get("/runbooks/threads-agent-alertmanager.json").json()
    assert structured == client.get("/api/v1/runbooks/threads-agent-alertmanager").json()
    assert any(a["name"] == "HighErrorRate" for a in structured["alerts"])


def test_search_finds_the_best_section_first(client: TestClient) -> None:
    hits = client.get("/api/v1/runbooks/search", params={"q": "celery queue depth"}).json()
    assert hits
    assert hits[0]["runbook"] == "threads-agent-alertmanager"
    assert hits[0]["anchor"] == "celeryqueuedepthhigh"
    # the heading as written (the index also holds its CamelCase words apart)
    assert hits[0]["title"] == "CeleryQueueDepthHigh"
    # the snippet is text: no Markdown emphasis or code marks
    health = client.get("/api/v1/runbooks/search", params={"q": "service status"}).json()
    snippets = [h["snippet"] for h in (*hits, *health)]
    assert any("[" in s for s in snippets)
    assert not [s for s in snippets if "**" in s or "`" in s], snippets
    assert client.get("/api/v1/runbooks/search", params={"q": "zzzqqq"}).json() == []
    # query syntax is just text, never an error
    assert client.get("/api/v1/runbooks/search", params={"q": 'AND "( OR'}).status_code == 200


def test_put_imports_and_delete_removes(client: TestClient) -> None:
    text = (
        "# Payments\n\n## PaymentsLatencyHigh\n**Severity**: Warning\n"
        "**Description**: p95 > 800ms for 10 minutes\n\n"
        "1. Check the payment gateway status page\n2. Run `kubectl get pods -n payments`\n"
    )
    r = client.put("/api/v1/runbooks/payments", content=text.encode())
    assert r.status_code == 200, r.text
    assert r.json()["alerts"] == ["PaymentsLatencyHigh"]
    link = client.get("/api/v1/runbooks/for-alert/PaymentsLatencyHigh").json()
    assert link["procedure"]["severity"] == "warning"
    assert [s["commands"] for s in link["procedure"]["steps"]] == [
        [],
        ["kubectl get pods -n payments"],
    ]
    hits = client.get("/api/v1/runbooks/search", params={"q": "gateway"}).json()
    assert [h["runbook"] for h in hits] == ["payments"]
    assert client.delete("/api/v1/runbooks/payments").status_code == 204
    assert client.get("/api/v1/runbooks/payments").status_code == 404
    assert client.get("/api/v1/runbooks/search", params={"q": "gateway"}).json() == []


def test_a_second_runbook_claiming_an_alert_is_said_and_files_are_changed_as_files(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A runbook put through the API with a ServiceDown section of its own takes the
    alert over from the file's (the first by name): the list says so on both; a file's
    runbook is changed in the file, not replaced or removed here (the next reload
    would undo it) (runbook author walk-through)."""
    # (spelt otherwise: the lookup's key is the same, so is the claim)
    takeover = "# Platform\n\n## service_down\n**Severity**: critical\n\n1. Restart it\n"
    assert client.put("/api/v1/runbooks/aaa-platform", content=takeover).status_code == 200
    books = {b["name"]: b for b in client.get("/api/v1/runbooks").json()}
    said = (
        "alert 'service_down' has procedures in runbooks 'aaa-platform', "
        "'threads-agent-alertmanager': 'aaa-platform' is used (the first by name); "
        "set tocsin.runbooks.links to choose"
    )
    assert said in books["aaa-platform"]["warnings"]
    assert said in books["threads-agent-alertmanager"]["warnings"]
    assert not any("ServiceDown" in w for w in books["thread-condenser"]["warnings"])
    link = client.get("/api/v1/runbooks/for-alert/ServiceDown").json()
    assert link["runbook"] == "aaa-platform"
    for method in ("PUT", "DELETE"):
        refused = client.request(
            method, "/api/v1/runbooks/threads-agent-alertmanager", content=takeover
        )
        assert refused.status_code == 409, method
        assert refused.json().startswith("runbook 'threads-agent-alertmanager' is the file ")
    assert "Restart it" not in client.get("/runbooks/threads-agent-alertmanager").text
    # and a reload (or a start) logs it
    with caplog.at_level(logging.WARNING, "tocsin.core.runbook_library"):
        assert client.post("/-/reload").status_code == 200
    assert said in [r.getMessage() for r in caplog.records]


def test_bad_runbook_names_are_refused(client: TestClient) -> None:
    r = client.put("/api/v1/runbooks/a/%2E%2E/b", content=b"# x")
    assert r.status_code == 400
    assert "name" in r.json()
    names = [b["name"] for b in client.get("/api/v1/runbooks").json()]
    assert "b" not in names
    assert "a/../b" not in names


def test_a_reload_says_which_alerts_lost_their_procedure(
    db_url: str, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A runbook renamed or removed leaves its alerts' open groups without their
    checklist and timers: the reload says which alerts (runbook author walk-through)."""
    books = tmp_path / "rb"
    books.mkdir()
    disk = books / "disk.md"
    disk.write_text("# Disk\n\n## DiskFull\n**Severity**: warning\n\n1. Clean up\n")
    (books / "cpu.md").write_text("# CPU\n\n## CpuHigh\n**Severity**: warning\n\n1. Look\n")
    config = CONFIG + f"tocsin:\n  runbooks:\n    paths: [{books}]\n"
    with app_client(config, db_url, tmp_path, clock) as client:
        assert client.get("/api/v1/runbooks/for-alert/DiskFull").status_code == 200
        disk.unlink()
        with caplog.at_level(logging.WARNING, "tocsin.core.runbook_library"):
            assert client.post("/-/reload").status_code == 200
        said = [r.getMessage() for r in caplog.records if r.name == "tocsin.core.runbook_library"]
        assert said == ["alerts with no runbook procedure any more: DiskFull"]
        assert client.get("/api/v1/runbooks/for-alert/DiskFull").status_code == 404
