"""What every HTTP channel shares: clients per ``http_config``, auth, and one POST.

``http_config`` mixes two kinds of settings. TLS and proxies belong to a connection
pool, so :class:`ClientPool` keeps one ``httpx.AsyncClient`` per distinct TLS/proxy
combination (most receivers share the default one). Authentication, extra headers,
``follow_redirects`` and the per-integration ``timeout`` are per request, applied by
:func:`post_json` to whichever client it is given — so a caller (or a test) may pass
any client.

:func:`post_json` never raises for a receiver's failure: transport errors come back
as an :class:`Outcome` (timeouts, refused connections and protocol garbage are
retryable; an unusable URL is not), an answer as an :class:`HTTPAnswer` for the channel
to judge. The URL is never put in a message: webhook URLs often carry secrets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from tocsin import __version__
from tocsin.config.common import HTTPClientConfig, TLSConfig
from tocsin.notify.channels.tls import ssl_context
from tocsin.notify.outcome import Outcome, classify_http

__all__ = [
    "MAX_BODY",
    "USER_AGENT",
    "ClientPool",
    "ConfigFileError",
    "HTTPAnswer",
    "post_json",
    "read_secret_file",
    "request_auth",
    "secret_or_file",
]

USER_AGENT = f"Tocsin/{__version__}"
# Bodies are read for error messages and Slack's {"ok": ...}; nothing needs more.
MAX_BODY = 64 * 1024
DEFAULT_TIMEOUT = 30.0


class ConfigFileError(Exception):
    """A ``*_file`` setting that cannot be read, or a setting Tocsin cannot honour."""


def read_secret_file(path: str, what: str) -> str:
    """The trimmed content of a ``*_file`` setting (read at send time, as Alertmanager)."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read {what} {path!r}: {exc}") from None


def secret_or_file(value: str | None, path: str, what: str) -> str:
    """An inline setting, else its ``*_file`` twin (raises ConfigFileError if neither)."""
    if value:
        return str(value)
    if path:
        return read_secret_file(path, f"{what}_file")
    raise ConfigFileError(f"no {what} configured")


@dataclass(frozen=True, slots=True)
class HTTPAnswer:
    status: int
    headers: httpx.Headers
    body: bytes

    def classify(self, now: datetime, extra_retry_codes: frozenset[int] = frozenset()) -> Outcome:
        return classify_http(
            self.status, self.headers, self.body, now, extra_retry_codes=extra_retry_codes
        )


def request_auth(
    config: HTTPClientConfig | None,
) -> tuple[list[tuple[str, str]], httpx.Auth | None]:
    """Headers and auth for one request from ``http_config`` (raises ConfigFileError)."""
    headers: list[tuple[str, str]] = []
    auth: httpx.Auth | None = None
    if config is None:
        return headers, auth
    if config.oauth2 is not None:
        raise ConfigFileError("http_config.oauth2 is not supported yet")
    if config.basic_auth is not None:
        basic = config.basic_auth
        username = basic.username or (
            read_secret_file(basic.username_file, "basic_auth.username_file")
            if basic.username_file
            else ""
        )
        password = str(basic.password) or (
            read_secret_file(basic.password_file, "basic_auth.password_file")
            if basic.password_file
            else ""
        )
        auth = httpx.BasicAuth(username, password)
    if config.authorization is not None:
        authz = config.authorization
        credentials = str(authz.credentials) or (
            read_secret_file(authz.credentials_file, "authorization.credentials_file")
            if authz.credentials_file
            else ""
        )
        headers.append(("Authorization", f"{authz.type or 'Bearer'} {credentials}"))
    elif config.bearer_token or config.bearer_token_file:
        token = str(config.bearer_token) or read_secret_file(
            config.bearer_token_file, "bearer_token_file"
        )
        headers.append(("Authorization", f"Bearer {token}"))
    for name, header in config.http_headers.items():
        values = [*header.values, *(str(s) for s in header.secrets)]
        values += [read_secret_file(f, f"http_headers.{name}.files") for f in header.files]
        headers.extend((name, value) for value in values)
    return headers, auth


_PoolKey = tuple[TLSConfig, str, str, bool]


class ClientPool:
    """``httpx.AsyncClient`` instances by TLS/proxy settings; close with ``aclose``."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._timeout = timeout
        self._clients: dict[_PoolKey, httpx.AsyncClient] = {}

    def client_for(self, config: HTTPClientConfig | None) -> httpx.AsyncClient:
        """The client for these TLS/proxy settings (created on first use).

        Raises OSError/ssl.SSLError when the TLS material cannot be loaded.
        """
        config = config or HTTPClientConfig()
        key: _PoolKey = (
            config.tls_config,
            config.proxy_url,
            config.no_proxy,
            config.proxy_from_environment,
        )
        client = self._clients.get(key)
        if client is None:
            client = self._build(config)
            self._clients[key] = client
        return client

    def _build(self, config: HTTPClientConfig) -> httpx.AsyncClient:
        verify = ssl_context(config.tls_config)
        mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
        if config.proxy_url:
            mounts["all://"] = httpx.AsyncHTTPTransport(verify=verify, proxy=config.proxy_url)
            for host in filter(None, (h.strip() for h in config.no_proxy.split(","))):
                mounts[f"all://{host}"] = httpx.AsyncHTTPTransport(verify=verify)
        return httpx.AsyncClient(
            verify=verify,
            timeout=self._timeout,
            trust_env=config.proxy_from_environment,
            mounts=mounts or None,
            headers={"User-Agent": USER_AGENT},
        )

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    *,
    http_config: HTTPClientConfig | None,
    timeout: timedelta | None = None,  # noqa: ASYNC109 - the receiver's own setting
    headers: Mapping[str, str] | None = None,
) -> HTTPAnswer | Outcome:
    """POST ``body`` as JSON; the answer, or the Outcome of a transport failure."""
    try:
        auth_headers, auth = request_auth(http_config)
    except ConfigFileError as exc:
        return Outcome.permanent(str(exc))
    all_headers = httpx.Headers({"Content-Type": "application/json", "User-Agent": USER_AGENT})
    for name, value in auth_headers:
        all_headers[name] = value
    for name, value in (headers or {}).items():
        all_headers[name] = value
    seconds = timeout.total_seconds() if timeout and timeout > timedelta(0) else None
    follow = http_config.follow_redirects if http_config is not None else True
    try:
        async with asyncio.timeout(seconds):
            request = client.build_request(
                "POST",
                url,
                content=body,
                headers=all_headers,
                timeout=httpx.Timeout(seconds) if seconds else httpx.USE_CLIENT_DEFAULT,
            )
            response = await client.send(
                request, auth=auth or httpx.USE_CLIENT_DEFAULT, follow_redirects=follow, stream=True
            )
            try:
                content = await _read_capped(response)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        limit = f" after {seconds:g}s" if seconds else ""
        return Outcome.retryable(f"timed out{limit} waiting for the receiver")
    except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects) as exc:
        return Outcome.permanent(f"{type(exc).__name__}: {exc}")
    except httpx.TransportError as exc:
        return Outcome.retryable(f"{type(exc).__name__}: {exc}".rstrip(": "))
    return HTTPAnswer(response.status_code, response.headers, content)


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY:
            break
    return b"".join(chunks)[:MAX_BODY]


def utcnow() -> datetime:
    """The clock channels use to turn an HTTP-date ``Retry-After`` into seconds."""
    return datetime.now(UTC)
