"""Property tests for the matcher parser (docs "Label matchers", classic syntax).

* a matcher printed with ``str()`` parses back to an equal matcher, alone or inside a
  ``{...}`` list (values hold quotes, backslashes, newlines, commas, any Unicode);
* no input, however odd, makes the parser raise anything but ``MatcherError``.
"""

from __future__ import annotations

import contextlib
import re
import warnings

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from tocsin.alerts.matchers import (
    Matcher,
    MatcherError,
    MatchType,
    parse_matcher,
    parse_matchers,
)

label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,20}", fullmatch=True)
# Any text except lone surrogates, which cannot occur in label values read from UTF-8.
values = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
regex_values = st.one_of(
    values,
    st.from_regex(r"[a-z.*+?|()\[\]^$\\-]{0,20}", fullmatch=True),
)


def _compiles(value: str) -> bool:
    try:
        Matcher.create("x", MatchType.REGEX, value)
    except MatcherError:
        return False
    return True


@st.composite
def matchers(draw: st.DrawFn) -> Matcher:
    kind = draw(st.sampled_from(list(MatchType)))
    name = draw(label_names)
    if kind in (MatchType.REGEX, MatchType.NOT_REGEX):
        value = draw(regex_values)
        assume(_compiles(value))
    else:
        value = draw(values)
    return Matcher.create(name, kind, value)


@given(matchers())
@example(Matcher.create("a", MatchType.EQUAL, 'say "hi"\\n, now\n'))
@example(Matcher.create("a", MatchType.NOT_EQUAL, "trailing backslash\\"))
@example(Matcher.create("a", MatchType.EQUAL, "  padded  "))
@example(Matcher.create("a", MatchType.REGEX, "(?i)case"))
def test_str_round_trips(matcher: Matcher) -> None:
    parsed = parse_matcher(str(matcher))
    assert parsed == matcher
    assert parsed.matches(matcher.value) == matcher.matches(matcher.value)


@given(st.lists(matchers(), min_size=1, max_size=5), st.booleans())
def test_lists_round_trip(items: list[Matcher], braces: bool) -> None:
    text = ", ".join(str(m) for m in items)
    if braces:
        text = "{" + text + "}"
    assert parse_matchers(text) == items


@settings(max_examples=500)
@given(st.text(max_size=60))
@example('foo="bar')
@example('foo=bar"baz"')
@example("{,}")
@example('a=~"("')
@example('a=~"\\\\"')
@example("a=\\")
@example("=value")
def test_arbitrary_text_only_raises_matcher_error(text: str) -> None:
    for parse in (parse_matcher, parse_matchers):
        with contextlib.suppress(MatcherError):
            parse(text)


@given(st.text(alphabet='ab=!~,{}"\\ \n', max_size=30))
def test_matcher_syntax_soup_only_raises_matcher_error(text: str) -> None:
    # The same property over the characters the grammar cares about, where the
    # interesting failures live.
    try:
        result = parse_matchers(text)
    except MatcherError:
        return
    for matcher in result:
        assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", matcher.name)


# Where Python's ``re`` and RE2 both accept a pattern built from the common syntax, they
# agree on every value without newlines (``$`` differs before a trailing newline). This
# pins the anchoring and the literal-alternation shortcut to what a regex engine says.
common_patterns = st.from_regex(r"[ab.*+?|()\[\]^-]{0,12}", fullmatch=True)
plain_values = st.text(alphabet="ab-", max_size=12)


@settings(max_examples=400)
@given(common_patterns, st.lists(plain_values, min_size=1, max_size=8))
@example("a|b|", ["", "a", "ab"])
@example("a-b|ba", ["a-b", "ba", "b"])
@example("(a|b)*-", ["ab-", "-", "a"])
@example(")|(", ["a", ""])  # breaks out of the group: "^(?:)|()$" is found at any start
@example("-)|(", ["a", "-", ""])  # "^(?:-)|()$": "()$" is found at the end of "a"
def test_regexes_agree_with_a_backtracking_engine(pattern: str, texts: list[str]) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "[[" warns of future set syntax: not common
            python = re.compile(f"^(?:{pattern})$")
    except (re.error, FutureWarning):
        python = None
    assume(python is not None and _compiles(pattern))
    assert python is not None
    matcher = Matcher.create("x", MatchType.REGEX, pattern)
    for text in texts:
        # search, not match: Go's MatchString (so Alertmanager's matcher) finds the
        # pattern anywhere, which matters when it breaks out of the anchoring group
        assert matcher.matches(text) is (python.search(text) is not None), (pattern, text)
