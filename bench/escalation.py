"""Escalation lateness: how late the on-call engine fires escalation steps in a storm.

Run by hand (not part of the test suite)::

    cd /work/main && . .venv/bin/activate && python -m bench.escalation           # full
    cd /work/main && . .venv/bin/activate && python -m bench.escalation --quick   # < 1 min

(``TOCSIN_TEST_POSTGRES_URL=postgresql://...`` adds PostgreSQL: a fresh database is
created for every run and dropped after it.)

What is measured: ``--steps N`` escalation steps (default 100,000), one per alert
group, all coming due within ``--spread`` seconds of each other; a real ``tocsin serve``
fires them. Reported per run and, over ``--rounds`` runs, as median and [min-max]:

- **lateness** = fire time - due time, p50 / p99 / max, two ways: *decided* is the time
  the engine wrote into the step's audit entry (the clock ``OncallEngine.step`` read
  when it created the ``ProcessDue`` op that fired it, before the op queued for the
  writer and before its transaction ran); *committed* is the first moment the step's
  audit row was visible to another connection (this process polls ``max(audit.id)``
  every ``--poll`` seconds, so it is late by at most one poll interval). Committed is
  what a responder sees: a page exists only once its row is committed. The issue's
  target is p99 < 1 s.
- **pages** (``--pages``): the run goes on until every step's page (its ``notify`` due
  row) was processed; page lateness = that moment - the step's due time. The schema
  keeps no time for a processed row, so this process polls the count of pending
  notify rows every ``--page-poll`` seconds and matches the k-th processed row with
  the k-th step due (rows are claimed in due-time order, a page is due when its step
  fired): exact to within one poll and one batch.
- **throughput**: steps fired per second from the first due time to the last commit
  (while the engine is behind, that is its drain rate).
- **CPU** of the server process (user + system, all threads, from ``/proc/PID/stat``)
  from the first due time to the last step's commit, and, on PostgreSQL, of the
  server's backends; and what the rest of the machine used meanwhile (``/proc/stat``):
  the machine is shared.

How, and why: the N steps are *pre-populated* with Tocsin's own code before the server
starts, and the real server fires them. Posting N alerts instead cannot make N steps
come due together: a step's delay counts from the moment the previous step fired, and
the groups' first steps would fire (and so set the measured steps' due times) at the
pace of ingest, dispatch and the engine itself, spread over minutes. So this bench
builds the groups exactly as the dispatcher would (route ids and group keys from the
routing tree of the config the server runs) and runs ``tocsin.core.oncall_ops.Observe``
for them through a ``GroupCommitter`` on the same database (revisions bumped as the
server's writer does), with the op's clock set ``--delay`` before each step's due
time: each group opened ``--delay`` ago under a policy whose first step waits
``--delay``, so its first step comes due at the chosen time. The server then starts
(it must be ready before the first due time: ``--lead`` is calibrated per run by
opening a few groups whose steps come due a day later, and a server ready too late is
an ``ALARM``) and does what
it would do in production: ``OncallEngine.run`` takes the due steps, ``fire_step``
decides, and each fired step moves its group's ladder on to the next step (due an hour
later: it never fires during the run), writes its audit entry and builds its page, all
in the step's transaction.

The step pages a receiver without integrations: each page is still built
(``page_items``), but it makes no outbox item, so the
delivery worker (measured by ``bench/notify.py``) neither competes for the machine nor
fails on a missing SMTP server. The groups have no alerts in the alert store, which the
engine reads only to build notifications.

Checks: every step fires exactly once and none before its due time; a run that breaks
either says so (``ALARM``); warnings and errors in the server log are shown.
``--profile`` attaches ``py-spy record --threads`` to the server from the first due
time to the last commit, in the first round of each database, keeps the raw profile
(``--profile-dir``) and prints where the time goes per thread (see
``summarize_profile``).

The work tree changes while others work in it: to measure one commit, run against a
copy of its ``src/`` (``git archive HEAD src | tar -x -C DIR``, then
``PYTHONPATH=DIR/src:/work/main python -m bench.escalation``); the first line printed
says where ``tocsin`` came from.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hashlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.procstat import busy_cpu_seconds, own_cpu_seconds, proc_cpu_seconds
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from tests.harness.procs import TocsinServer

from tocsin.alerts.routing import build_route_tree, group_key, group_labels, match
from tocsin.config import Config, load_config
from tocsin.config.escalation import EscalationPolicy, Urgency
from tocsin.core.oncall_ops import Observation, Observe, OncallContext, Paging
from tocsin.engine.oncall import group_id
from tocsin.notify.outbox import OutboxItem
from tocsin.oncall.escalation import NotificationPlan, NotifyDue, Planned, Recipient, WhoIsOnCall
from tocsin.oncall.lifecycle import TellAcknowledged
from tocsin.store.db import normalize_url, open_database
from tocsin.store.oncall_rows import OncallGroupRow
from tocsin.store.revisions import next_revision
from tocsin.store.settings import DatabaseSettings, Durability
from tocsin.store.writer import GroupCommitter, Txn
from tocsin.timeutil import from_micros

PG_ENV = "TOCSIN_TEST_POSTGRES_URL"
POLICY = "storm"
RECEIVER = "pager"
SINK = "blackhole"
SPY_RATE = 100


def config_text(delay_s: int) -> str:
    """One route to a receiver with an escalation policy; every alertname its own group.

    The policy's first step (the one measured) comes ``delay_s`` after the group opened
    and pages a receiver without integrations; the second step is an hour later."""
    return f"""\
route:
  receiver: {RECEIVER}
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: {RECEIVER}
    escalation_policy: {POLICY}
  - name: {SINK}
escalation_policies:
  - name: {POLICY}
    steps:
      - delay: {delay_s}s
        targets: [{{receiver: {SINK}}}]
      - delay: 1h
        targets: [{{receiver: {SINK}}}]
"""


# --- clocks and CPU ----------------------------------------------------------------------


def now_us() -> int:
    """Wall clock in micros: the server stamps audit rows and due times with it."""
    return time.time_ns() // 1000


@dataclass
class CpuMark:
    server: float
    backends: float | None
    machine: float
    own: float
    wall: float

    @classmethod
    def take(cls, server_pid: int, backend_pids: Sequence[int]) -> CpuMark:
        backends: float | None = None
        if backend_pids:
            found = [proc_cpu_seconds(p) for p in backend_pids]
            backends = None if any(v is None for v in found) else sum(v or 0.0 for v in found)
        return cls(
            proc_cpu_seconds(server_pid) or 0.0,
            backends,
            busy_cpu_seconds(),
            own_cpu_seconds(),
            time.monotonic(),
        )


# --- databases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    name: str  # "sqlite" | "postgresql"
    server_url: str | None  # the PostgreSQL server to create a database on


@contextlib.contextmanager
def fresh_database(backend: Backend, workdir: Path) -> Iterator[str]:
    """A new, empty database URL; a PostgreSQL database is dropped afterwards."""
    if backend.server_url is None:
        yield f"sqlite:///{workdir / 'tocsin.db'}"
        return
    name = f"tocsin_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(backend.server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(normalize_url(backend.server_url)).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def reader_engine(url: str) -> Engine:
    """This process's own connection for polling and reading results."""
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(normalize_url(url), pool_size=1, max_overflow=0)


# --- populating --------------------------------------------------------------------------


def _set_revision(txn: Txn) -> None:
    # what the server's writer does first in every transaction (AlertStore.begin)
    txn.rev = next_revision(txn.conn)


class _PolicyOnly:
    """The part of the server's ``OncallContext`` that ``Observe`` uses: the policy. An
    op of this bench that needed more would fail loudly, not decide differently."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def policy(self, name: str) -> EscalationPolicy | None:
        return self._config.escalation_policy(name)

    def who_is_on_call(self, txn: Txn) -> WhoIsOnCall:
        raise NotImplementedError("populating opens groups: nobody is paged")

    def reachable(self, kind: Recipient, name: str) -> bool:
        raise NotImplementedError("populating opens groups: nobody is paged")

    def plan(self) -> NotificationPlan:
        def plan(name: str, urgency: Urgency, at: datetime) -> Sequence[Planned]:
            raise NotImplementedError("populating opens groups: nobody is paged")

        return plan

    def page_items(
        self, row: Callable[[], OncallGroupRow], due: NotifyDue, now: datetime
    ) -> Paging:
        raise NotImplementedError("populating opens groups: nobody is paged")

    def resolved_items(
        self,
        row: OncallGroupRow,
        paged: Sequence[tuple[str, str]],
        escalation_id: str,
        now: datetime,
    ) -> list[OutboxItem]:
        raise NotImplementedError("populating opens groups: nothing resolves")

    def acknowledged_items(
        self,
        row: OncallGroupRow,
        paged: Sequence[tuple[str, str]],
        told: TellAcknowledged,
        now: datetime,
    ) -> list[OutboxItem]:
        raise NotImplementedError("populating opens groups: nobody acknowledges")


async def _observe_all(writer: GroupCommitter, ops: Sequence[Observe], window: int) -> None:
    for start in range(0, len(ops), window):
        await asyncio.gather(*(writer.run(op) for op in ops[start : start + window]))


def populate(
    url: str, config_path: Path, n: int, first_due_us: int, spread_s: float
) -> tuple[float, float]:
    """Open ``n`` groups so that their first steps come due evenly over ``spread_s``
    seconds from ``first_due_us``; returns the seconds it took in all, and in the ops."""
    started = time.monotonic()
    config = load_config(config_path)
    policy = config.escalation_policy(POLICY)
    assert policy is not None
    delay = policy.steps[0].delay
    root = build_route_tree(config)
    engine = open_database(DatabaseSettings(url=url, sqlite_durability=Durability.NORMAL))
    writer = GroupCommitter(engine, name="bench-populate")
    writer.on_begin = _set_revision
    ctx: OncallContext = _PolicyOnly(config)
    buckets = min(n, max(1, int(spread_s * 1000)))  # due times 1 ms apart at most
    by_bucket: dict[int, list[Observation]] = defaultdict(list)
    run = uuid.uuid4().hex[:8]
    for i in range(n):
        labels = {"alertname": f"Storm{run}x{i}", "severity": "page"}
        node = match(root, labels)[0]
        key = group_key(node, labels)
        fingerprint = hashlib.sha256(f"{run}{i}".encode()).hexdigest()[:16]
        by_bucket[i * buckets // n].append(
            Observation(
                group_id(node.id(), key),
                node.id(),
                key,
                node.receiver,
                POLICY,
                group_labels(node, labels),
                [fingerprint],
            )
        )
    step_us = spread_s * 1_000_000 / buckets
    ops = [
        Observe(obs, from_micros(first_due_us + int(b * step_us)) - delay, ctx)
        for b, obs in sorted(by_bucket.items())
    ]
    try:
        ops_started = time.monotonic()
        asyncio.run(_observe_all(writer, ops, 64))
        ops_took = time.monotonic() - ops_started
    finally:
        writer.close()
        engine.dispose()
    return time.monotonic() - started, ops_took


# --- one run -----------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    round: int
    steps: int
    populate_s: float = 0.0
    ready_before_due_s: float = 0.0
    fired: int = 0
    decided_ms: list[float] = field(default_factory=list)  # sorted
    committed_ms: list[float] = field(default_factory=list)  # sorted
    page_ms: list[float] = field(default_factory=list)  # sorted; with --pages
    drain_s: float = 0.0
    server_cpu_s: float = 0.0
    backends_cpu_s: float | None = None
    others_cpu_pct: float = 0.0
    notify_pending: int = 0
    alarms: list[str] = field(default_factory=list)
    log_issues: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)

    @property
    def steps_per_s(self) -> float:
        return self.fired / self.drain_s if self.drain_s > 0 else 0.0

    @property
    def server_cpu_pct(self) -> float:
        return 100.0 * self.server_cpu_s / self.drain_s if self.drain_s > 0 else 0.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[min(len(sorted_values), int(rank)) - 1]


def backend_pids(reader: Engine) -> list[int]:
    """The PostgreSQL backends serving the database (all but this process's own)."""
    with reader.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        return [int(r[0]) for r in rows]


def start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    argv = [
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(SPY_RATE),
        "--threads",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(out),
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_py_spy(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode(errors="replace")


_DRIVER_CALLS = {
    "DefaultDialect.do_execute",
    "DefaultDialect.do_executemany",
    "DefaultDialect.do_commit",
}


@dataclass(frozen=True)
class Frame:
    function: str
    path: str
    line: str

    @classmethod
    def parse(cls, frame: str) -> Frame:
        # py-spy's raw format: "function (path/to/file.py:123)"
        function, _, where = frame.partition(" (")
        path, _, line = where.rstrip(")").rpartition(":")
        return cls(function, path, line)

    @property
    def short(self) -> str:
        return f"{self.function} ({Path(self.path).name})"

    @property
    def layer(self) -> str:
        """Which code a leaf frame belongs to."""
        if self.function in _DRIVER_CALLS and self.path.endswith("engine/default.py"):
            return "DB call"  # the C driver (sqlite3's or psycopg's) is below this frame
        top = self.path.split("/src/")[-1].split("site-packages/")[-1].split("/")[0]
        names = {"tocsin": "tocsin", "sqlalchemy": "SQLAlchemy", "psycopg": "psycopg"}
        return names.get(top, "sqlite3" if top == "sqlite3" else "other")


def summarize_profile(path: Path, seconds: float, rate: int, top: int = 16) -> list[str]:
    """Where the server's time went, per thread: how busy the thread was (py-spy
    records only threads that are running, not waiting in a queue, a selector or a
    sleep; a thread in a database call counts as running) and, of its busy samples,
    the share of the innermost Tocsin function of each stack (the code to change),
    split by the layer of the leaf frame: Tocsin's own Python, SQLAlchemy's, psycopg's
    Python, or ``DB call`` (SQLAlchemy's call into the C driver: the database's own work
    on SQLite, which runs in this process), e.g. ``finish_due 17% (SQLAlchemy 9, DB
    call 6, tocsin 1)``."""
    if not path.exists():
        return ["(no profile written)"]
    totals: Counter[str] = Counter()
    owner: dict[str, Counter[str]] = defaultdict(Counter)
    layers: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for text_line in path.read_text().splitlines():
        stack, _, count_text = text_line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        thread, *names = stack.split(";")
        frames = [Frame.parse(n) for n in names]
        totals[thread] += count
        ours = [f for f in frames if f.layer == "tocsin"]
        key = ours[-1].short if ours else (frames[-1].short if frames else "?")
        owner[thread][key] += count
        if frames:
            layers[(thread, key)][frames[-1].layer] += count
    expected = max(1.0, seconds * rate)
    out = [
        f"py-spy, {seconds:.1f} s at {rate}/s; busy = share of that time the thread ran; "
        "then the innermost Tocsin function of the busy samples, by the layer of the leaf"
    ]
    for thread, busy in totals.most_common():
        if busy < 0.02 * expected:
            continue
        overall: Counter[str] = Counter()
        for (t, _), counts in layers.items():
            if t == thread:
                overall.update(counts)
        split = ", ".join(f"{layer} {100 * n / busy:.0f}%" for layer, n in overall.most_common())
        out.append(f"{thread}: busy {100 * busy / expected:.0f}% of the time; leaves: {split}")
        for key, c in owner[thread].most_common(top):
            split = ", ".join(
                f"{layer} {100 * n / busy:.0f}" for layer, n in layers[(thread, key)].most_common()
            )
            out.append(f"  {100 * c / busy:5.1f}%  {key}  ({split})")
    return out


def read_due(reader: Engine, last_due: int) -> dict[str, int]:
    """Due time of each measured group's first step (not the calibration groups'), read
    from the ladders before the server starts (it moves them on)."""
    with reader.connect() as conn:
        due: dict[str, int] = {}
        for gid, due_at, step in conn.execute(
            text(
                "SELECT group_id, esc_next_due, esc_next_step FROM oncall_groups "
                "WHERE esc_next_due IS NOT NULL"
            )
        ):
            if step == 0 and due_at <= last_due:
                due[gid] = int(due_at)
    return due


def read_results(reader: Engine, first_audit_id: int) -> tuple[list[tuple[int, str, int]], int]:
    """The "escalated" audit rows written by the server (id, group, at); notification
    rows still pending."""
    with reader.connect() as conn:
        fired = [
            (int(i), str(g), int(at))
            for i, g, at in conn.execute(
                text(
                    "SELECT id, group_id, at FROM audit WHERE id > :first "
                    "AND action = 'escalated' ORDER BY id"
                ),
                {"first": first_audit_id},
            )
        ]
        pending = int(
            conn.execute(
                text("SELECT count(*) FROM oncall_due WHERE kind = 'notify' AND done = :f"),
                {"f": False},
            ).scalar_one()
        )
    return fired, pending


def max_audit_id(reader: Engine) -> int:
    with reader.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM audit")).scalar_one())


def notify_pending(reader: Engine) -> int:
    with reader.connect() as conn:
        query = text("SELECT count(*) FROM oncall_due WHERE kind = 'notify' AND done = :f")
        return int(conn.execute(query, {"f": False}).scalar_one())


# --- watching the server ---------------------------------------------------------------


@dataclass
class Watched:
    """What this process saw while the server worked."""

    steps: list[tuple[int, int]] = field(default_factory=list)  # (wall us, max audit id)
    pages: list[tuple[int, int]] = field(default_factory=list)  # (wall us, notify rows done)
    start: CpuMark | None = None
    end: CpuMark | None = None  # when the last step was seen committed
    died: int | None = None


def watch(
    server: TocsinServer,
    reader: Engine,
    base_id: int,
    pids: Sequence[int],
    args: argparse.Namespace,
    deadline: float,
) -> Watched:
    """Poll the commits until every step fired (and, with ``--pages``, every page row
    was processed), the server died or the deadline passed."""
    assert server.proc is not None
    pid = server.proc.pid
    w = Watched(start=CpuMark.take(pid, pids))
    next_page_poll = 0.0
    while time.monotonic() < deadline:
        seen = max_audit_id(reader)
        w.steps.append((now_us(), seen))
        fired = seen - base_id
        if fired >= args.steps and w.end is None:
            w.end = CpuMark.take(pid, pids)
        if args.pages and (time.monotonic() >= next_page_poll or fired >= args.steps):
            pending = notify_pending(reader)
            w.pages.append((now_us(), fired - pending))  # one notify row per fired step
            next_page_poll = time.monotonic() + args.page_poll
            if fired >= args.steps and pending == 0:
                break
        elif fired >= args.steps and not args.pages:
            break
        if server.proc.poll() is not None:
            w.died = server.proc.returncode
            break
        time.sleep(args.poll)
    if w.end is None:
        w.end = CpuMark.take(pid, pids)
    return w


def lateness(
    run: Run,
    due: dict[str, int],
    fired: list[tuple[int, str, int]],
    w: Watched,
) -> None:
    """Lateness of each step (decided, committed) and of each page; alarms for steps
    that fired twice or early."""
    per_group = Counter(g for _, g, _ in fired)
    twice = sum(1 for c in per_group.values() if c > 1)
    if twice:
        run.alarms.append(f"{twice} groups escalated more than once")
    poll_ids = [i for _, i in w.steps]
    decided: list[float] = []
    committed: list[float] = []
    early = 0
    for audit_id, gid, at in fired:
        due_at = due.get(gid)
        if due_at is None:
            continue
        if at < due_at:
            early += 1
        decided.append((at - due_at) / 1000)
        k = bisect.bisect_left(poll_ids, audit_id)
        if k < len(w.steps):
            committed.append((w.steps[k][0] - due_at) / 1000)
    if early:
        run.alarms.append(f"{early} steps fired before their due time")
    run.decided_ms = sorted(decided)
    run.committed_ms = sorted(committed)
    if w.pages:
        # Notify rows are claimed in the order of their due time, which is the time
        # their step fired, and steps fire in the order of their due times: the k-th
        # notify row processed is (to within one batch) the page of the k-th step due.
        dues = sorted(due.values())
        pages: list[float] = []
        j = 0
        for t, done in w.pages:
            while j < min(done, len(dues)):
                pages.append((t - dues[j]) / 1000)
                j += 1
        run.page_ms = sorted(pages)


def measure(backend: Backend, round_: int, args: argparse.Namespace, profile: bool) -> Run:
    run = Run(backend.name, round_, args.steps)
    with (
        tempfile.TemporaryDirectory(prefix="tocsin-bench-escalation-") as tmp,
        fresh_database(backend, Path(tmp)) as url,
    ):
        workdir = Path(tmp)
        config_path = workdir / "alertmanager.yml"
        config_path.write_text(config_text(args.delay))
        lead = args.lead
        if lead is None:
            # Calibrate: open a few groups whose steps come due a day later (never in
            # this run; they are part of the pending rows the engine's queries see),
            # then give populating twice the time that rate predicts (it slows down as
            # the tables grow), plus start-up.
            calibrate = min(2000, max(200, args.steps // 50))
            _, took = populate(url, config_path, calibrate, now_us() + 86_400_000_000, 0.0)
            lead = 7.0 + 2.0 * took * args.steps / calibrate
        first_due = now_us() + int(lead * 1_000_000)
        last_due = first_due + int(args.spread * 1_000_000)
        run.populate_s, _ = populate(url, config_path, args.steps, first_due, args.spread)
        reader = reader_engine(url)
        try:
            base_id = max_audit_id(reader)
            due = read_due(reader, last_due)
            extra = ["--log-level", "warning"]
            if backend.name == "sqlite":
                extra += ["--sqlite-durability", args.sqlite_durability]
            server = TocsinServer(workdir, config=config_path, database_url=url, extra_args=extra)
            with server:
                assert server.proc is not None
                run.ready_before_due_s = (first_due - now_us()) / 1e6
                if run.ready_before_due_s < 0.5:
                    run.alarms.append(
                        f"server ready only {run.ready_before_due_s:.1f} s before the first due "
                        "time: raise --lead"
                    )
                pids = backend_pids(reader) if backend.name == "postgresql" else []
                while now_us() < first_due - 50_000:
                    time.sleep(min(0.2, (first_due - now_us()) / 1e6))
                spy_out = Path(args.profile_dir) / (
                    f"escalation-{backend.name}-{time.strftime('%H%M%S')}.txt"
                )
                spy = start_py_spy(server.proc.pid, spy_out) if profile else None
                deadline = time.monotonic() + args.spread + args.timeout
                w = watch(server, reader, base_id, pids, args, deadline)
                if spy is not None:
                    err = stop_py_spy(spy)
                    assert w.start is not None
                    seconds = time.monotonic() - w.start.wall
                    run.profile = [f"raw profile: {spy_out}"]
                    run.profile += summarize_profile(spy_out, seconds, SPY_RATE)
                    if not spy_out.exists():
                        run.profile.append(err.strip()[-500:])
            if w.died is not None:
                run.alarms.append(f"server exited with {w.died}")
            run.log_issues = [
                line
                for line in server.log().splitlines()
                if " WARNING " in line or " ERROR " in line
            ]
            fired, run.notify_pending = read_results(reader, base_id)
        finally:
            reader.dispose()
    run.fired = len(fired)
    if run.fired < args.steps:
        run.alarms.append(
            f"only {run.fired} of {args.steps} steps fired within --timeout "
            f"{args.timeout:.0f} s after the last due time"
        )
    if args.pages and run.notify_pending:
        run.alarms.append(f"{run.notify_pending} pages not processed within --timeout")
    if len(due) != args.steps:
        run.alarms.append(f"{len(due)} first steps found in the database, not {args.steps}")
    lateness(run, due, fired, w)
    last_commit = next((t for t, i in w.steps if i - base_id >= run.fired), w.steps[-1][0])
    run.drain_s = max(1e-6, (last_commit - first_due) / 1e6)
    start, end = w.start, w.end
    assert start is not None
    assert end is not None
    run.server_cpu_s = end.server - start.server
    if start.backends is not None and end.backends is not None:
        run.backends_cpu_s = end.backends - start.backends
    wall = end.wall - start.wall
    others = (end.machine - start.machine) - (end.server - start.server) - (end.own - start.own)
    if run.backends_cpu_s is not None:
        others -= run.backends_cpu_s
    run.others_cpu_pct = 100.0 * max(0.0, others) / wall if wall > 0 else 0.0
    return run


# --- reporting ---------------------------------------------------------------------------


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if abs(ms) >= 1000 else f"{ms:.0f} ms"


def pcts(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return (
        f"p50 {fmt_ms(percentile(values, 50))} p99 {fmt_ms(percentile(values, 99))} "
        f"max {fmt_ms(values[-1])}"
    )


def run_line(r: Run) -> str:
    backends = "" if r.backends_cpu_s is None else f", PG backends {r.backends_cpu_s:.1f} s"
    pages = f"; pages {pcts(r.page_ms)}" if r.page_ms else ""
    return (
        f"{r.backend} round {r.round}: {r.fired}/{r.steps} fired; lateness "
        f"committed {pcts(r.committed_ms)} (decided {pcts(r.decided_ms)}){pages}; "
        f"{r.steps_per_s:,.0f} steps/s over {r.drain_s:.1f} s; server CPU {r.server_cpu_s:.1f} s "
        f"({r.server_cpu_pct:.0f}%){backends}; others {r.others_cpu_pct:.0f}%; "
        f"populate {r.populate_s:.1f} s, ready {r.ready_before_due_s:.1f} s before due; "
        f"notify rows pending at the end {r.notify_pending}"
    )


def spread(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    """Median [min-max] over rounds."""
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def table(runs: Sequence[Run]) -> list[str]:
    pages = any(r.page_ms for r in runs)
    out = [
        "| database | steps | runs | committed p50 s | committed p99 s "
        "| committed max s | decided p99 s |"
        + (" page p99 s |" if pages else "")
        + " steps/s | server CPU s | server CPU % | others' CPU % |",
        "|---|---|---|---|---|---|---|" + ("---|" if pages else "") + "---|---|---|---|",
    ]
    by: dict[str, list[Run]] = defaultdict(list)
    for r in runs:
        by[r.backend].append(r)
    s = "{:.2f}"

    def sec(rs: Sequence[Run], pick: str, q: float) -> str:
        values = [getattr(r, pick) for r in rs]
        return spread([percentile(v, q) / 1000 for v in values if v], s)

    for name, rs in by.items():
        out.append(
            f"| {name} | {rs[0].steps:,} | {len(rs)} "
            f"| {sec(rs, 'committed_ms', 50)} | {sec(rs, 'committed_ms', 99)} "
            f"| {sec(rs, 'committed_ms', 100)} | {sec(rs, 'decided_ms', 99)} |"
            + (f" {sec(rs, 'page_ms', 99)} |" if pages else "")
            + f" {spread([r.steps_per_s for r in rs], '{:,.0f}')} "
            f"| {spread([r.server_cpu_s for r in rs], '{:.1f}')} "
            f"| {spread([r.server_cpu_pct for r in rs])} "
            f"| {spread([r.others_cpu_pct for r in rs])} |"
        )
    return out


def backends(args: argparse.Namespace) -> list[Backend]:
    found = [Backend("sqlite", None)]
    pg = args.postgres_url or os.environ.get(PG_ENV)
    if pg:
        found.append(Backend("postgresql", pg))
    return [b for b in found if b.name in args.databases.split(",")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps coming due")
    parser.add_argument("--spread", type=float, default=2.0, help="seconds they come due over")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2,000 steps, one round: < 1 min")
    parser.add_argument(
        "--lead", type=float, help="seconds from populating to the first due time (calibrated)"
    )
    parser.add_argument("--delay", type=int, default=600, help="the measured step's delay (s)")
    parser.add_argument("--timeout", type=float, help="seconds to wait after the last due time")
    parser.add_argument("--poll", type=float, default=0.05, help="commit poll interval (s)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", help=f"instead of ${PG_ENV}")
    parser.add_argument("--sqlite-durability", default="full", choices=["full", "normal"])
    parser.add_argument("--profile", action="store_true", help="py-spy the first round")
    parser.add_argument(
        "--profile-dir", default=tempfile.gettempdir(), help="where raw profiles are kept"
    )
    parser.add_argument(
        "--pages",
        action="store_true",
        help="also wait until every page (notify row) is processed, and report its lateness",
    )
    parser.add_argument("--page-poll", type=float, default=0.5, help="(s) with --pages")

    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = min(args.steps, 2000), 1
    if args.timeout is None:
        args.timeout = max(60.0, args.steps / 100)
    import tocsin

    print(f"tocsin from {Path(tocsin.__file__).parent}; python {sys.version.split()[0]}")
    print(
        f"{args.steps:,} steps due over {args.spread:g} s, {args.rounds} round(s); "
        f"SQLite durability {args.sqlite_durability}; load average {os.getloadavg()}"
    )
    runs: list[Run] = []
    chosen = backends(args)
    for round_ in range(1, args.rounds + 1):  # rounds outermost: a busy spell hits all
        for backend in chosen:
            r = measure(backend, round_, args, args.profile and round_ == 1)
            runs.append(r)
            print(run_line(r), flush=True)
            for alarm in r.alarms:
                print(f"  ALARM: {alarm}")
            if r.log_issues:
                print(f"  server log: {len(r.log_issues)} warnings/errors, first:")
                for line in r.log_issues[:3]:
                    print(f"    {line[:300]}")
            for line in r.profile:
                print(f"  {line}")
    print()
    print("\n".join(table(runs)))
    return 1 if any(r.alarms for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
