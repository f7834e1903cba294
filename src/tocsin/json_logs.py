"""Log lines as JSON objects (``--log-format json``): see :mod:`tocsin.logs`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter


class JsonLines(OrjsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            "%(name)s %(message)s",
            rename_fields={"name": "logger", "message": "msg"},
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        # first in the line; the same instants the API shows: UTC, microseconds, "Z"
        at = datetime.fromtimestamp(record.created, UTC)
        log_data["time"] = at.isoformat(timespec="microseconds").replace("+00:00", "Z")
        log_data["level"] = record.levelname.lower()
        super().add_fields(log_data, record, message_dict)
        # uvicorn's extra: its message again, with terminal colour codes
        log_data.pop("color_message", None)
