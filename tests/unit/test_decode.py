"""The alert decoder: every bad field named, valid alerts of a mixed batch kept, and
(property) any JSON at all gives either alerts or named errors, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.decode import (
    BodyError,
    Decoded,
    _decode_fast,
    decode_alerts,
    uri_error,
    validate_alerts,
)
from tocsin.alerts.labels import NameValidation

GOOD = {"labels": {"alertname": "A"}}


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        ({"labels": {"1abc": "x"}}, "alert[0].labels: invalid label name '1abc'"),
        ({"labels": {"": "x"}}, "alert[0].labels: label name must not be empty"),
        ({"labels": {"a": 1}}, "alert[0].labels.a: value must be a string"),
        ({"labels": {}}, "alert[0].labels: at least one label pair required"),
        ({"labels": {"a": ""}}, "alert[0].labels: at least one label pair required"),
        ({"labels": ["a"]}, "alert[0].labels: must be an object"),
        ({"labels": {"a": "b"}, "startsAt": "yesterday"}, "alert[0].startsAt: not an RFC 3339"),
        ({"labels": {"a": "b"}, "endsAt": "2026-01-01"}, "alert[0].endsAt: not an RFC 3339"),
        ({"labels": {"a": "b"}, "startsAt": 5}, "alert[0].startsAt: must be an RFC 3339 string"),
        (
            {
                "labels": {"a": "b"},
                "startsAt": "2026-01-02T00:00:00Z",
                "endsAt": "2026-01-01T00:00:00Z",
            },
            "alert[0].endsAt: end time must not be before start time",
        ),
        ({"labels": {"a": "b"}, "annotations": {"s": 1}}, "alert[0].annotations.s: value must"),
        ({"labels": {"a": "b"}, "generatorURL": 3}, "alert[0].generatorURL: must be a string"),
        ("nope", "alert[0]: must be an object"),
    ],
)
def test_each_problem_names_alert_and_field(alert: Any, expected: str) -> None:
    out = decode_alerts(orjson.dumps([GOOD, alert]).replace(b"[", b"[", 1))
    # the good alert is kept; the bad one (index 1 here) is refused with its field named
    assert len(out.alerts) == 1
    assert any(e.startswith(expected.replace("alert[0]", "alert[1]")) for e in out.errors), (
        out.errors
    )


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        ({}, "alert[1].labels: required"),
        ({"labels": None}, "alert[1].labels: required"),
        ({"labels": {"a": "b"}, "generatorURL": "foo"}, "alert[1].generatorURL: must be a URI"),
        ({"labels": {"a": "b"}, "generatorURL": "http://x y"}, "alert[1].generatorURL"),
        ({"labels": {"a": "b"}, "generatorURL": "%zz"}, "alert[1].generatorURL"),
    ],
)
def test_schema_violations_refuse_the_whole_batch(alert: Any, expected: str) -> None:
    # Alertmanager's OpenAPI layer answers 422 before its own validation: nothing is kept
    out = decode_alerts(orjson.dumps([GOOD, alert]))
    assert out.alerts == []
    assert any(e.startswith(expected) for e in out.schema_errors), out.schema_errors


@pytest.mark.parametrize(
    "url", ["", "/graph?g0.expr=up", "http://prom:9090/graph?g0.expr=up%3D%3D0", "x:y"]
)
def test_uris_alertmanager_accepts(url: str) -> None:
    out = decode_alerts(orjson.dumps([{"labels": {"a": "b"}, "generatorURL": url}]))
    assert out.schema_errors == []
    assert out.alerts[0].generator_url == url


def test_annotation_names_are_validated_like_label_names() -> None:
    out = decode_alerts(orjson.dumps([{"labels": {"a": "b"}, "annotations": {"a-b": "x"}}]))
    assert out.alerts == []
    assert out.errors == [
        "alert[0].annotations: invalid label name 'a-b': must match [a-zA-Z_][a-zA-Z0-9_]*"
    ]


def test_utf8_mode_accepts_any_non_empty_name() -> None:
    body = orjson.dumps([{"labels": {"service.name": "api", "名前": "x"}}])
    assert decode_alerts(body).errors
    out = decode_alerts(body, NameValidation.UTF8)
    assert out.errors == []
    assert out.alerts[0].labels == {"service.name": "api", "名前": "x"}


def test_empty_valued_labels_are_dropped_and_unknown_fields_ignored() -> None:
    out = decode_alerts(orjson.dumps([{"labels": {"a": "1", "b": ""}, "status": "firing"}]))
    assert out.errors == []
    assert out.alerts[0].labels == {"a": "1"}


def test_null_body_is_no_alerts_as_in_alertmanager() -> None:
    assert decode_alerts(b"null") == Decoded()


def test_go_zero_time_means_unset() -> None:
    body = orjson.dumps([{"labels": {"a": "1"}, "startsAt": "0001-01-01T00:00:00.000Z"}])
    assert decode_alerts(body).alerts[0].starts_at is None


@pytest.mark.parametrize("body", [b"{", b'{"labels": {}}', b'"x"'])
def test_body_errors(body: bytes) -> None:
    with pytest.raises(BodyError):
        decode_alerts(body)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
alert_like = st.fixed_dictionaries(
    {},
    optional={
        "labels": st.dictionaries(st.text(max_size=8), st.text(max_size=8) | json_values),
        "annotations": st.dictionaries(st.text(max_size=8), st.text(max_size=8) | json_values),
        "startsAt": st.text(max_size=30) | json_values,
        "endsAt": st.sampled_from(["2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "x"]),
        "generatorURL": st.text() | json_values,
    },
)


@given(st.lists(alert_like | json_values, max_size=8))
def test_any_json_gives_alerts_or_named_errors(items: list[Any]) -> None:
    out = decode_alerts(orjson.dumps(items))
    bad = {int(e[len("alert[") : e.index("]")]) for e in out.errors + out.schema_errors}
    if out.schema_errors:  # the whole batch is refused
        assert out.alerts == []
        return
    # every item is either accepted or named in an error, never both, never neither
    assert len(out.alerts) + len(bad) == len(items)
    for a in out.alerts:
        assert a.labels
        assert all(isinstance(v, str) and v for v in a.labels.values())
        if a.starts_at and a.ends_at:
            assert a.ends_at >= a.starts_at


label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,6}", fullmatch=True) | st.text(max_size=4)
times = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.isoformat().replace("+00:00", "Z"))
well_formed = st.fixed_dictionaries(
    {"labels": st.dictionaries(label_names, st.text(max_size=6), max_size=4)},
    optional={
        "annotations": st.dictionaries(st.text(max_size=4), st.text(max_size=6), max_size=3),
        "startsAt": times,
        "endsAt": times,
        "generatorURL": st.text(max_size=10),
    },
)


@given(st.lists(well_formed, max_size=6))
def test_fast_path_agrees_with_the_validating_path(items: list[dict[str, Any]]) -> None:
    body = orjson.dumps(items)
    fast = _decode_fast(body, NameValidation.LEGACY)
    slow = validate_alerts(orjson.loads(body))
    if fast is None:
        # the fast path only gives up on input that has a problem
        assert slow.errors or slow.schema_errors
    else:
        assert slow.errors == slow.schema_errors == []
        assert fast == slow.alerts


def test_fast_path_drops_empty_labels_and_refuses_bad_names_after_good_ones() -> None:
    body = orjson.dumps([{"labels": {"a": "x", "gone": ""}, "annotations": {"s": "t"}}])
    (alert,) = decode_alerts(body).alerts
    assert alert.labels == {"a": "x"}
    # names seen valid are remembered; a new invalid one still sends the batch to the
    # validating path, which names it
    out = decode_alerts(orjson.dumps([{"labels": {"a": "x", "1bad": "y"}}]))
    assert out.alerts == []
    assert out.errors[0].startswith("alert[0].labels: invalid label name '1bad'")
    out = decode_alerts(orjson.dumps([{"labels": {"a": "x"}, "annotations": {"2bad": "y"}}]))
    assert out.alerts == []
    assert out.errors[0].startswith("alert[0].annotations: invalid")


def test_names_valid_in_utf8_mode_are_not_valid_in_legacy_mode() -> None:
    body = orjson.dumps([{"labels": {"a.b": "x"}}])
    assert _decode_fast(body, NameValidation.UTF8) is not None
    assert _decode_fast(body, NameValidation.LEGACY) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9090/graph?g0.expr=up", None),
        ("/graph", None),
        ("http://h/\x7f", "control character"),
        ("http://h/%zz", "invalid %-escape"),
        ("graph", "neither an absolute URI nor an absolute path"),
        ("http://a b/", "space in host"),
        ("http://[::1/x", "unclosed [ in host"),
    ],
)
def test_uri_error_gives_the_same_answer_twice(url: str, why: str | None) -> None:
    # cached: the second answer comes from the cache and must be the first one
    assert uri_error(url) == why
    assert uri_error(url) == why
