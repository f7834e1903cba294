"""What every HTTP channel shares: clients per ``http_config``, auth, and one POST.

``http_config`` mixes two kinds of settings. TLS and proxies belong to a connection
pool, so :class:`ClientPool` keeps one :class:`HTTPClient` (an ``aiohttp.ClientSession``
with a keep-alive connector, plus the proxy to use) per distinct TLS/proxy combination;
most receivers share the default one. Authentication, extra headers,
``follow_redirects`` and the per-integration ``timeout`` are per request, applied by
:func:`post_json` to whichever client it is given — so a caller (or a test) may pass
any client.

:func:`post_json` never raises for a receiver's failure: transport errors come back
as an :class:`Outcome` (timeouts, refused connections and protocol garbage are
retryable; an unusable URL or too many redirects are not), an answer as an
:class:`HTTPAnswer` for the channel to judge. The URL is never put in a message:
webhook URLs often carry secrets.

Sessions are created on first use, inside the running event loop (aiohttp requires
it), and closed by :meth:`ClientPool.aclose`.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp
from multidict import CIMultiDict
from yarl import URL

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
    "HTTPClient",
    "post_json",
    "read_secret_file",
    "request_auth",
    "secret_or_file",
    "send_request",
]

USER_AGENT = f"Tocsin/{__version__}"
# Bodies are read for error messages and Slack's {"ok": ...}; nothing needs more.
MAX_BODY = 64 * 1024
DEFAULT_TIMEOUT = 30.0
# Connections kept open per pool (0 would be unlimited); per host, as many as that.
CONNECTION_LIMIT = 100


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
    """A receiver's answer; ``headers`` is a case-insensitive mapping (aiohttp's
    ``CIMultiDictProxy``, or a ``multidict.CIMultiDict`` in tests)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def classify(self, now: datetime, extra_retry_codes: frozenset[int] = frozenset()) -> Outcome:
        return classify_http(
            self.status, self.headers, self.body, now, extra_retry_codes=extra_retry_codes
        )


def request_auth(config: HTTPClientConfig | None) -> list[tuple[str, str]]:
    """The headers ``http_config`` adds to each request (raises ConfigFileError).

    Basic auth comes last, so it wins over an ``Authorization`` from ``http_headers``.
    """
    headers: list[tuple[str, str]] = []
    if config is None:
        return headers
    if config.oauth2 is not None:
        raise ConfigFileError("http_config.oauth2 is not supported yet")
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
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        headers.append(("Authorization", f"Basic {token}"))
    return headers


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _no_proxy_matcher(no_proxy: str) -> tuple[frozenset[str], tuple[_Network, ...]]:
    names: set[str] = set()
    networks: list[_Network] = []
    for entry in filter(None, (h.strip().lower() for h in no_proxy.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry if entry == "*" else entry.lstrip("*").lstrip(".").strip("[]"))
    return frozenset(names), tuple(networks)


@dataclass(frozen=True, slots=True)
class HTTPClient:
    """One keep-alive session and the proxy its requests go through.

    ``no_proxy`` hosts (a name also covers its subdomains; IPs and CIDR ranges too) are
    reached directly. With ``proxy_from_environment`` the session itself follows
    ``HTTP(S)_PROXY``/``NO_PROXY`` (aiohttp's ``trust_env``).
    """

    session: aiohttp.ClientSession
    proxy: URL | None = None
    no_proxy_names: frozenset[str] = frozenset()
    no_proxy_networks: tuple[_Network, ...] = ()

    def proxy_for(self, url: URL) -> URL | None:
        if self.proxy is None:
            return None
        host = (url.host or "").lower()
        if "*" in self.no_proxy_names:
            return None
        if self.no_proxy_names and (
            host in self.no_proxy_names
            or any(host.endswith("." + name) for name in self.no_proxy_names)
        ):
            return None
        if self.no_proxy_networks:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                return self.proxy
            if any(address in network for network in self.no_proxy_networks):
                return None
        return self.proxy


_PoolKey = tuple[TLSConfig, str, str, bool]


class ClientPool:
    """:class:`HTTPClient` instances by TLS/proxy settings; close with ``aclose``.

    ``timeout`` bounds connecting and each wait for data when an integration sets no
    ``timeout`` of its own.
    """

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT, fresh_connections: bool = False
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
        )
        self._fresh = fresh_connections  # no keep-alive: each request connects anew
        self._clients: dict[_PoolKey, HTTPClient] = {}

    def client_for(self, config: HTTPClientConfig | None) -> HTTPClient:
        """The client for these TLS/proxy settings (created on first use).

        Must be called with the event loop running. Raises OSError/ssl.SSLError when
        the TLS material cannot be loaded.
        """
        config = config or _NO_CONFIG
        key: _PoolKey = (
            config.tls_config,
            config.proxy_url,
            config.no_proxy,
            config.proxy_from_environment,
        )
        client = self._clients.get(key)
        if client is None or client.session.closed:
            client = self._build(config)
            self._clients[key] = client
        return client

    def _build(self, config: HTTPClientConfig) -> HTTPClient:
        # Everything that may raise comes before the session, which must not leak.
        context = ssl_context(config.tls_config)
        # A proxy URL's user information becomes Proxy-Authorization (aiohttp does it).
        proxy = URL(config.proxy_url) if config.proxy_url else None
        names, networks = _no_proxy_matcher(config.no_proxy)
        connector = aiohttp.TCPConnector(
            ssl=context, limit=CONNECTION_LIMIT, limit_per_host=0, force_close=self._fresh
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            headers={"User-Agent": USER_AGENT},
            trust_env=config.proxy_from_environment,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return HTTPClient(session, proxy, names, networks)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


_NO_CONFIG = HTTPClientConfig()
_JSON = {"Content-Type": "application/json"}


async def post_json(
    client: HTTPClient,
    url: str,
    body: bytes,
    *,
    http_config: HTTPClientConfig | None,
    timeout: timedelta | None = None,  # noqa: ASYNC109 - the receiver's own setting
    headers: Mapping[str, str] | None = None,
) -> HTTPAnswer | Outcome:
    """POST ``body`` as JSON; the answer, or the Outcome of a transport failure."""
    return await send_request(
        client,
        "POST",
        url,
        body,
        http_config=http_config,
        time_limit=timeout,
        headers=headers,
        content_type=_JSON["Content-Type"],
    )


async def send_request(
    client: HTTPClient,
    method: str,
    url: str,
    body: bytes = b"",
    *,
    http_config: HTTPClientConfig | None,
    time_limit: timedelta | None = None,
    headers: Mapping[str, str] | None = None,
    peer: str = "the receiver",
    content_type: str | None = None,
) -> HTTPAnswer | Outcome:
    """One request with ``http_config``'s auth and redirects; the answer (its body read
    up to ``MAX_BODY``), or the Outcome of a transport failure (``peer``: who it names
    as not answering; ``time_limit``: the whole request's, else the pool's timeouts)."""
    try:
        auth_headers = request_auth(http_config)
    except ConfigFileError as exc:
        return Outcome.permanent(str(exc))
    # the content type first: http_config's headers, then the caller's, may replace it
    all_headers: CIMultiDict[str] = CIMultiDict()
    if content_type:
        all_headers["Content-Type"] = content_type
    for name, value in auth_headers:
        all_headers[name] = value
    if headers:
        for name, value in headers.items():
            all_headers[name] = value
    seconds = time_limit.total_seconds() if time_limit and time_limit > timedelta(0) else None
    follow = http_config.follow_redirects if http_config is not None else True
    try:
        target = URL(url)
    except (ValueError, TypeError):
        return Outcome.permanent("InvalidURL: the URL cannot be parsed")
    proxy = client.proxy_for(target)
    try:
        async with client.session.request(
            method,
            target,
            data=body or None,
            headers=all_headers,
            allow_redirects=follow,
            # Without one of its own, the request keeps the pool's timeouts.
            timeout=aiohttp.ClientTimeout(total=seconds) if seconds else client.session.timeout,
            proxy=proxy,
        ) as response:
            content = await _read_capped(response)
    except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
        limit = f" after {seconds:g}s" if seconds else ""
        return Outcome.retryable(f"timed out{limit} waiting for {peer}")
    except aiohttp.ClientError as exc:
        return _transport_outcome(exc, url)
    except ValueError as exc:  # e.g. a header value aiohttp refuses to send
        return Outcome.permanent(_scrub(f"invalid request: {exc}", url))
    return HTTPAnswer(response.status, response.headers, content)


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    first = await response.content.read(MAX_BODY)
    if not first:
        return first
    chunks = [first]
    size = len(first)
    while size < MAX_BODY:
        chunk = await response.content.read(MAX_BODY - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks) if len(chunks) > 1 else first


def _transport_outcome(exc: aiohttp.ClientError, url: str) -> Outcome:
    """A message naming the failure the way a reader of the log expects, built from the
    parts of aiohttp's exceptions that hold no URL (their ``str`` often does)."""
    if isinstance(exc, aiohttp.TooManyRedirects):
        return Outcome.permanent(f"TooManyRedirects: gave up after {len(exc.history)} redirects")
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return Outcome.permanent("UnsupportedProtocol: the URL's scheme is not http or https")
    if isinstance(exc, aiohttp.InvalidURL):
        detail = exc.description or "the URL cannot be used"
        return Outcome.permanent(_scrub(f"InvalidURL: {detail}", url))
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return Outcome.retryable(_scrub(f"ProxyError: {_os_detail(exc.os_error)}", url))
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return Outcome.retryable(_scrub(f"ConnectError: {exc.certificate_error}", url))
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Outcome.retryable(_scrub(f"ConnectError: {_os_detail(exc.os_error)}", url))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return Outcome.retryable("RemoteProtocolError: the server closed the connection")
    if isinstance(exc, aiohttp.ClientResponseError):  # garbage instead of an HTTP answer
        detail = " ".join(str(exc.message).split())  # aiohttp's parser messages span lines
        return Outcome.retryable(_scrub(f"RemoteProtocolError: {detail}".rstrip(": "), url))
    if isinstance(exc, aiohttp.ClientPayloadError):
        return Outcome.retryable("ReadError: the answer's body was cut short")
    if isinstance(exc, aiohttp.ClientOSError):
        return Outcome.retryable(_scrub(f"NetworkError: {_os_detail(exc)}", url))
    return Outcome.retryable(type(exc).__name__)


def _os_detail(error: OSError) -> str:
    return str(error) if str(error) else type(error).__name__


def _scrub(message: str, url: str) -> str:
    """``message`` without ``url`` in any spelling aiohttp may have used."""
    if url and url in message:
        message = message.replace(url, "<url>")
    try:
        encoded = str(URL(url))
    except (ValueError, TypeError):
        return message
    return message.replace(encoded, "<url>") if encoded and encoded in message else message


def utcnow() -> datetime:
    """The clock channels use to turn an HTTP-date ``Retry-After`` into seconds."""
    return datetime.now(UTC)
