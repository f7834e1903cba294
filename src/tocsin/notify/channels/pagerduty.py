"""PagerDuty: Events API v2 (``routing_key``), or v1 for a legacy ``service_key``.

As Alertmanager does: one PagerDuty incident per alert group, keyed by
``dedup_key`` = SHA-256 (hex) of the group key, so re-sends and repeats update the same
incident; ``trigger`` while any alert fires, ``resolve`` once all are resolved. The
summary (``description``) is cut to 1024 characters; ``source`` falls back to
``client``; ``details`` become ``custom_details`` (the whole field is replaced by a note
when the event would exceed PagerDuty's 512 kB limit). Tocsin adds each alert's
``extra.runbook_url`` to ``links``.

PagerDuty answers 202 when it accepted the event. 400 (invalid event) is permanent;
429 and 5xx are retried (v1 also retries 403, its rate-limit answer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from tocsin.config.receivers import PAGERDUTY_DEFAULT_DETAILS, PagerdutyConfig
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
from tocsin.notify.templates import DEFAULT_TEMPLATES, TemplateRenderError, Templates

__all__ = [
    "EVENTS_V1_URL",
    "EVENTS_V2_URL",
    "MAX_EVENT_SIZE",
    "dedup_key",
    "pagerduty_event",
    "send",
]

EVENTS_V2_URL = "https://events.pagerduty.com/v2/enqueue"
EVENTS_V1_URL = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
MAX_EVENT_SIZE = 512_000
MAX_SUMMARY = 1024
_TOO_BIG = (
    "Custom details have been removed because the original event exceeds the maximum size of 512kB"
)


def dedup_key(group_key: str) -> str:
    """Alertmanager's ``Key.Hash()``: SHA-256 of the group key, hex encoded."""
    return hashlib.sha256(group_key.encode("utf-8")).hexdigest()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _renderer(
    notification: Notification, config: PagerdutyConfig, templates: Templates
) -> FieldRenderer:
    """Renders the settings, each falling back to its default when its template fails
    (:mod:`tocsin.notify.rendering`): ``source``'s is ``client``'s, as it is sent."""
    defaults = declared_defaults(config)
    defaults["source"] = defaults["client"]
    defaults.update({f"details.{k}": v for k, v in PAGERDUTY_DEFAULT_DETAILS.items()})
    return FieldRenderer(
        templates,
        template_data(notification),
        receiver=notification.receiver,
        integration="pagerduty",
        defaults=defaults,
    )


def _render_details(value: Any, render: FieldRenderer, field: str) -> Any:
    if isinstance(value, str):
        return render(value, field)
    if isinstance(value, Mapping):
        return {str(k): _render_details(v, render, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render_details(v, render, f"{field}[{i}]") for i, v in enumerate(value)]
    return value


def _links(config: PagerdutyConfig, render: FieldRenderer) -> list[dict[str, str]]:
    links = []
    for index, item in enumerate(config.links):
        href = render(item.href, f"links[{index}].href")
        if href:
            text = render(item.text, f"links[{index}].text")
            links.append({"href": href, "text": text})
    seen = {link["href"] for link in links}
    for alert in render.data.Alerts:
        url = alert.extra.get("runbook_url")
        if isinstance(url, str) and url and url not in seen:
            seen.add(url)
            name = alert.Labels.get("alertname", "")
            links.append({"href": url, "text": f"Runbook: {name}" if name else "Runbook"})
    return links


def _images(config: PagerdutyConfig, render: FieldRenderer) -> list[dict[str, str]]:
    images = []
    for index, item in enumerate(config.images):
        src = render(item.src, f"images[{index}].src")
        if src:
            images.append(
                {
                    "src": src,
                    "alt": render(item.alt, f"images[{index}].alt"),
                    "href": render(item.href, f"images[{index}].href"),
                }
            )
    return images


def pagerduty_event(
    notification: Notification,
    config: PagerdutyConfig,
    templates: Templates = DEFAULT_TEMPLATES,
    *,
    routing_key: str,
) -> dict[str, Any]:
    """The Events API v2 body; a setting whose template fails is sent with its default
    (:mod:`tocsin.notify.rendering`)."""
    render = _renderer(notification, config, templates)
    return _event(notification, config, render, routing_key)


# the group's status -> the event. An acknowledgement notice is not sent to PagerDuty
# (``notify.message.tells_of_acks``); one that reached it anyway (a fallback) must not
# resolve the incident, nor acknowledge it (a later re-page would wake nobody)
_ACTIONS = {"firing": "trigger", ACKNOWLEDGED: "trigger"}


def _event(
    notification: Notification, config: PagerdutyConfig, render: FieldRenderer, routing_key: str
) -> dict[str, Any]:
    data = render.data
    details = _render_details(dict(config.details), render, "details")
    payload: dict[str, Any] = {
        "summary": _cut(render(config.description, "description"), MAX_SUMMARY),
        "source": render(config.source or config.client, "source"),
        "severity": render(config.severity or "error", "severity"),
    }
    for key, value in (
        ("class", render(config.class_, "class")),
        ("component", render(config.component, "component")),
        ("group", render(config.group, "group")),
    ):
        if value:
            payload[key] = value
    if details:
        payload["custom_details"] = details
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "dedup_key": dedup_key(notification.group_key),
        "event_action": _ACTIONS.get(data.Status, "resolve"),
        "payload": payload,
    }
    for key, value in (
        ("client", render(config.client, "client")),
        ("client_url", render(config.client_url, "client_url")),
    ):
        if value:
            event[key] = value
    images = _images(config, render)
    if images:
        event["images"] = images
    links = _links(config, render)
    if links:
        event["links"] = links
    return event


def _v1_event(
    notification: Notification, config: PagerdutyConfig, render: FieldRenderer, service_key: str
) -> dict[str, Any]:
    trigger = render.data.Status == "firing"
    event: dict[str, Any] = {
        "service_key": service_key,
        "event_type": _ACTIONS.get(render.data.Status, "resolve"),
        "incident_key": dedup_key(notification.group_key),
        "description": _cut(render(config.description, "description"), MAX_SUMMARY),
    }
    if trigger:
        event["client"] = render(config.client, "client")
        event["client_url"] = render(config.client_url, "client_url")
    details = _render_details(dict(config.details), render, "details")
    if details:
        event["details"] = details
    return event


def _encode(event: dict[str, Any], v1: bool) -> bytes:
    body = orjson.dumps(event)
    if len(body) > MAX_EVENT_SIZE:
        if v1:
            event["details"] = {"error": _TOO_BIG}
        else:
            event["payload"]["custom_details"] = {"error": _TOO_BIG}
        body = orjson.dumps(event)
    return body


async def send(
    notification: Notification,
    config: PagerdutyConfig,
    client: HTTPClient,
    *,
    templates: Templates = DEFAULT_TEMPLATES,
    v1_url: str = EVENTS_V1_URL,
) -> Outcome:
    """Deliver ``notification`` as one PagerDuty event."""
    v1 = not (config.routing_key or config.routing_key_file)
    name = "service_key" if v1 else "routing_key"
    try:
        raw = (
            secret_or_file(config.service_key, config.service_key_file, name)
            if v1
            else secret_or_file(config.routing_key, config.routing_key_file, name)
        )
        render = _renderer(notification, config, templates)
        # where the event goes has no default: its template failing is permanent
        key = templates.render(raw, render.data, field=name)
    except (ConfigFileError, TemplateRenderError) as exc:
        return Outcome.permanent(str(exc))
    if not key:
        return Outcome.permanent(f"{name} cannot be empty")
    if v1:
        event = _v1_event(notification, config, render, key)
        url = v1_url
    else:
        event = _event(notification, config, render, key)
        url = config.url or EVENTS_V2_URL
    answer = await post_json(
        client, url, _encode(event, v1), http_config=config.http_config, timeout=config.timeout
    )
    if isinstance(answer, Outcome):
        return render.noted(answer)
    return render.noted(answer.classify(utcnow(), frozenset({403}) if v1 else frozenset()))
