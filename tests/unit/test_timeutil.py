"""RFC 3339 times as the API writes and reads them (Go's strfmt.DateTime)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.timeutil import format_rfc3339, parse_rfc3339

FORMATTED = [
    # (time, what Go's strfmt.DateTime writes)
    (datetime(2026, 12, 7, 23, 45, 1, 123456, tzinfo=UTC), "2026-12-07T23:45:01.123Z"),
    (datetime(2026, 12, 7, 23, 45, 1, tzinfo=UTC), "2026-12-07T23:45:01.000Z"),
    (datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), "2025-12-31T23:30:00.000Z"),
    (datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))), "2026-01-01T05:00:00.000Z"),
    (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),  # the year padded
    (datetime(999, 3, 4, 5, 6, 7, 999999, tzinfo=UTC), "0999-03-04T05:06:07.999Z"),
]


@pytest.mark.parametrize(("value", "text"), FORMATTED)
def test_format(value: datetime, text: str) -> None:
    assert format_rfc3339(value) == text


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=9)), timezone(-timedelta(hours=3, minutes=30))]
        ),
    )
)
def test_format_then_parse_keeps_the_millisecond(value: datetime) -> None:
    back = parse_rfc3339(format_rfc3339(value))
    assert back is not None
    assert back.tzinfo is UTC or back.utcoffset() == timedelta(0)
    assert back == value.replace(microsecond=value.microsecond // 1000 * 1000)
