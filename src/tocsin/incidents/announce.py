"""Announcing an incident: the notification its receivers get when it is declared,
when the status page hears of it (an update, a status change), when its severity
changes, and when it resolves; and announcing a public maintenance window when it is
scheduled, changed, cancelled or finished early.

An announcement is an ordinary notification of one alert, ``alertname="Incident"``
labelled with the incident and its severity, firing while the incident is open and
resolved with it, whose summary says what changed and whose description carries the
words of the update. So every channel (Slack, e-mail, Teams, a webhook, PagerDuty)
renders it with its usual template, and it travels through the outbox: committed
with the change, retried until delivered, in the notification log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import Alert
from tocsin.alerts.pd_events import OPEN_END
from tocsin.incidents.maintenance import Maintenance
from tocsin.incidents.model import Entry, Incident
from tocsin.incidents.reminders import INCIDENT_PAGE
from tocsin.notify.message import Notification
from tocsin.timeutil import format_rfc3339

ALERTNAME = "Incident"
# what is news to the people an incident is announced to
NEWS = ("declared", "status", "update", "severity")


# how the summary names a change whose words the description carries
_SAID = {"declared": "declared", "update": "status-page update"}


def _what(entry: Entry) -> str:
    if entry.kind == "role":  # told to the person given it
        return f"role {entry.text}, given by {entry.by}"
    return _SAID.get(entry.kind, entry.text)


def news(entries: Sequence[Entry]) -> list[Entry]:
    return [e for e in entries if e.kind in NEWS]


def announcement(
    incident: Incident,
    said: Sequence[Entry],
    receiver: str,
    base_url: str,
    now: datetime,
    rank: int,
    key: str,
) -> Notification:
    """The notification of ``said`` (one change's news) to ``receiver``; ``rank`` is
    its severity's place (0: the most severe), ``key`` its own, unique, part of the
    idempotency key."""
    # ``severity`` as receivers' templates expect it (PagerDuty's own words: a
    # template passing .CommonLabels.severity on must send one PagerDuty takes)
    labels = {
        "alertname": ALERTNAME,
        "incident": str(incident.id),
        "incident_severity": incident.severity,
        "severity": "critical" if rank == 0 else "warning",
    }
    # the summary names what changed; the words (an update's, the declaration's
    # summary) are the description's, said once
    what = "; ".join(_what(e) for e in said)
    words = [e.text for e in said if e.kind == "update"]
    if incident.summary and any(e.kind == "declared" for e in said):
        words.insert(0, incident.summary)
    link = f"{base_url}{INCIDENT_PAGE}{incident.id}"
    people = ", ".join(f"{role} {person}" for role, person in incident.roles.items())
    annotations = {
        "summary": f"Incident #{incident.id} ({incident.severity}): {incident.title}: {what}",
        "description": "\n".join([*words, *([people] if people else [])]),
        "status": incident.status,
    }
    if incident.summary and incident.summary not in words:  # (said once)
        annotations["impact"] = incident.summary
    # firing until resolved; an end nobody sent (timeout), as Alertmanager's webhook
    # shows a firing alert's: not a date in the year 9999
    ends = incident.resolved_at or OPEN_END
    alert = Alert(
        fingerprint(labels),
        labels,
        annotations,
        incident.opened_at,
        ends,
        link,
        now,
        incident.resolved_at is None,
    )
    return Notification(
        receiver=receiver,
        group_key=f"incident:{incident.id}",
        # its name first, as a subject reads it: "[FIRING:1] Incident 4 (SEV-1 critical)"
        # (not its title: a label, the group's or the alert's, that an edit changes
        # would be a new group or alert to a receiver keyed on them)
        group_labels={"alertname": ALERTNAME, "incident": str(incident.id)},
        alerts=(alert,),
        now=now,
        external_url=base_url,
        idempotency_key=f"incident/{incident.id}/{receiver}/{key}",
        # "View in Tocsin" and Slack's title link open the incident's page
        extra={alert.fingerprint: {"console_url": link}},
        news=True,
    )


MAINTENANCE_ALERTNAME = "Maintenance"
MAINTENANCE_PAGE = "/ui/maintenance"


def maintenance_notice(
    m: Maintenance, what: str, receiver: str, base_url: str, now: datetime, key: str
) -> Notification:
    """The notification telling ``receiver`` that a public maintenance window was
    scheduled, changed, cancelled or finished (``what``). Like an incident's, it is one
    alert, ``alertname="Maintenance"``, firing until the window ends (so a receiver
    sees its end as the alert's), resolved at once when it is called off or finished
    early, and sent whatever ``send_resolved`` says."""
    labels = {"alertname": MAINTENANCE_ALERTNAME, "maintenance": str(m.id), "severity": "info"}
    window = f"{format_rfc3339(m.starts_at)} to {format_rfc3339(m.ends_at)}"
    annotations = {
        "summary": f"Maintenance #{m.id}: {m.title}: {what}, {window}",
        "description": m.description,
        "status": m.state(now),
    }
    if m.components:
        annotations["affects"] = ", ".join(m.components)
    # called off, or withdrawn from the page: over for those told
    ends = now if m.cancelled_at is not None or not m.public else m.ends_at
    alert = Alert(
        fingerprint(labels),
        labels,
        annotations,
        m.created_at,
        ends,
        f"{base_url}{MAINTENANCE_PAGE}",
        now,
        False,  # its end is known: the window's
    )
    return Notification(
        receiver=receiver,
        group_key=f"maintenance:{m.id}",
        group_labels={"alertname": MAINTENANCE_ALERTNAME, "maintenance": str(m.id)},
        alerts=(alert,),
        now=now,
        external_url=base_url,
        idempotency_key=f"maintenance/{m.id}/{receiver}/{key}",
        news=True,
    )
