"""Tocsin watches its own deliveries.

A receiver integration that keeps failing raises ``TocsinNotificationsFailing`` (an
ordinary alert in the store, so it is routed, silenced and shown like any other) and
resolves it at its next success. A notification that fails for good goes, where the
``tocsin.fallbacks`` setting names one, to the fallback receiver instead of nowhere.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from msgspec.structs import replace

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import Alert, PostedAlert
from tocsin.alerts.routing import build_route_tree, match
from tocsin.config.model import Config, TocsinSettings
from tocsin.config.receivers import Receiver
from tocsin.notify.message import tells_of_acks
from tocsin.notify.outbox import DeliveryStatus, OutboxItem, new_item
from tocsin.notify.outcome import Outcome, OutcomeKind
from tocsin.oncall.unheard import NOBODY_PAGED
from tocsin.timeutil import Clock

log = logging.getLogger(__name__)

ALERTNAME = "TocsinNotificationsFailing"
# The self-alert stays firing this long after the last failure unless refreshed, so a
# Tocsin that stops trying (a reload removed the receiver) does not leave it forever.
FIRING_FOR = timedelta(minutes=15)
# A self-alert not refreshed for this long was raised before a restart (or by a replica
# that no longer fails): the first success resolves it.
STALE = timedelta(minutes=1)


def self_alert_loops(config: Config) -> list[str]:
    """Where the alert about failing pages would only page again the same ways: a
    warning each, for ``check-config``. A route that catches
    ``alertname="TocsinNotificationsFailing"`` first and sends it to a receiver without
    an escalation policy (chat, a webhook, another e-mail) breaks the loop; so does a
    fallback. At 3 a.m. the page saying pages fail is sent by the failing page.
    (Receivers without a policy are Alertmanager's business: a config with one
    receiver has nowhere else to send it, and is not warned about.)"""
    root = build_route_tree(config)
    policies = {r.name for r in config.receivers if r.escalation_policy}
    found: list[str] = []

    def only_paged(alertname: str, about: str) -> list[str]:
        labels = {"alertname": alertname, "receiver": about, "severity": "critical"}
        targets = list(dict.fromkeys(node.receiver for node in match(root, labels)))
        return targets if targets and all(name in policies for name in targets) else []

    for about in [*sorted(policies), "person:anyone"]:
        if about in config.tocsin.fallbacks:
            continue
        if targets := only_paged(ALERTNAME, about):
            what = "pages to people" if about == "person:anyone" else f"receiver {about!r}"
            found.append(
                f"receivers: {ALERTNAME} about failing {what} is routed only to "
                f"escalation ({', '.join(targets)}), which pages the same ways: route "
                f'alertname="{ALERTNAME}" to a receiver without an escalation policy too'
            )
    # (one warning: the alert says which receiver's escalation reached nobody; where
    # it goes does not depend on that)
    for about in sorted(policies)[:1]:
        if targets := only_paged(NOBODY_PAGED, about):
            found.append(
                f"receivers: {NOBODY_PAGED} (an escalation that reached nobody: an empty "
                f"schedule) is routed only to escalation ({', '.join(targets)}), which may "
                f'reach nobody the same way: route alertname="{NOBODY_PAGED}" to a '
                "receiver without an escalation policy too (a chat channel, e-mail)"
            )
    return found


def _labels(key: tuple[str, str]) -> dict[str, str]:
    """The self-alert's labels for a (receiver, integration)."""
    receiver, integration = key
    return {
        "alertname": ALERTNAME,
        "receiver": receiver,
        "integration": integration,
        "severity": "critical",
    }


class ReceiverHealth:
    def __init__(
        self,
        clock: Clock,
        settings: Callable[[], TocsinSettings],
        receiver: Callable[[str], Receiver | None],
        post_alerts: Callable[[list[PostedAlert]], Awaitable[object]],
        enqueue: Callable[[list[OutboxItem]], Awaitable[object]],
        configured: Callable[[OutboxItem], bool] = lambda item: True,
        held: Callable[[str], Alert | None] = lambda fingerprint: None,
    ) -> None:
        self._clock = clock
        self._configured = configured
        self._held = held  # the store's alert of a fingerprint
        # integrations whose first success since the start was seen: a self-alert raised
        # before a restart (this process never knew of it) is resolved then, once
        self._seen_working: set[tuple[str, str]] = set()
        self._settings = settings
        self._receiver = receiver
        self._post = post_alerts
        self._enqueue = enqueue
        # each failing run: failures in a row, and when the run began (the self-alert's
        # startsAt; without one, Alertmanager's defaults would start it at its endsAt)
        self._failing: dict[tuple[str, str], tuple[int, datetime]] = {}
        self._raised: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def on_attempt(self, item: OutboxItem, outcome: Outcome) -> None:
        """The delivery worker's listener (runs on the event loop)."""
        key = (item.receiver, item.integration)
        if outcome.kind is OutcomeKind.SENT:
            run = self._failing.pop(key, None)
            if key in self._raised:
                self._raised.discard(key)
                since = None if run is None else run[1]
                self._spawn(self._post([self._alert(key, outcome, since, firing=False)]))
            elif key not in self._seen_working:
                self._resolve_raised_before(key, outcome)
            self._seen_working.add(key)
        elif self._configured(item):
            # (a receiver this replica's configuration lacks, reloaded away or not yet
            # here, is no receiver failing: no self-alert about it)
            count, since = self._failing.get(key, (0, self._clock()))
            count += 1
            self._failing[key] = (count, since)
            if count >= self._settings().failing_after:
                self._raised.add(key)
                self._spawn(self._post([self._alert(key, outcome, since, firing=True)]))
        if item.status is DeliveryStatus.FAILED:
            fallback = self._fallback(item)
            if fallback:
                self._spawn(self._enqueue(fallback))

    def _resolve_raised_before(self, key: tuple[str, str], outcome: Outcome) -> None:
        """The integration works: a self-alert about it that fires (raised before a
        restart, or by another replica) is resolved, not left firing for its
        ``FIRING_FOR``."""
        found = self._held(fingerprint(_labels(key)))
        now = self._clock()
        # not one another replica still failing keeps refreshing (a flap at each of
        # its failures): only one left from before, unrefreshed for a while
        if found is not None and not found.resolved(now) and found.updated_at < now - STALE:
            self._spawn(self._post([self._alert(key, outcome, found.starts_at, firing=False)]))

    def _alert(
        self, key: tuple[str, str], outcome: Outcome, since: datetime | None, firing: bool
    ) -> PostedAlert:
        now = self._clock()
        receiver, integration = key
        return PostedAlert(
            labels=_labels(key),
            annotations={
                "summary": f"Notifications to {receiver} ({integration}) are failing",
                "description": outcome.message,
            },
            starts_at=since or now,
            ends_at=now + FIRING_FOR if firing else now,
            generator_url="",
        )

    def _fallback(self, item: OutboxItem) -> list[OutboxItem]:
        target_name = self._settings().fallbacks.get(item.receiver)
        target = self._receiver(target_name) if target_name else None
        if target is None:
            return []
        now = self._clock()
        note = replace(
            item.notification,
            receiver=target.name,
            idempotency_key=f"{item.idempotency_key}/fallback",
        )
        log.warning("notification %s failed for good; falling back to %s", item.id, target.name)
        names = [f"{kind}[{index}]" for kind, index, _ in target.integrations()]
        if note.acknowledged_by:  # a notice, not a page: where it reads as one, not sent
            names = [n for n in names if tells_of_acks(n)]
        return [new_item(str(uuid.uuid4()), target.name, n, note, now) for n in names]

    async def settled(self) -> None:
        """Wait for the self-alerts and fallbacks spawned so far to be handed over."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def _spawn(self, work: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("recording delivery health failed")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
