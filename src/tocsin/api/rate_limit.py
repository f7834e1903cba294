"""The web config's ``rate_limit``: a token bucket over every request, as
exporter-toolkit's (Go's ``rate.Limiter``): ``burst`` requests at once, then one per
``interval``. Pure: the caller passes the time."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    interval: float  # seconds per token (> 0)
    burst: int  # the bucket's size (>= 1); it starts full
    _tokens: float = field(init=False)
    _last: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)

    def allow(self, now: float) -> bool:
        """Take a token at ``now`` (monotonic seconds) if there is one."""
        if self._last is not None and now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) / self.interval)
        if self._last is None or now > self._last:
            self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
