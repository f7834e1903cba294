"""A failure that repeats is logged as an outage: the traceback once, then a line at
most every ``every`` seconds with how many failed since, and a line when it is over."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from tocsin.engine import loop as loop_module
from tocsin.engine.loop import IDLE, KickedLoop
from tocsin.outage import Outage


class Seconds:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# (seconds, "fail" or "ok") in order -> the lines logged, and whether with a traceback
RUNS = [
    ("one failure", [(0, "fail")], [("committing failed", True)]),
    (
        "a burst within the interval is one line",
        [(0, "fail"), (1, "fail"), (2, "fail"), (9, "fail")],
        [("committing failed", True)],
    ),
    (
        "a long outage says so now and then, with the count since the last line",
        [(0, "fail"), (1, "fail"), (10, "fail"), (11, "fail"), (20, "fail")],
        [
            ("committing failed", True),
            ("committing still failing (2 more times): OSError: gone", False),
            ("committing still failing (2 more times): OSError: gone", False),
        ],
    ),
    (
        "the first success ends it, counting every failure",
        [(0, "fail"), (1, "fail"), (2, "ok"), (3, "ok")],
        [("committing failed", True), ("committing works again, after 2 failures", False)],
    ),
    (
        "a second outage logs its traceback again",
        [(0, "fail"), (1, "ok"), (2, "fail")],
        [
            ("committing failed", True),
            ("committing works again, after 1 failure", False),
            ("committing failed", True),
        ],
    ),
    ("successes alone say nothing", [(0, "ok"), (1, "ok")], []),
]


@pytest.mark.parametrize(("events", "lines"), [r[1:] for r in RUNS], ids=[r[0] for r in RUNS])
def test_an_outage_is_logged_once_then_now_and_then(
    events: list[tuple[float, str]],
    lines: list[tuple[str, bool]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Seconds()
    outage = Outage(logging.getLogger("test.outage"), "committing", every=10, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.outage"):
        for at, what in events:
            clock.now = at
            if what == "fail":
                outage.failed(OSError("gone\nmore detail"))
            else:
                outage.succeeded()
    assert [(r.getMessage(), r.exc_info is not None) for r in caplog.records] == lines
    assert outage.failing is (events[-1][1] == "fail")
    assert outage.last_error == ("OSError: gone" if outage.failing else "")


# what each round of a loop's step does -> the loop's log lines (with a traceback?)
LOOP_ROUNDS = [
    # a dispatcher with nothing due between failed flushes: one outage, not one per flush
    (["fail", "idle", "fail", "idle", "fail"], [("test step failed", True)], True),
    (
        ["fail", "idle", "ok"],
        [("test step failed", True), ("test step works again, after 1 failure", False)],
        False,
    ),
    (["idle", "idle"], [], False),
]


class Stop(BaseException):
    """Ends a loop under test after its rounds."""


@pytest.mark.parametrize(("rounds", "lines", "failing"), LOOP_ROUNDS)
def test_an_idle_round_neither_ends_an_outage_nor_starts_one(
    rounds: list[str],
    lines: list[tuple[str, bool]],
    failing: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = KickedLoop("test")
    left = list(rounds)

    async def step() -> str | None:
        if not left:
            raise Stop  # not an Exception: the loop does not catch it
        what = left.pop(0)
        if what == "fail":
            raise OSError("database gone")
        return IDLE if what == "idle" else None

    async def main() -> None:
        with contextlib.suppress(Stop):
            await loop.run(step, lambda: 0.0)

    with caplog.at_level(logging.INFO, logger="tocsin.engine.loop"):
        asyncio.run(main())
    assert [(r.getMessage(), r.exc_info is not None) for r in caplog.records] == lines
    assert loop.failing is failing


def waits_of(monkeypatch: pytest.MonkeyPatch, rounds: list[str], sleep: float) -> list[float]:
    """What a loop whose own sleep is ``sleep`` waits after each of ``rounds`` ("fail",
    "idle" or "ok"), without waiting."""
    waits: list[float] = []

    async def no_wait(event: asyncio.Event, seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(loop_module, "wait_or_timeout", no_wait)
    left = list(rounds)

    async def step() -> str | None:
        if not left:
            raise Stop
        what = left.pop(0)
        if what == "fail":
            raise OSError("database gone")
        return IDLE if what == "idle" else None

    async def main() -> None:
        with contextlib.suppress(Stop):
            await KickedLoop("test").run(step, lambda: sleep)

    asyncio.run(main())
    return waits


def test_a_failed_round_is_tried_again_soon_whatever_the_loop_s_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loop that refreshes hourly (maintenance announcements) tries a failed round
    again within RETRY_FAILED, so that it says "failing" no longer than the outage
    lasts; a round that worked sleeps its own time."""
    waits = waits_of(monkeypatch, ["fail", "ok", "fail"], 3600.0)
    assert waits == [loop_module.RETRY_FAILED, 3600.0, loop_module.RETRY_FAILED]


def test_failed_rounds_of_a_ticking_loop_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop whose own sleep is a tick (dispatch: 30 ms) does not ask a database that
    is away 30 times a second: its retries wait FIRST_RETRY, doubling to RETRY_FAILED;
    a round that works goes back to its tick."""
    waits = waits_of(monkeypatch, ["fail"] * 8 + ["ok", "fail"], 0.03)
    first = loop_module.FIRST_RETRY
    backoff = [min(loop_module.RETRY_FAILED, first * 2**n) for n in range(8)]
    assert waits == [*backoff, 0.03, first]


def test_a_long_outage_and_idle_rounds_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thousand failed rounds in a row keep waiting RETRY_FAILED (the backoff does not
    overflow and end the loop); idle rounds after a failure wait the loop's own tick (a
    quiet dispatcher, failing until a round does something, still flushes on time)."""
    rounds = ["fail"] * 1100 + ["idle", "idle", "fail", "ok"]
    waits = waits_of(monkeypatch, rounds, 0.03)
    assert len(waits) == len(rounds)
    assert waits[10:1100] == [loop_module.RETRY_FAILED] * 1090
    assert waits[1100:] == [0.03, 0.03, loop_module.RETRY_FAILED, 0.03]
