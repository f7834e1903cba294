"""The status page in Atlassian Statuspage's public JSON shapes (``/api/v2/summary.json``
and its parts), so that what already reads a Statuspage page (status widgets, status
aggregators, a chat tool's status integration) reads Tocsin's.

Only what the page shows is here: public incidents, their status-page updates, the
public maintenance windows. Ids are digests of what the page shows anyway (when an
incident was opened, when an update was written, a component's name), never an
incident's number (a window's is in its digest: windows are planned in the open),
and stay the same across replicas. Statuspage's impact and
indicator words come from the page's own words: a major outage is ``critical``, a
partial one ``major``, degraded performance ``minor``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tocsin.incidents.maintenance import COMPLETED, IN_PROGRESS, SCHEDULED, Maintenance
from tocsin.incidents.model import RESOLVED, STATUSES, Entry, Incident
from tocsin.timeutil import format_rfc3339, to_micros

PAGE_ID = "tocsin"
# the page's word -> Statuspage's indicator and its description of the page
INDICATORS = {
    "operational": ("none", "All Systems Operational"),
    "degraded_performance": ("minor", "Minor Service Outage"),
    "partial_outage": ("major", "Partial System Outage"),
    "major_outage": ("critical", "Major System Outage"),
    "under_maintenance": ("maintenance", "Service Under Maintenance"),
}


def _id(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:12]


def _at(value: datetime | None) -> str | None:
    return None if value is None else format_rfc3339(value)


def page(title: str, url: str, updated: datetime) -> dict[str, Any]:
    return {
        "id": PAGE_ID,
        "name": title,
        "url": url,
        "time_zone": "Etc/UTC",
        "updated_at": format_rfc3339(updated),
    }


def status(word: str) -> dict[str, str]:
    indicator, description = INDICATORS[word]
    return {"indicator": indicator, "description": description}


def components(words: Sequence[tuple[str, str]], since: datetime) -> list[dict[str, Any]]:
    """Each configured component with its word; ``since``: when the page last changed
    (a component's own history is not kept)."""
    return [
        {
            "id": _id("component", name),
            "name": name,
            "status": word,
            "created_at": format_rfc3339(since),
            "updated_at": format_rfc3339(since),
            "position": n + 1,
            "description": None,
            "showcase": True,
            "start_date": None,
            "group_id": None,
            "page_id": PAGE_ID,
            "group": False,
            "only_show_if_degraded": False,
        }
        for n, (name, word) in enumerate(words)
    ]


def _update_status(line: Entry) -> str:
    """The incident's status an update was written under: "Identified: ..." was
    identified; a status line says its own ("resolved", "status: monitoring")."""
    head = line.text.split(":", 1)[0].strip().lower() if line.kind == "update" else ""
    if head in STATUSES:
        return head
    said = line.text.rsplit(":", 1)[-1].strip().lower()
    return said if said in STATUSES else RESOLVED


def _body(line: Entry) -> str:
    if line.kind == "update" and ":" in line.text:
        return line.text.split(":", 1)[1].strip()
    return line.text


def incident(i: Incident, lines: Sequence[Entry], impact: str) -> dict[str, Any]:
    """A public incident and its public lines (newest first, as Statuspage lists
    them); ``impact``: the page's word for it."""
    key = _id("incident", to_micros(i.opened_at))
    updates = [
        {
            "id": _id("update", to_micros(i.opened_at), n, to_micros(line.at)),
            "status": _update_status(line),
            "body": _body(line),
            "incident_id": key,
            "created_at": format_rfc3339(line.at),
            "updated_at": format_rfc3339(line.at),
            "display_at": format_rfc3339(line.at),
            "affected_components": None,
            "deliver_notifications": True,
        }
        for n, line in enumerate(lines)
    ]
    updates.reverse()
    latest = lines[-1].at if lines else i.opened_at
    return {
        "id": key,
        "name": i.title,
        "status": i.status,
        "impact": INDICATORS[impact][0] if impact in INDICATORS else "none",
        "created_at": format_rfc3339(i.opened_at),
        "updated_at": format_rfc3339(max(latest, i.resolved_at or latest)),
        "started_at": format_rfc3339(i.opened_at),
        "monitoring_at": None,
        "resolved_at": _at(i.resolved_at),
        "shortlink": None,
        "page_id": PAGE_ID,
        "incident_updates": updates,
        "components": [{"id": _id("component", c), "name": c} for c in i.components],
    }


def maintenance(m: Maintenance, state: str) -> dict[str, Any]:
    key = _id("maintenance", m.id, to_micros(m.created_at))
    body = m.description or f"{m.title}: scheduled maintenance"
    return {
        "id": key,
        "name": m.title,
        "status": state,
        "impact": "maintenance",
        "created_at": format_rfc3339(m.created_at),
        "updated_at": format_rfc3339(m.updated_at or m.created_at),
        "started_at": format_rfc3339(m.starts_at),
        "monitoring_at": None,
        "resolved_at": format_rfc3339(m.ends_at) if state == COMPLETED else None,
        "shortlink": None,
        "page_id": PAGE_ID,
        "scheduled_for": format_rfc3339(m.starts_at),
        "scheduled_until": format_rfc3339(m.ends_at),
        "incident_updates": [
            {
                "id": _id("maintenance-update", m.id, to_micros(m.created_at)),
                "status": SCHEDULED,
                "body": body,
                "incident_id": key,
                "created_at": format_rfc3339(m.created_at),
                "updated_at": format_rfc3339(m.created_at),
                "display_at": format_rfc3339(m.created_at),
                "affected_components": None,
                "deliver_notifications": True,
            }
        ],
        "components": [{"id": _id("component", c), "name": c} for c in m.components],
    }


def upcoming_or_active(state: str) -> bool:
    return state in (SCHEDULED, IN_PROGRESS)
