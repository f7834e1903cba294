"""The shape every engine loop shares: run a step whenever something is kicked (from any
thread: the writer's commits, the API) or at the latest when the step's own next due time
comes, and survive a failing step (log it, try again next round)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tocsin.outage import Outage

T = TypeVar("T")

# What a step returns when it did nothing (nothing was due): it says nothing of whether
# the database is back, so it neither ends an outage nor counts as a failure (a loop
# that alternated failed and idle rounds logged a traceback at every failure).
IDLE = "idle"
# Seconds before a failed step is tried again, at most (sooner if its loop's own sleep
# is shorter): the database back, the loop works and says so within this.
RETRY_FAILED = 5.0
# The first retry of a failed step waits at least this, each next one twice as long up
# to RETRY_FAILED: a loop whose own sleep is a tick (dispatch) asked a database that was
# away 30 times a second.
FIRST_RETRY = 0.1

log = logging.getLogger(__name__)


class KickedLoop:
    def __init__(self, name: str) -> None:
        self.name = name
        # for /metrics: a loop whose steps keep failing sends, pages or flushes nothing,
        # while the API still answers
        self.failures = 0  # steps failed so far
        self.outage = Outage(log, f"{name} step")  # logs a long run of failed steps
        self.outage_rounds = 0  # rounds in a row that ended failing: the retry's backoff
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def failing(self) -> bool:
        """Whether the last step failed."""
        return self.outage.failing

    def kick(self) -> None:
        """Run the step soon (safe from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def wake(self) -> None:
        """:meth:`kick` from the loop's own thread: no hand-off through its self-pipe."""
        self._wake.set()

    async def run(
        self, step: Callable[[], Awaitable[object]], sleep_seconds: Callable[[], float]
    ) -> None:
        """Run ``step`` forever; a step that returns ``True`` (it stopped at its batch
        limit: more is due) is followed by the next at once, without sleeping; one
        that returns ``IDLE`` did nothing, and ends no outage."""
        self._loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()  # before the step: a kick during the step counts
            more = failed = False
            try:
                result = await step()
            except Exception as exc:
                self.outage.failed(exc)  # retried next round
                self.failures += 1
                failed = True
            else:
                more = result is True
                if result != IDLE:
                    self.outage.succeeded()
            if more:
                continue
            wait = sleep_seconds()
            if self.failing:  # soon again: a loop that refreshes every minute or hour
                wait = min(wait, RETRY_FAILED)  # stayed "failing" that long after a fix
            if failed:  # but not at once, round after failed round
                wait = max(wait, _backoff(self.outage_rounds))
                self.outage_rounds += 1
            elif not self.failing:
                # (an idle round after a failure keeps the loop's own sleep: a quiet
                # dispatcher still flushes on its tick)
                self.outage_rounds = 0
            await wait_or_timeout(self._wake, wait)


def _backoff(rounds: int) -> float:
    """The wait after the ``rounds``-th failed round in a row (0: the first)."""
    doubled = FIRST_RETRY * float(2 ** min(rounds, 16))  # (2.0**1024 overflows)
    return min(RETRY_FAILED, doubled)


async def wait_or_timeout(event: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` is set or ``seconds`` have passed.

    Not ``asyncio.wait_for(event.wait(), ...)``: on Python 3.11 that runs the wait as a
    task of its own, and a cancellation can leave the caller waiting for that task
    forever (seen in the API tests, about one run in four of a file of short tests: the
    delivery worker, cancelled at shutdown, never finished, so the app never stopped).
    ``asyncio.timeout`` waits in the caller's own task."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


class OnLoop:
    """Runs calls on an event loop's own thread, the calling thread waiting for the
    result: for state that only the loop's thread may touch while it runs (the TLS
    context its handshakes read: OpenSSL's contexts are not to be changed from another
    thread while in use). When no loop is attached or running (nothing else runs) and
    on the loop's thread, a call runs at once."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def __call__(self, fn: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None or not loop.is_running() or _running_loop() is loop:
            return fn()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            if done.set_running_or_notify_cancel():
                try:
                    done.set_result(fn())
                except BaseException as exc:
                    done.set_exception(exc)

        loop.call_soon_threadsafe(call)
        while True:
            try:
                return done.result(timeout=0.1)
            except concurrent.futures.TimeoutError:
                # a loop that stopped meanwhile would never run the call (a reload at
                # shutdown must not hang its thread, which the shutdown waits for)
                if not loop.is_running() and done.cancel():
                    raise RuntimeError("the event loop stopped before the call ran") from None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
