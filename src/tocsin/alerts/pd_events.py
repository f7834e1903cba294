"""PagerDuty Events API v2 (``POST /v2/enqueue``): decode an event and say what it does
to Tocsin's alerts.

Monitoring tools that page through PagerDuty (Alertmanager's ``pagerduty_configs``,
Datadog, Grafana, Zabbix, scripts) speak this API; pointing their URL at Tocsin makes
their events alerts here. Pure functions: the caller passes ``now``.

How an event maps onto Alertmanager's model:

- An event's identity is its integration (the routing key it was sent with) and its
  ``dedup_key``, as a PagerDuty alert's is. Both become labels (``integration``,
  ``dedup_key``) of the alert, with ``alertname`` (the payload's ``class``, else the
  integration's ``alertname`` label, else its name), ``severity``, ``source``,
  ``component``, ``group`` and ``class`` over the integration's own labels, so that
  routes, silences and inhibition match them.
- A ``trigger`` fires the alert until a ``resolve`` ends it: there is no resolve
  timeout, as there is none in PagerDuty (its end time is :data:`OPEN_END`); a person
  resolving its on-call group ends it too, in the same transaction
  (``core.ops.EndingEvents``). A trigger whose labels differ from the firing alert's
  of the same identity (a new severity, say) resolves that one and fires the new one,
  as a changed label set does in Alertmanager.
- ``acknowledge`` acknowledges the on-call alert groups that hold the alert (the
  caller routes it): the group is what Tocsin acknowledges, so a route that should
  acknowledge event by event groups by ``dedup_key``. An event for an alert that is not
  held, or not yet in an escalating group (before its ``group_wait``), is accepted and
  does nothing, as PagerDuty accepts an acknowledge of what it does not know.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import orjson

from tocsin.alerts.labels import label_value_error
from tocsin.alerts.model import PostedAlert

# The end time of a triggered alert: it fires until a resolve event ends it.
OPEN_END = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
# PagerDuty's limits: a dedup_key longer than this is refused; a longer summary is cut.
DEDUP_KEY_MAX = 255
SUMMARY_MAX = 1024
SEVERITIES = ("critical", "error", "warning", "info")
PROCESSED = "Event processed"  # PagerDuty's message for an accepted event
# The payload fields copied into labels, in this order (``class`` also names the alert).
LABEL_FIELDS = ("severity", "source", "component", "group", "class")


class Action(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


_ACTIONS = frozenset(a.value for a in Action)


@dataclass(frozen=True, slots=True)
class Event:
    """One valid event. ``dedup_key`` is set for every action (made for a trigger that
    sent none); ``fields`` holds the payload's label fields that were sent."""

    routing_key: str
    action: Action
    dedup_key: str
    summary: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    timestamp: datetime | None = None
    client: str = ""
    client_url: str = ""
    custom_details: Any = None
    links: tuple[Any, ...] = ()
    images: tuple[Any, ...] = ()


class EventError(ValueError):
    """The event is not valid: one message per problem, each naming its field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def decode(body: bytes, new_key: Any = None) -> Event:
    """Decode and validate one event; raises :class:`EventError` naming every problem.

    ``new_key`` makes the dedup_key of a trigger that sent none (a random one, as
    PagerDuty's, by default; tests pass their own)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EventError([f"body: not valid JSON: {exc}"]) from None
    if not isinstance(data, dict):
        raise EventError(["body: must be a JSON object (one event)"])
    errors: list[str] = []
    routing_key = data.get("routing_key")
    if not isinstance(routing_key, str) or not routing_key:
        errors.append("routing_key: required, the integration key (a non-empty string)")
        routing_key = ""
    raw_action = data.get("event_action")
    action = None
    if isinstance(raw_action, str) and raw_action in _ACTIONS:
        action = Action(raw_action)
    else:
        errors.append(
            f"event_action: must be one of trigger, acknowledge, resolve; got {raw_action!r}"
        )
    dedup_key = data.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or not dedup_key):
        errors.append("dedup_key: must be a non-empty string")
        dedup_key = None
    elif isinstance(dedup_key, str) and len(dedup_key) > DEDUP_KEY_MAX:
        errors.append(f"dedup_key: longer than {DEDUP_KEY_MAX} characters")
    elif isinstance(dedup_key, str) and label_value_error(dedup_key):
        errors.append(f"dedup_key: {label_value_error(dedup_key)}")
    if action is not None and action is not Action.TRIGGER and dedup_key is None:
        errors.append(f"dedup_key: required for {action.value}")
    if action is not Action.TRIGGER:
        if errors:
            raise EventError(errors)
        assert action is not None
        assert isinstance(dedup_key, str)
        return Event(routing_key, action, dedup_key)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        errors.append("payload: required for trigger, an object")
        raise EventError(errors)
    summary = _text(payload, "summary", errors, required=True)[:SUMMARY_MAX]
    fields: list[tuple[str, str]] = []
    for name in LABEL_FIELDS:
        value = _text(payload, name, errors, required=name in ("severity", "source"))
        if value:
            fields.append((name, value))
    severity = payload.get("severity")
    if isinstance(severity, str) and severity and severity not in SEVERITIES:
        errors.append(f"payload.severity: must be one of {', '.join(SEVERITIES)}; got {severity!r}")
    timestamp = _timestamp(payload.get("timestamp"), errors)
    client = _text(data, "client", errors)
    client_url = _text(data, "client_url", errors)
    if client_url and urlsplit(client_url).scheme not in ("http", "https"):
        errors.append(f"client_url: must be an http(s) URL; got {client_url!r}")
        client_url = ""
    links = _list(data, "links", errors)
    images = _list(data, "images", errors)
    if errors:
        raise EventError(errors)
    if dedup_key is None:
        dedup_key = new_key() if new_key is not None else uuid.uuid4().hex
    return Event(
        routing_key,
        Action.TRIGGER,
        dedup_key,
        summary,
        tuple(fields),
        timestamp,
        client,
        client_url,
        payload.get("custom_details"),
        links,
        images,
    )


def _text(data: dict[str, Any], name: str, errors: list[str], *, required: bool = False) -> str:
    where = f"payload.{name}" if name in (*LABEL_FIELDS, "summary") else name
    value = data.get(name)
    if value is None or value == "":
        if required:
            errors.append(f"{where}: required, a non-empty string")
        return ""
    if not isinstance(value, str):
        errors.append(f"{where}: must be a string, got {type(value).__name__}")
        return ""
    problem = label_value_error(value)
    if problem:
        errors.append(f"{where}: {problem}")
        return ""
    return value


def _timestamp(value: Any, errors: list[str]) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
        except (ValueError, OverflowError):  # (9999-12-31T23:00-01:00 is past year 9999)
            pass
    errors.append(
        f"payload.timestamp: must be an ISO 8601 time with an offset "
        f"(2015-07-17T08:42:58.315+0000); got {value!r}"
    )
    return None


def _list(data: dict[str, Any], name: str, errors: list[str]) -> tuple[Any, ...]:
    value = data.get(name)
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append(f"{name}: must be a list")
        return ()
    return tuple(value)


# -- what an event does to the alerts ----------------------------------------------------


def identity(integration: str, dedup_key: str) -> dict[str, str]:
    """The labels every alert of one (integration, dedup_key) carries."""
    return {"integration": integration, "dedup_key": dedup_key}


def is_of(labels: dict[str, str], integration: str, dedup_key: str) -> bool:
    return labels.get("integration") == integration and labels.get("dedup_key") == dedup_key


def identity_of(labels: dict[str, str]) -> tuple[str, str] | None:
    """(integration, dedup_key) of an alert an event fired; None for any other alert."""
    integration, dedup_key = labels.get("integration"), labels.get("dedup_key")
    if integration is None or dedup_key is None:
        return None
    return integration, dedup_key


def triggered(event: Event, integration: str, extra: dict[str, str], now: datetime) -> PostedAlert:
    """The alert a trigger received at ``now`` fires (from the payload's timestamp, if
    it sent one): the integration's labels are defaults the payload's fields override,
    and the identity overrides both. It is named by the payload's class, else by the
    integration's ``alertname`` label, else by the integration."""
    fields = dict(event.fields)
    labels = {k: v for k, v in extra.items() if v}
    labels["alertname"] = fields.get("class") or labels.get("alertname") or integration
    labels.update(fields)
    labels.update(identity(integration, event.dedup_key))
    annotations = {"summary": event.summary}
    if event.client:
        annotations["client"] = event.client
    if event.custom_details is not None:
        annotations["custom_details"] = _json(event.custom_details)
    if event.links:
        annotations["links"] = _json(list(event.links))
    if event.images:
        annotations["images"] = _json(list(event.images))
    # a timestamp from the future (the sender's clock is ahead) starts it now
    starts_at = now if event.timestamp is None else min(event.timestamp, now)
    return PostedAlert(labels, annotations, starts_at, OPEN_END, event.client_url)


def _json(value: Any) -> str:
    """Details as JSON text (keys sorted: the same details give the same annotation)."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
