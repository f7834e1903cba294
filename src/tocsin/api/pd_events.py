"""PagerDuty Events API v2 intake: ``POST /v2/enqueue``, answered as PagerDuty answers,
so a tool that pages through PagerDuty can page through Tocsin by changing its URL."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tocsin.alerts import pd_events
from tocsin.api.state import runtime
from tocsin.api.v2 import BodyTooLarge, read_body
from tocsin.core.pd_intake import UnknownRoutingKey

router = APIRouter()

_EVENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["routing_key", "event_action"],
                    "properties": {
                        "routing_key": {"type": "string"},
                        "event_action": {
                            "type": "string",
                            "enum": ["trigger", "acknowledge", "resolve"],
                        },
                        "dedup_key": {"type": "string", "maxLength": pd_events.DEDUP_KEY_MAX},
                        "payload": {
                            "type": "object",
                            "required": ["summary", "source", "severity"],
                            "properties": {
                                "summary": {"type": "string"},
                                "source": {"type": "string"},
                                "severity": {"type": "string", "enum": list(pd_events.SEVERITIES)},
                                "timestamp": {"type": "string", "format": "date-time"},
                                "component": {"type": "string"},
                                "group": {"type": "string"},
                                "class": {"type": "string"},
                                "custom_details": {},
                            },
                        },
                        "client": {"type": "string"},
                        "client_url": {"type": "string"},
                        "links": {"type": "array", "items": {"type": "object"}},
                        "images": {"type": "array", "items": {"type": "object"}},
                    },
                }
            }
        },
    }
}


def _answer(status: int, body: dict[str, object]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _invalid(errors: list[str]) -> Response:
    return _answer(
        400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
    )


@router.post(
    "/v2/enqueue",
    openapi_extra=_EVENT_BODY,
    summary="PagerDuty Events API v2: trigger, acknowledge or resolve an alert",
    status_code=202,
)
async def enqueue(request: Request) -> Response:
    """202 once the event's alert is committed (or the acknowledge done); 400 with one
    message per problem, naming its field, and nothing stored."""
    rt = runtime(request)
    try:
        body = await read_body(request, rt.settings.max_body_bytes)
        event = pd_events.decode(body)
        outcome = await rt.events.handle(event)
    except BodyTooLarge:
        rt.metrics.events_invalid.inc()
        return _invalid([f"body: exceeds the limit of {rt.settings.max_body_bytes} bytes"])
    except pd_events.EventError as exc:
        rt.metrics.events_invalid.inc()
        return _invalid(exc.errors)
    except UnknownRoutingKey as exc:
        rt.metrics.events_invalid.inc()
        return _invalid([str(exc)])
    rt.metrics.events_received.labels(outcome.integration, event.action.value).inc()
    return _answer(
        202, {"status": "success", "message": outcome.message, "dedup_key": outcome.dedup_key}
    )
