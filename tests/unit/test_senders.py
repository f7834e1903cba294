"""The delivery worker's sender: a notification for a receiver, or an integration, this
replica's configuration does not have is retried (another replica decided it from a
config reloaded first, or a reload here brings it), never given up at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tocsin.config.receivers import Receiver
from tocsin.engine.senders import ChannelSender
from tocsin.notify.message import Notification
from tocsin.notify.outbox import new_item
from tocsin.notify.outcome import OutcomeKind

NOW = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("receiver", "integration", "said"),
    [
        ("stormx", "webhook[0]", "receiver 'stormx' is not in this replica's configuration"),
        ("storm", "webhook[1]", "receiver 'storm' has no integration webhook[1]"),
    ],
)
def test_what_this_replica_cannot_send_is_retried(
    receiver: str, integration: str, said: str
) -> None:
    known = {"storm": Receiver(name="storm")}
    note = Notification(receiver, "{}:{}", {}, (), NOW, idempotency_key="k")
    item = new_item("1", receiver, integration, note, NOW)

    async def send() -> tuple[OutcomeKind, str]:
        sender = ChannelSender(known.get)
        try:
            outcome = await sender(item)
        finally:
            await sender.close()
        return outcome.kind, outcome.message

    kind, message = asyncio.run(send())
    assert kind is OutcomeKind.RETRYABLE
    assert message.startswith(said)
    assert "reload every replica with the same file" in message
