"""ASGI middleware in front of every route: a browser's request from another site's
page changes nothing, and no response may be framed by another site or sniffed as
another type.

Tocsin has no login of its own (like Alertmanager, it sits behind basic auth or a
proxy, which a browser repeats by itself), so a page on another site must not be able
to make a responder's browser post a silence, an alert or an acknowledgement: a JSON
body sent as ``text/plain`` needs no CORS preflight. Browsers say where a request
comes from (``Sec-Fetch-Site``, ``Origin``); clients that are not browsers (amtool,
Prometheus, curl) send neither and pass. Framing is refused for the same reason: a
click inside a frame is same-origin.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlsplit

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Where a GET changes something too: a heartbeat's ping (as Healthchecks.io's), which
# another site's <img> must not send to keep a dead job looking alive.
CHANGING_GETS = ("/ping/",)
# Sent unless the web config's http_server_config.headers sets its own.
DEFAULT_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
)


def cross_site(site: str | None, origin: str | None, host: str) -> str | None:
    """Why a request that changes something must be refused, or None: sent by a
    browser from another site's page (``site``: its Sec-Fetch-Site, ``origin``: its
    Origin, ``host``: its Host)."""
    if site is not None and site not in ("same-origin", "none"):
        return f"a {site} request may not change anything here"
    if origin == "null":
        return "a form of an opaque origin may not change anything here"
    if origin is not None and urlsplit(origin).netloc != host:
        return f"a form of {origin} may not change anything here"
    return None


class SiteGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS or scope["path"].startswith(CHANGING_GETS):
            site = origin = None
            host = ""
            for name, value in scope["headers"]:
                if name == b"sec-fetch-site":
                    site = value.decode("latin-1")
                elif name == b"origin":
                    origin = value.decode("latin-1")
                elif name == b"host":
                    host = value.decode("latin-1")
            why = cross_site(site, origin, host)
            if why is not None:
                await _refuse(send, why)
                return
        await self.app(scope, receive, partial(_with_defaults, send))


async def _with_defaults(send: Send, message: Message) -> None:
    if message["type"] == "http.response.start":
        message = {**message, "headers": [*message.get("headers", []), *DEFAULT_HEADERS]}
    await send(message)


async def _refuse(send: Send, why: str) -> None:
    body = orjson.dumps(why)
    await _with_defaults(
        send,
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        },
    )
    await send({"type": "http.response.body", "body": body})
