"""The delivery worker's sender: an outbox item -> the configured channel -> an Outcome.

The receiver and integration are looked up in the configuration in force when the item
is sent (not when it was decided), so fixing a receiver's URL and reloading also fixes
the notifications already queued for it. One this replica's configuration does not
have is retried (by any replica) for ``RELOAD_GRACE``, not given up at once: replicas
reload one after another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tocsin.config.receivers import Receiver
from tocsin.notify.channels.http import ClientPool
from tocsin.notify.channels.registry import Integration, integrations
from tocsin.notify.outbox import OutboxItem
from tocsin.notify.outcome import Outcome
from tocsin.notify.templates import DEFAULT_TEMPLATES, Templates
from tocsin.timeutil import Clock, utcnow

# How long a notification for a receiver (or an integration) the configuration lacks
# is retried: longer than any rolling reload, so that the replica reloaded last still
# sends what the first decided. After it, on a replica alone, the receiver was removed
# on purpose: failed for good (to its fallback, where one is configured), not retried
# for an hour.
RELOAD_GRACE = timedelta(minutes=10)


class ChannelSender:
    def __init__(
        self,
        receiver: Callable[[str], Receiver | None],
        templates: Callable[[], Templates] = lambda: DEFAULT_TEMPLATES,
        clock: Clock = utcnow,
        alone: Callable[[], bool] = lambda: True,
    ) -> None:
        self._receiver = receiver
        self._templates = templates
        self._clock = clock
        self._alone = alone  # no other replica seen lately
        self.clients = ClientPool()
        # integrations per receiver, rebuilt when the receiver's config object changes
        self._cache: dict[str, tuple[Receiver, dict[str, Integration]]] = {}

    async def __call__(self, item: OutboxItem) -> Outcome:
        found = self._integration(item)
        if isinstance(found, Integration):
            return await found.send(item.notification)
        # Not in this replica's configuration: another replica, already reloaded with
        # a config that has it, decided it (a rolling reload), or this one will have
        # it once reloaded. Retried, by whichever replica claims it next; failed at
        # once, it was lost for good.
        # Given up only by a replica alone: with others, the one never reloaded may be
        # this one, and the others send it (retried until the retry policy gives up).
        if self._clock() - item.created_at < RELOAD_GRACE or not self._alone():
            return Outcome.retryable(f"{found} (reload every replica with the same file)")
        minutes = RELOAD_GRACE.total_seconds() / 60
        return Outcome.permanent(
            f"{found}, {minutes:.0f} minutes after it was decided: removed from the "
            "configuration, given up"
        )

    def configured(self, item: OutboxItem) -> bool:
        """Whether this replica's configuration has the item's receiver and integration
        (a failure of one it lacks says nothing of the receiver's health)."""
        return isinstance(self._integration(item), Integration)

    def _integration(self, item: OutboxItem) -> Integration | str:
        """The integration that sends ``item``, or why there is none."""
        receiver = self._receiver(item.receiver)
        if receiver is None:
            return f"receiver {item.receiver!r} is not in this replica's configuration"
        cached = self._cache.get(item.receiver)
        if cached is None or cached[0] is not receiver:
            built = integrations(receiver, clients=self.clients, templates=self._templates())
            cached = (receiver, {f"{i.name}[{i.index}]": i for i in built})
            self._cache[item.receiver] = cached
        integration = cached[1].get(item.integration)
        if integration is None:
            return (
                f"receiver {item.receiver!r} has no integration {item.integration} in this "
                "replica's configuration"
            )
        return integration

    async def close(self) -> None:
        await self.clients.aclose()
