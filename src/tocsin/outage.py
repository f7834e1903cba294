"""Logging a failure that repeats: a database gone for an hour must not write a
traceback at every commit or poll (one replica logged 220 KB/s), nor go quiet.

The first failure of an outage logs its traceback; later ones one line at most every
``every`` seconds, with how many failed since; the first success after says it is
over. ``failing`` is what readiness reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class Outage:
    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._what = what
        self._every = every
        self._clock = clock
        self.failing = False
        self.last_error = ""
        self._failures = 0  # since the outage began
        self._unsaid = 0  # since the last line
        self._said_at = 0.0

    def failed(self, exc: BaseException | str) -> None:
        """A failure: an exception (its first is logged with its traceback), or what a
        peer answered (a receiver's refusal: no traceback to show)."""
        self._failures += 1
        if isinstance(exc, str):
            self.last_error = exc.splitlines()[0] if exc else ""
        else:
            line = str(exc).splitlines()[0] if str(exc) else ""
            self.last_error = f"{type(exc).__name__}: {line}"
        now = self._clock()
        if not self.failing:
            self.failing = True
            self._said_at, self._unsaid = now, 0
            if isinstance(exc, str):
                self._log.error("%s failed: %s", self._what, self.last_error)
            else:
                self._log.error("%s failed", self._what, exc_info=exc)
            return
        self._unsaid += 1
        if now - self._said_at >= self._every:
            self._log.error(
                "%s still failing (%d more times): %s", self._what, self._unsaid, self.last_error
            )
            self._said_at, self._unsaid = now, 0

    def succeeded(self) -> None:
        if self.failing:
            n = self._failures
            self._log.warning(
                "%s works again, after %d failure%s", self._what, n, "" if n == 1 else "s"
            )
            self.failing = False
            self.last_error = ""
            self._failures = 0
