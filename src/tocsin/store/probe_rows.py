"""Queries on ``probes``: rows for configured probes, claims by lease, results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, select, text, update

from tocsin.monitors.probes import ProbeRow, Result
from tocsin.store.tables import probes
from tocsin.timeutil import from_micros, to_micros

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
    probes.c.runs,
)


def ensure(conn: Connection, names: Iterable[str], now: datetime, rev: int) -> None:
    """A row, due now, for each probe that has none (new in the config)."""
    rows = [{"name": n, "due": to_micros(now), "rev": rev} for n in names]
    if rows:
        conn.execute(
            text(
                "INSERT INTO probes (name, next_due, rev) VALUES (:name, :due, :rev) "
                "ON CONFLICT (name) DO NOTHING"
            ),
            rows,
        )


def claim(conn: Connection, leases: Mapping[str, datetime], now: datetime, rev: int) -> list[str]:
    """Lease the probes of ``leases`` (name -> lease end) that are due and not leased by
    anyone (another replica); the names this claimed. A row another transaction claims
    first fails the ``lease_until`` condition once that one commits."""
    at = to_micros(now)
    due = conn.execute(
        select(probes.c.name).where(
            probes.c.name.in_(list(leases)), probes.c.next_due <= at, probes.c.lease_until <= at
        )
    ).scalars()
    claimed = []
    for name in list(due):
        done = conn.execute(
            update(probes)
            .where(probes.c.name == name, probes.c.lease_until <= at)
            .values(lease_until=to_micros(leases[name]), rev=rev)
        )
        if done.rowcount == 1:
            claimed.append(name)
    return claimed


def save(conn: Connection, rows: Sequence[ProbeRow], rev: int) -> None:
    """Store each probe's row after its request; its lease ends."""
    for row in rows:
        last = row.last
        conn.execute(
            update(probes)
            .where(probes.c.name == row.name)
            .values(
                next_due=to_micros(row.next_due),
                lease_until=0,
                failures=row.failures,
                down_since=_micros(row.down_since),
                last_at=None if last is None else to_micros(last.at),
                last_ok=None if last is None else last.ok,
                last_status=None if last is None else last.status,
                last_error="" if last is None else last.error,
                last_seconds=None if last is None else last.seconds,
                last_ok_at=_micros(row.last_ok_at),
                runs=row.runs,
                rev=rev,
            )
        )


def due_now(conn: Connection, name: str, now: datetime, rev: int) -> bool:
    """Make a probe due at once (``run now``); False: no row (not configured yet)."""
    done = conn.execute(
        update(probes).where(probes.c.name == name).values(next_due=to_micros(now), rev=rev)
    )
    return done.rowcount == 1


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
        runs,
    ) in conn.execute(query):
        last = None
        if last_at is not None:
            last = Result(from_micros(last_at), bool(last_ok), status, error, seconds or 0.0)
        found[name] = ProbeRow(
            name,
            from_micros(due),
            failures,
            None if down is None else from_micros(down),
            last,
            None if ok_at is None else from_micros(ok_at),
            runs,
        )
    return found


def _micros(at: datetime | None) -> int | None:
    return None if at is None else to_micros(at)
