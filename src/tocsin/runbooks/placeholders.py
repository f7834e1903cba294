"""Placeholders in a runbook's commands: ``kubectl get pods -l app=<service>``.

Lint flags those left unresolved; a notification fills those that name one of its
alert's labels, so that the responder reads the command for the service that fired.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# <service>, <git-sha>: a word in angle brackets (HTML tags are told apart by lint)
PLACEHOLDER = re.compile(r"<([a-zA-Z][\w-]*)>")  # (no nested repeat: no backtracking)


def fill(text: str, labels: Mapping[str, str]) -> str:
    """``text`` with each placeholder that names one of ``labels`` replaced by its
    value; any other is left as written (``<registry>`` is for the reader to fill)."""
    return PLACEHOLDER.sub(lambda m: labels.get(m.group(1), m.group(0)), text)
