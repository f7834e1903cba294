"""Alerts as JSON values, for rows that embed them (group state, the outbox).

Times are integer microseconds, as in every table (``tocsin.timeutil``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.alerts.model import Alert
from tocsin.timeutil import from_micros, to_micros


def alert_to_json(a: Alert) -> dict[str, Any]:
    return {
        "fingerprint": a.fingerprint,
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "starts_at": to_micros(a.starts_at),
        "ends_at": to_micros(a.ends_at),
        "generator_url": a.generator_url,
        "updated_at": to_micros(a.updated_at),
        "timeout": a.timeout,
    }


def alert_from_json(data: Mapping[str, Any]) -> Alert:
    return Alert(
        fingerprint=data["fingerprint"],
        labels=dict(data["labels"]),
        annotations=dict(data["annotations"]),
        starts_at=from_micros(data["starts_at"]),
        ends_at=from_micros(data["ends_at"]),
        generator_url=data["generator_url"],
        updated_at=from_micros(data["updated_at"]),
        timeout=bool(data["timeout"]),
    )
