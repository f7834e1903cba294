"""From a receiver's configuration to the integrations a notification fans out to.

:func:`integrations` turns a :class:`~tocsin.config.receivers.Receiver` into one
:class:`Integration` per configured integration, in Alertmanager's order, each with a
``send(notification) -> Outcome`` that already holds its settings, templates and
client. The caller (the outbox) delivers to each independently and records each
outcome under ``(name, index)``, the integration's identity in the notification log.

``send`` also applies ``send_resolved`` as Alertmanager's retry stage does: when it is
false, resolved alerts are left out, and a notification left with no alert is not sent
at all (reported as sent, with a message saying why). Integrations Tocsin cannot
deliver yet (Opsgenie, Telegram, ...) get a ``send`` that reports a permanent failure,
so a configuration that uses them is visible in the log rather than silently ignored
(and ``check-config`` and the server's start and reload warn of them first:
:func:`tocsin.notify.config_checks.unsupported_integrations`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tocsin.config.receivers import (
    EmailConfig,
    MSTeamsConfig,
    MSTeamsV2Config,
    PagerdutyConfig,
    Receiver,
    SlackConfig,
    WebhookConfig,
)
from tocsin.notify.channels import email, msteams, pagerduty, slack, webhook
from tocsin.notify.channels.email import SMTPClient
from tocsin.notify.channels.http import ClientPool
from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome
from tocsin.notify.templates import DEFAULT_TEMPLATES, Templates

__all__ = ["SUPPORTED", "Integration", "Send", "integrations"]

log = logging.getLogger(__name__)

Send = Callable[[Notification], Awaitable[Outcome]]
SUPPORTED = ("email", "msteams", "msteamsv2", "pagerduty", "slack", "webhook")


@dataclass(frozen=True)
class Integration:
    name: str
    index: int
    send: Send
    send_resolved: bool

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as ``(name, index, send)``."""
        return iter((self.name, self.index, self.send))


def _deliver(settings: object, pool: ClientPool, smtp: SMTPClient, templates: Templates) -> Send:
    async def run(notification: Notification) -> Outcome:
        if isinstance(settings, EmailConfig):
            return await email.send(notification, settings, smtp, templates=templates)
        http_config = getattr(settings, "http_config", None)
        try:
            client = pool.client_for(http_config)
        except OSError as exc:  # ssl.SSLError is an OSError
            return Outcome.permanent(f"cannot set up TLS: {exc}")
        if isinstance(settings, WebhookConfig):
            return await webhook.send(notification, settings, client)
        if isinstance(settings, SlackConfig):
            return await slack.send(notification, settings, client, templates=templates)
        if isinstance(settings, MSTeamsConfig | MSTeamsV2Config):
            return await msteams.send(notification, settings, client, templates=templates)
        if isinstance(settings, PagerdutyConfig):
            return await pagerduty.send(notification, settings, client, templates=templates)
        raise AssertionError(f"no channel for {type(settings).__name__}")

    return run


def _unsupported(kind: str) -> Send:
    async def run(notification: Notification) -> Outcome:
        return Outcome.permanent(f"{kind} integrations are not supported by Tocsin yet")

    return run


def _guarded(name: str, index: int, send: Send, send_resolved: bool) -> Send:
    async def run(notification: Notification) -> Outcome:
        if not send_resolved and not notification.news:
            firing = notification.firing
            if not firing:
                return Outcome.sent("not sent: all alerts resolved and send_resolved is false")
            notification = notification.with_alerts(firing)
        try:
            return await send(notification)
        except Exception as exc:
            # A bug in Tocsin, not the receiver's failure: keep the notification (the
            # outbox's retry limit ends it) and leave a trace.
            log.exception("channel %s[%d] failed unexpectedly", name, index)
            return Outcome.retryable(f"internal error in the {name} channel: {exc!r}")

    return run


def integrations(
    receiver: Receiver,
    *,
    clients: ClientPool,
    templates: Templates = DEFAULT_TEMPLATES,
    smtp: SMTPClient | None = None,
) -> list[Integration]:
    """Every integration of ``receiver``, ready to send, in configuration-kind order."""
    smtp = smtp or SMTPClient()
    found: list[Integration] = []
    for kind, index, settings in receiver.integrations():
        send_resolved = bool(getattr(settings, "send_resolved", True))
        if kind in SUPPORTED:
            inner = _deliver(settings, clients, smtp, templates)
        else:
            inner = _unsupported(kind)
        found.append(
            Integration(kind, index, _guarded(kind, index, inner, send_resolved), send_resolved)
        )
    return found
