"""Alert defaults and merges, one row per Alertmanager rule (api/v2 postAlertsHandler,
types.Alert.Merge, provider/mem overlap check)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from fnv_c import fnv1a_64
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import (
    Alert,
    PostedAlert,
    in_notification_order,
    merge,
    put,
    with_defaults,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)
RT = timedelta(minutes=5)
LABELS = {"alertname": "HighErrorRate", "service": "api"}


def posted(starts: datetime | None = None, ends: datetime | None = None) -> PostedAlert:
    return PostedAlert(dict(LABELS), {}, starts, ends, "")


@pytest.mark.parametrize(
    ("starts", "ends", "want_start", "want_end", "want_timeout"),
    [
        (None, None, T0, T0 + RT, True),  # neither: starts now, ends after resolve_timeout
        (T0 - M, None, T0 - M, T0 + RT, True),  # start given: end still the timeout
        (None, T0 - M, T0 - M, T0 - M, False),  # only end: start = end (a resolve)
        (T0 - 2 * M, T0 + 10 * M, T0 - 2 * M, T0 + 10 * M, False),  # both: kept as sent
    ],
)
def test_defaults(
    starts: datetime | None,
    ends: datetime | None,
    want_start: datetime,
    want_end: datetime,
    want_timeout: bool,
) -> None:
    a = with_defaults(posted(starts, ends), T0, RT)
    assert (a.starts_at, a.ends_at, a.timeout) == (want_start, want_end, want_timeout)
    assert a.updated_at == T0
    assert a.fingerprint == fingerprint(LABELS)


def alert(starts: datetime, ends: datetime, updated: datetime, timeout: bool = False) -> Alert:
    return Alert(fingerprint(LABELS), dict(LABELS), {}, starts, ends, "", updated, timeout)


@pytest.mark.parametrize(
    ("old", "new", "now", "want_start", "want_end"),
    [
        # the earliest start wins
        (alert(T0, T0 + 10 * M, T0), alert(T0 + M, T0 + 10 * M, T0 + M), T0 + M, T0, T0 + 10 * M),
        # firing younger: a later explicit end of the older alert wins
        (alert(T0, T0 + 20 * M, T0), alert(T0, T0 + 10 * M, T0 + M), T0 + M, T0, T0 + 20 * M),
        # firing younger: a later end that was only a timeout does not win
        (
            alert(T0, T0 + 20 * M, T0, timeout=True),
            alert(T0, T0 + 10 * M, T0 + M),
            T0 + M,
            T0,
            T0 + 10 * M,
        ),
        # resolved younger: its end time wins over a firing older alert
        (alert(T0, T0 + 20 * M, T0), alert(T0, T0 + M, T0 + 2 * M), T0 + 2 * M, T0, T0 + M),
        # both resolved: the latest explicit resolve time wins
        (
            alert(T0, T0 + 3 * M, T0 + 3 * M),
            alert(T0, T0 + 2 * M, T0 + 4 * M),
            T0 + 4 * M,
            T0,
            T0 + 3 * M,
        ),
        # argument order does not matter: the younger is found by updated_at
        (alert(T0, T0 + M, T0 + 2 * M), alert(T0, T0 + 20 * M, T0), T0 + 2 * M, T0, T0 + M),
    ],
)
def test_merge(
    old: Alert, new: Alert, now: datetime, want_start: datetime, want_end: datetime
) -> None:
    got = merge(old, new, now)
    assert (got.starts_at, got.ends_at) == (want_start, want_end)


def test_put_replaces_when_no_overlap() -> None:
    # A new occurrence after the old one resolved starts afresh (no merge of start time).
    old = alert(T0, T0 + M, T0 + M)
    new = alert(T0 + 10 * M, T0 + 15 * M, T0 + 10 * M)
    assert put(old, new, T0 + 10 * M) == new


def test_put_merges_a_resolve_into_a_firing_alert() -> None:
    # A resolve (endsAt = now) sent while the alert fires resolves it, keeping the start.
    old = with_defaults(posted(T0), T0, RT)
    resolve = with_defaults(posted(T0 + M, T0 + 2 * M), T0 + 2 * M, RT)
    got = put(old, resolve, T0 + 2 * M)
    assert got.starts_at == T0
    assert got.ends_at == T0 + 2 * M
    assert got.resolved(T0 + 2 * M)
    assert not got.resolved(T0 + 2 * M - timedelta(microseconds=1))


def test_put_keeps_new_when_nothing_stored() -> None:
    new = alert(T0, T0 + M, T0)
    assert put(None, new, T0) is new


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=6))
def test_fingerprint_is_fnv1a_64_of_the_sorted_label_pairs(labels: dict[str, str]) -> None:
    """Whichever way the compiled hash is called, it is Alertmanager's fingerprint."""
    try:
        data = b"".join(
            name.encode() + b"\xff" + labels[name].encode() + b"\xff" for name in sorted(labels)
        )
    except UnicodeEncodeError:
        return  # lone surrogates: refused by validation before any fingerprint
    assert fingerprint(labels) == f"{fnv1a_64(data):016x}"


def test_fingerprint_matches_prometheus_model() -> None:
    # the figures of prometheus/common model's fingerprint tests
    assert int(fingerprint({}), 16) == 14695981039346656037
    assert int(fingerprint({"x": "y"}), 16) == 8241431561484471700
    labels = {"first_name": "electro", "occupation": "robot", "manufacturer": "westinghouse"}
    assert int(fingerprint(labels), 16) == 5911716720268894962


def labelled(labels: dict[str, str]) -> Alert:
    return Alert(fingerprint(labels), labels, {}, T0, T0 + timedelta(minutes=5), "", T0, False)


ORDER = [
    # (label sets in the order Alertmanager's flush sorts them: types.AlertSlice)
    pytest.param([{"job": "a", "x": "9"}, {"job": "b", "x": "1"}], id="by job first"),
    pytest.param([{"job": "a"}, {"x": "0"}], id="an alert with job before one without"),
    pytest.param(
        [{"job": "a", "instance": "i1"}, {"job": "a", "instance": "i2"}], id="then instance"
    ),
    pytest.param([{"instance": "i1", "z": "0"}, {"a": "9"}], id="instance without job"),
    pytest.param([{"a": "1"}, {"a": "1", "b": "1"}], id="then fewer labels first"),
    # LabelSet.Before: at the first name (in order) one of them lacks, that one is first
    pytest.param([{"b": "1", "c": "1"}, {"a": "1", "c": "1"}], id="a name the other lacks"),
    pytest.param([{"a": "1", "b": "2"}, {"a": "1", "b": "10"}][::-1], id="values as strings"),
    pytest.param([{"a": "Z"}, {"a": "a"}, {"a": "é"}], id="values by code point (Go: bytes)"),
]


@pytest.mark.parametrize("sets", ORDER)
def test_alerts_are_in_alertmanager_s_order(sets: list[dict[str, str]]) -> None:
    alerts = [labelled(labels) for labels in sets]
    for shuffled in (alerts, alerts[::-1]):
        assert [a.labels for a in in_notification_order(shuffled)] == sets


def go_less(a: dict[str, str], b: dict[str, str]) -> bool:
    """types.AlertSlice.Less and LabelSet.Before, as Go writes them: the reference."""
    for key in ("job", "instance"):
        if key not in a and key not in b:
            continue
        if key not in a or key not in b:
            return key in a
        if a[key] != b[key]:
            return a[key] < b[key]
    if len(a) != len(b):
        return len(a) < len(b)
    for name in sorted([*a, *b]):
        if name not in a or name not in b:
            return name not in a
        if a[name] != b[name]:
            return a[name] < b[name]
    return False


NAMES = st.sampled_from(["a", "ab", "b", "job", "instance", "é", "z"])


@given(st.lists(st.dictionaries(NAMES, st.sampled_from(["", "x", "xy", "y"]), min_size=1)))
def test_the_order_is_go_s_whatever_the_input_s(sets: list[dict[str, str]]) -> None:
    alerts = list({fingerprint(s): labelled(s) for s in sets}.values())
    once = in_notification_order(alerts)
    assert in_notification_order(reversed(alerts)) == once
    assert sorted(a.fingerprint for a in once) == sorted(a.fingerprint for a in alerts)
    for earlier, later in itertools.pairwise(once):
        assert not go_less(later.labels, earlier.labels)
