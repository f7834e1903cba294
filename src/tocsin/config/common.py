"""Value types shared across the configuration: URLs, addresses, label names, matchers,
and the HTTP client settings (``http_config``, ``tls_config``, ``oauth2``) that every
HTTP-based receiver and the ``global`` section accept.

The HTTP settings mirror Prometheus' ``common/config`` package, which Alertmanager
embeds; their validation rules are the ones it applies at load time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from tocsin.alerts.labels import NameValidation, label_name_error
from tocsin.alerts.matchers import (
    Matcher,
    MatcherError,
    MatchType,
    parse_matchers,
)
from tocsin.alerts.regex import compile_anchored
from tocsin.config.decode import NO_SECRET, Conv, ConvError, Issue, Secret
from tocsin.config.durations import parse_duration, parse_go_duration

__all__ = [
    "URL",
    "URL_VALUE",
    "Authorization",
    "BasicAuth",
    "GoDuration",
    "HTTPClientConfig",
    "HTTPHeader",
    "HostPort",
    "IsURL",
    "LabelName",
    "MatcherList",
    "OAuth2",
    "PromDuration",
    "RegexString",
    "SecretURL",
    "SigV4Config",
    "TLSConfig",
    "URLText",
    "at_most_one",
    "matcher_sort_key",
    "sort_matchers",
]

SECRET_TOKEN = "<secret>"


def check_url(text: str) -> str:
    """An absolute http(s) URL with a host, as Alertmanager's ``config.URL`` demands."""
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ValueError(f"invalid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unsupported scheme {parts.scheme!r} for URL")
    if not parts.hostname:
        raise ValueError("missing host for URL")
    return text


def check_probe_url(text: str) -> str:
    """What a probe requests: an http(s) URL, or ``tcp://HOST:PORT`` (a connection
    accepted within the timeout passes: a database, a queue, a mail server)."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid URL: {exc}") from None
    if parts.scheme != "tcp":
        return check_url(text)
    if not parts.hostname or not port:
        raise ValueError("a tcp URL is tcp://HOST:PORT (a port from 1 to 65535)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("a tcp URL is tcp://HOST:PORT, nothing more")
    try:
        parts.hostname.encode("idna")
    except UnicodeError as exc:
        raise ValueError(f"not a host name: {parts.hostname!r} ({exc})") from None
    return text


def check_secret_url(text: str) -> Secret:
    # "<secret>" is what Alertmanager prints for a redacted URL; reading it back is allowed.
    if text != SECRET_TOKEN:
        check_url(text)
    return Secret(text)


def check_host_port(text: str) -> str:
    """``host:port`` (``[v6]:port`` for IPv6); empty means unset."""
    if text == "":
        return text
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise ValueError(f"address {text}: missing ']' in address")
        rest = text[close + 1 :]
        if not rest.startswith(":"):
            raise ValueError(f"address {text}: missing port in address")
        port = rest[1:]
    else:
        if ":" not in text:
            raise ValueError(f"address {text}: missing port in address")
        host, port = text.rsplit(":", 1)
        if ":" in host:
            raise ValueError(f"address {text}: too many colons in address")
    if port == "":
        raise ValueError(f"address {text!r}: port cannot be empty")
    return text


def check_label_name(name: str) -> str:
    problem = label_name_error(name, NameValidation.LEGACY)
    if problem is not None:
        raise ValueError(problem)
    return name


def check_regex(value: str) -> str:
    compile_anchored(value)  # raises RegexError (a ValueError) with the reason
    return value


def matcher_sort_key(m: Matcher) -> tuple[str, str, int]:
    """Alertmanager's ``labels.Matchers`` order: name, then value, then operator."""
    return (m.name, m.value, list(MatchType).index(m.type))


def with_legacy_maps(
    match: Mapping[str, str], match_re: Mapping[str, str], matchers: Sequence[Matcher]
) -> tuple[Matcher, ...]:
    """``matchers`` with the deprecated ``match``/``match_re`` maps folded in, sorted.

    Alertmanager builds the ``match_re`` matchers from the compiled, anchored
    expression, so they show as ``job=~"^(?:api)$"``; matching is the same as for the
    expression itself.
    """
    out = [Matcher.create(name, MatchType.EQUAL, value) for name, value in match.items()]
    out.extend(
        Matcher(name, MatchType.REGEX, f"^(?:{expr})$", compile_anchored(expr))
        for name, expr in match_re.items()
    )
    out.extend(matchers)
    return sort_matchers(out)


def sort_matchers(matchers: Sequence[Matcher]) -> tuple[Matcher, ...]:
    return tuple(sorted(matchers, key=matcher_sort_key))


def parse_matcher_lines(lines: tuple[str, ...]) -> tuple[Matcher, ...]:
    """Each string may hold one matcher, several comma-separated, or a ``{...}`` selector."""
    out: list[Matcher] = []
    for index, line in enumerate(lines):
        try:
            out.extend(parse_matchers(line))
        except MatcherError as exc:
            raise ConvError(str(exc), index) from None
    return sort_matchers(out)


def _go_duration(value: object) -> timedelta:
    # Go YAML decodes a bare integer into a time.Duration as nanoseconds.
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(microseconds=value / 1000)
    if isinstance(value, str):
        return parse_go_duration(value)
    raise ValueError(f"expected a duration, got {value!r}")


@dataclass(frozen=True, slots=True)
class IsURL:
    """``Annotated`` metadata: the value is a URL, so a password in it (``user:PW@host``)
    is masked where the configuration is shown (:mod:`tocsin.config.redact`)."""


URL_VALUE = IsURL()
URL = Annotated[str, Conv(check_url), URL_VALUE]
ProbeURL = Annotated[str, Conv(check_probe_url), URL_VALUE]
SecretURL = Annotated[Secret, Conv(check_secret_url), URL_VALUE]
# a URL whose own rules are checked by its object (proxy_url), or none (token_url)
URLText = Annotated[str, URL_VALUE]
HostPort = Annotated[str, Conv(check_host_port)]
LabelName = Annotated[str, Conv(check_label_name)]
RegexString = Annotated[str, Conv(check_regex)]
PromDuration = Annotated[timedelta, Conv(parse_duration)]
GoDuration = Annotated[timedelta, Conv(_go_duration, source=Any)]
MatcherList = Annotated[tuple[Matcher, ...], Conv(parse_matcher_lines, source=tuple[str, ...])]


def at_most_one(obj: object, *names: str) -> Iterator[Issue]:
    """An issue when more than one of the named (truthy) settings is set."""
    given = [n for n in names if getattr(obj, n)]
    if len(given) > 1:
        keys = [n.rstrip("_") for n in names]
        joined = " & ".join(keys) if len(keys) == 2 else ", ".join(keys[:-1]) + " & " + keys[-1]
        yield Issue(f"at most one of {joined} must be configured", given[-1])


# --- HTTP client settings (prometheus/common config) ----------------------------------

_TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")


@dataclass(frozen=True)
class TLSConfig:
    ca: str = ""
    ca_file: str = ""
    ca_ref: str = ""
    cert: str = ""
    cert_file: str = ""
    cert_ref: str = ""
    key: Secret = NO_SECRET
    key_file: str = ""
    key_ref: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: str = ""
    max_version: str = ""

    def check(self) -> Iterator[Issue]:
        yield from at_most_one(self, "ca", "ca_file", "ca_ref")
        yield from at_most_one(self, "cert", "cert_file", "cert_ref")
        yield from at_most_one(self, "key", "key_file", "key_ref")
        has_cert = bool(self.cert or self.cert_file or self.cert_ref)
        has_key = bool(self.key or self.key_file or self.key_ref)
        if has_cert and not has_key:
            yield Issue(
                "exactly one of key or key_file must be configured when a client "
                "certificate is configured"
            )
        if has_key and not has_cert:
            yield Issue(
                "exactly one of cert or cert_file must be configured when a client "
                "key is configured"
            )
        for name in ("min_version", "max_version"):
            value = getattr(self, name)
            if value and value not in _TLS_VERSIONS:
                yield Issue(f"unknown TLS version: {value}", name)


@dataclass(frozen=True)
class BasicAuth:
    username: str = ""
    username_file: str = ""
    username_ref: str = ""
    password: Secret = NO_SECRET
    password_file: str = ""
    password_ref: str = ""

    def check(self) -> Iterator[Issue]:
        yield from at_most_one(self, "username", "username_file", "username_ref")
        yield from at_most_one(self, "password", "password_file", "password_ref")


@dataclass(frozen=True)
class Authorization:
    type: str = "Bearer"
    credentials: Secret = NO_SECRET
    credentials_file: str = ""
    credentials_ref: str = ""

    def check(self) -> Iterator[Issue]:
        if self.type.strip().lower() == "basic":
            yield Issue(
                'authorization type cannot be set to "basic", use "basic_auth" instead', "type"
            )
        yield from at_most_one(self, "credentials", "credentials_file", "credentials_ref")


@dataclass(frozen=True)
class OAuth2:
    client_id: str = ""
    client_secret: Secret = NO_SECRET
    client_secret_file: str = ""
    client_secret_ref: str = ""
    client_certificate_key_id: str = ""
    client_certificate_key: Secret = NO_SECRET
    client_certificate_key_file: str = ""
    client_certificate_key_ref: str = ""
    grant_type: str = ""
    signature_algorithm: str = ""
    iss: str = ""
    audience: str = ""
    claims: Mapping[str, object] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()
    token_url: URLText = ""
    endpoint_params: Mapping[str, str] = field(default_factory=dict)
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    proxy_url: URLText = ""
    no_proxy: str = ""
    proxy_from_environment: bool = False
    proxy_connect_header: Mapping[str, tuple[Secret, ...]] = field(default_factory=dict)

    def check(self) -> Iterator[Issue]:
        if not self.client_id:
            yield Issue("oauth2 client_id must be configured", "client_id")
        if not self.token_url:
            yield Issue("oauth2 token_url must be configured", "token_url")
        yield from at_most_one(self, "client_secret", "client_secret_file", "client_secret_ref")
        yield from _proxy_issues(self.proxy_url, self.no_proxy, self.proxy_from_environment)


@dataclass(frozen=True)
class HTTPHeader:
    values: tuple[str, ...] = ()
    secrets: tuple[Secret, ...] = ()
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class HTTPClientConfig:
    """``<http_config>``: authentication, TLS and proxy settings of an HTTP client."""

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    oauth2: OAuth2 | None = None
    bearer_token: Secret = NO_SECRET
    bearer_token_file: str = ""
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    follow_redirects: bool = True
    enable_http2: bool = True
    proxy_url: URLText = ""
    no_proxy: str = ""
    proxy_from_environment: bool = False
    proxy_connect_header: Mapping[str, tuple[Secret, ...]] = field(default_factory=dict)
    http_headers: Mapping[str, HTTPHeader] = field(default_factory=dict)

    def check(self) -> Iterator[Issue]:
        yield from at_most_one(self, "bearer_token", "bearer_token_file")
        auth_kinds = [
            name
            for name, value in (
                ("basic_auth", self.basic_auth),
                ("oauth2", self.oauth2),
                ("authorization", self.authorization),
            )
            if value is not None
        ]
        if self.bearer_token or self.bearer_token_file:
            auth_kinds.append("bearer_token")
        if len(auth_kinds) > 1:
            yield Issue(
                "at most one of basic_auth, oauth2, bearer_token & authorization "
                "must be configured",
                auth_kinds[-1],
            )
        yield from _proxy_issues(self.proxy_url, self.no_proxy, self.proxy_from_environment)


def _proxy_issues(proxy_url: str, no_proxy: str, from_env: bool) -> Iterator[Issue]:
    if proxy_url:
        try:
            parts = urlsplit(proxy_url)
        except ValueError as exc:
            yield Issue(f"invalid proxy_url: {exc}", "proxy_url")
        else:
            if not parts.scheme or not parts.hostname:
                yield Issue(f"invalid proxy_url {proxy_url!r}", "proxy_url")
    if no_proxy and not proxy_url:
        yield Issue("if no_proxy is configured, proxy_url must also be configured", "no_proxy")
    if from_env and (proxy_url or no_proxy):
        yield Issue(
            "if proxy_from_environment is configured, proxy_url and no_proxy "
            "must not be configured",
            "proxy_from_environment",
        )


@dataclass(frozen=True)
class SigV4Config:
    """AWS Signature v4 settings of an SNS receiver."""

    region: str = ""
    access_key: str = ""
    secret_key: Secret = NO_SECRET
    profile: str = ""
    role_arn: str = ""
    external_id: str = ""
    use_fips_sts_endpoint: bool = False

    def check(self) -> Iterator[Issue]:
        if bool(self.access_key) != bool(self.secret_key):
            yield Issue(
                "must provide a AWS SigV4 Access key and Secret Key if credentials "
                "are specified in the SigV4 config"
            )
