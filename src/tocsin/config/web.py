"""The web configuration file (``--web-config-file``): TLS and basic authentication for
Tocsin's own HTTP server, in the Prometheus exporter-toolkit's format, so the file an
Alertmanager runs with (``--web.config.file``) works unchanged.

What Tocsin does not implement (inline certificates, cipher and curve choices, allowed
client SANs) is refused with the key named, rather than ignored: a
setting someone relies on for security must not silently do nothing.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from tocsin.config.common import GoDuration
from tocsin.config.decode import NO_SECRET, Issue, Secret, compose
from tocsin.config.loader import parse_section, read_text

__all__ = [
    "CLIENT_AUTH",
    "TLS_VERSIONS",
    "HTTPServerConfig",
    "TLSServerConfig",
    "WebConfig",
    "load_web_config",
]

# exporter-toolkit's names (Go's tls.ClientAuthType) that Python's ssl module can
# enforce, with what enforces them.
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,  # verify a certificate if one is sent
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# The response headers exporter-toolkit lets the file set.
_HEADERS = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Strict-Transport-Security",
)
# What bcrypt's hashes look like (htpasswd -B writes $2y$, Python's bcrypt $2b$), with
# a cost bcrypt takes (4 to 31).
_BCRYPT = re.compile(r"^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$")
_UNSUPPORTED = "is not supported by Tocsin: remove it"


@dataclass(frozen=True)
class TLSServerConfig:
    cert_file: str = ""
    key_file: str = ""
    client_auth_type: str = "NoClientCert"
    client_ca_file: str = ""
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    # known to exporter-toolkit, refused here (see the module docstring)
    cert: str = ""
    key: Secret = NO_SECRET
    client_ca: str = ""
    client_allowed_sans: tuple[str, ...] = ()
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool | None = None
    curve_preferences: tuple[str, ...] = ()

    def check(self) -> Iterator[Issue]:
        for name in ("cert", "key", "client_ca"):
            if getattr(self, name):
                yield Issue(f"{name} {_UNSUPPORTED}, and use {name}_file", name)
        for name in (
            "client_allowed_sans",
            "cipher_suites",
            "prefer_server_cipher_suites",
            "curve_preferences",
        ):
            if getattr(self, name) not in ((), None):
                yield Issue(f"{name} {_UNSUPPORTED}", name)
        if not self.cert_file:
            yield Issue("missing cert_file", "cert_file")
        if not self.key_file:
            yield Issue("missing key_file", "key_file")
        if self.client_auth_type not in CLIENT_AUTH:
            known = ", ".join(CLIENT_AUTH)
            yield Issue(
                f"invalid client_auth_type {self.client_auth_type!r}: one of {known}",
                "client_auth_type",
            )
        elif self.client_auth_type != "NoClientCert" and not self.client_ca_file:
            yield Issue(
                f"client_ca_file is required with client_auth_type {self.client_auth_type}",
                "client_ca_file",
            )
        versions = (self.min_version, self.max_version)
        for name, value in zip(("min_version", "max_version"), versions, strict=True):
            if value not in TLS_VERSIONS:
                yield Issue(f"unknown TLS version {value!r}: TLS12 or TLS13", name)
        if versions == ("TLS13", "TLS12"):
            yield Issue("min_version is above max_version", "min_version")
        missing = False
        for name in ("cert_file", "key_file", "client_ca_file"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                missing = True
                yield Issue(f"no such file: {path}", name)
        if not missing and self.cert_file and self.key_file:
            yield from self._loads()

    def _loads(self) -> Iterator[Issue]:
        """Load the files as the server will, so that a key that does not match its
        certificate, or a file that is not PEM, is found before it is served."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as exc:
            yield Issue(f"cannot load the certificate with its key: {exc}", "cert_file")
        if self.client_ca_file:
            try:
                context.load_verify_locations(self.client_ca_file)
            except (ssl.SSLError, OSError) as exc:
                yield Issue(f"cannot load the client CAs: {exc}", "client_ca_file")


@dataclass(frozen=True)
class HTTPServerConfig:
    http2: bool = True  # uvicorn speaks HTTP/1.1; the key is accepted, as a preference
    headers: Mapping[str, str] = field(default_factory=dict)

    def check(self) -> Iterator[Issue]:
        for name, value in self.headers.items():
            if any(ord(c) < 0x20 or ord(c) > 0xFF or c == "\x7f" for c in value):
                yield Issue("a header value must be printable Latin-1 text", f"headers.{name}")
            if name not in _HEADERS:
                known = ", ".join(_HEADERS)
                yield Issue(f"header {name!r} cannot be set: one of {known}", f"headers.{name}")


@dataclass(frozen=True)
class RateLimit:
    """Every request takes a token: ``burst`` at once, one more every ``interval``
    (0: no limit); over it, 429."""

    interval: GoDuration = timedelta(0)
    burst: int = 0

    def check(self) -> Iterator[Issue]:
        if self.interval < timedelta(0):
            yield Issue("interval must not be negative", "interval")
        if self.interval > timedelta(0) and self.burst < 1:
            yield Issue("burst must be at least 1 (with none, every request is refused)", "burst")


@dataclass(frozen=True)
class WebConfig:
    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = field(default_factory=HTTPServerConfig)
    # user -> bcrypt hash; empty: no authentication
    basic_auth_users: Mapping[str, Secret] = field(default_factory=dict)
    rate_limit: RateLimit | None = None

    def check(self) -> Iterator[Issue]:
        for user, hashed in self.basic_auth_users.items():
            key = f"basic_auth_users.{user}"
            if not user or ":" in user or "\0" in user:
                yield Issue(f"user name {user!r} cannot be used in basic auth", key)
            if not _BCRYPT.match(hashed):
                yield Issue(
                    "not a bcrypt hash (make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n')",
                    key,
                )


def load_web_config(path: str | Path) -> WebConfig:
    """Read and validate the web configuration file at ``path``: every problem, each
    with the file, line and key, in one :class:`ConfigError`. Relative paths in it are
    taken from the current directory, as exporter-toolkit takes them."""
    text = read_text(path)
    try:
        empty = compose(text) is None  # (a file of comments: nothing required)
    except yaml.YAMLError:
        empty = False  # parse_section names the syntax error
    return WebConfig() if empty else parse_section(text, WebConfig, str(path))
