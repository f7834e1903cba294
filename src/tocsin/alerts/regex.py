"""Anchored regular expressions with Go's syntax and linear-time matching.

Matchers compile user-supplied patterns (silences posted over the API, routes and
inhibition rules in the config, ``filter=`` and ``receiver=`` query parameters) and run
them against label values sent by anyone who can post an alert. Python's backtracking
``re`` takes exponential time on patterns such as ``([a-z0-9-]+)+-canary``: one such
silence and one long pod name pinned the event loop, and again after every restart,
because the silence is stored. Alertmanager compiles with Go's ``regexp`` (RE2 syntax,
guaranteed linear time), so Tocsin compiles with RE2 too: the same patterns are accepted
and refused (no backreferences or look-around, ``\\d`` means ASCII digits, repetition
up to 1000) and no input can make a match slow.

The pattern is anchored as Alertmanager anchors it, ``^(?:pattern)$``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The low-level binding: the package's ``re``-like wrapper costs about 8 us a match in
# Python-level bookkeeping (spans, a match object); the binding's own Match is about
# 1.5 us, which matters when every alert of a storm meets every regex silence.
from re2 import _re2

_OPTIONS = _re2.RE2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr
_OPTIONS.never_capture = True  # only whether it matches is ever asked
# Go's MatchString searches: the anchors are the pattern's own, as Alertmanager's. (Asking
# RE2 to match the whole text instead differs when the pattern breaks out of the group:
# ")|(" compiles to "^(?:)|()$", which Go finds in "a" at its start.)
_SEARCH = _re2.RE2.Anchor.UNANCHORED

# Characters that make a piece of a pattern more than a literal string.
_SPECIAL = frozenset("\\.+*?()[]{}^$")


class _Compiled(Protocol):
    """The part of ``_re2.RE2`` used here (the package ships no type information)."""

    def Match(self, anchor: object, text: bytes, pos: int, endpos: int) -> list[tuple[int, int]]:  # noqa: N802
        ...


class RegexError(ValueError):
    """A pattern RE2 (and so Go, and so Alertmanager) refuses; the message says why."""


@dataclass(frozen=True, slots=True)
class AnchoredRegex:
    """A compiled pattern; ``matches`` is true when Go's ``MatchString`` would be (for
    any pattern that keeps to its group: the whole text matches it)."""

    pattern: str
    # An alternation of plain strings (``critical|warning``, the commonest matcher
    # value) is a set lookup; everything else goes to RE2.
    _literals: frozenset[str] | None
    _compiled: _Compiled

    def matches(self, text: str) -> bool:
        if self._literals is not None:
            return text in self._literals
        data = text.encode("utf-8", "surrogatepass")
        return self._compiled.Match(_SEARCH, data, 0, len(data))[0][0] >= 0


def compile_anchored(pattern: str) -> AnchoredRegex:
    """Compile ``pattern`` as Go's ``regexp.Compile("^(?:" + pattern + ")$")``.

    Raises RegexError when RE2 refuses it. A leading flag group such as ``(?i)`` works
    inside the anchors, as in Go.
    """
    compiled = _re2.RE2(f"^(?:{pattern})$".encode("utf-8", "surrogatepass"), _OPTIONS)
    if not compiled.ok():
        reason = compiled.error().decode("utf-8", "replace")
        raise RegexError(f"invalid regular expression {pattern!r}: {reason}")
    literals = None
    if not _SPECIAL.intersection(pattern):
        literals = frozenset(pattern.split("|"))
    return AnchoredRegex(pattern, literals, compiled)
