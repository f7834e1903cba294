"""A load generator for ``POST /api/v2/alerts`` that is not the bottleneck: ``wrk``.

The benchmark compares Tocsin with Alertmanager on a 2-core machine, where the
generator shares the CPU with the server under test. A Python generator would spend
most of those two cores on itself, so the figures would measure the generator; ``wrk``
is C with LuaJIT and spends a small fraction of what either server spends (the run
reports the CPU seconds of both, so this stays checkable rather than assumed).

Every request carries DISTINCT alerts: each wrk thread numbers its own alerts, and the
run id, thread id and counter are labels, so no two posted alerts share a fingerprint
and the servers do the full work of creating a new alert, never a cheap duplicate
update.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

RESULT_MARK = "WRKJSON "

# The body of one alert, shaped like what Prometheus sends: labels, annotations, a
# generator URL, startsAt, and an endsAt an hour ahead so nothing resolves mid-run.
_LUA = r"""
local batch = __BATCH__
local run = "__RUN__"
local starts = "__STARTS__"
local ends = "__ENDS__"
local counter = 0
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local fmt = '{"labels":{"alertname":"BenchAlert","job":"bench","severity":"warning",' ..
  '"run":"%s","instance":"host-%d-%d"},"annotations":{"summary":"bench alert %d",' ..
  '"description":"posted by the ingest benchmark"},"generatorURL":' ..
  '"http://127.0.0.1:9090/graph?g0.expr=up","startsAt":"%s","endsAt":"%s"}'

function request()
  local parts = {}
  for i = 1, batch do
    counter = counter + 1
    parts[i] = string.format(fmt, run, tid, counter, counter, starts, ends)
  end
  return wrk.format(nil, nil, nil, "[" .. table.concat(parts, ",") .. "]")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '__MARK__{"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


@dataclass(frozen=True)
class LoadResult:
    """What one wrk run measured; alerts count only requests answered 2xx."""

    batch: int
    requests: int
    failed_requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    generator_cpu_s: float

    @property
    def ok_requests(self) -> int:
        return self.requests - self.failed_requests

    @property
    def alerts_per_s(self) -> float:
        return self.ok_requests * self.batch / self.seconds

    @property
    def requests_per_s(self) -> float:
        return self.ok_requests / self.seconds


def ensure_wrk() -> str:
    """Return wrk's path, installing Debian's package first if it is missing (as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed and this is not root: apt-get install -y wrk")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, timeout=600)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get install wrk did not provide a wrk binary")
    return found


def lua_script(batch: int, run: str, now: datetime | None = None) -> str:
    """The wrk script posting ``batch`` distinct alerts per request, labelled ``run``."""
    start = (now or datetime.now(UTC)).replace(microsecond=0)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return (
        _LUA.replace("__BATCH__", str(batch))
        .replace("__RUN__", run)
        .replace("__STARTS__", start.strftime(stamp))
        .replace("__ENDS__", (start + timedelta(hours=1)).strftime(stamp))
        .replace("__MARK__", RESULT_MARK)
    )


def run_wrk(
    url: str,
    batch: int,
    run: str,
    seconds: int,
    connections: int = 32,
    threads: int = 2,
    wrk: str | None = None,
) -> LoadResult:
    """Post to ``url``/api/v2/alerts for ``seconds`` (bounded) and return the figures."""
    binary = wrk or ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as tmp:
        script = Path(tmp) / "alerts.lua"
        script.write_text(lua_script(batch, run))
        argv = [
            binary,
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            "--timeout=10s",
            f"--script={script}",
            f"{url.rstrip('/')}/api/v2/alerts",
        ]
        before = os.times()
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        elapsed = time.monotonic() - started
        after = os.times()
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    line = next((x for x in done.stdout.splitlines() if x.startswith(RESULT_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result line:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line[len(RESULT_MARK) :])
    socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return LoadResult(
        batch=batch,
        requests=data["requests"],
        # Socket errors are requests that got no answer at all; non-2xx got a refusal.
        failed_requests=min(data["requests"], data["non2xx"] + socket_errors),
        seconds=data["duration_us"] / 1e6 or elapsed,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        generator_cpu_s=cpu,
    )
