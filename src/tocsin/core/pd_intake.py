"""What ``POST /v2/enqueue`` does with a decoded PagerDuty event: which integration sent
it (by its routing key), and the trigger, resolve or acknowledge it stands for
(``tocsin.alerts.pd_events`` says how an event maps onto alerts)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tocsin.alerts import pd_events
from tocsin.alerts.model import Alert
from tocsin.alerts.pd_events import PROCESSED, Action, Event
from tocsin.config import Config
from tocsin.core.alert_store import AlertStore
from tocsin.core.oncall_ops import OncallRefused
from tocsin.timeutil import Clock

# acknowledge(group id, who, comment): raises LookupError (no such on-call group) or
# OncallRefused (not firing)
Acknowledge = Callable[[str, str, str], Awaitable[Any]]


class UnknownRoutingKey(LookupError):
    """No configured integration sends with this routing key."""


@dataclass
class EventOutcome:
    integration: str
    dedup_key: str
    alerts: list[Alert] = field(default_factory=list)  # stored (trigger, resolve)
    acknowledged: list[str] = field(default_factory=list)  # on-call group ids
    action: Action = Action.TRIGGER
    firing: bool = False  # an acknowledge's: an alert of the dedup_key fires

    @property
    def message(self) -> str:
        """PagerDuty's "Event processed", and what a resolve or an acknowledge that
        changed nothing means: accepted (both are idempotent, as PagerDuty's are, so a
        cron job may resolve at every good run), but a typo's dedup_key should show."""
        if self.action is Action.RESOLVE and not self.alerts:
            return f"{PROCESSED}; nothing to resolve: no firing alert has this dedup_key"
        if self.action is Action.ACKNOWLEDGE and not self.acknowledged and self.firing:
            # before the group's first notification there is no page to acknowledge: a
            # tool that acknowledges at once must be told its acknowledge did nothing
            return (
                f"{PROCESSED}; nothing to acknowledge: the alert of this dedup_key fires, "
                "but no alert group awaiting acknowledgement holds it: it is acknowledged "
                "already, pages through no escalation policy, or its group has not been "
                "notified yet (group_wait): send acknowledge again once paged"
            )
        if self.action is Action.ACKNOWLEDGE and not self.acknowledged:
            return (
                f"{PROCESSED}; nothing to acknowledge: no alert group awaiting "
                "acknowledgement holds a firing alert of this dedup_key"
            )
        return PROCESSED


class EventIntake:
    def __init__(
        self,
        store: AlertStore,
        config: Callable[[], Config],
        groups_of: Callable[[list[dict[str, str]]], set[str]],
        acknowledge: Acknowledge,
        clock: Clock,
    ) -> None:
        self._store = store
        self._config = config
        self._groups_of = groups_of
        self._acknowledge = acknowledge
        self._clock = clock

    async def handle(self, event: Event) -> EventOutcome:
        integration = self._config().event_integration(event.routing_key)
        if integration is None:
            raise UnknownRoutingKey(
                "routing_key: not the routing key of any of tocsin.event_integrations"
            )
        name, key = integration.name, event.dedup_key
        out = EventOutcome(name, key, action=event.action)
        if event.action is Action.TRIGGER:
            fired = pd_events.triggered(event, name, dict(integration.labels), self._clock())
            out.alerts = await self._store.apply_event(name, key, fired)
        elif event.action is Action.RESOLVE:
            out.alerts = await self._store.apply_event(name, key, None)
        else:
            out.firing, out.acknowledged = await self._acknowledge_groups(name, key)
        return out

    async def _acknowledge_groups(self, integration: str, dedup_key: str) -> tuple[bool, list[str]]:
        """Acknowledge the on-call groups that hold the identity's firing alerts; groups
        already acknowledged or resolved, and alerts in no escalating group, are left
        as they are (PagerDuty too accepts an acknowledge that changes nothing).
        Whether an alert of the identity fires, and the groups acknowledged."""
        await asyncio.to_thread(self._store.refresh)  # what other replicas committed
        now = self._clock()
        held = [
            a for a in self._store.firing(now) if pd_events.is_of(a.labels, integration, dedup_key)
        ]
        done: list[str] = []
        groups = await asyncio.to_thread(self._groups_of, [a.labels for a in held])
        for group_id in sorted(groups):
            comment = f"acknowledge event, dedup_key {dedup_key}"
            try:
                await self._acknowledge(group_id, integration, comment)
            except (LookupError, OncallRefused):
                continue
            done.append(group_id)
        return bool(held), done
