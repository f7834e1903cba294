"""``fast_init`` keeps a frozen dataclass what it was: only its constructor changes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.oncall.frozen import fast_init


@dataclasses.dataclass(frozen=True)
class Plain:
    a: int
    b: str = "x"
    c: tuple[int, ...] = ()


@fast_init
@dataclasses.dataclass(frozen=True)
class Fast:
    a: int
    b: str = "x"
    c: tuple[int, ...] = ()


@given(st.integers(), st.text(), st.tuples(st.integers()))
def test_same_values_equality_hash_and_repr(a: int, b: str, c: tuple[int, ...]) -> None:
    fast, plain = Fast(a, b, c), Plain(a, b, c)
    assert dataclasses.astuple(fast) == dataclasses.astuple(plain)
    assert Fast(a, b, c) == fast
    assert hash(Fast(a, b, c)) == hash(fast)
    assert repr(fast).removeprefix("Fast") == repr(plain).removeprefix("Plain")
    assert Fast(a=a, c=c, b=b) == fast  # keywords, in any order


def test_defaults_frozenness_and_replace() -> None:
    fast = Fast(1)
    assert (fast.b, fast.c) == ("x", ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.a = 2  # type: ignore[misc]  # what the type checker refuses, at run time
    assert dataclasses.replace(fast, b="y") == Fast(1, "y")
    with pytest.raises(TypeError):
        Fast(**{})  # a's value missing


def test_refuses_what_it_cannot_copy() -> None:
    @dataclasses.dataclass(frozen=True)
    class WithFactory:
        items: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithSlots:
        a: int

    for cls in (WithFactory, WithSlots):
        with pytest.raises(TypeError):
            fast_init(cls)
