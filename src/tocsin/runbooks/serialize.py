"""Structured runbook -> JSON-ready data.

Generic over the frozen dataclasses of model.py, so the JSON is always the whole model
(a new field shows up without code here; docs/runbook-schema.md must then say what it
is). Tuples become lists, `lines` becomes `[first, last]`, whole floats become ints.
"""

from __future__ import annotations

import dataclasses
from typing import Any

SCHEMA_VERSION = 1


def to_data(obj: object) -> Any:
    """Dataclasses to dicts, tuples to lists, integral floats to ints; the rest as is."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_data(item) for item in obj]
    if isinstance(obj, float) and obj.is_integer():
        return int(obj)
    return obj


def runbook_to_json(runbook: object) -> dict[str, Any]:
    data = to_data(runbook)
    if not isinstance(data, dict):
        raise TypeError("runbook_to_json expects a Runbook dataclass")
    return {"schema_version": SCHEMA_VERSION, **data}
