"""Duration syntaxes found in Alertmanager configuration files.

Two grammars coexist there: Prometheus durations (``model.Duration``: ``1d``, ``1h30m``,
``500ms``, units from years down to milliseconds, each at most once and biggest
first) for the routing timers and ``resolve_timeout``; and Go's ``time.Duration``
(``1.5h``, ``300ms``, ``2m30s``) for a few receiver settings such as a webhook
``timeout`` or Pushover's ``retry``.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration", "parse_go_duration"]

# (unit, milliseconds), biggest first: the order a Prometheus duration must follow.
_PROM_UNITS: tuple[tuple[str, int], ...] = (
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
)
_PROM_UNIT_POS = {unit: pos for pos, (unit, _) in enumerate(_PROM_UNITS)}
_PROM_UNIT_MS = dict(_PROM_UNITS)
_PROM_TOKEN = re.compile(r"([0-9]+)([^0-9]+)")
_MAX_NS = (1 << 63) - 1


def parse_duration(text: str) -> timedelta:
    """Parse a Prometheus duration such as ``5m``, ``1h30m``, ``1d`` or ``0``."""
    if text == "0":
        return timedelta(0)
    if text == "":
        raise ValueError("empty duration string")
    total_ms = 0
    last_pos = -1
    pos = 0
    while pos < len(text):
        token = _PROM_TOKEN.match(text, pos)
        if token is None:
            raise ValueError(f"not a valid duration string: {text!r}")
        value, unit = int(token.group(1)), token.group(2)
        if unit not in _PROM_UNIT_POS:
            raise ValueError(f"unknown unit {unit!r} in duration {text!r}")
        if _PROM_UNIT_POS[unit] <= last_pos:  # units must go from biggest to smallest
            raise ValueError(f"not a valid duration string: {text!r}")
        last_pos = _PROM_UNIT_POS[unit]
        total_ms += value * _PROM_UNIT_MS[unit]
        if total_ms * 1_000_000 > _MAX_NS:
            raise ValueError("duration out of range")
        pos = token.end()
    return timedelta(milliseconds=total_ms)


# A person's words for the units (the CLI's --for, the console's snooze field).
_SPOKEN_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("w", "week", "weeks"), "w"),
}
_SPOKEN_PART = re.compile(r"\s*(\d+)\s*([a-zA-Z]+)\s*,?")


def parse_spoken_duration(text: str) -> timedelta:
    """A duration as a person types it: Prometheus's (``30m``, ``1h30m``) or with
    spaces and words (``30 min``, ``1 hour``, ``2 hours 15 minutes``); ValueError as
    ``parse_duration``'s (a responder who typed "30 min" was told "unknown unit ' min'"
    and lost the field)."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        parts = list(_SPOKEN_PART.finditer(text))
        if not parts or "".join(p.group(0) for p in parts) != text:
            raise exc from None
        units = [_SPOKEN_UNITS.get(p.group(2).lower()) for p in parts]
        if None in units:
            raise exc from None
        return parse_duration(
            "".join(f"{p.group(1)}{u}" for p, u in zip(parts, units, strict=True))
        )


def format_duration(value: timedelta) -> str:
    """Render ``value`` the way Prometheus prints durations (``1h30m``, ``0s``)."""
    ms = round(value.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    parts = []
    for unit, size in _PROM_UNITS:
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


_GO_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_GO_TOKEN = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]+)")


def parse_go_duration(text: str) -> timedelta:
    """Parse a Go ``time.Duration`` string such as ``30s``, ``1.5h`` or ``1h2m3.5s``."""
    original = text
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return timedelta(0)
    if text == "":
        raise ValueError(f"invalid duration {original!r}")
    total_ns = 0.0
    pos = 0
    while pos < len(text):
        token = _GO_TOKEN.match(text, pos)
        if token is None or (token.group(1) == "" and not token.group(2)):
            raise ValueError(f"invalid duration {original!r}")
        whole, frac, unit = token.group(1), token.group(2) or "", token.group(3)
        if unit not in _GO_UNITS_NS:
            raise ValueError(f"unknown unit {unit!r} in duration {original!r}")
        scale = _GO_UNITS_NS[unit]
        total_ns += int(whole or "0") * scale
        if frac:
            total_ns += int(frac) * scale / 10 ** len(frac)
        if total_ns > _MAX_NS:
            raise ValueError(f"invalid duration {original!r}")
        pos = token.end()
    return timedelta(microseconds=sign * total_ns / 1000)
