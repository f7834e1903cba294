"""A request that fails because the database is unreachable (down, restarting, the
network cut) is answered ``503 Service Unavailable`` with the reason, as ``/-/ready``
answers then, rather than a bare 500 and a traceback in the log at every request:
Prometheus re-sends its alerts at every evaluation, and each would log one.

The traceback is logged where the failure is noticed once per outage (the writer's
commits, the loops: ``tocsin.outage``); here, a line at most every ``EVERY`` seconds.
Two edges answer so: the FastAPI routes (an exception handler, ahead of Starlette's
500) and the ingest hot path in front of them (``api.ingest.FastIngest``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from tocsin.store.db import DATABASE_ERRORS, unreachable

log = logging.getLogger(__name__)

EVERY = 10.0  # seconds between the lines a long outage logs
RETRY_AFTER = "5"  # seconds: Prometheus re-sends at its next evaluation anyway
HEADERS = {"content-type": "application/json", "retry-after": RETRY_AFTER}


class Unavailable:
    """Answers requests the database failed, and logs them now and then."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._said_at: float | None = None
        self._unsaid = 0

    def body(self, method: str, path: str, exc: Exception) -> bytes:
        """The 503's body; the request and the reason noted for the log (not in the
        answer: a driver's message names hosts, ports and users, and some of these
        routes are open to anyone)."""
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        now = self.clock()
        if self._said_at is not None and now - self._said_at < EVERY:
            self._unsaid += 1
        else:
            more = f" (and {self._unsaid} more since)" if self._unsaid else ""
            log.warning(
                "%s %s answered 503: database unavailable: %s%s", method, path, reason, more
            )
            self._said_at, self._unsaid = now, 0
        return orjson.dumps("database unavailable: try again shortly")

    def install(self, app: FastAPI) -> None:
        """Answer the routes of ``app`` so; another database error stays a 500, its
        traceback logged."""

        async def handler(request: Request, exc: Exception) -> Response:
            if not unreachable(exc):
                raise exc
            body = self.body(request.method, request.url.path, exc)
            return Response(body, status_code=503, headers=HEADERS)

        for kind in DATABASE_ERRORS:
            app.add_exception_handler(kind, handler)
