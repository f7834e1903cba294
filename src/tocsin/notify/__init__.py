"""Notifications: what is sent (message, payload, templates) and how it went (outcome).

The channels (:mod:`tocsin.notify.channels`) are adapters without storage or
scheduling; the outbox that retries them lives elsewhere.
"""

from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome, OutcomeKind
from tocsin.notify.payload import webhook_payload
from tocsin.notify.templates import DEFAULT_TEMPLATES, Templates

__all__ = [
    "DEFAULT_TEMPLATES",
    "Notification",
    "Outcome",
    "OutcomeKind",
    "Templates",
    "webhook_payload",
]
