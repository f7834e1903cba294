"""The shape every engine loop shares: run a step whenever something is kicked (from any
thread: the writer's commits, the API) or at the latest when the step's own next due time
comes, and survive a failing step (log it, try again next round)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class KickedLoop:
    def __init__(self, name: str) -> None:
        self.name = name
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def kick(self) -> None:
        """Run the step soon (safe from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(
        self, step: Callable[[], Awaitable[object]], sleep_seconds: Callable[[], float]
    ) -> None:
        """Run ``step`` forever; a step that returns ``True`` (it stopped at its batch
        limit: more is due) is followed by the next at once, without sleeping."""
        self._loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()  # before the step: a kick during the step counts
            more = False
            try:
                more = await step() is True
            except Exception:
                log.exception("%s step failed; retrying", self.name)
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), sleep_seconds())
