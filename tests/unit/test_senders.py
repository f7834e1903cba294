"""The delivery worker's sender: a notification for a receiver, or an integration, this
replica's configuration does not have is retried for ``RELOAD_GRACE`` (another replica
decided it from a config reloaded first, or a reload here brings it), then given up
(the receiver was removed on purpose): never given up at once, never retried for an
hour; and its failures raise no self-alert."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.alerts.model import PostedAlert
from tocsin.config.decode import Secret
from tocsin.config.model import TocsinSettings
from tocsin.config.receivers import Receiver, WebhookConfig
from tocsin.engine.health import ALERTNAME, ReceiverHealth
from tocsin.engine.senders import RELOAD_GRACE, ChannelSender
from tocsin.notify.message import Notification
from tocsin.notify.outbox import OutboxItem, new_item
from tocsin.notify.outcome import Outcome, OutcomeKind

NOW = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
KNOWN = {
    "storm": Receiver(
        name="storm", webhook_configs=(WebhookConfig(url=Secret("http://127.0.0.1:9/")),)
    )
}
GONE = "receiver 'stormx' is not in this replica's configuration"
NO_INTEGRATION = "receiver 'storm' has no integration webhook[1] in this replica's configuration"


def item(receiver: str, integration: str) -> OutboxItem:
    note = Notification(receiver, "{}:{}", {}, (), NOW, idempotency_key="k")
    return new_item("1", receiver, integration, note, NOW)


GRACE = RELOAD_GRACE


@pytest.mark.parametrize(
    ("receiver", "integration", "age", "alone", "kind", "said"),
    [
        # a rolling reload: retried, by whichever replica claims it next
        ("stormx", "webhook[0]", timedelta(0), True, OutcomeKind.RETRYABLE, f"{GONE} (reload"),
        ("storm", "webhook[1]", timedelta(0), True, OutcomeKind.RETRYABLE, NO_INTEGRATION),
        (
            "stormx",
            "webhook[0]",
            GRACE - timedelta(seconds=1),
            True,
            OutcomeKind.RETRYABLE,
            f"{GONE} (reload every replica with the same file)",
        ),
        # still missing after any reload would have finished: removed on purpose
        (
            "stormx",
            "webhook[0]",
            GRACE,
            True,
            OutcomeKind.PERMANENT,
            f"{GONE}, 10 minutes after it was decided: removed from the configuration",
        ),
        ("storm", "webhook[1]", GRACE, True, OutcomeKind.PERMANENT, f"{NO_INTEGRATION}, 10 min"),
        # with other replicas, this one may be the one never reloaded: left to them
        ("stormx", "webhook[0]", GRACE, False, OutcomeKind.RETRYABLE, f"{GONE} (reload"),
    ],
)
def test_what_this_replica_cannot_send(
    receiver: str, integration: str, age: timedelta, alone: bool, kind: OutcomeKind, said: str
) -> None:
    async def send() -> Outcome:
        sender = ChannelSender(KNOWN.get, clock=lambda: NOW + age, alone=lambda: alone)
        try:
            return await sender(item(receiver, integration))
        finally:
            await sender.close()

    outcome = asyncio.run(send())
    assert outcome.kind is kind
    assert outcome.message.startswith(said)


@pytest.mark.parametrize(
    ("receiver", "integration", "raised"),
    [
        ("storm", "webhook[0]", True),
        ("stormx", "webhook[0]", False),
        ("storm", "webhook[1]", False),
    ],
    ids=["configured: failing", "receiver not configured", "integration not configured"],
)
def test_only_a_configured_receiver_failing_raises_the_self_alert(
    receiver: str, integration: str, raised: bool
) -> None:
    posted: list[PostedAlert] = []

    async def post(alerts: list[PostedAlert]) -> None:
        posted.extend(alerts)

    async def enqueue(items: list[OutboxItem]) -> None:
        return None

    async def main() -> None:
        sender = ChannelSender(KNOWN.get, clock=lambda: NOW)
        health = ReceiverHealth(
            lambda: NOW,
            lambda: TocsinSettings(failing_after=2),
            KNOWN.get,
            post,
            enqueue,
            sender.configured,
        )
        try:
            for _ in range(3):
                health.on_attempt(item(receiver, integration), Outcome.retryable("refused"))
            await health.settled()
        finally:
            await sender.close()

    asyncio.run(main())
    assert [a.labels["alertname"] for a in posted][:1] == ([ALERTNAME] if raised else [])
