"""What an incident owes, by its severity, and the alerts raised when it is late.

An open incident owes the status page a first update within ``first_update_within``
of being declared, then one every ``update_every`` (a status change counts); a
resolved one owes a post-mortem within ``postmortem_within`` of its resolution. A
debt past its time raises an ordinary alert (``IncidentUpdateOverdue``,
``IncidentPostmortemOverdue``) labelled ``incident="ID"``, so it is routed, grouped,
silenced and escalated like any other: a team routes them to whoever must answer.
The next update, or the post-mortem, resolves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from tocsin.alerts.model import PostedAlert
from tocsin.config.model import IncidentSeverity
from tocsin.incidents.model import Incident
from tocsin.monitors.alerts import FIRING_FOR, monitor_alert
from tocsin.timeutil import format_rfc3339

UPDATE_OVERDUE = "IncidentUpdateOverdue"
POSTMORTEM_OVERDUE = "IncidentPostmortemOverdue"
ALERTNAMES = (UPDATE_OVERDUE, POSTMORTEM_OVERDUE)
# an incident's reminder links to its console page: how Tocsin tells its own alerts
INCIDENT_PAGE = "/ui/incidents/"
ZERO = timedelta(0)


@dataclass(frozen=True)
class Due:
    kind: str  # "update" or "postmortem"
    at: datetime
    text: str

    def overdue(self, now: datetime) -> bool:
        return now >= self.at


def dues(incident: Incident, severity: IncidentSeverity | None) -> list[Due]:
    """What the incident owes next, and by when (nothing for a severity that owes
    nothing, or one no longer configured)."""
    if severity is None:
        return []
    if incident.open:
        if incident.last_update_at is None:
            if severity.first_update > ZERO:
                at = incident.opened_at + severity.first_update
                return [Due("update", at, "a first status-page update")]
        elif severity.update_every > ZERO:
            at = incident.last_update_at + severity.update_every
            return [Due("update", at, "a status-page update")]
        return []
    within = severity.postmortem_within
    if incident.postmortem_at is None and incident.resolved_at and within > ZERO:
        return [Due("postmortem", incident.resolved_at + within, "a post-mortem")]
    return []


def reminder_alerts(
    incident: Incident,
    owed: Iterable[Due],
    now: datetime,
    base_url: str,
    labels: Mapping[str, str],
) -> list[PostedAlert]:
    """The alerts of the debts past their time, each from the moment it fell due."""
    out = []
    for due in owed:
        if not due.overdue(now):
            continue
        name = UPDATE_OVERDUE if due.kind == "update" else POSTMORTEM_OVERDUE
        # a reminder, not an outage: warning unless the config's labels say otherwise
        own = {"severity": "warning", **labels, "alertname": name, "incident": str(incident.id)}
        own["incident_severity"] = incident.severity
        who = incident.commander or incident.opened_by
        summary = (
            f"Incident #{incident.id} ({incident.severity}, {incident.title}) owes "
            f"{due.text} since {format_rfc3339(due.at)}"
        )
        message = f"Commander: {who}." if who else ""
        link = f"{base_url}{INCIDENT_PAGE}{incident.id}"
        out.append(monitor_alert(own, {}, summary, message, due.at, now + FIRING_FOR, link))
    return out
