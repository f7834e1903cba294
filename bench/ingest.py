"""Ingest throughput, side by side: Tocsin against Debian's Alertmanager in one run.

Run by hand (not part of the test suite)::

    cd /work/main && . .venv/bin/activate && python -m bench.ingest

Why side by side: absolute figures depend on the machine, so the figure that means
something is the ratio Tocsin/Alertmanager measured on the same machine, at the same
moment, with the same generator, the same alerts and the same shape of configuration.
Why a fresh server per measurement: both servers keep every alert they hold in memory
(Tocsin also on disk), so a run that starts with the previous run's alerts would be
measuring something else.

Tocsin commits every accepted alert before answering (Alertmanager keeps them in memory
only), so the figures for Tocsin are also the price of that durability, shown for each
durability mode: SQLite ``synchronous=FULL`` (the default), ``NORMAL``, and PostgreSQL
when ``TOCSIN_TEST_POSTGRES_URL`` (or ``--postgres-url``) names a server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from bench.loadgen import LoadResult, ensure_wrk, run_wrk
from bench.procstat import busy_cpu_seconds, proc_cpu_seconds
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.harness.procs import AlertmanagerServer, Process, TocsinServer, free_port

import tocsin
from tocsin.store.db import normalize_url

PG_ENV = "TOCSIN_TEST_POSTGRES_URL"
AM_NAME = "alertmanager"

CONFIG = """\
# Same shape for both servers: one route, one webhook receiver on a port nothing
# listens on, and timers long enough that no notification is attempted during a run.
global:
  resolve_timeout: 5m
route:
  receiver: sink
  group_by: [alertname, instance]
  group_wait: 1h
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: sink
    webhook_configs:
      - url: http://127.0.0.1:{port}/unused
        send_resolved: false
"""


@dataclass(frozen=True)
class Target:
    """One server set-up to measure."""

    name: str
    kind: str  # "alertmanager" or "tocsin"
    tocsin_args: tuple[str, ...] = ()
    postgres_url: str | None = None


@dataclass
class Row:
    """One measured cell of the table."""

    target: str
    batch: int
    result: LoadResult
    server_cpu_s: float
    server_received: float | None
    other_cpu_s: float = 0.0
    round: int = 0
    ratio: float | None = None
    cpu_ratio: float | None = None

    @property
    def alerts_per_cpu_s(self) -> float:
        """Alerts per CPU-second of the server process: far less sensitive than alerts/s
        to what neighbours do on a shared machine (but blind to time spent waiting for
        fsync, and to the CPU of a separate database server)."""
        return self.result.ok_requests * self.batch / max(self.server_cpu_s, 1e-9)

    notes: list[str] = field(default_factory=list)


def targets(postgres_url: str | None, only: Sequence[str]) -> list[Target]:
    """The default matrix: Alertmanager, Tocsin on SQLite (full, normal), on PostgreSQL."""
    all_targets = [
        Target(AM_NAME, "alertmanager"),
        Target("tocsin sqlite full", "tocsin", ("--sqlite-durability", "full")),
        Target("tocsin sqlite normal", "tocsin", ("--sqlite-durability", "normal")),
    ]
    if postgres_url:
        all_targets.append(Target("tocsin postgresql", "tocsin", (), postgres_url))
    if not only:
        return all_targets
    keys = {"am": AM_NAME, "full": "tocsin sqlite full", "normal": "tocsin sqlite normal"}
    keys["pg"] = "tocsin postgresql"
    wanted = {keys.get(x, x) for x in only}
    return [t for t in all_targets if t.name in wanted]


@contextlib.contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A database created for one measurement and dropped after it."""
    name = f"tocsin_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(normalize_url(server_url)).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def running(target: Target, workdir: Path, config: Path) -> Iterator[tuple[Process, str]]:
    """Start ``target`` on a fresh data directory; yield (process, base URL); stop it."""
    workdir.mkdir(parents=True)
    if target.kind == "alertmanager":
        am = AlertmanagerServer(workdir, config)
        with am:
            yield am, am.url
        return
    with contextlib.ExitStack() as stack:
        database_url = None
        if target.postgres_url:
            database_url = stack.enter_context(fresh_postgres_database(target.postgres_url))
        server = TocsinServer(
            workdir,
            config=config,
            database_url=database_url,
            extra_args=(*target.tocsin_args, "--log-level", "warning"),
        )
        stack.enter_context(server)
        yield server, server.url


def server_cpu_seconds(proc: Process) -> float:
    assert proc.proc is not None
    return proc_cpu_seconds(proc.proc.pid) or 0.0


_RECEIVED = re.compile(
    r'^(?:alertmanager|tocsin)_alerts_received_total\{[^}]*status="firing"[^}]*\}\s+(\S+)$',
    re.MULTILINE,
)


def metric_values(url: str, pattern: re.Pattern[str]) -> list[float]:
    """The values ``pattern`` (its first group) finds in the server's /metrics;
    none when the scrape fails."""
    try:
        body = httpx.get(f"{url}/metrics", timeout=30.0).text
    except httpx.HTTPError:
        return []
    return [float(v) for v in pattern.findall(body)]


def received_firing(url: str) -> float | None:
    """Firing alerts the server says it received: a check that 2xx meant accepted."""
    values = metric_values(url, _RECEIVED)
    return sum(values) if values else None


def measure(
    target: Target, batch: int, args: argparse.Namespace, workdir: Path, config: Path
) -> Row:
    """Warm the server up, then measure one bounded wrk run against it."""
    with running(target, workdir, config) as (proc, url):
        if args.warmup > 0:
            run_wrk(url, batch, "warmup", args.warmup, args.connections, args.threads)
        run = f"r{uuid.uuid4().hex[:8]}"
        received_before = received_firing(url)
        cpu_before, busy_before = server_cpu_seconds(proc), busy_cpu_seconds()
        result = run_wrk(url, batch, run, args.duration, args.connections, args.threads)
        cpu_after, busy_after = server_cpu_seconds(proc), busy_cpu_seconds()
        received_after = received_firing(url)
    received = None
    if received_before is not None and received_after is not None:
        received = received_after - received_before
    server_cpu = cpu_after - cpu_before
    other = max(0.0, busy_after - busy_before - server_cpu - result.generator_cpu_s)
    row = Row(target.name, batch, result, server_cpu, received, other)
    if result.failed_requests:
        row.notes.append(f"{result.failed_requests} requests failed")
    # Requests still in flight when wrk stops are received but not counted by wrk, so
    # the server may have received more than was acknowledged, never fewer.
    if received is not None and received < result.ok_requests * batch:
        row.notes.append(f"server counted {received:.0f} < {result.ok_requests * batch} acked")
    return row


def medians(rows: list[Row]) -> list[Row]:
    """Per (target, batch), the round with the median alerts/s: one noisy round (a
    neighbour's job on this shared machine) does not move the reported figure."""
    cells: dict[tuple[str, int], list[Row]] = {}
    for r in rows:
        cells.setdefault((r.target, r.batch), []).append(r)
    out = []
    for cell in cells.values():
        ranked = sorted(cell, key=lambda r: r.result.alerts_per_s)
        out.append(ranked[(len(ranked) - 1) // 2])
    return out


def add_ratios(rows: list[Row]) -> None:
    base = {r.batch: r for r in rows if r.target == AM_NAME}
    for r in rows:
        am = base.get(r.batch)
        if r.target != AM_NAME and am is not None:
            r.ratio = r.result.alerts_per_s / am.result.alerts_per_s
            r.cpu_ratio = r.alerts_per_cpu_s / am.alerts_per_cpu_s


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (pasted as-is into bench/README.md)."""
    head = (
        "| server | batch | alerts/s | requests/s | p50 ms | p99 ms | server CPU | wrk CPU "
        "| others' CPU | alerts/CPU-s | Tocsin/AM alerts/s | Tocsin/AM per CPU-s |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        res = r.result
        notes = f" ({'; '.join(r.notes)})" if r.notes else ""
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        cpu_ratio = f"{r.cpu_ratio:.2f}" if r.cpu_ratio is not None else "-"
        lines.append(
            f"| {r.target} | {r.batch} | {res.alerts_per_s:,.0f} | {res.requests_per_s:,.0f} "
            f"| {res.p50_ms:.1f} | {res.p99_ms:.1f} "
            f"| {100 * r.server_cpu_s / res.seconds:.0f}% "
            f"| {100 * res.generator_cpu_s / res.seconds:.0f}% "
            f"| {100 * r.other_cpu_s / res.seconds:.0f}% | {r.alerts_per_cpu_s:,.0f} "
            f"| {ratio} | {cpu_ratio}{notes} |"
        )
    return "\n".join(lines)


def series(
    target: Target, batch: int, args: argparse.Namespace, workdir: Path, config: Path
) -> list[float]:
    """``--series N``: N consecutive runs against ONE server, which keeps everything it
    was sent, so the figures show how throughput changes as the alerts accumulate."""
    figures = []
    with running(target, workdir, config) as (_, url):
        for i in range(args.series):
            result = run_wrk(url, batch, f"s{i}", args.duration, args.connections, args.threads)
            figures.append(result.alerts_per_s)
            print(
                f"  {target.name:<22} batch {batch:>3} run {i}: "
                f"{result.alerts_per_s:>9,.0f} alerts/s, p50 {result.p50_ms:.0f} ms",
                flush=True,
            )
    return figures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--duration", type=int, default=10, help="seconds measured per cell")
    p.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per cell")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--batches", default="1,64", help="comma-separated batch sizes")
    p.add_argument("--rounds", type=int, default=3, help="rounds per cell; the median is shown")
    p.add_argument(
        "--series",
        type=int,
        default=0,
        help="instead of the table: N consecutive runs per cell on one server",
    )
    p.add_argument(
        "--targets",
        default="",
        help="comma-separated subset of am,full,normal,pg (default: all available)",
    )
    p.add_argument("--postgres-url", default=os.environ.get(PG_ENV), help=f"default ${PG_ENV}")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = p.parse_args(argv)
    if not 1 <= args.duration <= 300 or not 0 <= args.warmup <= 60:
        p.error("--duration must be 1..300 and --warmup 0..60 seconds")
    if not 1 <= args.rounds <= 10 or not 0 <= args.series <= 20:
        p.error("--rounds must be 1..10 and --series 0..20")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_wrk()
    batches = [int(b) for b in args.batches.split(",") if b]
    chosen = targets(args.postgres_url, [t for t in args.targets.split(",") if t])
    root = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    config = root / "alertmanager.yml"
    config.write_text(CONFIG.format(port=free_port()))
    rows: list[Row] = []
    print(f"# {' '.join([sys.executable, '-m', 'bench.ingest', *(argv or sys.argv[1:])])}")
    print(f"# {os.cpu_count()} CPUs, {args.connections} connections, {args.threads} wrk threads")
    print(f"# tocsin {tocsin.__version__} from {Path(tocsin.__file__).parent}")
    if args.series:
        try:
            for batch in batches:
                for target in chosen:
                    slug = f"{target.name.replace(' ', '-')}-b{batch}-series"
                    series(target, batch, args, root / slug, config)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return 0
    try:
        # Rounds outermost, targets innermost: a slow spell on the machine hits every
        # target of a round alike instead of one target's every round.
        for rnd in range(args.rounds):
            for batch in batches:
                for target in chosen:
                    slug = f"{target.name.replace(' ', '-')}-b{batch}-r{rnd}"
                    row = measure(target, batch, args, root / slug, config)
                    row.round = rnd
                    rows.append(row)
                    print(
                        f"  round {rnd} {target.name:<22} batch {batch:>3}: "
                        f"{row.result.alerts_per_s:>9,.0f} alerts/s, others' CPU "
                        f"{100 * row.other_cpu_s / row.result.seconds:.0f}% "
                        f"(server received {row.server_received}, acknowledged "
                        f"{row.result.ok_requests * batch})",
                        flush=True,
                    )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"# work directory kept: {root}")
    shown = medians(rows)
    add_ratios(shown)
    print()
    print(f"Median of {args.rounds} round(s) of {args.duration} s per cell:")
    print()
    print(table(shown))
    if args.json:
        records = [
            asdict(r)
            | {
                "alerts_per_s": r.result.alerts_per_s,
                "requests_per_s": r.result.requests_per_s,
                "alerts_per_cpu_s": r.alerts_per_cpu_s,
                "median": r in shown,
            }
            for r in rows
        ]
        args.json.write_text(json.dumps(records, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
