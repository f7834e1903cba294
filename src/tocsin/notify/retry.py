"""When to try a failed delivery again, and when to give up. Pure; randomness passed in.

Exponential backoff with full jitter (each wait drawn uniformly from zero to the
exponential bound), so that after a receiver's outage the queued notifications do not
all hit it again in the same second; a ``Retry-After`` from the receiver is honoured
as a floor. Delivery gives up when the notification has been retried for longer than
``max_age``: by then a newer notification of the same group carries the news.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(hours=1)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> timedelta:
        """The wait after the ``attempt``-th failed attempt (1-based)."""
        bound = min(self.cap, self.base * (2 ** min(attempt - 1, 30)))
        wait = timedelta(seconds=rng.uniform(0, bound.total_seconds()))
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        return wait

    def gives_up(self, created_at: datetime, now: datetime) -> bool:
        return now - created_at >= self.max_age
