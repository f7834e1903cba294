"""Queries on ``incidents`` and ``incident_timeline``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, insert, or_, select, update

from tocsin.incidents.model import RESOLVED, Entry, Incident
from tocsin.store.tables import incident_timeline, incidents
from tocsin.timeutil import from_micros, from_micros_or_none, to_micros, to_micros_or_none


def _values(i: Incident, rev: int) -> dict[str, Any]:
    return {
        "title": i.title,
        "severity": i.severity,
        "status": i.status,
        "summary": i.summary,
        "public": i.public,
        "roles": orjson.dumps(dict(i.roles)).decode(),
        "groups": orjson.dumps(list(i.groups)).decode(),
        "components": orjson.dumps(list(i.components)).decode(),
        "told": orjson.dumps(list(i.told)).decode(),
        "opened_at": to_micros(i.opened_at),
        "opened_by": i.opened_by,
        "resolved_at": to_micros_or_none(i.resolved_at),
        "last_update_at": to_micros_or_none(i.last_update_at),
        "severity_at": to_micros_or_none(i.severity_at),
        "postmortem": i.postmortem,
        "postmortem_at": to_micros_or_none(i.postmortem_at),
        "reopened_at": to_micros_or_none(i.reopened_at),
        "rev": rev,
    }


def _incident(row: Row[Any]) -> Incident:
    m = row._mapping
    return Incident(
        id=int(m["id"]),
        title=m["title"],
        severity=m["severity"],
        status=m["status"],
        opened_at=from_micros(m["opened_at"]),
        opened_by=m["opened_by"],
        summary=m["summary"],
        public=bool(m["public"]),
        roles=orjson.loads(m["roles"]),
        groups=tuple(orjson.loads(m["groups"])),
        components=tuple(orjson.loads(m["components"])),
        told=tuple(orjson.loads(m["told"])),
        resolved_at=from_micros_or_none(m["resolved_at"]),
        last_update_at=from_micros_or_none(m["last_update_at"]),
        severity_at=from_micros_or_none(m["severity_at"]),
        postmortem=m["postmortem"],
        postmortem_at=from_micros_or_none(m["postmortem_at"]),
        reopened_at=from_micros_or_none(m["reopened_at"]),
    )


def add(conn: Connection, incident: Incident, rev: int) -> int:
    """Insert a new incident; its id."""
    result = conn.execute(insert(incidents).values(_values(incident, rev)))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def save(conn: Connection, incident: Incident, rev: int) -> None:
    conn.execute(
        update(incidents).where(incidents.c.id == incident.id).values(_values(incident, rev))
    )


def get(conn: Connection, incident_id: int) -> Incident | None:
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    return None if row is None else _incident(row)


def listing(conn: Connection, open_only: bool, limit: int) -> list[Incident]:
    """Incidents, newest first."""
    query = select(incidents).order_by(incidents.c.id.desc()).limit(limit)
    if open_only:
        query = query.where(incidents.c.status != RESOLVED)
    return [_incident(r) for r in conn.execute(query)]


def linking(conn: Connection, group_id: str) -> list[Incident]:
    """The incidents an alert group is linked to, newest first."""
    quoted = orjson.dumps(group_id).decode()  # as the JSON list holds it
    pattern = "%" + quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (
        select(incidents)
        .where(incidents.c.groups.like(pattern, escape="\\"))
        .order_by(incidents.c.id.desc())
    )
    found = (_incident(r) for r in conn.execute(query))
    return [i for i in found if group_id in i.groups]


def owing(conn: Connection, resolved_since: datetime) -> list[Incident]:
    """The incidents that may owe something: open, or resolved since
    ``resolved_since`` without a post-mortem."""
    c = incidents.c
    query = select(incidents).where(
        or_(
            c.status != RESOLVED,
            and_(c.postmortem_at.is_(None), c.resolved_at >= to_micros(resolved_since)),
        )
    )
    return [_incident(r) for r in conn.execute(query.order_by(incidents.c.id))]


def public_since(conn: Connection, since: datetime, limit: int) -> list[Incident]:
    """The public incidents open, or resolved since ``since``: newest first."""
    c = incidents.c
    query = (
        select(incidents)
        .where(c.public.is_(True), or_(c.status != RESOLVED, c.resolved_at >= to_micros(since)))
        .order_by(c.id.desc())
        .limit(limit)
    )
    return [_incident(r) for r in conn.execute(query)]


def add_entries(conn: Connection, incident_id: int, entries: Sequence[Entry]) -> None:
    if not entries:
        return
    conn.execute(
        insert(incident_timeline),
        [
            {
                "incident_id": incident_id,
                "at": to_micros(e.at),
                "actor": e.by,
                "kind": e.kind,
                "text": e.text,
                "public": e.public,
            }
            for e in entries
        ],
    )


def timeline(conn: Connection, incident_ids: Sequence[int]) -> dict[int, list[Entry]]:
    """The timelines of ``incident_ids``, each in the order written."""
    found: dict[int, list[Entry]] = {i: [] for i in incident_ids}
    if not incident_ids:
        return found
    t = incident_timeline.c
    query = (
        select(t.incident_id, t.at, t.actor, t.kind, t.text, t.public)
        .where(t.incident_id.in_(list(incident_ids)))
        .order_by(t.incident_id, t.id)
    )
    for incident_id, at, actor, kind, said, public in conn.execute(query):
        found[int(incident_id)].append(Entry(from_micros(at), actor, kind, said, bool(public)))
    return found
