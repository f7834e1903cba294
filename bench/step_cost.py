"""The on-call engine's cost per escalation step, in process: seconds, not half an hour.

Run by hand (not part of the test suite)::

    cd /work/main && . .venv/bin/activate && python -m bench.step_cost
    python -m bench.step_cost --steps 30000 --rounds 3 --databases sqlite,postgresql

``bench/escalation.py`` measures what the issue asks (how late 100,000 steps due within
2 s fire from a real server) and takes 10-30 minutes a run. Its lateness follows from one
number, the engine's drain rate: with R steps/s, the 99th percentile of N steps due over
S seconds is about ``0.99 N / R - S`` late. This bench measures that number directly, in
a few seconds, so a change to the step path can be judged before the long run:

- **engine**: ``--steps`` groups are opened with Tocsin's own ``Observe`` (as
  ``bench/escalation.py`` populates, all already due), then the real ``Runtime``'s
  ``OncallEngine`` context runs ``tocsin.core.oncall_ops.ProcessDue`` on this thread,
  ``--batch`` rows a transaction, until nothing is due; the garbage collector is set as
  ``tocsin serve`` sets it. Reported: steps/s and CPU microseconds per step (this
  process's CPU: on SQLite the database's work runs in it; on PostgreSQL the backend's
  CPU is reported beside it).
- **sql**: the same database, populated the same way, drained by the statements the
  engine's step path issues per batch (take the due steps with their groups' ladder
  columns, move the ladders on, insert the audit rows, commit) with the decisions
  replaced by the least a step could do (bump the step index): the floor that the
  schema and the database set, whatever the Python above them costs.
  ``engine - sql`` is the share of the decisions and their bookkeeping. The CPU is
  split by part (revision, take, Python, each write, commit).

(Session 4 had a third mode, ``lean``, that tried the ladder columns on this bench's
database; since migration 0011 they are the schema, and ``sql`` runs on them.)

Each round has a fresh database (a PostgreSQL database is created and dropped).
The machine is shared: the CPU the rest of it used during each drain is shown.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from bench.escalation import (
    PG_ENV,
    Backend,
    backend_pids,
    config_text,
    fresh_database,
    now_us,
    populate,
    reader_engine,
)
from bench.procstat import busy_cpu_seconds, proc_cpu_seconds
from sqlalchemy import Connection, Engine

from tocsin.cli.serve_cmd import tune_gc
from tocsin.core.oncall_ops import ProcessDue
from tocsin.runtime import Runtime, Settings
from tocsin.store import oncall_rows
from tocsin.store.db import open_database
from tocsin.store.plainsql import insert_rows, raw_cursor
from tocsin.store.revisions import next_revision
from tocsin.store.settings import DatabaseSettings, Durability
from tocsin.store.writer import Txn


@dataclass(frozen=True)
class Drain:
    mode: str  # "engine" | "sql"
    backend: str
    steps: int
    seconds: float
    cpu_s: float  # this process
    backend_cpu_s: float | None  # PostgreSQL's backends
    others_pct: float  # the rest of the machine, % of one CPU
    detail: str = ""  # the sql mode's split by part

    @property
    def per_s(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu_s / self.steps if self.steps else 0.0

    @property
    def backend_us(self) -> float | None:
        if self.backend_cpu_s is None or not self.steps:
            return None
        return 1e6 * self.backend_cpu_s / self.steps

    def line(self) -> str:
        extra = "" if self.backend_us is None else f" + {self.backend_us:.1f} us in backends"
        return (
            f"{self.backend:10} {self.mode:6} {self.steps:,} steps: {self.per_s:,.0f} steps/s, "
            f"{self.cpu_us:.1f} us CPU per step{extra} (others' CPU {self.others_pct:.0f}%)"
            + (f"\n{self.detail}" if self.detail else "")
        )


def _in_txn(conn: Connection, body: Callable[[Txn], int]) -> int:
    """One write transaction as the server's writer runs it: the revision first."""
    with conn.begin():
        txn = Txn(conn)
        txn.rev = next_revision(conn)
        value = body(txn)
    txn.publish()  # after the commit, as the writer does (ProcessDue counts its rows here)
    return value


def engine_drain(rt: Runtime, batch: int) -> int:
    """Run the real ``ProcessDue`` until nothing is due; returns the rows taken."""
    taken = 0
    with rt.engine.connect() as conn:
        while True:
            claimed: list[int] = []
            op = ProcessDue(rt.clock, batch, rt.oncall, claimed.append)
            _in_txn(conn, op.apply)
            taken += claimed[0] if claimed else 0
            if not claimed or claimed[0] == 0:
                return taken


class Split:
    """CPU seconds of this process per part of the sql mode's work."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        began = time.process_time()
        try:
            yield
        finally:
            self.spent[name] = self.spent.get(name, 0.0) + time.process_time() - began

    def line(self, steps: int) -> str:
        parts = ", ".join(f"{k} {1e6 * v / steps:.1f}" for k, v in self.spent.items())
        return f"  us per step: {parts}"


def sql_drain(engine: Engine, batch: int, split: Split) -> int:
    """The engine's step-path statements per batch with the least decision a step
    could take."""
    part = split.part

    def one(conn: Connection) -> int:
        now = now_us()
        trans = conn.begin()
        with raw_cursor(conn) as cur:
            with part("revision"):
                rev = next_revision(conn)
            with part("take"):
                # the store's own statement, so the floor follows it when it changes
                cur.execute(oncall_rows._take_steps_sql(conn), (now, now, batch))
                rows = cur.fetchall()
            if not rows:
                trans.rollback()
                return 0
            with part("python"):
                updates, audits = _least_decisions(rows, now)
            with part("update ladders"):
                oncall_rows.update_ladders(conn, updates, now, rev)
            with part("insert audit"):
                insert_rows(conn, "audit", oncall_rows._AUDIT_COLUMNS, audits)
        with part("commit"):
            trans.commit()
        return len(rows)

    taken = 0
    with engine.connect() as conn:
        while n := one(conn):
            taken += n
    return taken


Rows = list[tuple[Any, ...]]


def _least_decisions(
    rows: Sequence[tuple[Any, ...]], now: int
) -> tuple[dict[tuple[Any, ...], list[oncall_rows.Ladder]], Rows]:
    """Each taken step (a ladder, as the store's take reads it): the next step index in
    its ladder, due an hour later, and an audit row: what the engine writes per step,
    with no decision behind it (ladders that move to the same values are updated
    together, as the engine does)."""
    updates: dict[tuple[Any, ...], list[oncall_rows.Ladder]] = {}
    audits: Rows = []
    for row in rows:
        lad = oncall_rows.Ladder(*row)
        assert lad.next_step is not None
        nxt = lad.next_step + 1
        values = (nxt, lad.next_round, True, nxt, lad.next_round, now + 3_600_000_000)
        updates.setdefault(values, []).append(lad)
        detail = {"at": now, "action": "escalated", "escalation_id": lad.esc_id}
        detail_text = orjson.dumps(detail).decode()
        audits.append(
            (lad.group_id, now, "tocsin", "auto", "escalated", "step", detail_text, lad.opened_at)
        )
    return updates, audits


def measure(backend: Backend, mode: str, args: argparse.Namespace, workdir: Path) -> Drain:
    with fresh_database(backend, workdir) as url:
        config = workdir / "alertmanager.yml"
        config.write_text(config_text(args.delay))
        populate(url, config, args.steps, now_us() - 5_000_000, 0.5)  # all due already
        reader = reader_engine(url)
        rt, plain = None, None
        if mode == "engine":
            rt = Runtime(Settings(config_path=config, data_dir=workdir, database_url=url))
        else:  # the connection stays open until its backend's CPU is read
            plain = open_database(DatabaseSettings(url=url, sqlite_durability=Durability.FULL))
        try:
            pids = backend_pids(reader) if backend.server_url else []
            split = Split()
            tune_gc()  # as ``tocsin serve`` runs
            before = (time.process_time(), busy_cpu_seconds(), time.monotonic())
            pg_before = {p: proc_cpu_seconds(p) or 0.0 for p in pids}
            if rt is not None:
                steps = engine_drain(rt, args.batch)
            else:
                assert plain is not None
                steps = sql_drain(plain, args.batch, split)
            cpu = time.process_time() - before[0]
            wall = time.monotonic() - before[2]
            pids = backend_pids(reader) if backend.server_url else []
            # backends that did not exist before the drain (sql mode connects in it)
            # count from zero
            spent = [(proc_cpu_seconds(p) or 0.0) - pg_before.get(p, 0.0) for p in pids]
            backend_cpu = sum(spent) if backend.server_url else None
            machine = busy_cpu_seconds() - before[1]
            others = max(0.0, machine - cpu - (backend_cpu or 0.0))
            detail = split.line(steps) if split.spent and steps else ""
            return Drain(
                mode, backend.name, steps, wall, cpu, backend_cpu, 100 * others / wall, detail
            )
        finally:
            gc.unfreeze()
            if rt is not None:
                rt.close()
            if plain is not None:
                plain.dispose()
            reader.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=5000, help="rows per transaction")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="engine,sql")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=os.environ.get(PG_ENV))
    parser.add_argument("--delay", type=int, default=600, help="the first step's delay (s)")
    args = parser.parse_args(argv)
    import tocsin

    print(f"# tocsin from {Path(tocsin.__file__).parent}; python {sys.version.split()[0]}")
    chosen = [Backend("sqlite", None)]
    if args.postgres_url:
        chosen.append(Backend("postgresql", args.postgres_url))
    chosen = [b for b in chosen if b.name in args.databases.split(",")]
    drains: list[Drain] = []
    for _ in range(args.rounds):  # rounds outermost: a busy spell of the machine hits all
        for backend in chosen:
            for mode in args.modes.split(","):
                with tempfile.TemporaryDirectory(prefix="tocsin-stepcost-") as tmp:
                    found = measure(backend, mode, args, Path(tmp))
                drains.append(found)
                print(found.line(), flush=True)
    print("\nmedian per step over the rounds (CPU us of this process; steps/s):")
    for backend in chosen:
        cells = []
        for mode in args.modes.split(","):
            runs = [d for d in drains if d.backend == backend.name and d.mode == mode]
            if runs:
                us = statistics.median(d.cpu_us for d in runs)
                rate = statistics.median(d.per_s for d in runs)
                cells.append(f"{mode} {us:.1f} us, {rate:,.0f}/s")
        print(f"  {backend.name}: " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
