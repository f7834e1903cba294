"""A notification given up falls back to the receiver ``tocsin.fallbacks`` names, on
each of its integrations; an acknowledgement notice only where it reads as one (not a
webhook, whose payload would read as a page, nor PagerDuty)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from msgspec.structs import replace

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import Alert, PostedAlert
from tocsin.config.decode import Secret
from tocsin.config.model import TocsinSettings
from tocsin.config.receivers import EmailConfig, PagerdutyConfig, Receiver, WebhookConfig
from tocsin.engine.health import ALERTNAME, ReceiverHealth
from tocsin.notify.message import Notification
from tocsin.notify.outbox import DeliveryStatus, OutboxItem, new_item
from tocsin.notify.outcome import Outcome

NOW = datetime(2026, 12, 7, 22, 30, tzinfo=UTC)
FALLBACK = Receiver(
    name="fb",
    webhook_configs=(WebhookConfig(url=Secret("http://127.0.0.1:9/hook")),),
    email_configs=(EmailConfig(to="ops@example.org"),),
    pagerduty_configs=(PagerdutyConfig(routing_key=Secret("k")),),
)


@pytest.mark.parametrize(
    ("acknowledged_by", "integrations"),
    [("", ["webhook[0]", "email[0]", "pagerduty[0]"]), ("bob", ["email[0]"])],
    ids=["a page", "an acknowledgement notice"],
)
def test_a_failed_notification_falls_back(acknowledged_by: str, integrations: list[str]) -> None:
    enqueued: list[OutboxItem] = []

    async def enqueue(items: list[OutboxItem]) -> None:
        enqueued.extend(items)

    async def post(alerts: list[PostedAlert]) -> None:
        return None

    health = ReceiverHealth(
        lambda: NOW,
        lambda: TocsinSettings(fallbacks={"pager": "fb"}),
        {"fb": FALLBACK}.get,
        post,
        enqueue,
    )
    note = Notification("pager", "{}:{}", {}, (), NOW, acknowledged_by=acknowledged_by)
    failed = replace(new_item("1", "pager", "email[0]", note, NOW), status=DeliveryStatus.FAILED)

    async def main() -> None:
        health.on_attempt(failed, Outcome.permanent("550 no such user"))
        await health.settled()

    asyncio.run(main())
    assert sorted(i.integration for i in enqueued) == sorted(integrations)


@pytest.mark.parametrize(
    ("held_ends", "refreshed", "resolved"),
    [
        # raised before a restart, still firing
        (NOW + timedelta(minutes=10), NOW - timedelta(minutes=5), True),
        # over already: nothing to say
        (NOW - timedelta(minutes=1), NOW - timedelta(minutes=16), False),
        (None, NOW, False),  # never raised
        # refreshed a moment ago: another replica fails still, its alert stands
        (NOW + timedelta(minutes=15), NOW - timedelta(seconds=5), False),
    ],
    ids=["firing", "resolved already", "none", "another replica's, fresh"],
)
def test_a_self_alert_raised_before_a_restart_resolves_at_the_first_success(
    held_ends: datetime | None, refreshed: datetime, resolved: bool
) -> None:
    """This process never raised it (its failures were counted by the one before a
    restart, or by another replica): the integration's first success resolves the
    store's firing TocsinNotificationsFailing, once."""
    posted: list[PostedAlert] = []
    started = NOW - timedelta(minutes=5)
    labels = {
        "alertname": ALERTNAME,
        "receiver": "pager",
        "integration": "email[0]",
        "severity": "critical",
    }
    stored: dict[str, Alert] = {}
    if held_ends is not None:
        alert = Alert(fingerprint(labels), labels, {}, started, held_ends, "", refreshed, False)
        stored[alert.fingerprint] = alert

    async def post(alerts: list[PostedAlert]) -> None:
        posted.extend(alerts)

    async def enqueue(items: list[OutboxItem]) -> None:
        return None

    def no_receiver(name: str) -> Receiver | None:
        return None

    health = ReceiverHealth(
        lambda: NOW, TocsinSettings, no_receiver, post, enqueue, held=stored.get
    )
    note = Notification("pager", "{}:{}", {}, (), NOW)
    sent = new_item("1", "pager", "email[0]", note, NOW)

    async def main() -> None:
        for _ in range(2):
            health.on_attempt(sent, Outcome.sent("250 OK"))
        await health.settled()

    asyncio.run(main())
    if not resolved:
        assert posted == []
        return
    (ended,) = posted  # once, not at every success
    assert ended.labels == labels
    assert (ended.starts_at, ended.ends_at) == (started, NOW)
