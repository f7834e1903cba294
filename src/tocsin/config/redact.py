"""The configuration as ``GET /api/v2/status`` shows it (``config.original``, which
``amtool config show`` prints): the file as written, with every secret value (passwords,
tokens, routing keys, Slack and Teams webhook URLs: the fields typed
:class:`~tocsin.config.decode.Secret`) replaced by ``<secret>``, as Alertmanager prints
them. The text stays the user's own (comments, order); only the values go."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from typing import Any

from tocsin.config.common import SECRET_TOKEN
from tocsin.config.decode import Secret


def secrets_of(value: Any) -> Iterator[str]:
    """Every non-empty Secret in a decoded configuration tree."""
    if isinstance(value, Secret):
        if value and value != SECRET_TOKEN:
            yield str(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if not f.metadata.get("shown"):
                yield from secrets_of(getattr(value, f.name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secrets_of(item)
    elif isinstance(value, tuple | list | frozenset | set):
        for item in value:
            yield from secrets_of(item)


def redact(text: str, secrets: Iterator[str]) -> str:
    """``text`` with each secret that is a whole YAML scalar (after ``key:`` or ``-``,
    plain or quoted) replaced by ``<secret>``. Longest first, so a secret that contains
    another is replaced whole."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        pattern = re.compile(
            r"""(?P<lead>(?::|^\s*-)[ \t]+)(?P<q>["']?)"""
            + re.escape(secret)
            + r"""(?P=q)(?P<tail>[ \t]*(?:#.*)?)$""",
            re.MULTILINE,
        )
        text = pattern.sub(lambda m: f"{m['lead']}{m['q']}{SECRET_TOKEN}{m['q']}{m['tail']}", text)
    return text
