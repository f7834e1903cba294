"""Property test: whatever YAML a user writes, loading it returns a configuration or
raises ``ConfigError`` with located problems, never another exception."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.config import Config, ConfigError, ConfigProblem, parse_config

# Keys the schema knows, so that generated documents reach deep into it.
KEYS = [
    "global",
    "route",
    "receivers",
    "inhibit_rules",
    "time_intervals",
    "mute_time_intervals",
    "templates",
    "receiver",
    "group_by",
    "continue",
    "match",
    "match_re",
    "matchers",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "routes",
    "name",
    "webhook_configs",
    "email_configs",
    "url",
    "to",
    "http_config",
    "tls_config",
    "basic_auth",
    "times",
    "weekdays",
    "days_of_month",
    "months",
    "years",
    "location",
    "start_time",
    "end_time",
    "source_matchers",
    "target_matchers",
    "equal",
    "mute_time_intervals",
    "<<",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.sampled_from(
        [
            "5m",
            "1h30m",
            "0",
            "...",
            'a="b"',
            "monday:friday",
            "17:00",
            "-1",
            "http://127.0.0.1:1/",
            "UTC",
            "Europe/Berlin",
            "r",
            "~",
            "",
        ]
    ),
    st.text(max_size=12),
)
DOCS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), DOCS, max_size=6))
def test_any_document_loads_or_raises_config_error(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc)
    problems = _problems(text)
    for problem in problems:
        assert problem.file == "fuzz.yml"
        assert 1 <= problem.line <= text.count("\n") + 1
        assert problem.key


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_raises_config_error(text: str) -> None:
    for problem in _problems(text):
        assert problem.file == "fuzz.yml"


def _problems(text: str) -> list[ConfigProblem]:
    """The problems of ``text`` (an error always carries some); none if it loads."""
    try:
        config = parse_config(text, "fuzz.yml")
    except ConfigError as exc:
        problems = exc.problems
    else:
        assert isinstance(config, Config)
        return []
    assert problems
    return problems
