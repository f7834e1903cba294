"""The outcome classification table: one row per status class and Retry-After form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from multidict import CIMultiDict

from tocsin.notify.outcome import OutcomeKind, classify_http, excerpt, parse_retry_after

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
SENT, RETRY, PERM = OutcomeKind.SENT, OutcomeKind.RETRYABLE, OutcomeKind.PERMANENT


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (200, {}, SENT, None),
        (202, {}, SENT, None),
        (204, {}, SENT, None),
        (301, {}, PERM, None),  # a redirect that was not followed
        (400, {}, PERM, None),
        (401, {}, PERM, None),
        (403, {}, PERM, None),
        (404, {}, PERM, None),
        (408, {}, RETRY, None),
        (410, {}, PERM, None),
        (413, {}, PERM, None),
        (422, {}, PERM, None),
        (429, {}, RETRY, None),
        (429, {"Retry-After": "30"}, RETRY, 30.0),
        (429, {"retry-after": " 7 "}, RETRY, 7.0),
        (429, {"Retry-After": "Wed, 01 May 2024 12:02:00 GMT"}, RETRY, 120.0),
        (429, {"Retry-After": "Wed, 01 May 2024 11:00:00 GMT"}, RETRY, 0.0),  # past date
        (429, {"Retry-After": "soon"}, RETRY, None),  # unreadable: no hint
        (500, {}, RETRY, None),
        (500, {"Retry-After": "30"}, RETRY, None),  # only honoured on 429 and 503
        (502, {}, RETRY, None),
        (503, {"Retry-After": "120"}, RETRY, 120.0),
        (503, {"Retry-After": "Wed, 01 May 2024 12:00:10 GMT"}, RETRY, 10.0),
        (504, {}, RETRY, None),
    ],
)
def test_classify_http(
    status: int, headers: dict[str, str], kind: OutcomeKind, retry_after: float | None
) -> None:
    outcome = classify_http(status, CIMultiDict(headers), b"body text", NOW)
    assert outcome.kind is kind
    assert outcome.status_code == status
    assert outcome.retry_after == retry_after
    assert outcome.message == f"HTTP {status}: body text"


def test_plain_dict_headers_are_searched_case_insensitively() -> None:
    outcome = classify_http(503, {"RETRY-AFTER": "5"}, b"", NOW)
    assert outcome.retry_after == 5.0
    assert outcome.message == "HTTP 503"


def test_extra_retry_codes() -> None:
    assert classify_http(403, {}, b"", NOW).kind is PERM
    assert classify_http(403, {}, b"", NOW, extra_retry_codes=frozenset({403})).kind is RETRY


def test_parse_retry_after_absent() -> None:
    assert parse_retry_after(None, NOW) is None


def test_excerpt_cuts_long_bodies_and_survives_bad_utf8() -> None:
    assert excerpt(b"x" * 600).endswith("…")
    assert len(excerpt(b"x" * 600)) == 513
    assert excerpt(b"\xff\xfe ok ") == "\ufffd\ufffd ok"
