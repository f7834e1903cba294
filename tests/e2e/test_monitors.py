"""Heartbeats against a real server: a cron-style job wrapped by ``tocsin heartbeat
run``, a ping from the real ``curl`` as the README writes it, a missed heartbeat's
alert, and a ``kill -9`` that loses no answered ping."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import require_binary, wait_until
from tests.e2e.test_cli import run_cli
from tests.harness.procs import TocsinServer, free_port

pytestmark = pytest.mark.e2e

CONFIG = """\
route:
  receiver: default
  group_wait: 0s
receivers:
  - name: default
tocsin:
  heartbeats:
    - name: backup
      period: 24h
    - name: queue-consumer
      period: 2s
      grace: 1s
      labels: {severity: warning}
"""


def heartbeat_alerts(url: str) -> list[str]:
    alerts = httpx.get(f"{url}/api/v2/alerts", params={"filter": "heartbeat=~.+"}).json()
    return sorted(f"{a['labels']['heartbeat']}/{a['labels']['alertname']}" for a in alerts)


def test_jobs_ping_and_a_crash_loses_no_ping(tmp_path: Path, db_url: str) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    db = None if db_url.startswith("sqlite") else db_url
    with TocsinServer(tmp_path, config=config, database_url=db) as server:
        # a job that fails: its output goes on to cron, and its tail to Tocsin
        job = ["sh", "-c", "echo copied 3 files; echo 'disk full' >&2; exit 3"]
        failed = run_cli("heartbeat", "run", "backup", "--", *job, url=server.url, check=False)
        assert failed.returncode == 3
        assert (failed.stdout, failed.stderr) == ("copied 3 files\n", "disk full\n")
        wait_until(lambda: heartbeat_alerts(server.url), 30, "the failure's alert")
        assert "backup/HeartbeatFailed" in heartbeat_alerts(server.url)
        shown = run_cli("heartbeat", "show", "backup", url=server.url).stdout
        assert "backup: failed (every 1d +1h)" in shown
        assert "exit status 3" in shown
        assert "disk full" in shown

        # the same job succeeding: a ping, and the failure's alert resolves
        good = run_cli("heartbeat", "run", "backup", "--", "true", url=server.url)
        assert good.returncode == 0
        wait_until(
            lambda: "backup/HeartbeatFailed" not in heartbeat_alerts(server.url), 30, "resolve"
        )

        # the consumer never pings: missing after its period and grace
        wait_until(
            lambda: "queue-consumer/HeartbeatMissing" in heartbeat_alerts(server.url),
            30,
            "the missing heartbeat's alert",
        )
        # a ping with the real curl, as the README's crontab line sends it
        curl = require_binary("curl")
        sent = subprocess.run(
            [curl, "-fsS", "--data-binary", "drained 12", f"{server.url}/ping/queue-consumer"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout)["message"] == "drained 12"
        before = {h["name"]: h for h in httpx.get(f"{server.url}/api/v1/heartbeats").json()}

        # kill -9: every answered ping is back, with its time and message
        server.kill()
        server.start()
        after = {h["name"]: h for h in httpx.get(f"{server.url}/api/v1/heartbeats").json()}
        for name in ("backup", "queue-consumer"):
            kept = ("lastPingAt", "lastPing", "message", "pings", "armedAt")
            assert {k: after[name][k] for k in kept} == {k: before[name][k] for k in kept}
        assert after["backup"]["pings"] == 2

        # a name the config does not have: exit 1, the server's reason
        bad = run_cli("heartbeat", "ping", "nope", url=server.url, check=False)
        assert bad.returncode == 1
        assert "no heartbeat 'nope'" in bad.stderr
        listed = json.loads(run_cli("heartbeat", "list", "--json", url=server.url).stdout)
        assert [h["name"] for h in listed] == ["backup", "queue-consumer"]


def test_run_passes_the_job_through(tmp_path: Path) -> None:
    """``tocsin heartbeat run``: the job's bytes pass through untouched (a dump piped to
    a file), its exit status is the wrapper's as a shell reports it, and each outcome
    is pinged."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    with TocsinServer(tmp_path, config=config) as server:
        wrap = [sys.executable, "-m", "tocsin", "heartbeat", "run", "backup", "--url", server.url]
        blob = bytes(range(256)) * 64 + b"\r\n\x1b[31mred\x1b[0m"
        (tmp_path / "blob").write_bytes(blob)
        dumped = subprocess.run(
            [*wrap, "--", "cat", str(tmp_path / "blob")],
            capture_output=True,
            timeout=60,
        )
        assert (dumped.returncode, dumped.stdout) == (0, blob)

        def outcome(*command: str) -> tuple[int, str, str]:
            done = run_cli(
                "heartbeat", "run", "backup", "--", *command, url=server.url, check=False
            )
            shown = httpx.get(f"{server.url}/api/v1/heartbeats/backup").json()
            return done.returncode, shown["lastPing"], (shown["message"].splitlines() or [""])[0]

        assert outcome("sh", "-c", "kill -TERM $$") == (143, "fail", "killed by SIGTERM")
        assert outcome("/no/such/job") == (127, "fail", "/no/such/job: command not found")
        (tmp_path / "not-executable").write_text("echo hi\n")
        code, last, said = outcome(str(tmp_path / "not-executable"))
        assert (code, last) == (126, "fail")
        assert "Permission denied" in said
        assert outcome("true") == (0, "ok", "")  # message: nothing printed
        # run said the job started, so its run was timed
        timed = httpx.get(f"{server.url}/api/v1/heartbeats/backup").json()
        assert (timed["startedAt"], timed["state"]) == (None, "up")
        assert 0 <= timed["lastDuration"] < 30

        # the wrapper's own SIGTERM (cron stopped, a timeout) goes to the job
        wrapper = subprocess.Popen(
            [*wrap, "--", "sh", "-c", "echo started; sleep 30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert wrapper.stdout is not None
        assert wrapper.stdout.readline() == b"started\n"
        wrapper.terminate()
        assert wrapper.wait(timeout=30) == 143
        wrapper.stdout.close()
        assert wrapper.stderr is not None
        wrapper.stderr.close()
        shown = httpx.get(f"{server.url}/api/v1/heartbeats/backup").json()
        assert (shown["lastPing"], shown["message"]) == ("fail", "killed by SIGTERM\nstarted")


def test_probes_from_the_terminal(tmp_path: Path) -> None:
    """A real server probing its own health endpoint, and a port nothing listens on."""
    port, closed = free_port(), free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: default\n  group_wait: 0s\nreceivers:\n  - name: default\n"
        "tocsin:\n  probes:\n"
        f"    - {{name: self, url: 'http://127.0.0.1:{port}/-/healthy', interval: 1h}}\n"
        f"    - {{name: gone, url: 'http://127.0.0.1:{closed}/h', interval: 1h, failures: 1}}\n"
        f"    - {{name: port, url: 'tcp://127.0.0.1:{port}', interval: 1h}}\n"
        f"    - {{name: shut, url: 'tcp://127.0.0.1:{closed}', interval: 1h, failures: 1}}\n"
    )
    with TocsinServer(tmp_path, config=config, port=port) as server:
        ran = run_cli("probe", "run", "self", url=server.url).stdout
        assert ran.startswith(f"self: up (GET http://127.0.0.1:{port}/-/healthy)")
        assert "  last request: " in ran
        gone = run_cli("probe", "run", "gone", url=server.url, check=False)
        assert (gone.returncode, gone.stdout.startswith("gone: down")) == (1, True)
        wait_until(lambda: "gone/ProbeFailing" in probe_alerts(server.url), 30, "its alert")
        # tcp://: a connection accepted is up, one refused is down
        connects = run_cli("probe", "run", "port", url=server.url).stdout
        assert connects.startswith(f"port: up (CONNECT tcp://127.0.0.1:{port})")
        assert "connected in " in connects
        shut = run_cli("probe", "run", "shut", url=server.url, check=False)
        assert (shut.returncode, shut.stdout.startswith("shut: down")) == (1, True)
        assert "Connection refused" in shut.stdout
        wait_until(lambda: "shut/ProbeFailing" in probe_alerts(server.url), 30, "its alert")
        listed = run_cli("probe", "list", url=server.url).stdout.splitlines()
        assert listed[0].split() == ["NAME", "STATE", "REQUEST", "RESULT", "LAST"]
        assert [line.split()[:2] for line in listed[1:]] == [
            ["self", "up"],
            ["gone", "down"],
            ["port", "up"],
            ["shut", "down"],
        ]
        bad = run_cli("probe", "run", "nope", url=server.url, check=False)
        assert (bad.returncode, "no probe 'nope' in tocsin.probes" in bad.stderr) == (1, True)


def probe_alerts(url: str) -> list[str]:
    alerts = httpx.get(f"{url}/api/v2/alerts", params={"filter": "probe=~.+"}).json()
    return sorted(f"{a['labels']['probe']}/{a['labels']['alertname']}" for a in alerts)
