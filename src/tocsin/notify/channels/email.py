"""Email: one multipart/alternative message (plain text, then HTML) over SMTP.

Connection, as Alertmanager's email notifier: implicit TLS when ``force_implicit_tls``
says so (or, when it is unset, on port 465); otherwise plain SMTP, upgraded with
STARTTLS when ``require_tls`` is true (a server that does not offer STARTTLS is then an
error). AUTH happens only when the server offers it and ``auth_username`` is set, with
the first mechanism the server lists that Tocsin has a credential for: CRAM-MD5
(``auth_secret``), PLAIN (``auth_password``, with ``auth_identity``) or LOGIN.

Message: the configured ``headers`` rendered as templates, with ``Subject`` (the
``email.default.subject`` template), ``To`` and ``From`` filled in when absent; a
``Message-ID`` derived from the notification's idempotency key, so a re-sent
notification carries the same ID; ``text`` (default: the ``email.default.text``
template — Alertmanager sends no text part by default) and ``html`` (default
``email.default.html``, autoescaped) as quoted-printable parts.

Outcome: SMTP 4xx replies, refused or dropped connections, timeouts and TLS failures
are retryable; 5xx replies (unknown mailbox, authentication failed) and unusable
settings (no recipient, bad address, no usable AUTH mechanism) are permanent.

The stdlib ``smtplib`` does the talking, in a worker thread (``asyncio.to_thread``), so
a slow mail server never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, getaddresses, make_msgid

from tocsin.config.receivers import EmailConfig
from tocsin.notify.channels.http import ConfigFileError, read_secret_file
from tocsin.notify.channels.tls import ssl_context
from tocsin.notify.html_links import safe_links
from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome
from tocsin.notify.rendering import FieldRenderer, declared_defaults
from tocsin.notify.template_data import template_data
from tocsin.notify.templates import DEFAULT_TEMPLATES, TemplateRenderError, Templates

__all__ = ["Envelope", "SMTPClient", "build_email", "send"]

_SUBJECT = '{{ template "email.default.subject" . }}'
_TEXT = '{{ template "email.default.text" . }}'


class _SettingsError(Exception):
    """Settings that make delivery impossible whatever the server does."""


@dataclass(frozen=True, slots=True)
class Envelope:
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage


def _header_value(text: str) -> str:
    # A rendered value must not smuggle in more headers.
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def build_email(
    notification: Notification, config: EmailConfig, templates: Templates = DEFAULT_TEMPLATES
) -> Envelope:
    """The envelope and message (raises TemplateRenderError for ``to`` or ``from``, or
    _SettingsError); the other settings whose template fails are sent with their
    default (:mod:`tocsin.notify.rendering`)."""
    return _build_email(notification, config, templates)[0]


def _build_email(
    notification: Notification, config: EmailConfig, templates: Templates
) -> tuple[Envelope, FieldRenderer]:
    data = template_data(notification)
    headers = dict(config.headers)
    present = {name.lower() for name in headers}
    if "subject" not in present:
        headers["Subject"] = _SUBJECT
    if "to" not in present:
        headers["To"] = config.to
    if "from" not in present:
        headers["From"] = config.from_
    defaults = declared_defaults(config)
    defaults["text"] = _TEXT
    for name in headers:
        header = {"subject": _SUBJECT, "to": config.to, "from": config.from_}.get(name.lower())
        if header is not None:
            defaults[f"headers.{name}"] = header
    render = FieldRenderer(
        templates, data, receiver=notification.receiver, integration="email", defaults=defaults
    )

    # Where it goes has no default: its template failing is permanent.
    sender_text = templates.render(config.from_, data, field="from")
    senders = [a for _, a in getaddresses([sender_text]) if a]
    if len(senders) != 1:
        raise _SettingsError(f"must be exactly one from address, got {sender_text!r}")
    to_text = templates.render(config.to, data, field="to")
    recipients = tuple(a for _, a in getaddresses([to_text]) if a)
    if not recipients:
        raise _SettingsError(f"no recipient address in to {to_text!r}")

    message = EmailMessage(policy=SMTP_POLICY)
    for name, source in headers.items():
        message[name] = _header_value(render(source, f"headers.{name}"))
    if "date" not in present:
        message["Date"] = format_datetime(notification.now)
    if "message-id" not in present:
        message["Message-ID"] = _message_id(notification, senders[0])
    if config.threading.enabled:
        thread = _thread_id(notification, config.threading.thread_by_date, senders[0])
        message["References"] = thread
        message["In-Reply-To"] = thread

    text = render(config.text or _TEXT, "text")
    # (its links checked as Go's html/template checks them: a javascript: link from
    # an annotation does not reach the on-call's mail)
    html = safe_links(render(config.html, "html", html=True)) if config.html else ""
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return Envelope(senders[0], recipients, message), render


def _domain(address: str) -> str:
    try:
        return Address(addr_spec=address).domain or "tocsin"
    except (ValueError, IndexError):
        return "tocsin"


def _message_id(notification: Notification, sender: str) -> str:
    if not notification.idempotency_key:
        return make_msgid(domain=_domain(sender))
    digest = hashlib.sha256(notification.idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{_domain(sender)}>"


def _thread_id(notification: Notification, by_date: str, sender: str) -> str:
    digest = hashlib.sha256(notification.group_key.encode()).hexdigest()[:32]
    if by_date == "daily":
        digest += "-" + notification.now.strftime("%Y-%m-%d")
    return f"<{digest}@{_domain(sender)}>"


def _split_host_port(smarthost: str) -> tuple[str, int]:
    host, _, port = smarthost.rpartition(":")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class SMTPClient:
    """Talks SMTP for the email channel; a seam for tests and for connection settings."""

    timeout: float = 30.0

    def deliver(self, config: EmailConfig, envelope: Envelope) -> None:
        """Send one message (blocking; raises smtplib/OS/SSL errors or _SettingsError)."""
        host, port = _split_host_port(config.smarthost)
        implicit = config.force_implicit_tls
        if implicit is None:
            implicit = port == 465
        hello = config.hello or None
        smtp: smtplib.SMTP
        if implicit:
            context = ssl_context(config.tls_config)
            smtp = smtplib.SMTP_SSL(
                host, port, local_hostname=hello, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(host, port, local_hostname=hello, timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            if config.require_tls and not implicit:
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        f"require_tls is true, but {config.smarthost} does not advertise STARTTLS"
                    )
                # (made only for TLS: loading the CA store cost each plain message)
                smtp.starttls(context=ssl_context(config.tls_config))
                smtp.ehlo()
            if config.auth_username and smtp.has_extn("auth"):
                exposed = not (implicit or config.require_tls or _local(host))
                _authenticate(smtp, config, host if exposed else "")
            smtp.send_message(envelope.message, envelope.sender, list(envelope.recipients))


def _local(host: str) -> bool:
    """Whether ``host`` is this machine (as Go's smtp.PlainAuth asks)."""
    return host in ("localhost", "127.0.0.1", "::1")


def _authenticate(smtp: smtplib.SMTP, config: EmailConfig, exposed_to: str = "") -> None:
    """Log in with the first mechanism both sides have. ``exposed_to``: the host, when
    the connection is neither encrypted nor to this machine: a password is then not
    sent (PLAIN, LOGIN), as Go's smtp.PlainAuth (Alertmanager's) refuses it, for anyone
    on the path would read it; CRAM-MD5 sends none."""
    password = str(config.auth_password)
    if not password and config.auth_password_file:
        password = read_secret_file(config.auth_password_file, "auth_password_file")
    secret = str(config.auth_secret)
    if not secret and config.auth_secret_file:
        secret = read_secret_file(config.auth_secret_file, "auth_secret_file")
    username = config.auth_username
    identity = config.auth_identity

    def plain(challenge: bytes | None = None) -> str:
        return f"{identity}\0{username}\0{password}"

    for mechanism in smtp.esmtp_features.get("auth", "").upper().split():
        if mechanism == "CRAM-MD5" and secret:
            smtp.user, smtp.password = username, secret
            smtp.auth("CRAM-MD5", smtp.auth_cram_md5)
            return
        if mechanism in ("PLAIN", "LOGIN") and exposed_to:
            continue
        if mechanism == "PLAIN" and password:
            smtp.auth("PLAIN", plain)
            return
        if mechanism == "LOGIN" and password:
            smtp.user, smtp.password = username, password
            smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
            return
    if exposed_to and password:
        raise _SettingsError(
            f"will not send the SMTP password unencrypted to {exposed_to}: use "
            "require_tls: true (the default) or port 465"
        )
    raise _SettingsError(
        "no usable AUTH mechanism: the server offers "
        f"{smtp.esmtp_features.get('auth', '').strip() or 'none'}"
    )


def _smtp_outcome(exc: Exception) -> Outcome:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{rcpt}: {code} {msg!r}" for rcpt, (code, msg) in exc.recipients.items())
        if codes and all(500 <= c < 600 for c in codes):
            return Outcome.permanent(f"recipients refused: {text}")
        return Outcome.retryable(f"recipients refused: {text}")
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        detail = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        message = f"SMTP {exc.smtp_code} {detail}"
        if 500 <= exc.smtp_code < 600:
            return Outcome.permanent(message)
        return Outcome.retryable(message)
    if isinstance(exc, _SettingsError | ConfigFileError):
        return Outcome.permanent(str(exc))
    if isinstance(exc, TimeoutError):
        return Outcome.retryable("timed out talking to the SMTP server")
    return Outcome.retryable(f"{type(exc).__name__}: {exc}")


async def send(
    notification: Notification,
    config: EmailConfig,
    smtp: SMTPClient | None = None,
    *,
    templates: Templates = DEFAULT_TEMPLATES,
) -> Outcome:
    """Deliver ``notification`` as one email; ``smtp`` defaults to ``SMTPClient()``."""
    smtp = smtp or SMTPClient()
    if not config.smarthost:
        return Outcome.permanent("no smarthost configured")
    try:
        # rendered in the worker thread too: a storm's e-mails took half the event
        # loop's time (12 ms each), and every other send and request waited behind it
        envelope, rendered = await asyncio.to_thread(_build_email, notification, config, templates)
    except (TemplateRenderError, _SettingsError) as exc:
        return Outcome.permanent(str(exc))
    try:
        _split_host_port(config.smarthost)
    except ValueError:
        return Outcome.permanent(f"invalid smarthost {config.smarthost!r}")
    try:
        await asyncio.to_thread(smtp.deliver, config, envelope)
    except (smtplib.SMTPException, OSError, ssl.SSLError, _SettingsError, ConfigFileError) as exc:
        return rendered.noted(_smtp_outcome(exc))
    return rendered.noted(
        Outcome.sent(f"accepted by {config.smarthost} for {', '.join(envelope.recipients)}")
    )
