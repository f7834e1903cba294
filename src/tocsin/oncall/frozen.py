"""A cheaper ``__init__`` for the frozen dataclasses an escalation step builds by the
dozen.

A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__``: about 0.1 us a field, which made instance creation a tenth of
the on-call engine's time per step (py-spy, bench/escalation.py). :func:`fast_init`
swaps in an ``__init__`` with the same parameters and defaults that writes the
instance's ``__dict__`` directly; everything else the dataclass generated (frozen
``__setattr__``, ``__eq__``, ``__hash__``, ``__repr__``, ``replace``) stays as it is.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["fast_init"]

T = TypeVar("T", bound="DataclassInstance")


def fast_init(cls: type[T]) -> type[T]:
    """Apply above ``@dataclass(frozen=True)`` (no ``slots``, no ``__post_init__``,
    no ``default_factory``, no keyword-only field: those keep the generated ``__init__``)."""
    params = dataclasses.fields(cls)
    if (
        "__slots__" in cls.__dict__
        or hasattr(cls, "__post_init__")
        or any(
            not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING for f in params
        )
    ):
        raise TypeError(f"fast_init does not apply to {cls.__qualname__}")
    scope: dict[str, Any] = {}
    signature = []
    for f in params:
        if f.default is dataclasses.MISSING:
            signature.append(f.name)
        else:
            scope[f"_default_{f.name}"] = f.default
            signature.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    d[{f.name!r}] = {f.name}\n" for f in params)
    source = f"def __init__(self, {', '.join(signature)}):\n    d = self.__dict__\n{body}"
    exec(source, scope)  # the way dataclasses builds its own __init__
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]  # replacing it is the point
    return cls
