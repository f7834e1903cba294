"""Matcher semantics, one row per documented behaviour of Alertmanager's matchers
(docs: configuration.md "<matcher>", and pkg/labels parse behaviour)."""

from __future__ import annotations

import pytest

from tocsin.alerts.matchers import (
    Matcher,
    MatcherError,
    MatchType,
    from_api,
    matches_all,
    parse_matcher,
    parse_matchers,
)

# (matcher text, label value, expected) -- a missing label is matched as "".
MATCH_ROWS = [
    ('severity="critical"', "critical", True),  # = exact equality
    ('severity="critical"', "Critical", False),  # = is case-sensitive
    ('severity!="critical"', "warning", True),  # != inequality
    ('severity!="critical"', "critical", False),
    ('job=~"api"', "api-gateway", False),  # =~ is anchored at both ends
    ('job=~"api.*"', "api-gateway", True),
    ('job=~"a|b"', "b", True),  # alternation inside the anchor group
    ('job=~"a|b"', "ab", False),
    ('job!~"api.*"', "web", True),  # !~ negated anchored regex
    ('job!~"api.*"', "api", False),
    ('env=""', "", True),  # ="" matches a missing label
    ('env!=""', "", False),  # !="" requires the label to be present
    ('env=~".*"', "", True),  # .* matches the empty value
    ('env=~".+"', "", False),
    ('name=~"(?i)foo"', "FOO", True),  # leading flag group, as RE2 allows
    ('name=~"x(?i)foo"', "xFOO", True),  # a flag group anywhere, as RE2 allows
    ('severity=~"critical|warning"', "warning", True),  # alternation of plain strings
    ('severity=~"critical|warning"', "warn", False),
    ('severity=~"critical|"', "", True),  # an empty alternative matches the empty value
    ('job=~"a.c"', "a\nc", False),  # . does not match a newline (Go's default)
    ('job=~"(?s)a.c"', "a\nc", True),  # unless the s flag says so
    ('n=~"\\d+"', "\u0661\u0662", False),  # \d is ASCII digits in Go, not Unicode's
    ('n=~"\\d+"', "12", True),
    ('n=~"\\pL+"', "\u00e9t\u00e9", True),  # Unicode classes, as Go's regexp has
    ('x=~"\u00e9+"', "\u00e9\u00e9", True),  # non-ASCII literals match whole characters
    # Linear time: nested quantifiers that make a backtracking engine take exponential
    # time on a long non-matching value answer at once (RE2, as Go's regexp).
    ('pod=~"([a-z0-9-]+)+-canary"', "checkout-api-7f9c8d6b5-xkq2p-worker-queue" * 50, False),
    ('pod=~"([a-z0-9-]+)+-canary"', "checkout-api-7f9c8d6b5-canary", True),
    ('x=~"(a+)+b"', "a" * 200_000, False),
    ('x!~"(a|aa)+c"', "a" * 100_000, True),
]


@pytest.mark.parametrize(("text", "value", "expected"), MATCH_ROWS)
def test_matches(text: str, value: str, expected: bool) -> None:
    assert parse_matcher(text).matches(value) is expected


# (input, expected (name, op, value) tuples)
PARSE_ROWS = [
    ("foo=bar", [("foo", "=", "bar")]),  # unquoted value
    ('foo="bar"', [("foo", "=", "bar")]),  # quoted value
    ('{foo="bar",baz!~"q.*"}', [("foo", "=", "bar"), ("baz", "!~", "q.*")]),  # braces, list
    ('foo="a,b"', [("foo", "=", "a,b")]),  # comma inside quotes does not split
    (' foo = "bar" ', [("foo", "=", "bar")]),  # whitespace around tokens
    (r'foo="say \"hi\""', [("foo", "=", 'say "hi"')]),  # escaped quote
    (r'foo="a\\b"', [("foo", "=", "a\\b")]),  # escaped backslash
    (r'foo="a\nb"', [("foo", "=", "a\nb")]),  # \n escape
    (r'foo="a\qb"', [("foo", "=", "a\\qb")]),  # spurious escape keeps the backslash
    ("foo=", [("foo", "=", "")]),  # empty value
    ("a:b=c", [("a:b", "=", "c")]),  # colons allowed in names (classic parser)
]


@pytest.mark.parametrize(("text", "expected"), PARSE_ROWS)
def test_parse(text: str, expected: list[tuple[str, str, str]]) -> None:
    got = [(m.name, m.type.value, m.value) for m in parse_matchers(text)]
    assert got == expected


@pytest.mark.parametrize(
    "text",
    [
        "foo",  # no operator
        '1foo="x"',  # name must not start with a digit
        'foo="bar',  # unterminated quote
        'foo="b"ar"',  # unescaped quote inside
        'foo=~"("',  # regex that does not compile
    ],
)
def test_parse_errors(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(text)


# Patterns Go's regexp (and so Alertmanager) refuses are refused, with RE2's reason.
@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a)\\1", "invalid escape sequence"),  # backreferences
        ("(?=x)x", "invalid perl operator"),  # look-ahead
        ("(?<!x)y", "invalid"),  # look-behind
        ("a\\Z", "invalid escape sequence"),  # Python's \Z; Go has \z
        ("a{1001}", "invalid repetition size"),  # Go's limit is 1000
        ("a**", "bad repetition operator"),
    ],
)
def test_regexes_go_refuses_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(MatcherError, match=reason):
        parse_matcher(f'a=~"{pattern}"')


@pytest.mark.parametrize("kind", [MatchType.REGEX, MatchType.NOT_REGEX])
def test_a_stored_pattern_that_no_longer_compiles_matches_nothing(kind: MatchType) -> None:
    # Silences saved before matchers moved to RE2 load, and silence nothing.
    stored = Matcher.stored("a", kind, "(x)\\1")
    assert (stored.name, stored.type, stored.value) == ("a", kind, "(x)\\1")
    assert not stored.matches("xx")
    assert not stored.matches("")
    assert Matcher.stored("a", kind, "x.*").matches("xy") is (kind is MatchType.REGEX)


@pytest.mark.parametrize(
    ("is_regex", "is_equal", "op"),
    [(False, True, "="), (False, False, "!="), (True, True, "=~"), (True, False, "!~")],
)
def test_from_api_flags(is_regex: bool, is_equal: bool, op: str) -> None:
    m = from_api("a", "b", is_regex, is_equal)
    assert m.type is MatchType(op)
    assert (m.is_regex, m.is_equal) == (is_regex, is_equal)


def test_str_round_trips() -> None:
    m = Matcher.create("a", MatchType.EQUAL, 'x"y\\z\n')
    assert parse_matcher(str(m)) == m


def test_matches_all_reads_missing_labels_as_empty() -> None:
    ms = parse_matchers('a="1",b=""')
    assert matches_all(ms, {"a": "1"})
    assert not matches_all(ms, {"a": "1", "b": "2"})
