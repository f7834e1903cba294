"""The server's log lines: plain text for a terminal, or one JSON object a line for a
log pipeline (Loki, Elasticsearch, journald's JSON), as Alertmanager's ``--log.format``.

Each JSON line has ``time`` (RFC 3339, UTC), ``level`` (lower case), ``logger`` and
``msg``; a traceback is ``exc_info``, and whatever a call passes in ``extra`` is a key
of its own.
"""

from __future__ import annotations

import logging
from enum import StrEnum

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def configure(level: str, fmt: LogFormat) -> None:
    """The root logger's one handler (stderr) in ``fmt`` at ``level``; uvicorn's own
    loggers propagate to it (they are given no handlers of their own)."""
    handler = logging.StreamHandler()
    if fmt is LogFormat.JSON:
        from tocsin.json_logs import JsonLines  # (imported only when asked: CLI start time)

        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    # (not force=True: where the root logger has handlers already, a host that runs
    # the command in-process, a test's, they stay, as basicConfig leaves them)
    logging.basicConfig(level=level.upper(), handlers=[handler])
