"""The email channel against a real SMTP server (aiosmtpd) on 127.0.0.1.

Plain SMTP, STARTTLS with AUTH (certificate made by the openssl CLI for the test), and
the failures an on-call engineer meets: wrong password, no STARTTLS on offer, nobody
listening.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.harness.procs import free_port
from tests.harness.receivers import SMTPServer, self_signed_cert
from tocsin.alerts.model import Alert
from tocsin.config.common import TLSConfig
from tocsin.config.decode import Secret
from tocsin.config.receivers import EmailConfig
from tocsin.notify.channels import email
from tocsin.notify.channels.email import SMTPClient
from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome, OutcomeKind

pytestmark = pytest.mark.e2e


def notification() -> Notification:
    now = datetime.now(UTC)
    alerts = tuple(
        Alert(
            fingerprint=f"{i:016x}",
            labels={"alertname": "CertExpiry", "host": f"lb{i}"},
            annotations={"summary": f"certificate on lb{i} expires in 3 days"},
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(minutes=5),
            generator_url=f"http://prom/cert?h=lb{i}",
            updated_at=now,
            timeout=True,
        )
        for i in range(2)
    )
    return Notification(
        "web",
        '{}:{alertname="CertExpiry"}',
        {"alertname": "CertExpiry"},
        alerts,
        now,
        "https://tocsin.example",
        idempotency_key="mail-1",
        extra={
            alerts[0].fingerprint: {"runbook_url": "https://rb/certs", "runbook_steps": ["renew"]}
        },
    )


def send(config: EmailConfig, timeout: float = 10.0) -> Outcome:
    return asyncio.run(email.send(notification(), config, SMTPClient(timeout=timeout)))


def base(smarthost: str, **kw: object) -> EmailConfig:
    settings: dict[str, object] = {
        "to": "oncall@example.org, Backup <backup@example.org>",
        "from_": "Tocsin <tocsin@example.org>",
        "smarthost": smarthost,
        "require_tls": False,
        "headers": {"X-Tocsin-Group": "{{ .GroupLabels.alertname }}"},
    }
    settings.update(kw)
    return EmailConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    made = self_signed_cert(tmp_path)
    if made is None:
        pytest.skip("openssl is not installed: no certificate for the STARTTLS server")
    return made


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def plain_server() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def test_plain_smtp_delivers_both_parts(plain_server: SMTPServer) -> None:
    outcome = send(base(plain_server.smarthost))
    assert outcome.kind is OutcomeKind.SENT, outcome
    (mail,) = plain_server.wait_for(1)
    assert mail.mail_from == "tocsin@example.org"
    assert mail.rcpt_tos == ("oncall@example.org", "backup@example.org")
    assert not mail.tls
    assert mail.login is None
    msg = mail.message
    assert msg["Subject"] == "[FIRING:2] CertExpiry"  # header values are trimmed
    assert msg["To"] == "oncall@example.org, Backup <backup@example.org>"
    assert msg["From"] == "Tocsin <tocsin@example.org>"
    assert msg["X-Tocsin-Group"] == "CertExpiry"
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    text = plain.get_content().replace("\r\n", "\n")  # SMTP line endings
    assert "Summary: certificate on lb0 expires in 3 days\n" in text
    assert "Runbook: https://rb/certs\nSteps:\n 1. renew" in text
    page = html.get_content()
    assert "2 alerts for alertname=CertExpiry" in page
    assert '<a href="http://prom/cert?h=lb1"' in page


def test_resent_notification_keeps_its_message_id(plain_server: SMTPServer) -> None:
    assert send(base(plain_server.smarthost)).ok
    assert send(base(plain_server.smarthost)).ok
    first, second = plain_server.wait_for(2)
    assert first.message["Message-ID"] == second.message["Message-ID"]


def test_require_tls_without_starttls_on_offer_is_retryable(plain_server: SMTPServer) -> None:
    outcome = send(base(plain_server.smarthost, require_tls=True))
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert "STARTTLS" in outcome.message
    assert plain_server.mails == []


def test_nobody_listening_is_retryable() -> None:
    outcome = send(base(f"127.0.0.1:{free_port()}"))
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert "refused" in outcome.message.lower()


def test_starttls_and_auth(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    with SMTPServer(
        tls_context=server_tls(cert, key), require_starttls=True, users={"alice": "s3cret"}
    ) as server:
        config = base(
            server.smarthost,
            require_tls=True,
            tls_config=TLSConfig(ca_file=str(cert)),
            auth_username="alice",
            auth_password=Secret("s3cret"),
        )
        outcome = send(config)
        assert outcome.kind is OutcomeKind.SENT, outcome
        (mail,) = server.wait_for(1)
        assert mail.tls
        assert mail.login == "alice"
        assert mail.message["Subject"].startswith("[FIRING:2] CertExpiry")

        wrong = send(
            base(
                server.smarthost,
                require_tls=True,
                tls_config=TLSConfig(ca_file=str(cert)),
                auth_username="alice",
                auth_password=Secret("nope"),
            )
        )
        assert wrong.kind is OutcomeKind.PERMANENT
        assert "535" in wrong.message

        untrusted = send(
            base(
                server.smarthost,
                require_tls=True,
                auth_username="alice",
                auth_password=Secret("s3cret"),
            )
        )
        assert untrusted.kind is OutcomeKind.RETRYABLE
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.message
        assert len(server.mails) == 1


def test_auth_login_when_plain_is_not_offered(tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = tls_files
    password_file = tmp_path / "smtp-password"
    password_file.write_text("pw-from-file\n")
    with SMTPServer(
        tls_context=server_tls(cert, key),
        require_starttls=True,
        users={"bob": "pw-from-file"},
        exclude_mechanisms=("PLAIN",),
    ) as server:
        config = base(
            server.smarthost,
            require_tls=True,
            tls_config=TLSConfig(insecure_skip_verify=True),
            auth_username="bob",
            auth_password_file=str(password_file),
        )
        outcome = send(config)
        assert outcome.kind is OutcomeKind.SENT, outcome
        assert server.wait_for(1)[0].login == "bob"


# (the server this test needs is the insecure one aiosmtpd warns of)
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(
    ("host", "sent"),
    [("127.0.0.1", True), ("127.0.0.2", False)],
    ids=["this machine by name", "another host"],
)
def test_a_password_is_not_sent_unencrypted_to_another_host(host: str, sent: bool) -> None:
    """With require_tls: false, PLAIN or LOGIN would send the password in clear: as Go's
    smtp.PlainAuth, only to localhost (127.0.0.2 is loopback, but not by name: it stands
    for a host across a network)."""
    with SMTPServer(users={"alice": "s3cret"}, host=host) as server:
        config = base(server.smarthost, auth_username="alice", auth_password=Secret("s3cret"))
        outcome = send(config)
        if sent:
            assert outcome.kind is OutcomeKind.SENT, outcome
            assert server.wait_for(1)[0].login == "alice"
        else:
            assert outcome.kind is OutcomeKind.PERMANENT, outcome
            assert outcome.message == (
                "will not send the SMTP password unencrypted to 127.0.0.2: use require_tls: "
                "true (the default) or port 465"
            )
            assert server.mails == []


def test_slow_smtp_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP connection, never says 220
        port = listener.getsockname()[1]
        outcome = send(base(f"127.0.0.1:{port}"), timeout=0.3)
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert "timed out" in outcome.message
