"""The delivery worker's sender: an outbox item -> the configured channel -> an Outcome.

The receiver and integration are looked up in the configuration in force when the item
is sent (not when it was decided), so fixing a receiver's URL and reloading also fixes
the notifications already queued for it. One this replica's configuration does not
have is retried (by any replica), not given up: replicas reload one after another.
"""

from __future__ import annotations

from collections.abc import Callable

from tocsin.config.receivers import Receiver
from tocsin.notify.channels.http import ClientPool
from tocsin.notify.channels.registry import Integration, integrations
from tocsin.notify.outbox import OutboxItem
from tocsin.notify.outcome import Outcome
from tocsin.notify.templates import DEFAULT_TEMPLATES, Templates


class ChannelSender:
    def __init__(
        self,
        receiver: Callable[[str], Receiver | None],
        templates: Callable[[], Templates] = lambda: DEFAULT_TEMPLATES,
    ) -> None:
        self._receiver = receiver
        self._templates = templates
        self.clients = ClientPool()
        # integrations per receiver, rebuilt when the receiver's config object changes
        self._cache: dict[str, tuple[Receiver, dict[str, Integration]]] = {}

    async def __call__(self, item: OutboxItem) -> Outcome:
        receiver = self._receiver(item.receiver)
        # Not in this replica's configuration: another replica, already reloaded with
        # a config that has it, decided it (a rolling reload), or this one will have
        # it once reloaded. Retried, by whichever replica claims it next, until the
        # retry policy gives up; failed at once, it was lost for good.
        if receiver is None:
            return Outcome.retryable(
                f"receiver {item.receiver!r} is not in this replica's configuration "
                "(reload every replica with the same file)"
            )
        cached = self._cache.get(item.receiver)
        if cached is None or cached[0] is not receiver:
            built = integrations(receiver, clients=self.clients, templates=self._templates())
            cached = (receiver, {f"{i.name}[{i.index}]": i for i in built})
            self._cache[item.receiver] = cached
        integration = cached[1].get(item.integration)
        if integration is None:
            return Outcome.retryable(
                f"receiver {item.receiver!r} has no integration {item.integration} in this "
                "replica's configuration (reload every replica with the same file)"
            )
        return await integration.send(item.notification)

    async def close(self) -> None:
        await self.clients.aclose()
