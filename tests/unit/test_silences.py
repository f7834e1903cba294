"""Silence states, validation and update rules, one row per documented behaviour of
Alertmanager's silence package (getState, validateSilence, canUpdate, Set, expire)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.alerts.matchers import parse_matchers
from tocsin.alerts.silences import (
    Silence,
    SilenceError,
    SilenceState,
    can_update,
    decide_set,
    expire,
    sort_key,
    validate,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)
US = timedelta(microseconds=1)


def sil(
    starts: datetime, ends: datetime, matchers: str = 'alertname="A"', sid: str = "s1"
) -> Silence:
    return Silence(sid, tuple(parse_matchers(matchers)), starts, ends, T0, "me", "why")


@pytest.mark.parametrize(
    ("starts", "ends", "now", "state"),
    [
        (T0 + M, T0 + 2 * M, T0, SilenceState.PENDING),  # before startsAt
        (T0, T0 + M, T0, SilenceState.ACTIVE),  # at startsAt it is active
        (T0 - M, T0, T0, SilenceState.ACTIVE),  # at endsAt it is still active
        (T0 - 2 * M, T0 - M, T0, SilenceState.EXPIRED),  # after endsAt
    ],
)
def test_state(starts: datetime, ends: datetime, now: datetime, state: SilenceState) -> None:
    assert sil(starts, ends).state(now) is state


@pytest.mark.parametrize(
    ("silence", "field"),
    [
        (Silence("", (), T0, T0 + M, T0, "me", "c"), "matchers"),  # no matchers
        (sil(T0, T0 + M, 'a=""'), "matchers"),  # all matchers match the empty string
        (sil(T0, T0 + M, 'a=~".*"'), "matchers"),
        (sil(T0 + M, T0), "endsAt"),  # end before start
        (sil(T0, T0), "endsAt"),  # end equal to start
        (sil(T0 - 2 * M, T0 - M), "endsAt"),  # end in the past
    ],
)
def test_validate_refuses(silence: Silence, field: str) -> None:
    with pytest.raises(SilenceError, match=field):
        validate(silence, T0)


def test_validate_accepts_a_negative_matcher_with_a_positive_one() -> None:
    validate(sil(T0, T0 + M, 'a="1",b!="2"'), T0)


@pytest.mark.parametrize(
    ("prev", "new", "allowed"),
    [
        # active: end may move (not into the past), start must stay
        (sil(T0 - M, T0 + M), sil(T0 - M, T0 + 5 * M), True),
        (sil(T0 - M, T0 + M), sil(T0 - 2 * M, T0 + 5 * M), False),
        (sil(T0 - M, T0 + M), sil(T0 - M, T0 - timedelta(seconds=1)), False),
        # active: the start as the API shows it (milliseconds) is the same start
        (sil(T0 - M + US * 1_234, T0 + M), sil(T0 - M + US * 1_000, T0 + 5 * M), True),
        (sil(T0 - M + US * 1_234, T0 + M), sil(T0 - M + US * 2_000, T0 + 5 * M), False),
        (sil(T0 - M + US * 1_234, T0 + M), sil(T0 - M, T0 + 5 * M), False),
        # pending: start may move, but not into the past
        (sil(T0 + M, T0 + 5 * M), sil(T0 + 2 * M, T0 + 5 * M), True),
        (sil(T0 + M, T0 + 5 * M), sil(T0 - M, T0 + 5 * M), False),
        # expired: never updated in place
        (sil(T0 - 5 * M, T0 - M), sil(T0 - 5 * M, T0 + M), False),
        # changed matchers: never updated in place
        (sil(T0 - M, T0 + M), sil(T0 - M, T0 + M, 'alertname="B"'), False),
    ],
)
def test_can_update(prev: Silence, new: Silence, allowed: bool) -> None:
    assert can_update(prev, new, T0) is allowed


def test_set_updates_in_place_when_allowed() -> None:
    prev = sil(T0 - M, T0 + M)
    out = decide_set(prev, sil(T0 - M, T0 + 9 * M), T0)
    assert out.stored.id == "s1"
    assert out.stored.ends_at == T0 + 9 * M
    assert out.expired is None


def test_set_in_place_from_the_start_as_shown_keeps_the_stored_start() -> None:
    """``amtool silence update`` sends back the start it read, in milliseconds."""
    prev = sil(T0 - M + US * 1_234, T0 + M)
    out = decide_set(prev, sil(T0 - M + US * 1_000, T0 + 9 * M), T0)
    assert (out.stored.id, out.stored.starts_at, out.expired) == ("s1", prev.starts_at, None)


def test_set_expires_the_old_and_creates_a_new_one_otherwise() -> None:
    prev = sil(T0 - M, T0 + M)
    out = decide_set(prev, sil(T0 - M, T0 + M, 'alertname="B"'), T0)
    assert out.stored.id != "s1"
    assert out.expired is not None
    assert out.expired.id == "s1"
    assert out.expired.ends_at == T0


def test_new_silence_starting_in_the_past_starts_now() -> None:
    out = decide_set(None, sil(T0 - 5 * M, T0 + M, sid=""), T0)
    assert out.stored.starts_at == T0
    assert out.stored.id


def test_expire_active_ends_now_and_pending_starts_and_ends_now() -> None:
    assert expire(sil(T0 - M, T0 + M), T0).ends_at == T0
    pending = expire(sil(T0 + M, T0 + 2 * M), T0)
    assert (pending.starts_at, pending.ends_at) == (T0, T0)
    with pytest.raises(SilenceError, match="already expired"):
        expire(sil(T0 - 2 * M, T0 - M), T0)


def test_sort_order_active_pending_expired() -> None:
    items = [
        sil(T0 - 9 * M, T0 - M, sid="expired-early"),
        sil(T0 - 9 * M, T0 - timedelta(seconds=1), sid="expired-late"),
        sil(T0 + 2 * M, T0 + 5 * M, sid="pending-late"),
        sil(T0 + M, T0 + 5 * M, sid="pending-soon"),
        sil(T0 - M, T0 + 9 * M, sid="active-long"),
        sil(T0 - M, T0 + M, sid="active-short"),
    ]
    got = [s.id for s in sorted(items, key=lambda s: sort_key(s, T0))]
    assert got == [
        "active-short",
        "active-long",
        "pending-soon",
        "pending-late",
        "expired-late",
        "expired-early",
    ]
