"""A runbook's promise that ran out, as an alert: ``RunbookTimerOverdue``.

"Update the status page within 15 minutes", "schedule the post-mortem within 48 hours":
a timer that a person keeps (by saying so, or a linked incident by doing it) and that
nobody kept in time fires an alert for its group, until it is kept or the incident
moves on (the timer closes, or the group re-opens as a new one). Timers that an answer
to the page ends ("acknowledge within 5 minutes") raise none: the escalation pages for
them already. Pure: the timers come from ``runbooks.timers``, ``now`` is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

from tocsin.alerts.model import PostedAlert
from tocsin.monitors.alerts import FIRING_FOR, monitor_alert
from tocsin.runbooks.timers import Timer
from tocsin.timeutil import format_rfc3339

OVERDUE = "RunbookTimerOverdue"
GROUP_PAGE = "/ui/groups/"  # its alerts link to the group's console page


def overdue_alert(
    group_id: str,
    group_labels: Mapping[str, str],
    timer: Timer,
    now: datetime,
    base_url: str,
) -> PostedAlert | None:
    """The alert of ``timer`` (of the group ``group_id``) while it is overdue; None when
    it is not, or when an answer to the page ends it. Labelled with the group's labels
    (a route that sends the group's alerts to a team sends it there too), the group,
    the runbook and the timer (``RUNBOOK:LINE``, as ``--kept`` takes it)."""
    if timer.state != "overdue" or not timer.keepable or timer.due_at is None:
        return None
    labels = {k: v for k, v in group_labels.items() if k != "alertname"}
    labels |= {
        "alertname": OVERDUE,
        "group": group_id,
        "runbook": timer.runbook,
        "timer": timer.ref,
        "severity": "warning",
    }
    summary = f"{timer.text} ({timer.ref}): overdue since {format_rfc3339(timer.due_at)}"
    message = (
        f"Kept it? Say so: tocsin checklist {group_id} --kept {timer.ref} "
        "(or the Kept button on the group's page)."
    )
    link = f"{base_url}{GROUP_PAGE}{quote(group_id, safe='')}#timers"
    return monitor_alert(labels, {}, summary, message, timer.due_at, now + FIRING_FOR, link)
