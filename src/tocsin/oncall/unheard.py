"""A page that reached nobody, as an alert: ``TocsinNobodyPaged``.

An escalation that ends (its last step fired, no step awaited) with no page built to
anyone (an empty schedule at 3 a.m., a person nobody can reach, a receiver a reload
removed) leaves a firing group that woke nobody. Tocsin says so, as PagerDuty shows an
unassigned incident: an alert of its own, labelled with the group and the receiver
(not with the group's labels, which route it back to the policy that reached nobody),
firing until the group is acknowledged, snoozed, resolved or pages someone. Pure:
``now`` is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

from tocsin.alerts.model import PostedAlert
from tocsin.monitors.alerts import FIRING_FOR, monitor_alert
from tocsin.runbooks.timer_alerts import GROUP_PAGE

NOBODY_PAGED = "TocsinNobodyPaged"


def nobody_paged_alert(
    group_id: str,
    receiver: str,
    group_labels: Mapping[str, str],
    said: str,
    since: datetime,
    now: datetime,
    base_url: str,
) -> PostedAlert:
    """The alert of the group ``group_id`` (of ``receiver``, ``group_labels``) whose
    escalation ended at ``since`` reaching nobody; ``said`` is the escalation's last
    audit line ("nobody on call in schedule 'us-business'; ...")."""
    labels = {
        "alertname": NOBODY_PAGED,
        "group": group_id,
        "receiver": receiver,
        "severity": "critical",
    }
    shown = ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items()))
    summary = f"Nobody was paged for {{{shown}}} ({receiver}): its escalation reached no one"
    link = f"{base_url}{GROUP_PAGE}{quote(group_id, safe='')}"
    return monitor_alert(labels, {}, summary, said, since, now + FIRING_FOR, link)
