"""Label sets: name validation and the Alertmanager fingerprint.

The fingerprint must equal Alertmanager's (Prometheus ``model.LabelSet.Fingerprint``):
FNV-1a 64 over the label names in sorted order, each name and value followed by the
separator byte 0xff, printed as 16 lower-case hex digits. Clients (amtool, UIs, silences
by fingerprint) compare these strings, so they are part of the compatibility surface.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable, Mapping
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
    data = b"".join(parts)
    return f"{_fnv1a_64(data, len(data)):016x}"


def _fnv1a_64_keeping_the_gil() -> Callable[[bytes, int], int]:
    """fnv_c's compiled FNV-1a 64, called without releasing the GIL.

    fnv_c calls it through cffi, which releases the GIL around every call: on the
    group-commit thread that is one GIL hand-off per alert, and while the event loop is
    busy each one makes the writer wait for the loop to let go (bench/ingest.py at
    batches of 64: ~25 % of the writer's time per alert). The same function through
    ``ctypes.PyDLL`` keeps the GIL; if that cannot be had, the cffi call is used.
    """
    try:
        from fnv_c.ext import _fnv

        func = ctypes.PyDLL(_fnv.__file__).fnv1a_64
        func.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
        func.restype = ctypes.c_uint64
        probe = b"alertname\xffA\xff"
        if func(probe, len(probe)) == fnv1a_64(probe):
            return func
    except (ImportError, OSError, AttributeError):
        pass
    return lambda data, _size: fnv1a_64(data)


_fnv1a_64 = _fnv1a_64_keeping_the_gil()


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
