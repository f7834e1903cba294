"""The reminder loop: an incident's debts past their time become alerts (and an open
incident of a severity with ``alert: true`` its ``IncidentOpen`` alert).

Each round reads the incidents that owe something (``IncidentDesk.owing``), raises
the alerts of those past their time (``incidents.reminders``), and keeps the store's
alerts of this kind in step (``monitor_alerts.in_step``): a paid debt, or an incident
whose severity no longer owes it, has its alert resolved. It wakes at the next debt's
time, at every change to an incident, and at least every ``REFRESH``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime

from tocsin.alerts.model import Alert, PostedAlert
from tocsin.alerts.routing import build_route_tree, match
from tocsin.config.model import Config
from tocsin.config.receivers import Receiver
from tocsin.core.incidents import IncidentDesk, rules_of
from tocsin.engine.monitor_alerts import Kind, RefreshLoop, keep_in_step, seconds_until
from tocsin.incidents.model import severity_rank
from tocsin.incidents.reminders import (
    ALERTNAMES,
    INCIDENT_PAGE,
    OPEN,
    open_alert,
    open_labels,
    reminder_alerts,
)
from tocsin.timeutil import Clock

KIND = Kind("incident", ALERTNAMES, "incidents", INCIDENT_PAGE)


def unpaged_incidents(config: Config) -> list[str]:
    """The severities whose ``IncidentOpen`` alert (``alert: true``: "page the on-call
    for a major incident") the routes send only to receivers that notify nobody (no
    integration, no escalation policy), or group without its incident for a receiver
    that pages: a warning each, for ``check-config``. The promise would be kept by
    nothing, or badly, and nothing else would say so."""
    settings = config.tocsin.incidents
    root = build_route_tree(config)
    found: list[str] = []
    for rank, severity in enumerate(settings.severities):
        if not severity.alert:
            continue
        labels = open_labels(1, severity.name, rank, settings.labels)
        nodes = match(root, labels)
        targets = list(dict.fromkeys(node.receiver for node in nodes))
        if all(_silent(config.receiver(name)) for name in targets):
            found.append(
                f"tocsin.incidents.severities: {severity.name} raises {OPEN} (alert: true), "
                f"which the routes send only to {', '.join(targets)}, notifying nobody: route "
                f'alertname="{OPEN}" (incident_severity="{severity.name}") to a receiver '
                "that pages"
            )
        # Grouped without its incident, every incident's page is one alert group: the
        # second incident re-opens the first one's group, which still shows that one.
        shared = [
            n.receiver
            for n in nodes
            if not n.group_by_all
            and "incident" not in n.group_by
            and _pages(config.receiver(n.receiver))
        ]
        if shared:
            found.append(
                f"tocsin.incidents.severities: {severity.name}'s {OPEN} alerts are grouped "
                f"without their incident label for {', '.join(dict.fromkeys(shared))}, so "
                "every incident's page joins one alert group: add incident to that route's "
                f'group_by (a route for alertname="{OPEN}" with group_by: [alertname, incident])'
            )
    return found


def _pages(receiver: Receiver | None) -> bool:
    return receiver is not None and bool(receiver.escalation_policy)


def _silent(receiver: Receiver | None) -> bool:
    return receiver is None or not (receiver.escalation_policy or any(receiver.integrations()))


class IncidentReminders(RefreshLoop):
    def __init__(
        self,
        desk: IncidentDesk,
        clock: Clock,
        alerts: Callable[[], list[Alert]],
        post_alerts: Callable[[list[PostedAlert]], Awaitable[object]],
        base_url: str = "",
    ) -> None:
        super().__init__("incident reminders")
        self._desk = desk
        self._clock = clock
        self._alerts = alerts
        self._post = post_alerts
        self._base_url = base_url
        # open incidents by severity at the last round, for /metrics
        self.open: dict[str, float] = {}

    async def check(self) -> None:
        # the store's alerts before the incidents (as MonitorLoop.held, and for the
        # same reason: a debt paid on another replica must not fire again here)
        held = list(self._alerts())
        owing = await asyncio.to_thread(self._desk.owing)
        now = self._clock()
        settings = self._desk.settings()
        labels, rules = settings.labels, rules_of(settings)
        wanted: list[PostedAlert] = []
        upcoming: list[datetime] = []
        for v in owing:
            i = v.incident
            wanted += reminder_alerts(i, v.owed, now, self._base_url, labels)
            rank = severity_rank(i.severity, rules)
            opened = open_alert(i, settings.severity(i.severity), rank, now, self._base_url, labels)
            wanted += [opened] if opened else []
            upcoming += [d.at for d in v.owed if not d.overdue(now)]
        await keep_in_step(KIND, wanted, held, self._post, now)
        # every configured severity, 0 when none is open: a series that vanishes
        # reads as "no data" on a dashboard, and rate() or absent() go wrong on it
        counts = Counter(v.incident.severity for v in owing if v.incident.open)
        self.open = {s.name: 0.0 for s in settings.severities} | counts
        self._sleep = seconds_until(upcoming, now)
