"""Heartbeats over a real database (SQLite and PostgreSQL): pings committed and listed,
a missed or failed heartbeat's alert raised in the store and resolved by the next
ping, bad pings refused and nothing stored; and the console's page."""

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
  heartbeats:
    - name: nightly-backup
      period: 24h
      grace: 1h
      labels: {team: infra}
      annotations: {runbook_url: "https://runbooks.example/backup"}
    - name: digest
      period: 5m
      grace: 0s
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """The conftest's runtime and client, over this config."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    return path


def beats(client: TestClient) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in client.get("/api/v1/heartbeats").json()}


def firing(client: TestClient) -> dict[str, dict[str, Any]]:
    """The firing heartbeat alerts, by heartbeat and alert name."""
    alerts = client.get("/api/v2/alerts", params={"filter": "heartbeat=~.+"}).json()
    return {f"{a['labels']['heartbeat']}/{a['labels']['alertname']}": a for a in alerts}


def check(runtime: Runtime) -> None:
    """Wake the monitor (its sleep follows the real clock, not the test's)."""
    runtime.heartbeats.kick()


def test_a_missed_heartbeat_fires_and_a_ping_resolves_it(
    client: TestClient, runtime: Runtime, clock: Clock
) -> None:
    armed = clock.now
    wait_until(lambda: beats(client)["digest"]["armedAt"] == format_rfc3339(armed), 10, "arming")
    assert {n: h["state"] for n, h in beats(client).items()} == {
        "nightly-backup": "new",
        "digest": "new",
    }
    clock.now += timedelta(minutes=6)  # digest: 5m, no grace; the backup has a day
    check(runtime)
    wait_until(lambda: "digest/HeartbeatMissing" in firing(client), 10, "the alert")
    got = firing(client)
    assert list(got) == ["digest/HeartbeatMissing"]
    alert = got["digest/HeartbeatMissing"]
    assert alert["startsAt"] == format_rfc3339(armed + timedelta(minutes=5))
    assert alert["labels"] == {
        "alertname": "HeartbeatMissing",
        "heartbeat": "digest",
        "severity": "critical",
    }
    assert beats(client)["digest"]["state"] == "down"
    assert beats(client)["nightly-backup"]["state"] == "new"
    metrics = client.get("/metrics").text
    assert 'tocsin_heartbeats{state="down"} 1.0' in metrics
    assert 'tocsin_heartbeats{state="new"} 1.0' in metrics

    # its ping: committed and answered with the new state; the alert resolves
    clock.now += timedelta(seconds=30)
    r = client.post("/api/v1/heartbeats/digest", content=b"sent 120 digests")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["state"], body["lastPingAt"], body["message"], body["pings"]) == (
        "up",
        format_rfc3339(clock.now),
        "sent 120 digests",
        1,
    )
    assert body["lateAt"] == format_rfc3339(clock.now + timedelta(minutes=5))
    wait_until(lambda: not firing(client), 10, "the alert to resolve")
    # resolved, not forgotten: it is in the store with its end
    (ended,) = [a for a in runtime.store.all_alerts() if a.labels["heartbeat"] == "digest"]
    assert ended.ends_at == clock.now


def test_a_failed_ping_fires_at_once_with_its_message(
    client: TestClient, runtime: Runtime, clock: Clock
) -> None:
    r = client.post("/api/v1/heartbeats/nightly-backup/fail", content=b"exit 2\ndisk full\n")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["lastPing"]) == ("failed", "fail")
    wait_until(lambda: "nightly-backup/HeartbeatFailed" in firing(client), 10, "the alert")
    alert = firing(client)["nightly-backup/HeartbeatFailed"]
    assert alert["labels"]["team"] == "infra"
    assert alert["annotations"] == {
        "summary": "Heartbeat nightly-backup reported a failure",
        "description": "exit 2\ndisk full",
        "runbook_url": "https://runbooks.example/backup",
    }
    assert alert["startsAt"] == format_rfc3339(clock.now)
    # failed it stays, past its period, until a good run
    clock.now += timedelta(days=2)
    check(runtime)
    assert beats(client)["nightly-backup"]["state"] == "failed"
    both = {"nightly-backup/HeartbeatFailed", "digest/HeartbeatMissing"}
    wait_until(lambda: set(firing(client)) == both, 10, "the digest's alert too")
    assert client.post("/api/v1/heartbeats/nightly-backup").status_code == 200
    wait_until(lambda: list(firing(client)) == ["digest/HeartbeatMissing"], 10, "the resolve")


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "says"),
    [
        ("nope", {}, b"", 404, "no heartbeat 'nope' in tocsin.heartbeats (configured: "),
        ("nope/fail", {}, b"", 404, "no heartbeat 'nope'"),
        # another site's page must not keep a dead job looking alive
        ("digest", {"origin": "https://evil.example"}, b"", 403, ""),
        ("digest", {"sec-fetch-site": "cross-site"}, b"", 403, ""),
        ("digest", {}, b"x" * (64 * 1024 + 1), 413, "body: larger than 65536 bytes"),
    ],
)
def test_bad_pings_are_refused_and_store_nothing(
    client: TestClient, path: str, headers: dict[str, str], body: bytes, status: int, says: str
) -> None:
    r = client.post(f"/api/v1/heartbeats/{path}", content=body, headers=headers)
    assert r.status_code == status
    assert r.json().startswith(says)
    assert [h["pings"] for h in beats(client).values()] == [0, 0]
    assert client.get("/api/v1/heartbeats/nope").status_code == 404


def test_the_console_lists_heartbeats(client: TestClient, clock: Clock) -> None:
    client.post("/api/v1/heartbeats/nightly-backup/fail", content=b"disk full")
    page = client.get("/ui/heartbeats").text
    assert '<tr class="heartbeat" data-heartbeat="nightly-backup">' in page
    assert '<span class="state failed">failed</span>' in page
    assert "disk full" in page
    assert '<span class="state new">new</span>' in page  # digest never pinged
    assert '<a href="/ui/heartbeats" class="here">Heartbeats</a>' in page
