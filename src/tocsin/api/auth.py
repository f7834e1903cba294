"""Rate limit, basic authentication and response headers from the web configuration
file, in front of every route, as exporter-toolkit puts them in front of Alertmanager's.
The rate limit counts every request (a wrong password too, so it also slows guessing).

Three routes carry their own proof and are left open, because their callers cannot
send a password: a signed acknowledgement link (clicked from an email), Slack's
interactive buttons (signed by Slack), and the PagerDuty Events API (whose routing key
is the secret, as at PagerDuty). The status page (``/status``, its feed and its data) is open
too, being meant for the public: it shows only incidents a responder marked public,
and only their status-page updates.

Checking a bcrypt hash costs tens of milliseconds by design, so a pair of user name
and password that passed is remembered (by a hash of it, not in clear) and Prometheus
posting every few seconds pays it once; the check itself runs off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple
from urllib.parse import parse_qs

import anyio
import bcrypt
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.api.rate_limit import TokenBucket
from tocsin.config.web import WebConfig

# Paths whose requests prove themselves (see the module docstring), or are the public
# status page's: exactly these, and those under OPEN_PREFIXES.
OPEN_PATHS = frozenset(
    {"/api/v1/slack/actions", "/v2/enqueue", "/status", "/status/feed.atom", "/api/v1/status-page"}
)
# the signed action links, and the status page's Statuspage-shaped data
OPEN_PREFIXES = ("/act/", "/status/api/v2/")
_REMEMBERED = 1024
# bcrypt is CPU work that releases the GIL: one check per core at a time
_CHECKERS = max(2, os.cpu_count() or 2)
_CHALLENGE = [(b"www-authenticate", b'Basic realm="Tocsin", charset="UTF-8"')]


def credentials(header: str) -> tuple[str, str] | None:
    """The user name and password of a ``Basic`` Authorization header, or None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class WebAuth:
    """ASGI middleware: the current web config's rate limit, users and headers
    (``config()`` is read on every request, so a reload takes effect at once)."""

    def __init__(
        self,
        app: ASGIApp,
        config: Callable[[], WebConfig],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app, self.config, self.clock = app, config, clock
        self._passed: dict[bytes, bytes] = {}  # digest of (user, password) -> its hash
        # what the current config makes, made again only when a reload replaces it
        self._made: tuple[WebConfig | None, _Made] = (None, _Made(None, []))
        # bcrypt checks get threads of their own, at most _CHECKERS: a flood of wrong
        # passwords must not take the shared thread pool from the routes that use it
        # (made on first use: a limiter belongs to the running event loop)
        self._checkers: anyio.CapacityLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        config = self.config()
        if self._made[0] is not config:
            self._made = (config, _Made.of(config))
        bucket, headers = self._made[1]
        if bucket is not None and not bucket.allow(self.clock()):
            await _refuse(send, 429, b"Too Many Requests\n", [])
            return
        if headers:
            send = partial(_with_headers, send, headers)
        users = config.basic_auth_users
        if (
            users
            and scope["path"] not in OPEN_PATHS
            and not scope["path"].startswith(OPEN_PREFIXES)
            and not _feed_with_token(scope)
            and not await self.allowed(users, _authorization(scope))
        ):
            await _refuse(send, 401, b"Unauthorized\n", _CHALLENGE)
            return
        await self.app(scope, receive, send)

    async def allowed(self, users: Mapping[str, str], header: str) -> bool:
        """Whether ``header`` (the request's Authorization) names one of ``users`` (user
        -> bcrypt hash) with its password."""
        found = credentials(header)
        if found is None:
            return False
        user, password = found
        hashed = users.get(user)
        key = hashlib.sha256(f"{len(user)}:{user}\0{password}".encode()).digest()
        expected = (hashed or "").encode()
        if hashed is not None and hmac.compare_digest(self._passed.get(key, b""), expected):
            return True  # passed before with this very hash (a reload may change it)
        cost = next(iter(users.values()))[4:6]  # (a configured hash: $2b$NN$...)
        against = expected if hashed is not None else _no_user(cost)
        try:
            if self._checkers is None:
                self._checkers = anyio.CapacityLimiter(_CHECKERS)
            ok = await anyio.to_thread.run_sync(
                bcrypt.checkpw, password.encode(), against, limiter=self._checkers
            )
        except ValueError:  # more than bcrypt's 72 bytes: no hash matches it
            return False
        if ok and hashed is not None:
            if len(self._passed) >= _REMEMBERED:
                self._passed.clear()
            self._passed[key] = expected
            return True
        return False


class _Made(NamedTuple):
    """What a web config makes for the middleware: its rate limit's bucket (a new
    config starts a full one), and its response headers as ASGI headers."""

    bucket: TokenBucket | None
    headers: list[tuple[bytes, bytes]]

    @classmethod
    def of(cls, config: WebConfig) -> _Made:
        limit = config.rate_limit
        bucket = None
        if limit is not None and limit.interval.total_seconds() > 0:
            bucket = TokenBucket(limit.interval.total_seconds(), limit.burst)
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in config.http_server_config.headers.items()
            if v
        ]
        return cls(bucket, headers)


@functools.cache
def _no_user(cost: str) -> bytes:
    """A hash no password matches, of bcrypt cost ``cost`` (two digits), that of the
    configured users: checked for an unknown user so that the answer takes as long as
    for a known one (which user names exist does not leak through timing)."""
    return bcrypt.hashpw(b"no such user", f"$2b${cost}$".encode() + bcrypt.gensalt()[7:])


def _authorization(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return ""


def _feed_with_token(scope: Scope) -> bool:
    """A calendar feed asked with a token (its route checks it: ``api.oncall``):
    calendar apps subscribe to a URL and send no password."""
    path: str = scope["path"]
    if not path.endswith(".ics"):
        return False
    # parsed as the route parses it ("?xtoken=" is no token: it would be served
    # with no password and no token to check)
    asked = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return "token" in asked


async def _refuse(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *headers,
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _with_headers(send: Send, extra: list[tuple[bytes, bytes]], message: Message) -> None:
    """The web config's headers on a response, in place of any of the same names (its
    X-Frame-Options instead of the default DENY, say)."""
    if message["type"] == "http.response.start":
        names = {name.lower() for name, _ in extra}
        kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
        message = {**message, "headers": [*kept, *extra]}
    await send(message)
