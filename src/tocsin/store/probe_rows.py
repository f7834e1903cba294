"""Queries on ``probes``: rows for configured probes, claims by lease, results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, text, update

from tocsin.monitors.probes import ProbeRow, Result, due_at
from tocsin.store.tables import probes
from tocsin.timeutil import from_micros, from_micros_or_none, to_micros, to_micros_or_none

_COLUMNS = (
    probes.c.name,
    probes.c.next_due,
    probes.c.failures,
    probes.c.down_since,
    probes.c.last_at,
    probes.c.last_ok,
    probes.c.last_status,
    probes.c.last_error,
    probes.c.last_seconds,
    probes.c.last_ok_at,
    probes.c.last_cert_expires,
    probes.c.runs,
    probes.c.lease_until,
    probes.c.spec,
)


@dataclass(frozen=True, slots=True)
class Wanted:
    """A configured probe as a claim sees it."""

    interval: timedelta
    lease_until: datetime  # its lease, if claimed now
    spec_key: str


def ensure(conn: Connection, wanted: Mapping[str, Wanted], now: datetime, rev: int) -> bool:
    """Rows for probes new in the config (due now), and a fresh start for those now
    requested as another probe (``spec_key``); whether anything was written."""
    query = select(probes.c.name, probes.c.spec).where(probes.c.name.in_(list(wanted)))
    known: dict[str, str] = {}
    for name, spec in conn.execute(query):
        known[name] = spec
    at = to_micros(now)
    new = [
        {"name": n, "due": at, "spec": w.spec_key, "rev": rev}
        for n, w in wanted.items()
        if n not in known
    ]
    if new:
        conn.execute(
            text(
                "INSERT INTO probes (name, next_due, spec, rev) VALUES (:name, :due, :spec, :rev) "
                "ON CONFLICT (name) DO NOTHING"
            ),
            new,
        )
    changed = [n for n, spec in known.items() if spec != wanted[n].spec_key]
    for name in changed:
        conn.execute(
            update(probes)
            .where(probes.c.name == name)
            .values(next_due=at, failures=0, down_since=None, spec=wanted[name].spec_key, rev=rev)
        )
    return bool(new or changed)


def claim(
    conn: Connection, wanted: Mapping[str, Wanted], now: datetime, rev: int
) -> dict[str, int]:
    """Lease the configured probes that are due (``monitors.probes.due_at``) and not
    leased by anyone; each claimed name with its lease (micros), the token its result
    is saved with. A row another transaction claims first fails the ``lease_until``
    condition once that one commits."""
    at = to_micros(now)
    claimed: dict[str, int] = {}
    rows = read(conn, wanted)
    for name, row in rows.items():
        w = wanted[name]
        due = due_at(row, w.interval)
        held = to_micros(row.lease_until) if row.lease_until else 0
        if due > now or held > at:
            continue
        lease = to_micros(w.lease_until)
        done = conn.execute(
            update(probes)
            .where(probes.c.name == name, probes.c.lease_until == held)
            .values(lease_until=lease, rev=rev)
        )
        if done.rowcount == 1:
            claimed[name] = lease
    return claimed


def save(conn: Connection, row: ProbeRow, lease: int, rev: int) -> bool:
    """Store a probe's row after its request, if this replica's lease (``lease``) still
    holds it; the lease ends. False: the lease ran out and another replica took the
    probe over, whose newer result must not be overwritten."""
    last = row.last
    done = conn.execute(
        update(probes)
        .where(probes.c.name == row.name, probes.c.lease_until == lease)
        .values(
            next_due=to_micros(row.next_due),
            lease_until=0,
            failures=row.failures,
            down_since=to_micros_or_none(row.down_since),
            last_at=None if last is None else to_micros(last.at),
            last_ok=None if last is None else last.ok,
            last_status=None if last is None else last.status,
            last_error="" if last is None else last.error,
            last_seconds=None if last is None else last.seconds,
            last_ok_at=to_micros_or_none(row.last_ok_at),
            last_cert_expires=None if last is None else to_micros_or_none(last.cert_expires),
            runs=row.runs,
            rev=rev,
        )
    )
    return bool(done.rowcount == 1)


def due_now(conn: Connection, name: str, now: datetime, rev: int) -> bool:
    """Make a probe due at once (``run now``); False: no row (not configured yet)."""
    done = conn.execute(
        update(probes).where(probes.c.name == name).values(next_due=to_micros(now), rev=rev)
    )
    return bool(done.rowcount == 1)


def read(conn: Connection, names: Iterable[str] | None = None) -> dict[str, ProbeRow]:
    query = select(*_COLUMNS)
    if names is not None:
        query = query.where(probes.c.name.in_(list(names)))
    found: dict[str, ProbeRow] = {}
    for (
        name,
        due,
        failures,
        down,
        last_at,
        last_ok,
        status,
        error,
        seconds,
        ok_at,
        cert,
        runs,
        lease,
        spec,
    ) in conn.execute(query):
        last = None
        if last_at is not None:
            at = from_micros(last_at)
            last = Result(
                at, bool(last_ok), status, error, seconds or 0.0, from_micros_or_none(cert)
            )
        found[name] = ProbeRow(
            name,
            from_micros(due),
            failures,
            from_micros_or_none(down),
            last,
            from_micros_or_none(ok_at),
            runs,
            from_micros_or_none(lease or None),
            spec,
        )
    return found
