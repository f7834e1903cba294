"""The on-call records are frozen values, and due row ids are unique, UUIDv7-shaped and
ordered by due time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

from tocsin.oncall.escalation import StepDue
from tocsin.oncall.lifecycle import GroupState, Status
from tocsin.store import oncall_rows
from tocsin.store.oncall_rows import due_id

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_records_are_frozen_values() -> None:
    """msgspec Structs (cheap to build and copy: one step builds them by the dozen)
    keep what the frozen dataclasses they replaced promised."""
    state = GroupState("k", Status.FIRING, "k#1", 1, T0)
    assert state.ack_deadline is None  # defaults
    same = GroupState(
        group_key="k", status=Status.FIRING, escalation_id="k#1", escalations=1, since=T0
    )
    assert state == same
    assert hash(state) == hash(same)
    assert replace(state, status=Status.RESOLVED).status is Status.RESOLVED
    assert state.status is Status.FIRING
    with pytest.raises(AttributeError):
        state.status = Status.RESOLVED  # type: ignore[misc]
    with pytest.raises(TypeError):
        StepDue("e", 0)  # type: ignore[call-arg]
    assert repr(StepDue("e", 0, 0, T0)).startswith("StepDue(escalation_id='e'")


def test_due_ids_are_uuid7_shaped_unique_and_ordered_by_due_time() -> None:
    ids = [due_id(T0 + timedelta(milliseconds=i)) for i in range(2000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    found = uuid.UUID(ids[0])
    assert (found.version, found.variant) == (7, uuid.RFC_4122)
    assert found.int >> 80 == int(T0.timestamp() * 1000)
    assert len({due_id(T0) for _ in range(1000)}) == 1000  # one due time, many rows


@given(
    st.integers(min_value=0, max_value=253_402_300_799_999),  # ms since 1970, to year 9999
    st.integers(min_value=0, max_value=(1 << 74) - 1),  # the random bits
)
def test_a_due_id_is_the_uuid7_of_its_due_time_and_random_bits(millis: int, rand: int) -> None:
    due_at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    with mock.patch.object(oncall_rows, "getrandbits", return_value=rand):
        made = [due_id(due_at), oncall_rows.due_id_from(oncall_rows.due_id_prefix(due_at))]
    expected = millis << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62 | rand & (1 << 62) - 1
    assert made == [str(uuid.UUID(int=expected))] * 2
