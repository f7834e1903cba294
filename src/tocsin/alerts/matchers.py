"""Label matchers: ``name=value``, ``!=``, ``=~`` and ``!~``.

One type serves silences, routes, inhibition rules, API filters and the CLI. Parsing
follows Alertmanager's classic matcher syntax (``pkg/labels/parse.go``): an optional
surrounding ``{...}``, comma-separated matchers, values optionally double-quoted with
``\\"``, ``\\\\`` and ``\\n`` escapes. Regular expressions are anchored at both ends,
as Alertmanager compiles them (``^(?:value)$``), so ``job=~"api"`` does not match
``api-gateway``; they are RE2 (``tocsin.alerts.regex``), as Go's are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from tocsin.alerts.regex import AnchoredRegex, RegexError, compile_anchored


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class MatcherError(ValueError):
    """A matcher that cannot be parsed or whose regular expression does not compile."""


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    type: MatchType
    value: str
    _regex: AnchoredRegex | None = field(default=None, compare=False, repr=False)

    @classmethod
    def stored(cls, name: str, type: MatchType, value: str) -> Matcher:
        """Rebuild a matcher saved earlier, which may no longer compile.

        Silences written before matchers moved to RE2 may hold a pattern RE2 refuses
        (a backreference, a look-ahead). Loading must not fail on them, so such a
        matcher is kept without its regex: it shows as stored and matches nothing.
        """
        try:
            return cls.create(name, type, value)
        except MatcherError:
            return cls(name, type, value)

    @classmethod
    def create(cls, name: str, type: MatchType, value: str) -> Matcher:
        """Build a matcher, compiling (and so validating) its regular expression."""
        regex = None
        if type in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                regex = compile_anchored(value)
            except RegexError as exc:
                raise MatcherError(str(exc)) from None
        return cls(name, type, value, regex)

    @property
    def is_regex(self) -> bool:
        return self.type in (MatchType.REGEX, MatchType.NOT_REGEX)

    @property
    def is_equal(self) -> bool:
        """True for the positive operators (= and =~), as the API v2 ``isEqual`` flag."""
        return self.type in (MatchType.EQUAL, MatchType.REGEX)

    def matches(self, value: str) -> bool:
        """Whether a label value (``""`` for a missing label) satisfies this matcher."""
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        if self._regex is None:  # a stored pattern that no longer compiles
            return False
        hit = self._regex.matches(value)
        return hit if self.type is MatchType.REGEX else not hit

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.type.value}"{escaped}"'


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher accepts ``labels`` (a missing label reads as ``""``)."""
    if not matchers:  # a route without matchers (the root's, usually): no generator
        return True
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def from_api(name: str, value: str, is_regex: bool, is_equal: bool = True) -> Matcher:
    """Build a matcher from the API v2 shape ``{name, value, isRegex, isEqual}``."""
    if is_regex:
        kind = MatchType.REGEX if is_equal else MatchType.NOT_REGEX
    else:
        kind = MatchType.EQUAL if is_equal else MatchType.NOT_EQUAL
    return Matcher.create(name, kind, value)


_MATCHER_RE = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s:.*?))\s*$")


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher such as ``severity="critical"`` or ``job=~api.*``."""
    found = _MATCHER_RE.match(text)
    if found is None:
        raise MatcherError(f"bad matcher format: {text}")
    name, op, raw = found.group(1), found.group(2), found.group(3)
    expect_trailing_quote = raw.startswith('"')
    if expect_trailing_quote:
        raw = raw[1:]
    out: list[str] = []
    escaped = False
    last = len(raw) - 1
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
            if ch == "n":
                out.append("\n")
            elif ch in '"\\':
                out.append(ch)
            else:  # a spurious escape keeps its backslash, as Alertmanager does
                out.append("\\" + ch)
            continue
        if ch == "\\":
            if i < last:
                escaped = True
                continue
            out.append("\\")
        elif ch == '"':
            if not expect_trailing_quote or i < last:
                raise MatcherError(
                    f"matcher value contains unescaped double quote: {found.group(3)}"
                )
            expect_trailing_quote = False
        else:
            out.append(ch)
    if expect_trailing_quote:
        raise MatcherError(f"matcher value contains unescaped double quote: {found.group(3)}")
    return Matcher.create(name, MatchType(op), "".join(out))


def split_matchers(text: str) -> list[str]:
    """Split ``{a="1",b=~"x,y"}`` on the commas outside double quotes."""
    text = text.strip()
    text = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for ch in text:
        if ch == "," and not inside_quotes:
            tokens.append("".join(token))
            token = []
            continue
        if ch == '"':
            if not escaped:
                inside_quotes = not inside_quotes
            else:
                escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(ch)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return tokens


def parse_matchers(text: str) -> list[Matcher]:
    """Parse a comma-separated list of matchers, optionally wrapped in braces."""
    return [parse_matcher(tok) for tok in split_matchers(text)]


def parse_matcher_list(items: Sequence[str]) -> list[Matcher]:
    """Parse matchers given one or several per string (config lists, repeated CLI flags)."""
    out: list[Matcher] = []
    for item in items:
        out.extend(parse_matchers(item))
    return out
