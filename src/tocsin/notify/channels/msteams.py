"""Microsoft Teams: an Adaptive Card posted to an incoming webhook or a Workflows URL.

Both ``msteams_configs`` and ``msteamsv2_configs`` send the card Alertmanager's
``msteamsv2`` sends (a ``message`` with one ``application/vnd.microsoft.card.adaptive``
attachment): a heading coloured by status (``Attention`` firing, ``Warning``
acknowledged, ``Good`` resolved),
the ``text`` as a wrapping Markdown block, and a "View in Tocsin" button when the
external URL is known. Office 365 connector MessageCards, which ``msteams_configs``
sent in Alertmanager, are retired by Microsoft; for those configs the ``summary`` is
kept as the message's ``summary``. Teams answers 200 (connectors) or 202 (Workflows);
the status code alone decides the outcome.
"""

from __future__ import annotations

from typing import Any

import orjson

from tocsin.config.receivers import MSTeamsConfig, MSTeamsV2Config
from tocsin.notify.channels.http import (
    ConfigFileError,
    HTTPClient,
    post_json,
    secret_or_file,
    utcnow,
)
from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome
from tocsin.notify.rendering import FieldRenderer, declared_defaults
from tocsin.notify.template_data import ACKNOWLEDGED, template_data
from tocsin.notify.templates import DEFAULT_TEMPLATES, Templates

__all__ = ["ADAPTIVE_CARD_SCHEMA", "send", "teams_message"]

ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


_COLOURS = {"firing": "Attention", ACKNOWLEDGED: "Warning"}  # and "Good", resolved


def teams_message(
    notification: Notification,
    config: MSTeamsConfig | MSTeamsV2Config,
    templates: Templates = DEFAULT_TEMPLATES,
) -> dict[str, Any]:
    """The Teams message JSON; a setting whose template fails is sent with its default
    (:mod:`tocsin.notify.rendering`)."""
    return _teams_message(notification, config, templates)[0]


def _teams_message(
    notification: Notification,
    config: MSTeamsConfig | MSTeamsV2Config,
    templates: Templates,
) -> tuple[dict[str, Any], FieldRenderer]:
    data = template_data(notification)
    render = FieldRenderer(
        templates,
        data,
        receiver=notification.receiver,
        integration="msteams" if isinstance(config, MSTeamsConfig) else "msteamsv2",
        defaults=declared_defaults(config),
    )
    title = render(config.title, "title").strip()
    text = render(config.text, "text").strip()
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "style": "heading",
            "color": _COLOURS.get(data.Status, "Good"),
        }
    ]
    if text:
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    card: dict[str, Any] = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": body,
        "msteams": {"width": "full"},
    }
    if data.ExternalURL.startswith(("http://", "https://")):
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "View in Tocsin", "url": data.ExternalURL}
        ]
    message: dict[str, Any] = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
    if isinstance(config, MSTeamsConfig):
        summary = render(config.summary, "summary").strip()
        if summary:
            message["summary"] = summary
    return message, render


async def send(
    notification: Notification,
    config: MSTeamsConfig | MSTeamsV2Config,
    client: HTTPClient,
    *,
    templates: Templates = DEFAULT_TEMPLATES,
) -> Outcome:
    """Deliver ``notification`` to one Teams webhook."""
    try:
        url = secret_or_file(config.webhook_url, config.webhook_url_file, "webhook_url")
    except ConfigFileError as exc:
        return Outcome.permanent(str(exc))
    message, rendered = _teams_message(notification, config, templates)
    answer = await post_json(client, url, orjson.dumps(message), http_config=config.http_config)
    if isinstance(answer, Outcome):
        return rendered.noted(answer)
    return rendered.noted(answer.classify(utcnow()))
