"""JSON shapes of the Alertmanager API v2 (the ``gettable*`` objects of its OpenAPI spec).

amtool validates responses against that spec, so every required field is always present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tocsin.alerts.matchers import Matcher
from tocsin.alerts.silences import Silence
from tocsin.core.alert_store import AlertView
from tocsin.timeutil import format_rfc3339


def alert(view: AlertView) -> dict[str, Any]:
    a = view.alert
    out = {
        "annotations": a.annotations,
        "endsAt": format_rfc3339(a.ends_at),
        "fingerprint": a.fingerprint,
        "receivers": [{"name": r} for r in view.receivers],
        "startsAt": format_rfc3339(a.starts_at),
        "status": {
            "inhibitedBy": list(view.status.inhibited_by),
            "silencedBy": list(view.status.silenced_by),
            "state": view.status.state.value,
        },
        "updatedAt": format_rfc3339(a.updated_at),
        "labels": a.labels,
    }
    if a.generator_url:  # omitempty in Alertmanager's model
        out["generatorURL"] = a.generator_url
    return out


def matcher(m: Matcher) -> dict[str, Any]:
    return {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}


def silence(s: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": {"state": s.state(now).value},
        "updatedAt": format_rfc3339(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": format_rfc3339(s.ends_at),
        "matchers": [matcher(m) for m in s.matchers],
        "startsAt": format_rfc3339(s.starts_at),
    }
