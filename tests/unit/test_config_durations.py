"""Durations: Prometheus' ``<duration>`` (docs "Configuration file introduction") for the
routing timers, and Go's ``time.Duration`` for a few receiver settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.config import format_duration, parse_duration, parse_go_duration
from tocsin.config.durations import parse_spoken_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # docs: e.g. `1d`, `1h30m`, `5m`, `10s`
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("5m", timedelta(minutes=5)),
        ("30s", timedelta(seconds=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("1w", timedelta(weeks=1)),
        ("1y", timedelta(days=365)),  # a Prometheus year is 365 days
        ("2w3d4h5m6s7ms", timedelta(days=17, hours=4, minutes=5, seconds=6, milliseconds=7)),
        # the regular expression ends with `|0`: a bare zero needs no unit
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty duration string"),
        ("5", "not a valid duration string"),  # units are required
        ("1h30", "not a valid duration string"),
        ("30m1h", "not a valid duration string"),  # biggest unit first
        ("1m1m", "not a valid duration string"),  # each unit once
        ("1.5h", "unknown unit '.'"),  # no fractions
        ("-5m", "not a valid duration string"),
        ("5x", "unknown unit 'x'"),
        (" 5m", "not a valid duration string"),
        ("300000y", "duration out of range"),
    ],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=8), "1w1d"),
        (timedelta(days=366), "1y1d"),
        (timedelta(milliseconds=1500), "1s500ms"),
    ],
)
def test_format_duration_round_trips(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("1h2m3.5s", timedelta(hours=1, minutes=2, seconds=3.5)),
        ("300ms", timedelta(milliseconds=300)),
        ("10us", timedelta(microseconds=10)),
        ("0", timedelta(0)),
        ("-1m", timedelta(minutes=-1)),
    ],
)
def test_parse_go_duration(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1d", "5", "m", "1h-5m", "."])
def test_parse_go_duration_errors(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("typed", "length"),
    [
        ("30m", timedelta(minutes=30)),  # Prometheus's, as it is
        ("30 min", timedelta(minutes=30)),  # told "unknown unit ' min'" before
        ("1 hour", timedelta(hours=1)),
        ("2 hours 15 minutes", timedelta(hours=2, minutes=15)),
        ("1 hr, 5 mins", timedelta(hours=1, minutes=5)),
        ("1 day", timedelta(days=1)),
    ],
)
def test_a_spoken_duration(typed: str, length: timedelta) -> None:
    assert parse_spoken_duration(typed) == length


@pytest.mark.parametrize("typed", ["30 moons", "", "3", "half an hour", "30 min later"])
def test_what_is_no_duration_is_said_as_prometheus_says_it(typed: str) -> None:
    said: list[str] = []
    for parse in (parse_spoken_duration, parse_duration):
        try:
            parse(typed)
        except ValueError as exc:
            said.append(str(exc))
    assert len(said) == 2
    assert said[0] == said[1]


@given(st.integers(0, 10_000), st.sampled_from(["s", "m", "h", "d", "w"]))
def test_every_prometheus_duration_reads_the_same_spoken(n: int, unit: str) -> None:
    assert parse_spoken_duration(f"{n}{unit}") == parse_duration(f"{n}{unit}")
