"""Names and keys: GitHub-style anchors, cleaned titles, alert-name keys.

Runbooks are linked to alerts by name and to each other by anchor, so these rules
must be stable and shared by every extractor.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from urllib.parse import unquote, urlsplit

_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*[.)]?|[A-Za-z][.)]|[IVXLC]+[.)])\s+")
_JUNK_CATEGORIES = ("S", "M", "P", "C", "Z")
_MOJIBAKE_CODECS = ("mac_roman", "cp1252", "latin-1")


def normalize_alert_name(name: str) -> str:
    """Case- and separator-insensitive key: `High_Error-Rate` -> `higherrorrate`."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def github_anchor(title: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped, spaces to hyphens
    (hyphens are not collapsed: `A & B` -> `a--b`, as on GitHub)."""
    kept = []
    for ch in title.strip().lower():
        category = unicodedata.category(ch)
        if ch in " -_" or category[0] in ("L", "N") or category.startswith("M"):
            kept.append("-" if ch == " " else ch)
    return "".join(kept)


class AnchorRegistry:
    """Gives duplicate anchors the `-1`, `-2` suffixes GitHub gives them."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def claim(self, title: str) -> str:
        base = github_anchor(title)
        anchor = base
        n = 0
        while anchor in self._used:
            n += 1
            anchor = f"{base}-{n}"
        self._used.add(anchor)
        return anchor


def _all_junk(text: str) -> bool:
    return bool(text) and all(unicodedata.category(ch)[0] in _JUNK_CATEGORIES for ch in text)


def is_decoration(token: str) -> bool:
    """True for emoji, symbols and emoji that were mis-decoded (UTF-8 read as Mac Roman
    or cp1252, e.g. `üö®` for U+1F6A8): decoration, not words."""
    if any(ch.isascii() and ch.isalnum() for ch in token):
        return False
    if _all_junk(token):
        return True
    for codec in _MOJIBAKE_CODECS:
        try:
            repaired = token.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if _all_junk(repaired):
            return True
    return False


def clean_title(title: str) -> str:
    """A heading as a human name: numbering (`5.1`), decoration and a trailing colon
    removed: `5.1 Rotate API Keys` -> `Rotate API Keys`."""
    text = " ".join(title.split())
    text = _NUMBERING.sub("", text, count=1)
    tokens = text.split(" ")
    while tokens and is_decoration(tokens[-1]):
        tokens.pop()
    while tokens and is_decoration(tokens[0]):
        tokens.pop(0)
    return " ".join(tokens).rstrip(":").strip()


def runbook_for_url(url: str, names: Collection[str]) -> tuple[str, str] | None:
    """The known runbook a ``runbook_url`` (or a config link, ``NAME#anchor``) points
    at, and its anchor (``""`` for none): Tocsin's own ``.../runbooks/NAME``, a name,
    or a path or URL whose last part is a runbook's name (``rb/db-failover.md#step-2``,
    a wiki's ``.../db-failover.html``). None when it names no known runbook."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[x": not a URL, so it names no runbook
        return None
    path = unquote(parts.path)
    candidates = []
    if "/runbooks/" in path:
        candidates.append(path.split("/runbooks/", 1)[1])
    candidates += [path, path.rsplit("/", 1)[-1]]  # a name with folders; a file's name
    for candidate in candidates:
        for suffix in (".md", ".json", ".html"):
            candidate = candidate.removesuffix(suffix)
        if candidate in names:
            return candidate, parts.fragment
    return None
