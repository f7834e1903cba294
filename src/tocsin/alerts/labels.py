"""Label sets: name validation and the Alertmanager fingerprint.

The fingerprint must equal Alertmanager's (Prometheus ``model.LabelSet.Fingerprint``):
FNV-1a 64 over the label names in sorted order, each name and value followed by the
separator byte 0xff, printed as 16 lower-case hex digits. Clients (amtool, UIs, silences
by fingerprint) compare these strings, so they are part of the compatibility surface.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache

from fnv_c import fnv1a_64

LabelSet = Mapping[str, str]

_SEPARATOR = b"\xff"
_LEGACY_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class NameValidation(StrEnum):
    """How label names are validated, as Alertmanager's ``--enable-feature`` switches it."""

    LEGACY = "legacy"  # [a-zA-Z_][a-zA-Z0-9_]*, Alertmanager's classic rule
    UTF8 = "utf8"  # any non-empty valid UTF-8 string


def fingerprint(labels: LabelSet) -> str:
    """Return the Alertmanager fingerprint of ``labels`` as 16 hex digits."""
    parts: list[bytes] = []
    for name in sorted(labels):
        parts.append(name.encode())
        parts.append(_SEPARATOR)
        parts.append(labels[name].encode())
        parts.append(_SEPARATOR)
    return f"{fnv1a_64(b''.join(parts)):016x}"


@lru_cache(maxsize=65536)
def label_name_error(name: str, mode: NameValidation = NameValidation.LEGACY) -> str | None:
    """Why ``name`` is not a valid label name, or None when it is.

    Cached: the same few label names arrive on every alert of an alert storm.
    """
    if name == "":
        return "label name must not be empty"
    if mode is NameValidation.LEGACY and not _LEGACY_NAME.match(name):
        return f"invalid label name {name!r}: must match [a-zA-Z_][a-zA-Z0-9_]*"
    if not _is_valid_utf8(name):
        return f"invalid label name {name!r}: not valid UTF-8"
    return None


def _is_valid_utf8(s: str) -> bool:
    # Python strings decoded from JSON can still hold lone surrogates ("\ud800").
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def label_value_error(value: str) -> str | None:
    """Why ``value`` is not a valid label value, or None when it is."""
    if not _is_valid_utf8(value):
        return "label value is not valid UTF-8"
    return None
