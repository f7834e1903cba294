"""Webhook: POST the Alertmanager version 4 payload to ``url`` (or ``url_file``).

The body of a 2xx answer is ignored, as Alertmanager ignores it; only the status code
decides (:func:`tocsin.notify.outcome.classify_http`). The request carries the
SHA-256 of the notification's idempotency key in an ``Idempotency-Key`` header (the
IETF draft's name; the payload stays Alertmanager's): a re-send after a crash or a lost
lease carries the same one, so a receiver can drop the duplicate.
"""

from __future__ import annotations

import hashlib

from tocsin.config.receivers import WebhookConfig
from tocsin.notify.channels.http import (
    ConfigFileError,
    HTTPClient,
    post_json,
    secret_or_file,
    utcnow,
)
from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome
from tocsin.notify.payload import go_json, webhook_payload
from tocsin.notify.templates import Templates

__all__ = ["send"]


async def send(
    notification: Notification,
    config: WebhookConfig,
    client: HTTPClient,
    *,
    templates: Templates | None = None,
) -> Outcome:
    """Deliver ``notification`` to one webhook; ``templates`` is unused (uniform API)."""
    del templates
    try:
        url = secret_or_file(config.url, config.url_file, "url")
    except ConfigFileError as exc:
        return Outcome.permanent(str(exc))
    body = go_json(webhook_payload(notification, config.max_alerts))
    answer = await post_json(
        client,
        url,
        body,
        http_config=config.http_config,
        timeout=config.timeout,
        headers=_idempotency(notification.idempotency_key),
    )
    if isinstance(answer, Outcome):
        return answer
    return answer.classify(utcnow())


def _idempotency(key: str) -> dict[str, str] | None:
    """The key as the header carries it: its SHA-256, quoted (the draft's string form).
    The key itself holds the group's label values, which may be long or not ASCII."""
    if not key:
        return None
    return {"Idempotency-Key": f'"{hashlib.sha256(key.encode()).hexdigest()}"'}
