"""Fixtures for end-to-end tests: real Tocsin, Alertmanager and Prometheus processes.

Every server a test starts is stopped by its fixture, whatever the test did; all of
them listen on 127.0.0.1 only. Waiting is always a bounded poll of a condition
(``wait_until``), never a sleep, so a slow machine makes a test slower, not flaky.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.harness.procs import AlertmanagerServer, TocsinServer, find_binary
from tocsin.timeutil import format_rfc3339 as rfc3339

DATA = Path(__file__).parent / "data"
CONFIG = DATA / "alertmanager.yml"

T = TypeVar("T")

Alert = dict[str, Any]


def require_binary(*names: str) -> str:
    """The binary's path, or skip the test with the reason (the peer is not installed)."""
    try:
        return find_binary(*names)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def wait_until(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def alert(labels: dict[str, str], *, minutes: int = 60, **extra: Any) -> Alert:
    """A firing alert that stays firing for ``minutes`` (well past any test)."""
    now = datetime.now(UTC)
    body: Alert = {
        "labels": labels,
        "annotations": {"summary": f"e2e {labels.get('alertname', '')}"},
        "startsAt": rfc3339(now - timedelta(seconds=1)),
        "endsAt": rfc3339(now + timedelta(minutes=minutes)),
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up",
    }
    body.update(extra)
    return body


def get_alerts(url: str, **params: Any) -> list[Alert]:
    """GET /api/v2/alerts, asserting a 200."""
    response = httpx.get(f"{url}/api/v2/alerts", params=params, timeout=30.0)
    assert response.status_code == 200, response.text
    result: list[Alert] = response.json()
    return result


def get_silences(url: str) -> list[Alert]:
    """GET /api/v2/silences, asserting a 200."""
    response = httpx.get(f"{url}/api/v2/silences", timeout=30.0)
    assert response.status_code == 200, response.text
    result: list[Alert] = response.json()
    return result


def post_alerts(url: str, alerts: list[Alert]) -> httpx.Response:
    return httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=30.0)


def by_labels(alerts: list[Alert]) -> dict[frozenset[tuple[str, str]], Alert]:
    """Index alerts by their label set (what a fingerprint stands for)."""
    return {frozenset(a["labels"].items()): a for a in alerts}


@pytest.fixture
def tocsin(tmp_path: Path) -> Iterator[TocsinServer]:
    """A Tocsin on SQLite in ``tmp_path`` with the e2e configuration; stopped after."""
    server = TocsinServer(tmp_path, config=CONFIG)
    with server:
        yield server


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerServer]:
    """Debian's Alertmanager with the same configuration as ``tocsin``; stopped after."""
    require_binary("prometheus-alertmanager", "alertmanager")
    workdir = tmp_path / "am"
    workdir.mkdir()
    server = AlertmanagerServer(workdir, CONFIG)
    with server:
        yield server
