"""Decode a ``postableSilence``, naming the field of every problem."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tocsin.alerts.matchers import Matcher, MatcherError, from_api
from tocsin.alerts.silences import Silence, SilenceError
from tocsin.timeutil import TimeFormatError, parse_rfc3339


def decode_silence(data: Any, now: datetime) -> Silence:
    """Build a Silence from the request body; ``id`` is "" for a new silence."""
    if not isinstance(data, dict):
        raise SilenceError("body must be a JSON object (a postableSilence)")
    problems: list[str] = []
    matchers: list[Matcher] = []
    raw = data.get("matchers")
    if not isinstance(raw, list):
        problems.append("matchers: required, a list of {name, value, isRegex, isEqual}")
        raw = []
    for i, m in enumerate(raw):
        where = f"matchers[{i}]"
        if not isinstance(m, dict):
            problems.append(f"{where}: must be an object")
            continue
        name, value = m.get("name"), m.get("value")
        is_regex, is_equal = m.get("isRegex", False), m.get("isEqual", True)
        if not isinstance(name, str):
            problems.append(f"{where}.name: required string")
        if not isinstance(value, str):
            problems.append(f"{where}.value: required string")
        if not isinstance(is_regex, bool):
            problems.append(f"{where}.isRegex: must be a boolean")
        if is_equal is None:
            is_equal = True
        if not isinstance(is_equal, bool):
            problems.append(f"{where}.isEqual: must be a boolean")
        if isinstance(name, str) and isinstance(value, str):
            try:
                matchers.append(from_api(name, value, bool(is_regex), bool(is_equal)))
            except MatcherError as exc:
                problems.append(f"{where}.value: {exc}")
    times: dict[str, datetime] = {}
    for key in ("startsAt", "endsAt"):
        value = data.get(key)
        if not isinstance(value, str):
            problems.append(f"{key}: required RFC 3339 timestamp")
            continue
        try:
            parsed = parse_rfc3339(value)
        except TimeFormatError as exc:
            problems.append(f"{key}: {exc}")
            continue
        if parsed is None:
            problems.append(f"{key}: required RFC 3339 timestamp (got the zero time)")
        else:
            times[key] = parsed
    texts: dict[str, str] = {}
    # Required, as Alertmanager's API requires them ("createdBy in body is required"):
    # the next responder must see who muted what, and why. Like Alertmanager, an empty
    # string is the client's own choice and is kept.
    for key, what in (("createdBy", "who is silencing"), ("comment", "why")):
        value = data.get(key)
        if not isinstance(value, str):
            problems.append(f"{key}: required string ({what})")
        else:
            texts[key] = value
    sid = data.get("id") or ""
    if not isinstance(sid, str):
        problems.append("id: must be a string")
        sid = ""
    if problems:
        raise SilenceError("; ".join(problems))
    return Silence(
        id=sid,
        matchers=tuple(matchers),
        starts_at=times["startsAt"],
        ends_at=times["endsAt"],
        updated_at=now,
        created_by=texts["createdBy"],
        comment=texts["comment"],
    )
