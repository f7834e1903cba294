"""OpenAPI request-body schemas for the handlers that decode their bodies by hand."""

from __future__ import annotations

from typing import Any

_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_TIME = {"type": "string", "format": "date-time"}

_POSTABLE_ALERT = {
    "type": "object",
    "required": ["labels"],
    "properties": {
        "labels": _LABELS,
        "annotations": _LABELS,
        "startsAt": _TIME,
        "endsAt": _TIME,
        "generatorURL": {"type": "string", "format": "uri"},
    },
}

_MATCHER = {
    "type": "object",
    "required": ["name", "value", "isRegex"],
    "properties": {
        "name": {"type": "string"},
        "value": {"type": "string"},
        "isRegex": {"type": "boolean"},
        "isEqual": {"type": "boolean", "default": True},
    },
}

_POSTABLE_SILENCE = {
    "type": "object",
    "required": ["matchers", "startsAt", "endsAt", "createdBy", "comment"],
    "properties": {
        "id": {"type": "string"},
        "matchers": {"type": "array", "minItems": 1, "items": _MATCHER},
        "startsAt": _TIME,
        "endsAt": _TIME,
        "createdBy": {"type": "string"},
        "comment": {"type": "string"},
    },
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


ALERTS_BODY = _body({"type": "array", "items": _POSTABLE_ALERT})
SILENCE_BODY = _body(_POSTABLE_SILENCE)
