"""The delivery worker: sends what the outbox holds, on time, and never forgets it.

It leases due items (a writer op, so on SQLite it shares the single writer and on
PostgreSQL replicas claim side by side with SKIP LOCKED), sends each in its own task so
that one slow or dead receiver never holds up the others, and records every attempt.
A crash between the send and the record leaves a lease that expires: the item is sent
again with the same idempotency key (at least once, never zero times).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from tocsin.core.outbox_ops import ClaimDue, GiveBack, RecordAttempt, Release, Supersede
from tocsin.engine.loop import KickedLoop
from tocsin.notify.outbox import DeliveryStatus, OutboxItem
from tocsin.notify.outcome import Outcome
from tocsin.notify.retry import RetryPolicy
from tocsin.outage import Outage
from tocsin.store.writer import GroupCommitter
from tocsin.timeutil import Clock

log = logging.getLogger(__name__)

# An item is sent only with at least this share of its lease left: a send started
# near the lease's end could still be going when another worker claims the item. (The
# default lease, 60 s, leaves 30 s: the default channel timeout. A receiver configured
# with a longer timeout can still outlive the lease: at least once, as after a crash.)
LEASE_LEFT = 0.5

Sender = Callable[[OutboxItem], Awaitable[Outcome]]
Listener = Callable[[OutboxItem, Outcome], None]
# Told of every send as it ends, recorded or not: the item, its outcome, the seconds it took.
Timer = Callable[[OutboxItem, Outcome, float], None]


@dataclass
class DeliverySettings:
    concurrency: int = 64  # items held at once (sending or waiting), over all receivers
    per_receiver: int = 8  # sends in flight to one receiver
    # Items one receiver may hold (sending or waiting for one of its send slots): a
    # dead receiver with a long queue can take this many of the ``concurrency`` slots
    # and no more, so the others are still served.
    per_receiver_queue: int = 32
    # Items handed over by the dispatcher one receiver may hold (beyond its claim share).
    handoff_hold: int = 1024
    lease: timedelta = timedelta(seconds=60)  # longer than any channel's timeout
    poll: timedelta = timedelta(milliseconds=500)  # how often to look when not kicked
    # How long an attempt's record may wait to share the next transaction (GroupCommitter's
    # linger): its caller is no request, and at a few alerts a second the next alert's
    # commit comes within this, so a notification costs two commits, not three.
    record_linger: timedelta = timedelta(milliseconds=50)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    # How long a shutdown waits for the sends in flight to finish and be recorded
    # (see ``drain``).
    drain: timedelta = timedelta(seconds=10)


class DeliveryWorker:
    def __init__(
        self,
        writer: GroupCommitter,
        clock: Clock,
        sender: Sender,
        settings: DeliverySettings | None = None,
        rng: random.Random | None = None,
        moot: Callable[[OutboxItem], Awaitable[str | None]] | None = None,
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._sender = sender
        # asked before a send: why the item need not go any more (a page whose group
        # was acknowledged since it was decided), or None
        self._moot = moot
        self.settings = settings or DeliverySettings()
        self._rng = rng or random.Random()
        self.loop = KickedLoop("delivery")
        # A receiver that keeps failing is logged as an outage: its first failure, then
        # a line every 10 s with how many since, and when it works again (500
        # notifications to a dead webhook logged a line per retry: 3,764 a minute).
        self._failing_targets: dict[str, Outage] = {}
        self._in_flight: set[asyncio.Task[Any]] = set()
        # each held item's task, and the items still waiting for a send slot: at a
        # shutdown those are given back at once (their leases would hold them a minute)
        self._held: dict[asyncio.Task[Any], OutboxItem] = {}
        self._queued: set[str] = set()
        self._busy: dict[str, int] = {}  # items held per receiver
        # the held items that came from a claim (not handed over by the dispatcher):
        # only they count against ``concurrency`` (see ``_claim``)
        self._claimed: set[asyncio.Task[Any]] = set()
        self._gates: dict[str, asyncio.Semaphore] = {}  # send slots per receiver
        self.listeners: list[Listener] = []  # after the attempt's record committed
        self.timers: list[Timer] = []
        # Whether the last claim filled every free slot: more may be due, so the loop
        # claims again at once. Otherwise it waits for a kick or the poll.
        self._full = False
        # Receivers at their share whose items the last claim left in the outbox
        # (skipped, or given back): a finished send of one of them claims at once.
        # Otherwise (and unless the claim was full) the outbox had nothing more for this
        # worker, and a finished send needs no claim (new items kick, retries are
        # polled): at a few alerts a second that claim was one of four transactions
        # per alert, and in a burst to one receiver one per send.
        self._waiting: frozenset[str] = frozenset()
        self._draining = False  # shutting down: nothing new is claimed or started

    @property
    def in_flight(self) -> int:
        """Items this worker holds (sending, or waiting for a send slot)."""
        return len(self._in_flight)

    def adopt(self, items: Sequence[OutboxItem]) -> None:
        """Items just committed (on this loop's thread): send those leased to this
        process at once, without a claim that would read them back; the others wait
        for a claim (the kick).

        A receiver may hold up to ``handoff_hold`` of them, past its claim share:
        giving them back only for a claim to read them again is pure waste when the
        receiver is merely busy, and one that is dead cannot hold them past their
        lease (see ``_deliver``). What is over even that is given back."""
        now = self._clock()
        extra: list[str] = []
        unleased = False
        for item in items:
            if self._draining:
                if item.lease_until > now:  # given back for whoever runs next
                    extra.append(item.id)
            elif item.lease_until <= now:
                unleased = True
            elif self._busy.get(item.receiver, 0) >= self.settings.handoff_hold:
                extra.append(item.id)
            else:
                self._start(item)
        if extra:
            task = asyncio.create_task(self._writer.run(Release(extra)))
            self._in_flight.add(task)
            task.add_done_callback(partial(self._finished, None))
        if unleased or extra:
            self.kick()

    def kick(self) -> None:
        """New items were committed: look now rather than at the next poll (any thread)."""
        self.loop.kick()

    async def run(self) -> None:
        try:
            await self.loop.run(self._round, self.settings.poll.total_seconds)
        finally:
            for task in self._in_flight:
                task.cancel()

    async def _round(self) -> bool:
        """Claim what is due; True (claim again at once) when the claim filled every
        free slot, as more may be due. Otherwise the outbox had nothing more for now,
        and the loop waits for a kick or the poll."""
        await self._claim()
        return self._full

    async def _give_back_late(self, item: OutboxItem) -> None:
        linger = self.settings.record_linger.total_seconds()
        try:
            await self._writer.run(GiveBack([item]), linger=linger)
        except Exception:
            log.exception("giving back %s, which waited past its lease", item.id)

    def _failing_target(self, to: str) -> Outage:
        found = self._failing_targets.get(to)
        if found is None:
            found = self._failing_targets[to] = Outage(log, f"sending to {to}")
        return found

    def drain(self) -> Awaitable[None]:
        """Stop taking items, at once, and wait (``settings.drain`` at most) for the
        sends in flight to finish and be recorded. A rolling restart that cut them off
        would leave their leases to lapse: another replica would send them again a
        lease later, perhaps after newer news of their groups had gone out."""
        self._draining = True
        return self._finish_in_flight()

    async def _finish_in_flight(self) -> None:
        # Claimed but not begun (waiting for a send slot): stopped and given back now,
        # so another replica sends them at once, not when their leases lapse.
        waiting = {t: i for t, i in self._held.items() if i.id in self._queued}
        for task in waiting:
            task.cancel()
        if waiting:
            await asyncio.wait(set(waiting))
            await self._writer.run(GiveBack(list(waiting.values())))
        if not self._in_flight:
            return
        _, left = await asyncio.wait(
            set(self._in_flight), timeout=self.settings.drain.total_seconds()
        )
        if left:
            log.warning(
                "%d notification(s) still being sent at shutdown: sent again once their "
                "leases lapse",
                len(left),
            )

    async def _claim(self) -> None:
        if self._draining:
            self._full = False  # (or the loop would come straight back)
            return
        # Only claimed items take claim slots. Those handed over by the dispatcher
        # (``adopt``) have their own bound (``handoff_hold`` per receiver) and their
        # receiver is skipped by the claim once at its share: counted here, one slow
        # receiver's hand-over backlog (a storm's audit webhook, 1,024 held) left no
        # slot to claim with, and every item that needs a claim (a retry, a release,
        # an on-call page) of every other receiver waited for that backlog to drain.
        free = self.settings.concurrency - len(self._claimed)
        if free <= 0:
            self._full = True
            await asyncio.wait(self._claimed, return_when=asyncio.FIRST_COMPLETED)
            return
        now = self._clock()
        cap = self._receiver_cap()
        busy = tuple(sorted(r for r, n in self._busy.items() if n >= cap))
        # only the receivers this claim skips wait for a slot of their own: one that
        # falls below its share while the claim runs is in it (a wake-up for it would
        # be a needless claim, one more under a slow writer)
        self._waiting = frozenset(busy)
        claim = ClaimDue(now, now + self.settings.lease, free, busy)
        items = await self._writer.run(claim)
        extra: list[str] = []
        for item in items:
            # A receiver may not take more than its share, or one dead receiver with a
            # long queue would fill every slot: what is over its share goes back.
            if self._busy.get(item.receiver, 0) >= cap:
                extra.append(item.id)
                continue
            self._claimed.add(self._start(item))
        self._full = claim.taken >= free  # (superseded items took a slot of the claim)
        self._waiting = frozenset(busy) | {i.receiver for i in items if i.id in extra}
        if extra:
            await self._writer.run(Release(extra))

    def _receiver_cap(self) -> int:
        # at most half of all slots to one receiver, however its queue is configured
        return max(1, min(self.settings.per_receiver_queue, self.settings.concurrency // 2))

    def _start(self, item: OutboxItem) -> asyncio.Task[Any]:
        self._busy[item.receiver] = self._busy.get(item.receiver, 0) + 1
        task = asyncio.create_task(self._deliver(item))
        self._in_flight.add(task)
        self._held[task] = item
        task.add_done_callback(partial(self._finished, item.receiver))
        return task

    def _finished(self, receiver: str | None, task: asyncio.Task[Any]) -> None:
        # A slot is free: claim more now, not at the next poll, if more may be due
        # (for this receiver: it is below its share again).
        self._in_flight.discard(task)
        self._claimed.discard(task)
        self._held.pop(task, None)
        if self._full or (
            receiver in self._waiting and self._busy.get(receiver, 0) < self._receiver_cap()
        ):
            self.loop.wake()

    async def _deliver(self, item: OutboxItem) -> None:
        gate = self._gates.setdefault(item.receiver, asyncio.Semaphore(self.settings.per_receiver))
        self._queued.add(item.id)
        late = False
        try:
            async with gate:
                self._queued.discard(item.id)  # its slot: a shutdown lets it finish
                if self._draining:
                    # its turn came during a shutdown (given back by the drain): not
                    # started, to be cut off in mid-send
                    return
                if self._clock() >= item.lease_until - self.settings.lease * LEASE_LEFT:
                    # It waited for its turn too long to start now. Given back (while
                    # its lease is still this worker's) as never begun: left to lapse,
                    # the next claim recorded an attempt that "may have been delivered"
                    # (a storm's queue wrote thousands, and counted them as sends).
                    log.debug("%s to %s: lease ran out before its turn", item.id, item.integration)
                    late = True
                    return
                if self._moot is not None:
                    why = await self._moot(item)
                    if why is not None:
                        await self._writer.run(Supersede(item, why, self._clock()))
                        log.info("%s to %s/%s: %s", item.id, item.receiver, item.integration, why)
                        return
                started = time.perf_counter()
                try:
                    outcome = await self._sender(item)
                except Exception as exc:  # a bug in a channel must not stop delivery
                    log.exception("sending %s to %s failed", item.id, item.integration)
                    outcome = Outcome.retryable(f"internal error: {exc!r}")
        finally:
            self._busy[item.receiver] -= 1
            self._queued.discard(item.id)
            if late:
                # out of the receiver's gate, sharing a commit with the others of a
                # storm's queue (linger), and a failure only logged: its lease lapses
                await self._give_back_late(item)
        seconds = time.perf_counter() - started
        for timer in self.timers:
            try:
                timer(item, outcome, seconds)
            except Exception:  # a metric must not keep the attempt from its record
                log.exception("timing %s failed", item.id)
        took = int(seconds * 1_000_000)
        op = RecordAttempt(item, outcome, self._clock(), took, self.settings.policy, self._rng)
        after = await self._writer.run(op, linger=self.settings.record_linger.total_seconds())
        # named as the notification log and the config name it: receiver/integration
        to = f"{item.receiver}/{item.integration}"
        if after is None:
            # The send outlived its lease and another worker claimed the item: its
            # record stands, this attempt is only logged (no retry, no fallback).
            log.info("%s to %s: claimed by another worker meanwhile", item.id, to)
            return
        if after.status is DeliveryStatus.PENDING:
            self._failing_target(to).failed(f"{item.id}: {outcome.message}; retrying")
        elif after.status is DeliveryStatus.FAILED:
            log.warning("%s to %s failed for good: %s", item.id, to, outcome.message)
        elif to in self._failing_targets:
            self._failing_targets.pop(to).succeeded()
        for listener in self.listeners:
            listener(after, outcome)
