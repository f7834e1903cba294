"""Nothing acknowledged is lost when Tocsin is killed with SIGKILL.

Tocsin's promise over Alertmanager is that a 2xx means the alert or silence is
committed. The only honest test of that is a real ``kill -9`` of the real server,
under concurrent load, on each database backend, followed by a restart on the same
data: every alert and silence that was answered 2xx must be back, with its identity
(fingerprint, labels, startsAt, silence id and matchers) and its effect (silenced
alerts are still suppressed), and the restarted server must go on working (resolves
are applied). Requests that got no answer are allowed either way: their client does
not know, and Prometheus would re-send them.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CONFIG, get_alerts, get_silences, parse_time, wait_until
from tests.harness.procs import TocsinServer
from tocsin.timeutil import format_rfc3339 as rfc3339

pytestmark = pytest.mark.e2e

BATCH_SIZES = (1, 7, 64, 3, 16, 1, 25, 2)
GROUPS = 100  # alerts carry group="g0".."g99"; silence i matches group="g{i}"
THREADS = 4


# Every backend a user can run: SQLite in both durability modes (both promise to
# survive a process crash; only FULL promises to survive power loss) and PostgreSQL.
# ``db_url`` (tests/conftest.py) creates and drops the PostgreSQL database, or skips.
BACKENDS = pytest.mark.parametrize(
    ("db_url", "durability"),
    [("sqlite", "full"), ("sqlite", "normal"), ("postgresql", "")],
    indirect=["db_url"],
    ids=["sqlite-full", "sqlite-normal", "postgresql"],
)


@dataclass(frozen=True)
class Backend:
    database_url: str | None
    args: tuple[str, ...]


@pytest.fixture
def backend(db_url: str, durability: str) -> Backend:
    """SQLite through ``--data-dir`` (what a single-process user runs), or PostgreSQL."""
    if db_url.startswith("sqlite"):
        return Backend(None, ("--sqlite-durability", durability))
    return Backend(db_url, ())


@dataclass
class Acked:
    """What the server answered 2xx for, collected by several threads."""

    alerts: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    sent: set[tuple[int, int]] = field(default_factory=set)
    silences: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.alerts)


def make_alert(thread: int, seq: int, starts: datetime) -> dict[str, Any]:
    return {
        "labels": {
            "alertname": "CrashTest",
            "thread": str(thread),
            "seq": str(seq),
            "group": f"g{(thread * 1000 + seq) % GROUPS}",
            "severity": "warning",
        },
        "annotations": {"summary": f"alert {thread}/{seq}"},
        "startsAt": rfc3339(starts),
        "endsAt": rfc3339(starts + timedelta(hours=2)),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }


def make_silence(group: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "matchers": [
            {"name": "group", "value": f"g{group}", "isRegex": False, "isEqual": True},
            {"name": "alertname", "value": "Crash.*", "isRegex": True, "isEqual": True},
        ],
        "startsAt": rfc3339(now - timedelta(seconds=1)),
        "endsAt": rfc3339(now + timedelta(hours=2)),
        "createdBy": "crash-test",
        "comment": f"silence for g{group}",
    }


def load(
    url: str,
    thread: int,
    alerts: int,
    silences: list[int],
    acked: Acked,
    stop: threading.Event,
) -> None:
    """Post ``alerts`` alerts in mixed batches and the given silences, interleaved;
    record only what is answered 2xx; stop at the first transport error (the kill)."""
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    seq = 0
    step = 0
    pending_silences = list(silences)
    with httpx.Client(base_url=url, timeout=30.0) as client:
        while (seq < alerts or pending_silences) and not stop.is_set():
            step += 1
            if seq < alerts:
                size = min(BATCH_SIZES[(thread + step) % len(BATCH_SIZES)], alerts - seq)
                batch = {
                    (thread, seq + i): make_alert(thread, seq + i, starts) for i in range(size)
                }
                seq += size
                with acked.lock:
                    acked.sent.update(batch)
                try:
                    response = client.post("/api/v2/alerts", json=list(batch.values()))
                except httpx.TransportError:
                    return
                with acked.lock:
                    if response.is_success:
                        acked.alerts.update(batch)
                    else:
                        acked.refused.append(f"alerts {response.status_code}: {response.text}")
            # Silences are interleaved with the alerts, the rest posted after them.
            if pending_silences and (step % 3 == 0 or seq >= alerts):
                body = make_silence(pending_silences.pop())
                try:
                    response = client.post("/api/v2/silences", json=body)
                except httpx.TransportError:
                    return
                with acked.lock:
                    if response.is_success:
                        acked.silences[response.json()["silenceID"]] = body["matchers"]
                    else:
                        acked.refused.append(f"silence {response.status_code}: {response.text}")


def guarded_load(url: str, thread: int, *args: Any) -> None:
    """``load``, with any unexpected error recorded where the test will see it (an
    exception in a thread would otherwise only be printed)."""
    acked: Acked = args[-2]
    try:
        load(url, thread, *args)
    except Exception as exc:
        with acked.lock:
            acked.refused.append(f"thread {thread} crashed: {exc!r}")


def run_load(
    url: str, per_thread: int, silences: int, stop: threading.Event
) -> tuple[Acked, list[threading.Thread]]:
    acked = Acked()
    threads = [
        threading.Thread(
            target=guarded_load,
            args=(url, t, per_thread, list(range(t, silences, THREADS)), acked, stop),
            name=f"load-{t}",
            daemon=True,
        )
        for t in range(THREADS)
    ]
    for th in threads:
        th.start()
    return acked, threads


def join(threads: list[threading.Thread]) -> None:
    for th in threads:
        th.join(120)
        assert not th.is_alive(), f"{th.name} did not finish"


@pytest.fixture
def servers() -> Iterator[list[TocsinServer]]:
    """Every Tocsin a test starts on this data; all are stopped after the test."""
    started: list[TocsinServer] = []
    yield started
    for server in started:
        server.stop()


def start(workdir: Path, backend: Backend, started: list[TocsinServer]) -> TocsinServer:
    server = TocsinServer(
        workdir, config=CONFIG, database_url=backend.database_url, extra_args=backend.args
    )
    started.append(server)
    server.start()
    return server


def key_of(labels: dict[str, str]) -> tuple[int, int]:
    return int(labels["thread"]), int(labels["seq"])


def assert_all_back(url: str, acked: Acked, fingerprints: dict[tuple[int, int], str]) -> None:
    """Every acknowledged alert and silence is held, unchanged, with its effect."""
    held = {key_of(a["labels"]): a for a in get_alerts(url)}
    missing = sorted(set(acked.alerts) - set(held))
    assert not missing, f"{len(missing)} acknowledged alerts lost, e.g. {missing[:5]}"
    for key, posted in acked.alerts.items():
        alert = held[key]
        assert alert["labels"] == posted["labels"]
        assert parse_time(alert["startsAt"]) == parse_time(posted["startsAt"])
        assert alert["annotations"] == posted["annotations"]
        if key in fingerprints:
            assert alert["fingerprint"] == fingerprints[key]

    silences = {s["id"]: s for s in get_silences(url)}
    lost = sorted(set(acked.silences) - set(silences))
    assert not lost, f"{len(lost)} acknowledged silences lost: {lost[:5]}"
    by_group: dict[str, str] = {}
    for sid, matchers in acked.silences.items():
        assert silences[sid]["status"]["state"] == "active"
        assert sorted(silences[sid]["matchers"], key=lambda m: str(m["name"])) == sorted(
            matchers, key=lambda m: str(m["name"])
        )
        by_group[matchers[0]["value"]] = sid

    # The silences still do their job after the restart.
    for key in acked.alerts:
        alert = held[key]
        silence_id = by_group.get(alert["labels"]["group"])
        if silence_id is not None:
            assert alert["status"]["state"] == "suppressed", alert
            assert silence_id in alert["status"]["silencedBy"]


def resolve(url: str, acked: Acked, keys: list[tuple[int, int]]) -> None:
    """Post the alerts again with endsAt = now, as Prometheus does on resolve."""
    now = rfc3339(datetime.now(UTC))
    body = [{**acked.alerts[k], "endsAt": now} for k in keys]
    response = httpx.post(f"{url}/api/v2/alerts", json=body, timeout=30.0)
    assert response.status_code == 200, response.text


@BACKENDS
def test_acknowledged_alerts_and_silences_survive_sigkill(
    tmp_path: Path, backend: Backend, servers: list[TocsinServer]
) -> None:
    server = start(tmp_path, backend, servers)
    acked, threads = run_load(server.url, per_thread=125, silences=50, stop=threading.Event())
    join(threads)
    assert not acked.refused, acked.refused[:3]
    assert len(acked.alerts) == THREADS * 125
    assert len(acked.silences) == 50
    fingerprints = {key_of(a["labels"]): a["fingerprint"] for a in get_alerts(server.url)}
    assert len(fingerprints) == THREADS * 125

    server.kill()
    assert server.proc is not None
    assert server.proc.returncode is not None

    server = start(tmp_path, backend, servers)
    assert_all_back(server.url, acked, fingerprints)
    # and its start says what came back
    states = Counter(a["status"]["state"] for a in get_alerts(server.url))
    said = re.findall(r"INFO tocsin: (holding .*)", server.log())
    assert len(said) == 1, said
    assert said[0].startswith(
        f"holding alerts: {states['active']} active, {states['suppressed']} suppressed; "
        "silences: 50 active, 0 pending; notifications to send: "
    ), said[0]

    # The restarted server keeps working: resolving some alerts removes exactly those.
    to_resolve = sorted(acked.alerts)[::5]
    resolve(server.url, acked, to_resolve)
    gone = set(to_resolve)

    def resolved() -> bool:
        return {key_of(a["labels"]) for a in get_alerts(server.url)} == set(acked.alerts) - gone

    wait_until(resolved, 30, "the resolved alerts to leave GET /api/v2/alerts")

    # And the resolves were committed too: another crash does not bring them back.
    server.kill()
    server = start(tmp_path, backend, servers)
    held = {key_of(a["labels"]) for a in get_alerts(server.url)}
    assert held == set(acked.alerts) - gone


@BACKENDS
def test_alerts_acknowledged_before_a_kill_under_load_survive(
    tmp_path: Path, backend: Backend, servers: list[TocsinServer]
) -> None:
    server = start(tmp_path, backend, servers)
    stop = threading.Event()
    acked, threads = run_load(server.url, per_thread=5_000, silences=40, stop=stop)
    try:
        wait_until(lambda: acked.count() >= 400, 60, "400 acknowledged alerts")
        server.kill()  # while the threads are still posting
    finally:
        stop.set()
        join(threads)
    assert not acked.refused, acked.refused[:3]
    assert acked.count() < THREADS * 5_000, "the load finished before the kill: no test"

    server = start(tmp_path, backend, servers)
    assert_all_back(server.url, acked, {})

    # Alerts sent but unanswered may or may not be there; nothing else may be.
    held = {key_of(a["labels"]) for a in get_alerts(server.url)}
    assert held <= acked.sent
