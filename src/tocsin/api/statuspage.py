"""The status page's data in Atlassian Statuspage's public API shapes, under
``/status/api/v2/`` (``summary.json``, ``status.json``, ``components.json``,
``incidents[/unresolved].json``, ``scheduled-maintenances[/upcoming|/active].json``):
open without a password, as the page is (``api.auth``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tocsin.api.state import runtime
from tocsin.api.v2 import json_response
from tocsin.core.incidents import rules_of
from tocsin.incidents import statuspage
from tocsin.incidents.model import impact

PREFIX = "/status/api/v2"
router = APIRouter(prefix=PREFIX, tags=["status page"])


def _parts(request: Request) -> dict[str, Any]:
    """Every part of the summary, from one read of the page."""
    rt = runtime(request)
    shown = rt.incidents.status_page()
    rules = rules_of(rt.incidents.settings())
    times = [e.at for v in shown.views for e in v.timeline] + [
        v.incident.opened_at for v in shown.views
    ]
    times += [m.created_at for m, _ in shown.maintenances]
    updated = max(times, default=rt.clock())
    base = (rt.settings.external_url or str(request.base_url)).rstrip("/")
    incidents = [
        (v.incident.open, statuspage.incident(v.incident, v.timeline, impact(v.incident, rules)))
        for v in shown.views
    ]
    windows = [(state, statuspage.maintenance(m, state)) for m, state in shown.maintenances]
    return {
        "page": statuspage.page(shown.title, f"{base}/status", updated),
        "status": statuspage.status(shown.overall),
        "components": statuspage.components(shown.components, updated),
        "incidents": [i for _, i in incidents],
        "unresolved": [i for still, i in incidents if still],
        "maintenances": [m for _, m in windows],
        "upcoming": [m for state, m in windows if state == "scheduled"],
        "active": [m for state, m in windows if state == "in_progress"],
    }


def _serve(path: str, summary: str, shape: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    def handler(request: Request) -> Response:
        parts = _parts(request)
        return json_response({"page": parts["page"], **shape(parts)})

    router.add_api_route(path, handler, methods=["GET"], summary=summary)


_serve(
    "/summary.json",
    "The page's indicator, components, unresolved incidents and upcoming or active "
    "maintenance (Statuspage's summary)",
    lambda p: {
        "components": p["components"],
        "incidents": p["unresolved"],
        "scheduled_maintenances": p["upcoming"] + p["active"],
        "status": p["status"],
    },
)
_serve(
    "/status.json", "The page's indicator and its description", lambda p: {"status": p["status"]}
)
_serve(
    "/components.json", "The components and their status", lambda p: {"components": p["components"]}
)
_serve(
    "/incidents.json",
    "Public incidents of the last 7 days",
    lambda p: {"incidents": p["incidents"]},
)
_serve(
    "/incidents/unresolved.json",
    "Public incidents not resolved",
    lambda p: {"incidents": p["unresolved"]},
)
_serve(
    "/scheduled-maintenances.json",
    "Public maintenance windows (upcoming, active, completed in the last 7 days)",
    lambda p: {"scheduled_maintenances": p["maintenances"]},
)
_serve(
    "/scheduled-maintenances/upcoming.json",
    "Maintenance windows not started",
    lambda p: {"scheduled_maintenances": p["upcoming"]},
)
_serve(
    "/scheduled-maintenances/active.json",
    "Maintenance windows in progress",
    lambda p: {"scheduled_maintenances": p["active"]},
)
