"""A notification given up falls back to the receiver ``tocsin.fallbacks`` names, on
each of its integrations; an acknowledgement notice only where it reads as one (not a
webhook, whose payload would read as a page, nor PagerDuty)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from msgspec.structs import replace

from tocsin.alerts.model import PostedAlert
from tocsin.config.decode import Secret
from tocsin.config.model import TocsinSettings
from tocsin.config.receivers import EmailConfig, PagerdutyConfig, Receiver, WebhookConfig
from tocsin.engine.health import ReceiverHealth
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
