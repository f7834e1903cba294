"""The registry: a receiver's integrations, in order, with send_resolved applied."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from msgspec.structs import replace

from tocsin.alerts.model import Alert
from tocsin.config.decode import Secret
from tocsin.config.receivers import (
    EmailConfig,
    OpsGenieConfig,
    PagerdutyConfig,
    Receiver,
    SlackConfig,
    WebhookConfig,
)
from tocsin.notify.channels.http import ClientPool
from tocsin.notify.channels.registry import integrations
from tocsin.notify.message import Notification
from tocsin.notify.outcome import OutcomeKind

NOW = datetime(2024, 1, 1, tzinfo=UTC)
# Nothing listens on port 1: a send that reached the network would fail, not pass.
NOWHERE = "http://127.0.0.1:1/"


def resolved_only() -> Notification:
    a = Alert(
        "f", {"a": "1"}, {}, NOW - timedelta(hours=1), NOW - timedelta(minutes=1), "", NOW, False
    )
    return Notification("r", "k", {}, (a,), NOW)


RECEIVER = Receiver(
    name="r",
    webhook_configs=(
        WebhookConfig(url=Secret(NOWHERE)),
        WebhookConfig(url=Secret(NOWHERE), send_resolved=False),
    ),
    slack_configs=(SlackConfig(api_url=Secret(NOWHERE)),),
    email_configs=(EmailConfig(to="a@x", from_="b@x", smarthost="127.0.0.1:1"),),
    pagerduty_configs=(PagerdutyConfig(routing_key=Secret("k"), url=NOWHERE),),
    opsgenie_configs=(OpsGenieConfig(),),
)


def test_integrations_in_order_with_their_settings() -> None:
    async def run() -> list[tuple[str, int, bool]]:
        async with ClientPool() as pool:
            return [
                (i.name, i.index, i.send_resolved) for i in integrations(RECEIVER, clients=pool)
            ]

    assert asyncio.run(run()) == [
        ("email", 0, False),
        ("opsgenie", 0, True),
        ("pagerduty", 0, True),
        ("slack", 0, False),
        ("webhook", 0, True),
        ("webhook", 1, False),
    ]


def test_unpacks_as_name_index_send() -> None:
    async def run() -> None:
        async with ClientPool() as pool:
            name, index, send = integrations(RECEIVER, clients=pool)[0]
            assert (name, index) == ("email", 0)
            assert callable(send)

    asyncio.run(run())


def test_send_resolved_false_skips_resolved_only_notifications() -> None:
    async def run() -> dict[tuple[str, int], OutcomeKind]:
        async with ClientPool() as pool:
            found = integrations(RECEIVER, clients=pool)
            outcomes = await asyncio.gather(*(i.send(resolved_only()) for i in found))
            return {(i.name, i.index): o.kind for i, o in zip(found, outcomes, strict=True)}

    kinds = asyncio.run(run())
    # Skipped without touching the network: reported as done.
    assert kinds[("email", 0)] is OutcomeKind.SENT
    assert kinds[("slack", 0)] is OutcomeKind.SENT
    assert kinds[("webhook", 1)] is OutcomeKind.SENT
    # Sent (and failing: nothing listens) where resolved alerts are wanted.
    assert kinds[("webhook", 0)] is OutcomeKind.RETRYABLE
    assert kinds[("pagerduty", 0)] is OutcomeKind.RETRYABLE
    assert kinds[("opsgenie", 0)] is OutcomeKind.PERMANENT


def test_news_is_sent_whatever_send_resolved_says() -> None:
    """An incident's resolution, announced, is news in itself: sent (here failing:
    nothing listens) even where send_resolved is false."""

    async def run() -> dict[tuple[str, int], OutcomeKind]:
        async with ClientPool() as pool:
            found = integrations(RECEIVER, clients=pool)
            news = replace(resolved_only(), news=True)
            outcomes = await asyncio.gather(*(i.send(news) for i in found))
            return {(i.name, i.index): o.kind for i, o in zip(found, outcomes, strict=True)}

    kinds = asyncio.run(run())
    assert kinds[("webhook", 1)] is OutcomeKind.RETRYABLE
    assert kinds[("slack", 0)] is OutcomeKind.RETRYABLE
