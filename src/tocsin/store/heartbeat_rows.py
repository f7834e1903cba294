"""Queries on ``heartbeats``: arming, pings, and reading them back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, select, text

from tocsin.monitors.heartbeats import Beat, Kind
from tocsin.store.tables import heartbeats
from tocsin.timeutil import from_micros, to_micros


def arm(conn: Connection, names: Iterable[str], now: datetime, rev: int) -> None:
    """Record ``now`` as the time Tocsin first knew each heartbeat it did not know yet
    (its first deadline counts from then)."""
    rows = [{"name": n, "at": to_micros(now), "rev": rev} for n in names]
    if not rows:
        return
    conn.execute(
        text(
            "INSERT INTO heartbeats (name, armed_at, rev) VALUES (:name, :at, :rev) "
            "ON CONFLICT (name) DO NOTHING"
        ),
        rows,
    )


def ping(conn: Connection, name: str, kind: Kind, message: str, now: datetime, rev: int) -> None:
    """Store a ping as the heartbeat's last (a ping of one never armed arms it now); a
    job that said it started is over, and how long it ran is kept."""
    at = to_micros(now)
    conn.execute(
        text(
            "INSERT INTO heartbeats (name, armed_at, last_ping_at, last_kind, message, pings, rev)"
            " VALUES (:name, :at, :at, :kind, :message, 1, :rev) ON CONFLICT (name) DO UPDATE "
            "SET last_ping_at = excluded.last_ping_at, last_kind = excluded.last_kind, "
            "message = excluded.message, pings = heartbeats.pings + 1, rev = excluded.rev, "
            "last_duration = CASE WHEN heartbeats.started_at IS NOT NULL "
            "AND heartbeats.started_at <= excluded.last_ping_at "
            "THEN (excluded.last_ping_at - heartbeats.started_at) / 1000000.0 "
            "ELSE NULL END, started_at = NULL"
        ),
        {"name": name, "at": at, "kind": kind, "message": message, "rev": rev},
    )


def start(conn: Connection, name: str, now: datetime, rev: int) -> None:
    """Store that a heartbeat's job started (arming one never armed)."""
    conn.execute(
        text(
            "INSERT INTO heartbeats (name, armed_at, started_at, rev) VALUES (:name, :at, :at, "
            ":rev) ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at, "
            "rev = excluded.rev"
        ),
        {"name": name, "at": to_micros(now), "rev": rev},
    )


def read(conn: Connection) -> dict[str, Beat]:
    found: dict[str, Beat] = {}
    for name, armed, last, kind, message, pings, started, took in conn.execute(
        select(
            heartbeats.c.name,
            heartbeats.c.armed_at,
            heartbeats.c.last_ping_at,
            heartbeats.c.last_kind,
            heartbeats.c.message,
            heartbeats.c.pings,
            heartbeats.c.started_at,
            heartbeats.c.last_duration,
        )
    ):
        found[name] = Beat(
            name,
            from_micros(armed),
            None if last is None else from_micros(last),
            cast(Kind | None, kind),
            message,
            pings,
            None if started is None else from_micros(started),
            None if took is None else float(took),
        )
    return found
