"""Decode and validate posted alerts (Alertmanager API v2 ``postableAlerts``).

Validation follows Alertmanager's ``Alert.Validate`` plus the JSON schema of the API:
every problem is reported with the index of the alert and the field, and the valid
alerts of a mixed batch are still accepted (one bad alert from Prometheus must not drop
the others). Labels with empty values are removed first, as Alertmanager does, and
unknown fields are ignored, as its generated API server ignores them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

import msgspec
import orjson

from tocsin.alerts.labels import NameValidation, label_name_error, label_value_error
from tocsin.alerts.model import PostedAlert
from tocsin.timeutil import GO_ZERO, TimeFormatError, parse_rfc3339


@dataclass
class Decoded:
    alerts: list[PostedAlert] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Problems Alertmanager's OpenAPI layer rejects before its own validation (a missing
    # or null ``labels``, a ``generatorURL`` that is not a URI): the whole batch is
    # refused with 422, as there, and nothing of it is stored.
    schema_errors: list[str] = field(default_factory=list)


class BodyError(ValueError):
    """The request body as a whole is unusable (not JSON, not a list)."""


class _Wire(msgspec.Struct):
    """The well-formed case, decoded and type-checked in C by msgspec."""

    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    endsAt: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    generatorURL: str = ""


_WIRE = msgspec.json.Decoder(list[_Wire])


def decode_alerts(body: bytes, mode: NameValidation = NameValidation.LEGACY) -> Decoded:
    """Decode a JSON array of alerts; raises BodyError if the body is not one.

    Well-formed batches (nearly all of them) take a fast path; anything odd is decoded
    again by the slow path, which names every problem.
    """
    fast = _decode_fast(body, mode)
    if fast is not None:
        return Decoded(fast)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"body is not valid JSON: {exc}") from None
    if data is None:  # Alertmanager reads a JSON null as no alerts, and answers 200
        return Decoded()
    if not isinstance(data, list):
        raise BodyError(f"body must be a JSON array of alerts, got {_kind(data)}")
    return validate_alerts(data, mode)


def _decode_fast(body: bytes, mode: NameValidation) -> list[PostedAlert] | None:
    try:
        wires = _WIRE.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    good = _GOOD_NAMES[mode]
    out: list[PostedAlert] = []
    for w in wires:
        labels = w.labels
        if "" in labels.values():
            labels = {k: v for k, v in labels.items() if v != ""}
        # Set operations in C first: names seen valid before need no look-up.
        if not labels or not (labels.keys() <= good or _all_valid(labels, mode)):
            return None
        if w.annotations and not (w.annotations.keys() <= good or _all_valid(w.annotations, mode)):
            return None
        starts_at = None if w.startsAt is None else _utc(w.startsAt)
        ends_at = None if w.endsAt is None else _utc(w.endsAt)
        if starts_at is not None and ends_at is not None and ends_at < starts_at:
            return None
        if w.generatorURL and uri_error(w.generatorURL):
            return None
        out.append(PostedAlert(labels, w.annotations, starts_at, ends_at, w.generatorURL))
    return out


# Label and annotation names found valid, per validation mode: the same few names arrive
# on every alert of a storm. Bounded, so that a client inventing names cannot grow it.
_GOOD_NAMES: dict[NameValidation, set[str]] = {mode: set() for mode in NameValidation}
_GOOD_NAMES_MAX = 4096


def _all_valid(names: Iterable[str], mode: NameValidation) -> bool:
    good = _GOOD_NAMES[mode]
    for name in names:
        if label_name_error(name, mode) is not None:
            return False
        if len(good) < _GOOD_NAMES_MAX:
            good.add(name)
    return True


def _utc(value: datetime) -> datetime | None:
    value = value.astimezone(UTC)
    return None if value == GO_ZERO else value


def validate_alerts(items: list[Any], mode: NameValidation = NameValidation.LEGACY) -> Decoded:
    out = Decoded()
    for index, item in enumerate(items):
        problems: list[str] = []
        schema: list[str] = []
        alert = _validate_one(item, mode, problems, schema)
        out.schema_errors.extend(f"alert[{index}]{p}" for p in schema)
        if problems or schema:
            out.errors.extend(f"alert[{index}]{p}" for p in problems)
        elif alert is not None:
            out.alerts.append(alert)
    if out.schema_errors:
        out.alerts = []
    return out


def _kind(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _validate_one(
    item: Any, mode: NameValidation, problems: list[str], schema: list[str]
) -> PostedAlert | None:
    if not isinstance(item, dict):
        problems.append(f": must be an object, got {_kind(item)}")
        return None
    if item.get("labels") is None:
        schema.append(".labels: required")
    labels = _label_map(item.get("labels"), "labels", mode, problems, drop_empty=True)
    annotations = _label_map(item.get("annotations"), "annotations", mode, problems, False)
    if labels == {} and not schema and not any(p.startswith(".labels") for p in problems):
        problems.append(".labels: at least one label pair required")
    starts_at = _time(item.get("startsAt"), "startsAt", problems)
    ends_at = _time(item.get("endsAt"), "endsAt", problems)
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        problems.append(".endsAt: end time must not be before start time (startsAt)")
    url = item.get("generatorURL", "")
    if url is None:
        url = ""
    if not isinstance(url, str):
        problems.append(f".generatorURL: must be a string, got {_kind(url)}")
    elif url and (why := uri_error(url)):
        schema.append(f".generatorURL: must be a URI: {why}")
    if problems or schema or labels is None:
        return None
    return PostedAlert(labels, annotations or {}, starts_at, ends_at, url)


_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_BAD_ESCAPE = re.compile(r"%(?![0-9a-fA-F]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_AUTHORITY_END = re.compile(r"[/?#]")


@lru_cache(maxsize=4096)
def uri_error(text: str) -> str | None:
    """Why ``text`` is not a URI as Alertmanager's API checks it (Go's
    ``url.ParseRequestURI``: an absolute URI, or an absolute path), else None.

    Cached: a rule's alerts all carry the same generator URL.
    """
    if _CONTROL.search(text):
        return "control character"
    if _BAD_ESCAPE.search(text):
        return "invalid %-escape"
    if text.startswith("/"):
        return None
    scheme = _SCHEME.match(text)
    if scheme is None:
        return "neither an absolute URI nor an absolute path"
    rest = text[scheme.end() :]
    if rest.startswith("//"):
        authority = _AUTHORITY_END.split(rest[2:], maxsplit=1)[0]
        host = authority.rpartition("@")[2]
        if " " in host:
            return "space in host"
        if host.startswith("[") and "]" not in host:
            return "unclosed [ in host"
    return None


def _label_map(
    value: Any, where: str, mode: NameValidation, problems: list[str], drop_empty: bool
) -> dict[str, str] | None:
    """Labels or annotations: names valid in ``mode``, values strings. Empty-valued
    labels are dropped before validation (Alertmanager's ``removeEmptyLabels``)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f".{where}: must be an object of strings, got {_kind(value)}")
        return None
    out: dict[str, str] = {}
    for name, val in value.items():
        if not isinstance(val, str):
            problems.append(f".{where}.{name}: value must be a string, got {_kind(val)}")
            continue
        if drop_empty and val == "":
            continue
        error = label_name_error(name, mode) or label_value_error(val)
        if error is not None:
            problems.append(f".{where}: {error}")
            continue
        out[name] = val
    return out


def _time(value: Any, where: str, problems: list[str]) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(f".{where}: must be an RFC 3339 string, got {_kind(value)}")
        return None
    try:
        return parse_rfc3339(value)
    except TimeFormatError as exc:
        problems.append(f".{where}: {exc}")
        return None
