"""Real notification receivers on 127.0.0.1 for channel tests: HTTP and SMTP.

:class:`HTTPReceiver` is a threaded HTTP/1.1 server that records every request and
answers as scripted per path: a status with a body and headers, a raw byte string that
is not HTTP at all, or a hang until the test releases it (or the receiver stops).
:class:`SMTPServer` wraps aiosmtpd's controller and records the messages it accepts,
optionally with STARTTLS and AUTH. Both are context managers that stop their threads
on exit, whatever the test did. Waiting is a bounded wait on a condition variable,
never a sleep.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.harness.procs import free_port

__all__ = [
    "HTTPReceiver",
    "ReceivedMail",
    "RecordedRequest",
    "Reply",
    "SMTPServer",
    "self_signed_cert",
]

# A hung request is released at the latest after this long, so a forgotten release
# cannot keep a test process alive.
HANG_LIMIT = 60.0


@dataclass(frozen=True)
class Reply:
    """How the receiver answers one request."""

    status: int = 200
    body: bytes = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: bool = False
    raw: bytes | None = None

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        merged = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status, json.dumps(obj).encode(), merged)

    @classmethod
    def text(cls, body: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        merged = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
        return cls(status, body.encode(), merged)

    @classmethod
    def hanging(cls) -> Reply:
        return cls(hang=True)

    @classmethod
    def garbage(cls) -> Reply:
        """Bytes that are not an HTTP response at all, then the connection closes."""
        return cls(raw=b"\x00\xffthis is not HTTP\r\n\r\n")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class HTTPReceiver:
    """A recording HTTP(S) server; ``reply(path, ...)`` scripts answers (the last repeats)."""

    def __init__(self, default: Reply | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.default = default or Reply()
        self.tls = tls
        self._scripts: dict[str, list[Reply]] = {}
        self._requests: list[RecordedRequest] = []
        self._changed = threading.Condition()
        self._release = threading.Event()
        self._hanging = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Self:
        server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        # A short poll interval keeps shutdown (which waits for one poll) quick.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="http-receiver"
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def port(self) -> int:
        assert self._server is not None, "receiver not started"
        port: int = self._server.server_address[1]
        return port

    def url(self, path: str = "/") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    # --- scripting and inspection ---------------------------------------------------------

    def reply(self, path: str, *replies: Reply) -> None:
        with self._changed:
            self._scripts[path] = list(replies)

    def release(self) -> None:
        """Let every hanging request (and every later one) answer."""
        self._release.set()

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        with self._changed:
            return self._matching(path)

    def wait_for(
        self, count: int, path: str | None = None, timeout: float = 10.0
    ) -> list[RecordedRequest]:
        """The requests (to ``path``) once there are ``count``; fails after ``timeout`` s."""
        self._wait(
            lambda: len(self._matching(path)) >= count,
            timeout,
            f"{count} request(s) to {path or 'any path'}",
        )
        return self.requests(path)

    def wait_hanging(self, count: int, timeout: float = 10.0) -> None:
        self._wait(lambda: self._hanging >= count, timeout, f"{count} hanging request(s)")

    def _matching(self, path: str | None) -> list[RecordedRequest]:
        return [r for r in self._requests if path is None or r.path == path]

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
                self._changed.wait(left)
        return True

    # --- called by the handler threads --------------------------------------------------

    def _record(self, request: RecordedRequest) -> Reply:
        with self._changed:
            self._requests.append(request)
            script = self._scripts.get(request.path)
            reply = self.default
            if script:
                # Scripted replies are used in turn; the last one answers from then on.
                reply = script.pop(0) if len(script) > 1 else script[0]
            if reply.hang:
                self._hanging += 1
            self._changed.notify_all()
        return reply

    def _hang(self) -> None:
        self._release.wait(HANG_LIMIT)
        with self._changed:
            self._hanging -= 1
            self._changed.notify_all()


def _handler_for(receiver: HTTPReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = receiver._record(
                RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
            )
            if reply.hang:
                receiver._hang()
            try:
                if reply.raw is not None:
                    self.wfile.write(reply.raw)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (e.g. its timeout)

        do_POST = do_GET = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


# --- SMTP -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        mail = ReceivedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content),
            tls=session.ssl is not None,
            login=login,
        )
        self.server._add(mail)
        return "250 Message accepted for delivery"


class _QuietServer(ThreadingHTTPServer):
    """A client closing an idle keep-alive connection (a reset, as aiohttp's pool may do
    when it is closed) is normal, not an error to print over the test output."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SMTPServer:
    """aiosmtpd on 127.0.0.1; ``users`` turns AUTH on (PLAIN and LOGIN, less
    ``exclude_mechanisms``), ``tls_context`` offers STARTTLS."""

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        users: Mapping[str, str] | None = None,
        exclude_mechanisms: tuple[str, ...] = (),
        host: str = "127.0.0.1",  # another loopback address: a server not "local" by name
    ) -> None:
        self.host = host
        self.port = free_port()
        self.users = dict(users or {})
        self.mails: list[ReceivedMail] = []
        self._changed = threading.Condition()
        kwargs: dict[str, Any] = {}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=require_starttls)
        if self.users:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=tls_context is not None,
                auth_exclude_mechanism=list(exclude_mechanisms),
            )
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)

    @property
    def smarthost(self) -> str:
        return f"{self.host}:{self.port}"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users.get(user) == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _add(self, mail: ReceivedMail) -> None:
        with self._changed:
            self.mails.append(mail)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.mails) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {count} mail(s)")
                self._changed.wait(left)
            return list(self.mails)

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()


def self_signed_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path] | None:
    """A certificate and key for ``host`` made with the openssl CLI, or None without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName=IP:{host}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key
