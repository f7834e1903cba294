"""A real sender of PagerDuty Events API v2 events: Debian's Alertmanager, whose
``pagerduty_configs`` point at Tocsin's ``/v2/enqueue`` instead of PagerDuty. Its
trigger becomes a Tocsin alert (identity: its dedup_key, the hash of its group key),
survives a ``kill -9`` of Tocsin, and its resolve, sent after the restart, resolves it.
And ``tocsin event``, the CLI for scripts, against a real server."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    alert,
    get_alerts,
    post_alerts,
    require_binary,
    wait_until,
)
from tests.harness.procs import AlertmanagerServer, TocsinServer
from tocsin.timeutil import format_rfc3339 as rfc3339

pytestmark = pytest.mark.e2e

KEY = "e2e0123456789abcdef0123456789abc"

TOCSIN_CONFIG = f"""\
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
receivers:
  - name: default
tocsin:
  event_integrations:
    - name: alertmanager
      routing_key: {KEY}
      labels: {{cluster: e2e}}
"""

AM_CONFIG = """\
route:
  receiver: pagerduty
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: pagerduty
    pagerduty_configs:
      - routing_key: {key}
        url: {url}/v2/enqueue
        severity: warning
"""


@pytest.fixture
def tocsin(tmp_path: Path) -> Iterator[TocsinServer]:
    config = tmp_path / "tocsin.yml"
    config.write_text(TOCSIN_CONFIG)
    server = TocsinServer(tmp_path, config=config)
    with server:
        yield server


@pytest.fixture
def alertmanager(tmp_path: Path, tocsin: TocsinServer) -> Iterator[AlertmanagerServer]:
    require_binary("prometheus-alertmanager", "alertmanager")
    workdir = tmp_path / "am"
    workdir.mkdir()
    config = workdir / "alertmanager.yml"
    config.write_text(AM_CONFIG.format(key=KEY, url=tocsin.url))
    server = AlertmanagerServer(workdir, config)
    with server:
        yield server


def from_alertmanager(url: str) -> list[dict[str, Any]]:
    return [a for a in get_alerts(url) if a["labels"].get("integration") == "alertmanager"]


def test_alertmanager_pages_tocsin_through_the_events_api(
    tocsin: TocsinServer, alertmanager: AlertmanagerServer
) -> None:
    fired = alert({"alertname": "DiskFull", "instance": "db1:9100"})
    assert post_alerts(alertmanager.url, [fired]).status_code == 200

    (got,) = wait_until(lambda: from_alertmanager(tocsin.url), 30, "the trigger to arrive")
    # Alertmanager's dedup_key is the SHA-256 of its group key: one Tocsin alert per
    # Alertmanager group, whatever its summary says as alerts come and go
    group_key = '{}:{alertname="DiskFull"}'
    assert got["labels"] == {
        "alertname": "alertmanager",  # no class sent: the integration names it
        "severity": "warning",
        "source": got["labels"]["source"],
        "integration": "alertmanager",
        "dedup_key": hashlib.sha256(group_key.encode()).hexdigest(),
        "cluster": "e2e",
    }
    assert got["annotations"]["summary"].startswith("[FIRING:1] DiskFull")
    assert got["annotations"]["client"] == "Alertmanager"
    assert "num_firing" in got["annotations"]["custom_details"]
    assert got["status"]["state"] == "active"

    # a crash loses nothing that was answered 202
    tocsin.kill()
    tocsin.start()
    assert [a["fingerprint"] for a in from_alertmanager(tocsin.url)] == [got["fingerprint"]]

    # the resolve, sent to the restarted server, resolves the same alert
    ended = dict(fired, endsAt=rfc3339(datetime.now(UTC) - timedelta(seconds=1)))
    assert post_alerts(alertmanager.url, [ended]).status_code == 200
    wait_until(lambda: not from_alertmanager(tocsin.url), 30, "the resolve to arrive")
    # by a resolve event (counted since the restart), not by a timeout
    metrics = httpx.get(f"{tocsin.url}/metrics", timeout=10).text
    assert 'tocsin_events_received_total{action="resolve",integration="alertmanager"}' in metrics


def test_tocsin_event_commands(tocsin: TocsinServer) -> None:
    env = {"TOCSIN_ROUTING_KEY": KEY}
    fired = run_cli(
        "event",
        "trigger",
        "Nightly backup failed",
        "--source",
        "backup1",
        "--severity",
        "critical",
        "--class",
        "BackupFailed",
        "-d",
        "exit_code=3",
        url=tocsin.url,
        env=env,
    )
    dedup_key = fired.stdout.strip()
    assert len(dedup_key) == 32  # made by the server, printed for the resolve
    (got,) = alerts_named(tocsin.url, "BackupFailed")
    assert got["labels"]["dedup_key"] == dedup_key
    assert got["annotations"]["custom_details"] == '{"exit_code":"3"}'

    answer = run_cli("event", "resolve", dedup_key, "--json", url=tocsin.url, env=env)
    assert json.loads(answer.stdout) == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": dedup_key,
    }
    assert alerts_named(tocsin.url, "BackupFailed") == []
    # resolving again (a cron job's every good run) is fine, with a note on stderr
    again = run_cli("event", "resolve", dedup_key, url=tocsin.url, env=env)
    assert again.stdout.strip() == dedup_key
    assert again.stderr.strip() == (
        "tocsin: nothing to resolve: no firing alert has this dedup_key"
    )

    # exit codes: 2 for usage, 1 (with the server's reasons) for a refused event
    bad = ["event", "trigger", "x", "--source", "s", "--severity", "fatal"]
    assert run_cli(*bad, url=tocsin.url, env=env, check=False).returncode == 2
    refused = run_cli(
        "event", "ack", "k", url=tocsin.url, env={"TOCSIN_ROUTING_KEY": "wrong"}, check=False
    )
    assert refused.returncode == 1
    assert "routing_key: not the routing key of any of tocsin.event_integrations" in refused.stderr


def alerts_named(url: str, alertname: str) -> list[dict[str, Any]]:
    return [a for a in get_alerts(url) if a["labels"].get("alertname") == alertname]


def run_cli(
    *args: str, url: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "tocsin", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TOCSIN_URL": url, **env},
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result
