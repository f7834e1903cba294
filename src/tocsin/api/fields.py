"""Reading the JSON bodies of the API's own write endpoints (incidents, maintenance
windows): each value checked for its type, each refusal naming its field, and a field
nobody reads refused rather than ignored."""

from __future__ import annotations

from typing import Any

from tocsin.incidents.model import Refused


def text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise Refused(name, "must be a string")
    if value is not None and "\x00" in value:  # PostgreSQL's text cannot hold it
        raise Refused(name, "must not contain a NUL character")
    return value


def flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise Refused(name, "must be true or false")
    return value


def names(body: dict[str, Any], name: str, of: str = "alert group ids") -> list[str]:
    value = body.get(name, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Refused(name, f"must be a list of {of}")
    return value


def only(body: dict[str, Any], known: set[str]) -> None:
    """Refuse a field nobody reads (a misspelt one would change nothing, silently)."""
    unknown = sorted(set(body) - known)
    if unknown:
        raise Refused(unknown[0], f"unknown field (known: {', '.join(sorted(known))})")


def openapi_body(
    required: list[str], properties: dict[str, Any], example: dict[str, Any]
) -> dict[str, Any]:
    """An OpenAPI request body (the handlers read the JSON themselves, to name each
    bad field in the answer)."""
    schema = {"type": "object", "required": required, "properties": properties}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }


TEXT = {"type": "string"}
NAMES = {"type": "array", "items": TEXT}
