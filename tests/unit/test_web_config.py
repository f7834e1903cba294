"""The web config file (exporter-toolkit's format): one table row per rule, each
problem named by file, line and key; the Basic credentials parser (a property test);
and the password check's memory, which a changed hash must not outlive."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import trustme
from hypothesis import given
from hypothesis import strategies as st

from tocsin.api.auth import WebAuth, _no_user, credentials
from tocsin.api.rate_limit import TokenBucket
from tocsin.config.errors import ConfigError
from tocsin.config.web import RateLimit, WebConfig, load_web_config

# bcrypt of "pw" at cost 4, fixed so that every pytest-xdist worker collects the same ids
HASH = "$2b$04$2cWzRi4w9yEtUhSCGyCzL.kyQ8JkoYgJ/.wBqwapa/lWhxzfzAm9C"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A certificate with its key, another's key, a CA file, and a file not PEM."""
    where = tmp_path_factory.mktemp("pem")
    ca = trustme.CA()
    cert, other = ca.issue_cert("127.0.0.1"), ca.issue_cert("other.example")
    cert.cert_chain_pems[0].write_to_path(str(where / "cert.pem"))
    cert.private_key_pem.write_to_path(str(where / "key.pem"))
    other.private_key_pem.write_to_path(str(where / "other.key"))
    ca.cert_pem.write_to_path(str(where / "ca.pem"))
    (where / "garbage.pem").write_text("not PEM\n")
    return where


TLS = "tls_server_config:\n  cert_file: {d}/cert.pem\n  key_file: {d}/key.pem\n"

# (what the file says, the problems "LINE: KEY: start of message"; none: it loads)
ROWS = [
    ("", []),
    ("# only a comment\n", []),
    (f"basic_auth_users:\n  alice: {HASH}\n", []),
    # a hash htpasswd -B writes ($2y$) is taken as it is
    (
        "basic_auth_users:\n  bob: $2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze\n",
        [],
    ),
    ("basic_auth_users:\n  alice: pw\n", ["2: basic_auth_users.alice: not a bcrypt hash"]),
    # a cost bcrypt refuses (4 to 31), or a prefix it does not take, would fail every login
    (
        "basic_auth_users:\n  alice: " + HASH.replace("$04$", "$03$") + "\n",
        ["2: basic_auth_users.alice: not a bcrypt hash"],
    ),
    (
        "basic_auth_users:\n  alice: " + HASH.replace("$2b$", "$2$") + "\n",
        ["2: basic_auth_users.alice: not a bcrypt hash"],
    ),
    (f'basic_auth_users:\n  "a\\0b": {HASH}\n', ["2: basic_auth_users.a\x00b: user name"]),
    (f"basic_auth_users:\n  'a:b': {HASH}\n", ["2: basic_auth_users.a:b: user name"]),
    ("bogus: 1\n", ["1: bogus: unknown key"]),
    (TLS, []),
    (TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {d}/ca.pem\n", []),
    # the files are loaded as the server will load them
    (
        "tls_server_config:\n  cert_file: {d}/cert.pem\n  key_file: {d}/other.key\n",
        ["2: tls_server_config.cert_file: cannot load the certificate with its key"],
    ),
    (
        TLS + "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: {d}/garbage.pem\n",
        ["5: tls_server_config.client_ca_file: cannot load the client CAs"],
    ),
    (TLS + "  client_auth_type: RequireAnyClientCert\n", ["4: tls_server_config.client_auth_type"]),
    (
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n",
        ["1: tls_server_config.client_ca_file: client_ca_file is required"],
    ),
    (
        "tls_server_config:\n  cert_file: /no/such.pem\n",
        [
            "1: tls_server_config.key_file: missing key_file",
            "2: tls_server_config.cert_file: no such file",
        ],
    ),
    (TLS + "  min_version: TLS11\n", ["4: tls_server_config.min_version: unknown TLS version"]),
    (TLS + "  min_version: TLS13\n  max_version: TLS12\n", ["4: tls_server_config.min_version"]),
    # what exporter-toolkit knows and Tocsin does not do is refused, not ignored
    (TLS + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", ["4: tls_server_config.cipher_suites"]),
    (TLS + "  client_allowed_sans: [a]\n", ["4: tls_server_config.client_allowed_sans"]),
    (TLS + "  cert: inline\n", ["4: tls_server_config.cert: cert is not supported"]),
    ("rate_limit:\n  interval: 1s\n  burst: 2\n", []),
    ("rate_limit:\n  interval: 0s\n", []),  # 0: no limit
    ("rate_limit:\n  interval: 1s\n", ["1: rate_limit.burst: burst must be at least 1"]),
    ("rate_limit:\n  interval: soon\n", ["2: rate_limit.interval"]),
    ("http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n", []),
    (
        "http_server_config:\n  headers:\n    X-Powered-By: me\n",
        ["3: http_server_config.headers.X-Powered-By: header"],
    ),
    (
        'http_server_config:\n  headers:\n    X-Frame-Options: "deny\\r\\nX: y"\n',
        ["3: http_server_config.headers.X-Frame-Options: a header value must be printable"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), ROWS)
def test_the_web_config_file(files: Path, text: str, expected: list[str]) -> None:
    path = files / "web.yml"
    path.write_text(text.format(d=files))
    if not expected:
        assert isinstance(load_web_config(path), WebConfig)
        return
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    found = [str(p).removeprefix(f"{path}:") for p in caught.value.problems]
    assert len(found) == len(expected), found
    for problem, start in zip(found, expected, strict=True):
        assert problem.startswith(start), (problem, start)


def test_a_missing_web_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yml:1: \(file\)"):
        load_web_config(tmp_path / "nope.yml")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@given(st.text().filter(lambda u: ":" not in u), st.text())
def test_basic_credentials_come_back_as_sent(user: str, password: str) -> None:
    assert credentials(basic(user, password)) == (user, password)
    assert credentials(basic(user, password).replace("Basic", "basic", 1)) == (user, password)


@given(st.text())
def test_anything_else_is_no_credentials(header: str) -> None:
    found = credentials(header)
    if found is not None:  # only a well-formed Basic header parses
        assert header.lower().startswith("basic ")
        assert basic(*found).split(" ", 1)[1] == header.split(" ", 1)[1].strip()


@pytest.mark.parametrize(
    "header",
    ["", "Bearer abc", "Basic", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()],
)
def test_malformed_headers_are_refused(header: str) -> None:
    assert credentials(header) is None


def test_a_remembered_password_does_not_outlive_its_hash() -> None:
    """The check remembers a pair that passed, for that hash only: after a reload that
    changes alice's password, her old one is checked again, and refused."""

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    auth = WebAuth(app, WebConfig)
    old = {"alice": bcrypt.hashpw(b"old", bcrypt.gensalt(4)).decode()}
    new = {"alice": bcrypt.hashpw(b"new", bcrypt.gensalt(4)).decode()}

    async def check() -> list[bool]:
        return [
            await auth.allowed(old, basic("alice", "old")),
            await auth.allowed(old, basic("alice", "old")),  # remembered
            await auth.allowed(new, basic("alice", "old")),
            await auth.allowed(new, basic("alice", "new")),
            await auth.allowed(new, basic("bob", "new")),
        ]

    assert asyncio.run(check()) == [True, True, False, True, False]


def test_a_password_longer_than_bcrypt_takes_is_refused_not_an_error() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    auth = WebAuth(app, WebConfig)
    users = {"alice": HASH}
    assert asyncio.run(auth.allowed(users, basic("alice", "x" * 100))) is False
    assert asyncio.run(auth.allowed(users, basic("nobody", "x" * 100))) is False


def test_an_unknown_user_is_checked_at_the_configured_cost() -> None:
    """The hash checked for a user that does not exist costs what a real one costs."""
    assert _no_user("04").startswith(b"$2b$04$")
    assert _no_user("11").startswith(b"$2b$11$")
    assert not bcrypt.checkpw(b"no such user!", _no_user("04"))


# --- the rate limit ------------------------------------------------------------------------

# (burst, interval s, [(time, allowed)...]): Go's rate.Limiter.Allow, one row each
BUCKET_ROWS = [
    # it starts full: burst requests at once, then none
    (3, 1.0, [(0, True), (0, True), (0, True), (0, False)]),
    # one token comes back per interval
    (1, 1.0, [(0, True), (0.5, False), (1.0, True), (1.5, False)]),
    # tokens pile up to the burst, no further
    (2, 1.0, [(0, True), (0, True), (10, True), (10, True), (10, False)]),
    # fractions of a token add up
    (1, 2.0, [(0, True), (1, False), (2, True)]),
    # a clock that goes back adds nothing
    (1, 1.0, [(5, True), (4, False), (5.5, False), (6, True)]),
]


@pytest.mark.parametrize(("burst", "interval", "calls"), BUCKET_ROWS)
def test_the_token_bucket(burst: int, interval: float, calls: list[tuple[float, bool]]) -> None:
    bucket = TokenBucket(interval, burst)
    assert [bucket.allow(now) for now, _ in calls] == [ok for _, ok in calls]


@given(
    st.integers(1, 20),
    st.floats(0.01, 10),
    st.lists(st.floats(0, 100), min_size=1, max_size=200).map(sorted),
)
def test_the_bucket_never_allows_more_than_burst_plus_what_time_refills(
    burst: int, interval: float, times: list[float]
) -> None:
    bucket = TokenBucket(interval, burst)
    allowed = sum(bucket.allow(t) for t in times)
    assert allowed <= burst + (times[-1] - times[0]) / interval + 1e-9
    assert allowed >= min(burst, len(times))  # the first burst always gets through


def test_requests_over_the_rate_limit_get_429(files: Path) -> None:
    """Every request counts, a refused password too; a reload's new limit starts full."""
    now = [0.0]
    config = [WebConfig(rate_limit=RateLimit(timedelta(seconds=1), 2))]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    auth = WebAuth(app, lambda: config[0], clock=lambda: now[0])

    async def statuses(n: int) -> list[int]:
        transport = httpx.ASGITransport(app=auth)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return [(await http.get("/-/healthy")).status_code for _ in range(n)]

    assert asyncio.run(statuses(3)) == [200, 200, 429]
    now[0] = 1.0
    assert asyncio.run(statuses(2)) == [200, 429]
    config[0] = WebConfig(rate_limit=RateLimit(timedelta(seconds=1), 1))  # reloaded
    assert asyncio.run(statuses(2)) == [200, 429]
    config[0] = WebConfig()  # no limit
    assert asyncio.run(statuses(5)) == [200] * 5


def test_password_checks_run_on_threads_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each bcrypt check holds a token of the middleware's own limiter (one per core),
    not one of the thread pool that other routes share."""
    from tocsin.api import auth as auth_module  # (its _CHECKERS)

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    auth = WebAuth(app, WebConfig)
    held: list[float] = []
    real = bcrypt.checkpw

    def checkpw(password: bytes, hashed: bytes) -> bool:
        assert auth._checkers is not None
        held.append(auth._checkers.borrowed_tokens)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)  # (the module auth imports)
    users = {"alice": HASH}
    assert asyncio.run(auth.allowed(users, basic("alice", "pw"))) is True
    assert asyncio.run(auth.allowed(users, basic("bob", "pw"))) is False
    assert held == [1, 1]
    assert auth._checkers is not None
    assert auth._checkers.total_tokens == auth_module._CHECKERS
