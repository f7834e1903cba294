"""The real Prometheus sends its alerts to Tocsin, and they fire and resolve.

This is the path every Tocsin user depends on: Prometheus's notifier, configured with
``api_version: v2`` and Tocsin as a static Alertmanager target, posts firing alerts
every second (``--rules.alert.resend-delay=1s``) and, when a rule stops matching, the
same alert with ``endsAt`` set to the moment it resolved. Prometheus gives up on a
target that answers in an unexpected way without failing anything visible, so its own
counters of notification errors are checked too.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import DATA, get_alerts, parse_time, require_binary, wait_until
from tests.harness.procs import PrometheusServer, TocsinServer, free_port

pytestmark = pytest.mark.e2e

DEADLINE = 60.0

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels:
    cluster: e2e
rule_files:
  - {rules}
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ["127.0.0.1:{prometheus_port}"]
alerting:
  alertmanagers:
    - api_version: v2
      timeout: 5s
      static_configs:
        - targets: ["127.0.0.1:{tocsin_port}"]
"""


def rules_file(tmp_path: Path) -> Path:
    """Where the ``prometheus`` fixture keeps the rule file a test may rewrite."""
    return tmp_path / "prometheus" / "rules.yml"


@pytest.fixture
def prometheus(tocsin: TocsinServer, tmp_path: Path) -> Iterator[PrometheusServer]:
    """Prometheus with the firing rules, sending to ``tocsin``; stopped after the test."""
    require_binary("prometheus")
    rules = rules_file(tmp_path)
    workdir = rules.parent
    workdir.mkdir()
    shutil.copyfile(DATA / "rules-firing.yml", rules)
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        PROMETHEUS_CONFIG.format(rules=rules, prometheus_port=port, tocsin_port=tocsin.port)
    )
    server = PrometheusServer(workdir, config, port=port)
    with server:
        yield server


def metric(url: str, pattern: str) -> float:
    """Sum of the samples of a metric in a /metrics page (0 if there are none)."""
    text = httpx.get(f"{url}/metrics", timeout=10.0).text
    found = re.findall(rf"^{pattern}(?:\{{[^}}]*\}})?\s+(\S+)$", text, flags=re.MULTILINE)
    return sum(float(v) for v in found)


def resolved_received(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10.0).text
    found = re.findall(
        r'^(?:tocsin|alertmanager)_alerts_received_total\{[^}]*status="resolved"[^}]*\}\s+(\S+)$',
        text,
        flags=re.MULTILINE,
    )
    return sum(float(v) for v in found)


def firing(url: str, alertname: str) -> list[dict[str, Any]]:
    return [a for a in get_alerts(url) if a["labels"].get("alertname") == alertname]


def test_prometheus_alerts_fire_then_resolve(
    tocsin: TocsinServer, prometheus: PrometheusServer, tmp_path: Path
) -> None:
    (always,) = wait_until(
        lambda: firing(tocsin.url, "E2EAlwaysFiring"), DEADLINE, "E2EAlwaysFiring in Tocsin"
    )
    assert always["labels"] == {
        "alertname": "E2EAlwaysFiring",
        "severity": "warning",
        "team": "db",
        "cluster": "e2e",  # Prometheus's external_labels are part of the alert
    }
    assert always["annotations"] == {
        "summary": "always firing, value 1",
        "runbook_url": "https://runbooks.example/e2e",
    }
    assert "/graph?g0.expr=vector%281%29" in always["generatorURL"]
    assert always["generatorURL"].startswith("http")
    assert always["status"]["state"] == "active"
    assert [r["name"] for r in always["receivers"]] == ["team-db"]

    (up,) = wait_until(
        lambda: firing(tocsin.url, "E2ESelfScrapeUp"), DEADLINE, "E2ESelfScrapeUp in Tocsin"
    )
    assert up["labels"]["instance"] == f"127.0.0.1:{prometheus.port}"
    assert up["labels"]["job"] == "self"
    assert up["annotations"]["summary"] == f"127.0.0.1:{prometheus.port} is up"

    # Prometheus sets endsAt a few resend delays ahead and keeps pushing it: the alert
    # stays firing past its first endsAt only if Tocsin applies each re-send.
    first_end = parse_time(always["endsAt"])

    def extended() -> dict[str, Any] | None:
        (now,) = firing(tocsin.url, "E2EAlwaysFiring")
        return now if parse_time(now["endsAt"]) > first_end else None

    later = wait_until(extended, DEADLINE, "Prometheus re-sends to extend endsAt")
    assert later["fingerprint"] == always["fingerprint"]
    assert later["startsAt"] == always["startsAt"]

    # Prometheus found Tocsin, talks to it, and had no error doing so. (Its "dropped"
    # counter is not checked: it counts alerts evaluated before the target was set up.)
    targets = httpx.get(f"{prometheus.url}/api/v1/alertmanagers", timeout=10.0).json()
    active = [t["url"] for t in targets["data"]["activeAlertmanagers"]]
    assert active == [f"http://127.0.0.1:{tocsin.port}/api/v2/alerts"]
    assert metric(prometheus.url, "prometheus_notifications_sent_total") > 0
    assert metric(prometheus.url, "prometheus_notifications_errors_total") == 0

    # The rules stop matching: Prometheus sends each alert once more, resolved.
    resolved_before = resolved_received(tocsin.url)
    shutil.copyfile(DATA / "rules-quiet.yml", rules_file(tmp_path))
    prometheus.reload()
    wait_until(
        lambda: (
            not firing(tocsin.url, "E2EAlwaysFiring") and not firing(tocsin.url, "E2ESelfScrapeUp")
        ),
        DEADLINE,
        "both alerts to resolve",
    )
    # Resolved by Prometheus's resolve message, not merely by endsAt running out.
    wait_until(
        lambda: resolved_received(tocsin.url) > resolved_before,
        DEADLINE,
        "Tocsin to count the resolved alerts Prometheus sent",
    )
    assert metric(prometheus.url, "prometheus_notifications_errors_total") == 0
    assert get_alerts(tocsin.url) == []
