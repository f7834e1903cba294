"""What an incident owes, by its severity, and the alerts raised when it is late.

An open incident owes a first update within ``first_update_within`` of taking its
severity, then one every ``update_every`` (a status change counts): an update goes to
the status page if the incident is public, and to its announcement receivers; a
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
OPEN = "IncidentOpen"  # an open incident of a severity with ``alert: true``
ALERTNAMES = (UPDATE_OVERDUE, POSTMORTEM_OVERDUE, OPEN)
# an incident's reminder links to its console page: how Tocsin tells its own alerts
INCIDENT_PAGE = "/ui/incidents/"
ZERO = timedelta(0)
# how long past its deadline an incident still owes a post-mortem
POSTMORTEMS_FOR = timedelta(days=30)


@dataclass(frozen=True)
class Due:
    kind: str  # "update" or "postmortem"
    at: datetime
    text: str

    def overdue(self, now: datetime) -> bool:
        return now >= self.at


def dues(incident: Incident, severity: IncidentSeverity | None, now: datetime) -> list[Due]:
    """What the incident owes next, and by when (nothing for a severity that owes
    nothing, or one no longer configured). Updates count from when it took its
    severity (a SEV3 raised to SEV1 owes its first update from the raise; with no
    first update owed, the cadence goes on from the last one), a post-mortem from its
    resolution, until ``POSTMORTEMS_FOR`` past its deadline (a severity that starts
    owing post-mortems does not call in the past's)."""
    if severity is None:
        return []
    if incident.open:
        since = incident.severity_at or incident.opened_at
        last = incident.last_update_at
        if (last is None or last < since) and severity.first_update > ZERO:
            return [Due("update", since + severity.first_update, "a first update")]
        if last is not None and severity.update_every > ZERO:
            return [Due("update", last + severity.update_every, "an update")]
        return []
    within, resolved = severity.postmortem_within, incident.resolved_at
    if incident.postmortem_at is not None or resolved is None or within <= ZERO:
        return []
    if now > resolved + within + POSTMORTEMS_FOR:
        return []
    return [Due("postmortem", resolved + within, "a post-mortem")]


def owing_since(severities: Iterable[IncidentSeverity], now: datetime) -> datetime:
    """The earliest resolution that may still owe a post-mortem at ``now``."""
    longest = max((s.postmortem_within for s in severities), default=ZERO)
    return now - longest - POSTMORTEMS_FOR


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


def open_labels(
    incident_id: int, severity: str, rank: int, labels: Mapping[str, str]
) -> dict[str, str]:
    """The labels of the ``IncidentOpen`` alert of an incident of ``severity``, the
    ``rank``-th most severe (``tocsin.incidents.labels`` added; see :func:`open_alert`)."""
    own = {"severity": "critical" if rank == 0 else "warning", **labels}
    return own | {"alertname": OPEN, "incident": str(incident_id), "incident_severity": severity}


def open_alert(
    incident: Incident,
    severity: IncidentSeverity | None,
    rank: int,
    now: datetime,
    base_url: str,
    labels: Mapping[str, str],
) -> PostedAlert | None:
    """While an incident of a severity with ``alert: true`` is open, its
    ``IncidentOpen`` alert (severity ``critical`` for the most severe, else ``warning``,
    unless the config's labels say), from its declaration: routed to a pager, it pages
    the on-call. None: no such alert (resolved, or its severity raises none)."""
    if severity is None or not severity.alert or not incident.open:
        return None
    own = open_labels(incident.id, incident.severity, rank, labels)
    who = incident.commander or incident.opened_by
    summary = f"Incident #{incident.id} ({incident.severity}): {incident.title}"
    message = "\n".join([*([incident.summary] if incident.summary else []), f"Commander: {who}."])
    link = f"{base_url}{INCIDENT_PAGE}{incident.id}"
    # from its declaration (or its reopening: the alert of before had ended), the same
    # time on every replica
    since = incident.reopened_at or incident.opened_at
    return monitor_alert(own, {}, summary, message, since, now + FIRING_FOR, link)
