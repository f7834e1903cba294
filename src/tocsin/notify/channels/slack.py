"""Slack: a Block Kit message to an incoming webhook or to ``chat.postMessage``.

Where it goes: with ``app_token`` (Alertmanager's setting) the message is posted to
``app_url`` (default ``chat.postMessage``) with the token as Bearer; otherwise to
``api_url``, which may be an incoming webhook or ``chat.postMessage`` with
``http_config.authorization`` carrying the bot token. ``channel`` is required by
``chat.postMessage`` and ignored by incoming webhooks.

What it says: a header (``title``), ``pretext`` and ``text`` sections when set, one
section per alert (named template ``slack.default.alert``, rendered with the alert as
``dot``, with a "Source" button to its ``generatorURL``), ``fields``, a row of buttons
("View in Tocsin" to ``title_link`` and the configured URL ``actions``), ``footer`` as
context; ``fallback`` (or ``message_text``) is the notification text. Slack's limits
are respected (50 blocks, 150 characters in a header, 3000 in a section).

How it ended: a non-2xx status is judged as for any HTTP receiver. A 2xx JSON answer
(``chat.postMessage``) must say ``"ok": true``; ``"ok": false`` is retryable for
Slack's transient errors (rate limits, internal errors) and permanent otherwise. A
plain-text answer (incoming webhook) must be ``ok``, as Alertmanager requires.
"""

from __future__ import annotations

from typing import Any

import orjson

from tocsin.config.receivers import SlackConfig
from tocsin.notify.channels.http import (
    ConfigFileError,
    HTTPAnswer,
    HTTPClient,
    post_json,
    secret_or_file,
    utcnow,
)
from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome, excerpt, parse_retry_after
from tocsin.notify.rendering import FieldRenderer, declared_defaults
from tocsin.notify.template_data import template_data
from tocsin.notify.templates import DEFAULT_TEMPLATES, Templates

__all__ = ["CHAT_POST_MESSAGE_URL", "classify_slack", "send", "slack_message"]

CHAT_POST_MESSAGE_URL = "https://slack.com/api/chat.postMessage"

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELDS = 10
MAX_BUTTONS = 25
# Leaves room for header, pretext, text, fields, buttons, footer and the "more" line.
MAX_ALERT_SECTIONS = MAX_BLOCKS - 8

# chat.postMessage errors that go away by themselves; any other "ok": false is a
# problem with the request, the token or the channel, which a retry does not fix.
RETRYABLE_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}}


def _button(text: str, url: str, style: str = "") -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": _plain(_cut(text, 75)), "url": url}
    if style in ("primary", "danger"):
        button["style"] = style
    return button


# (action, text, style) of a page's interactive buttons
_BUTTONS = (("ack", "Acknowledge", "primary"), ("resolve", "Resolve", ""))


def _oncall_buttons(notification: Notification) -> list[dict[str, Any]]:
    """For a page of an alert group under an escalation policy: interactive buttons
    whose value names the action, the group and the episode it was paged for
    (``ack:ID:ESCALATION``); Slack sends the click to Tocsin's ``/api/v1/slack/actions``,
    which checks Slack's signature, and acts only while the group is in that episode.
    The notice that someone acknowledged it offers to resolve it only; the message that
    it resolved, nothing (its Acknowledge only answered "it is resolved")."""
    page = next((e for e in notification.extra.values() if e.get("group_id")), None)
    if page is None or notification.status == "resolved":
        return []
    group = f"{page['group_id']}:{page.get('escalation_id') or ''}".rstrip(":")
    offered = _BUTTONS[1:] if notification.acknowledged_by else _BUTTONS
    return [
        {
            "type": "button",
            "action_id": action,
            "text": _plain(text),
            "value": f"{action}:{group}",
            **({"style": style} if style else {}),
        }
        for action, text, style in offered
    ]


def slack_message(
    notification: Notification, config: SlackConfig, templates: Templates = DEFAULT_TEMPLATES
) -> dict[str, Any]:
    """The chat.postMessage / incoming-webhook JSON; a setting whose template fails is
    sent with its default (:mod:`tocsin.notify.rendering`)."""
    return _slack_message(notification, config, templates)[0]


def _slack_message(
    notification: Notification, config: SlackConfig, templates: Templates
) -> tuple[dict[str, Any], FieldRenderer]:
    data = template_data(notification)
    renderer = FieldRenderer(
        templates,
        data,
        receiver=notification.receiver,
        integration="slack",
        defaults=declared_defaults(config),
    )

    def render(value: str, field: str) -> str:
        return renderer(value, field).strip()

    title = render(config.title, "title")
    fallback = render(config.fallback, "fallback")
    blocks: list[dict[str, Any]] = []
    if title:
        blocks.append({"type": "header", "text": _plain(_cut(title, MAX_HEADER))})
    for field in ("pretext", "text"):
        value = render(getattr(config, field), field)
        if value:
            blocks.append(_mrkdwn_section(value))

    shown = data.Alerts[:MAX_ALERT_SECTIONS]
    for alert in shown:
        text = renderer.named("slack.default.alert", dot=alert).strip()
        section = _mrkdwn_section(text or alert.Labels.get("alertname", "alert"))
        if alert.GeneratorURL.startswith(("http://", "https://")):
            section["accessory"] = _button("Source", _cut(alert.GeneratorURL, MAX_SECTION))
        blocks.append(section)
    hidden = len(data.Alerts) - len(shown) + data.TruncatedAlerts
    if hidden > 0:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"…and {hidden} more"}]}
        )

    fields = []
    for index, item in enumerate(config.fields[:MAX_FIELDS]):
        name = render(item.title, f"fields[{index}].title")
        value = render(item.value, f"fields[{index}].value")
        fields.append({"type": "mrkdwn", "text": _cut(f"*{name}*\n{value}", 2000)})
    if fields:
        blocks.append({"type": "section", "fields": fields})

    image_url = render(config.image_url, "image_url")
    if image_url:
        blocks.append({"type": "image", "image_url": image_url, "alt_text": title or "image"})

    buttons = _oncall_buttons(notification)
    title_link = render(config.title_link, "title_link")
    if title_link.startswith(("http://", "https://")):
        buttons.append(_button("View in Tocsin", title_link, "primary"))
    for index, action in enumerate(config.actions):
        url = render(action.url, f"actions[{index}].url")
        if url:
            text = render(action.text, f"actions[{index}].text")
            buttons.append(_button(text, url, render(action.style, f"actions[{index}].style")))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:MAX_BUTTONS]})

    footer = render(config.footer, "footer")
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})

    message: dict[str, Any] = {}
    for key, value in (
        ("channel", render(config.channel, "channel")),
        ("username", render(config.username, "username")),
        ("icon_emoji", render(config.icon_emoji, "icon_emoji")),
        ("icon_url", render(config.icon_url, "icon_url")),
    ):
        if value:
            message[key] = value
    if config.link_names:
        message["link_names"] = True
    message["text"] = (
        render(config.message_text, "message_text") if config.message_text else (fallback or title)
    )
    message["blocks"] = blocks[:MAX_BLOCKS]
    return message, renderer


def classify_slack(answer: HTTPAnswer) -> Outcome:
    """Slack's verdict: the status code first, then the body (see the module doc)."""
    now = utcnow()
    outcome = answer.classify(now)
    if not outcome.ok:
        return outcome
    content_type = answer.headers.get("content-type", "")
    # A plain "ok" is a success whatever the content type says (a Slack-compatible
    # server that labels its webhook's answer JSON): retried, it would post again.
    if content_type.startswith("application/json") and answer.body.strip() != b"ok":
        try:
            reply = orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            return Outcome.retryable(
                f"could not parse Slack's answer: {excerpt(answer.body)}", answer.status
            )
        if not isinstance(reply, dict):
            return Outcome.retryable(
                f"unexpected Slack answer: {excerpt(answer.body)}", answer.status
            )
        if reply.get("ok") is True:
            return Outcome.sent(f"HTTP {answer.status}: ok", answer.status)
        error = str(reply.get("error") or "unknown error")
        if error in RETRYABLE_ERRORS:
            retry_after = parse_retry_after(answer.headers.get("retry-after"), now)
            return Outcome.retryable(f"Slack error: {error}", answer.status, retry_after)
        return Outcome.permanent(f"Slack error: {error}", answer.status)
    if answer.body.strip() == b"ok":
        return Outcome.sent(f"HTTP {answer.status}: ok", answer.status)
    return Outcome.permanent(
        f"Slack answered HTTP {answer.status} without 'ok': {excerpt(answer.body)}", answer.status
    )


def _target(config: SlackConfig) -> tuple[str, dict[str, str]]:
    if config.app_token or config.app_token_file:
        token = secret_or_file(config.app_token, config.app_token_file, "app_token")
        return config.app_url or CHAT_POST_MESSAGE_URL, {"Authorization": f"Bearer {token}"}
    return secret_or_file(config.api_url, config.api_url_file, "api_url"), {}


async def send(
    notification: Notification,
    config: SlackConfig,
    client: HTTPClient,
    *,
    templates: Templates = DEFAULT_TEMPLATES,
) -> Outcome:
    """Deliver ``notification`` to one Slack integration."""
    try:
        url, headers = _target(config)
    except ConfigFileError as exc:
        return Outcome.permanent(str(exc))
    message, rendered = _slack_message(notification, config, templates)
    answer = await post_json(
        client,
        url,
        orjson.dumps(message),
        http_config=config.http_config,
        timeout=config.timeout,
        headers=headers,
    )
    if isinstance(answer, Outcome):
        return rendered.noted(answer)
    return rendered.noted(classify_slack(answer))
