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
# Routes whose requests prove themselves (a signed link, Slack's signature, a routing
# key): where they come from adds nothing, and a proxy's quirks must not refuse them.
SELF_PROVING = ("/act/", "/api/v1/slack/actions", "/v2/enqueue")
# Pages other sites may frame: the public status page (embedded in a company's site).
FRAMEABLE = ("/status",)
# Sent unless the web config's http_server_config.headers sets its own: no response
# sniffed as another type, no page framed (but for FRAMEABLE's).
NOT_SNIFFED = ((b"x-content-type-options", b"nosniff"),)
NOT_FRAMED = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    *NOT_SNIFFED,
)


def cross_site(site: str | None, origin: str | None, host: str) -> str | None:
    """Why a request that changes something must be refused, or None: sent by a
    browser from another site's page (``site``: its Sec-Fetch-Site, ``origin``: its
    Origin, ``host``: its Host). A browser that says Sec-Fetch-Site is believed: behind
    a proxy that rewrites Host (nginx's default ``$proxy_host``) the Origin never
    equals the Host, and every same-origin post was refused; only an older browser,
    which sends no Sec-Fetch-Site, is judged by its Origin."""
    if site is not None:
        return (
            None
            if site in ("same-origin", "none")
            else f"a {site} request may not change anything here"
        )
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
        why = refusal(scope)
        if why is not None:
            await refuse(send, why)
            return
        path: str = scope["path"]
        headers = NOT_FRAMED if not path.startswith(FRAMEABLE) else NOT_SNIFFED
        await self.app(scope, receive, partial(_with_defaults, send, headers))


def refusal(scope: Scope) -> str | None:
    """Why the HTTP request of ``scope`` may not be served (see the module docstring),
    or None. (The ingest hot path, which answers before this middleware, asks too.)"""
    path: str = scope["path"]
    changes = scope["method"] not in SAFE_METHODS or path.startswith(CHANGING_GETS)
    if not changes or path.startswith(SELF_PROVING):
        return None
    site = origin = None
    host = ""
    for name, value in scope["headers"]:
        if name == b"sec-fetch-site":
            site = value.decode("latin-1")
        elif name == b"origin":
            origin = value.decode("latin-1")
        elif name == b"host":
            host = value.decode("latin-1")
    return cross_site(site, origin, host)


async def _with_defaults(
    send: Send, headers: tuple[tuple[bytes, bytes], ...], message: Message
) -> None:
    if message["type"] == "http.response.start":
        message = {**message, "headers": [*message.get("headers", []), *headers]}
    await send(message)


async def refuse(send: Send, why: str) -> None:
    """The 403 that says ``why``."""
    body = orjson.dumps(why)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    start = {"type": "http.response.start", "status": 403, "headers": [*headers, *NOT_FRAMED]}
    await send(start)
    await send({"type": "http.response.body", "body": body})
