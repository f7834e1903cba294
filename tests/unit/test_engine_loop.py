"""``engine.loop.wait_or_timeout``, the wait every engine loop makes between rounds: it
returns when kicked or when its time is up, and a cancellation (shutdown) ends it,
whenever it comes, including at the moment its time runs out."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tocsin.engine.loop import wait_or_timeout


def test_returns_when_set_or_when_its_time_is_up() -> None:
    async def main() -> tuple[bool, bool]:
        kicked = asyncio.Event()
        asyncio.get_running_loop().call_soon(kicked.set)
        await wait_or_timeout(kicked, 60.0)  # would take a minute if the kick were missed
        idle = asyncio.Event()
        await wait_or_timeout(idle, 0.0)
        return kicked.is_set(), idle.is_set()

    assert asyncio.run(main()) == (True, False)


@pytest.mark.parametrize("seconds", [0.0, 0.0005, 0.002, 60.0])
def test_a_cancelled_wait_always_ends(seconds: float) -> None:
    async def main() -> int:
        ended = 0
        for spin in range(100):
            task = asyncio.create_task(wait_or_timeout(asyncio.Event(), seconds))
            for _ in range(spin % 4):  # cancel at different points of the wait
                await asyncio.sleep(0)
            requested = task.cancel()  # False: it had already returned
            async with asyncio.timeout(10):  # a wait that swallowed it would hang here
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            assert task.cancelled() == requested  # a cancel asked for is not swallowed
            ended += 1
        return ended

    assert asyncio.run(main()) == 100
