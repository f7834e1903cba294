"""``engine.loop.wait_or_timeout``, the wait every engine loop makes between rounds: it
returns when kicked or when its time is up, and a cancellation (shutdown) ends it,
whenever it comes, including at the moment its time runs out."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from tocsin.engine.loop import OnLoop, wait_or_timeout


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


def test_on_loop_runs_a_worker_threads_call_on_the_loops_thread() -> None:
    """``OnLoop``: a reload's worker thread changes the TLS context through it, on the
    thread whose handshakes read that context; results and exceptions come back."""
    on_loop = OnLoop()
    before = on_loop(threading.get_ident)  # no loop attached yet: runs where called

    def boom() -> None:
        raise ValueError("bad key")

    async def main() -> tuple[int, int, int, str]:
        on_loop.attach(asyncio.get_running_loop())
        here = threading.get_ident()
        from_worker = await asyncio.to_thread(on_loop, threading.get_ident)
        on_the_loop = on_loop(threading.get_ident)  # called on the loop: no hand-over
        with pytest.raises(ValueError, match="bad key") as raised:
            await asyncio.to_thread(on_loop, boom)
        return here, from_worker, on_the_loop, str(raised.value)

    here, from_worker, on_the_loop, error = asyncio.run(main())
    assert before == threading.get_ident()
    assert (from_worker, on_the_loop, error) == (here, here, "bad key")


def test_on_loop_runs_at_once_where_no_loop_runs() -> None:
    """A loop attached but not running (before start, after shutdown) handshakes
    nothing: the call runs on the calling thread instead of waiting forever."""
    loop = asyncio.new_event_loop()
    try:
        on_loop = OnLoop()
        on_loop.attach(loop)
        ran_on: list[int] = []
        worker = threading.Thread(target=lambda: ran_on.append(on_loop(threading.get_ident)))
        worker.start()
        worker.join(timeout=10)
        assert ran_on == [worker.ident]
    finally:
        loop.close()
