"""Decode a composed YAML tree into frozen dataclasses, keeping the line of every value.

Why not ``yaml.safe_load`` followed by a validator: loading throws the positions away,
and PyYAML resolves plain scalars with YAML 1.1 rules (``17:00`` becomes the integer
1020, ``2024-01-01`` a date) where Alertmanager's Go YAML keeps the text a string field
asks for. So the file is *composed* (nodes carry their marks) and walked against the
type hints of the target dataclasses:

* a string field takes the scalar's text as written, whatever it looks like;
* booleans, integers and nulls follow Go YAML v2's resolution (no sexagesimal numbers,
  no timestamps);
* a null value leaves a field at its default, as an absent key does;
* an unknown key, a duplicate key, a wrong type or a value a converter rejects becomes a
  :class:`ConfigProblem` naming the line and the dotted key, and decoding goes on so
  that one pass reports every problem.

A dataclass may define ``check()`` yielding :class:`Issue` for rules across its fields;
issues about a field that already failed to decode are dropped (as are issues about the
whole object when any field failed), so one mistake is reported once.
Field ``foo_`` is read from key ``foo`` (``from``, ``class``, ``continue``, ``global``);
fields whose metadata holds ``{"yaml": False}`` are not read from the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, runtime_checkable

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tocsin.config.errors import ConfigProblem

__all__ = [
    "NOT_YAML",
    "NO_SECRET",
    "SHOWN",
    "Conv",
    "ConvError",
    "Decoder",
    "GoYAMLLoader",
    "Issue",
    "Secret",
    "compose",
    "yaml_key",
]

NOT_YAML: Mapping[str, Any] = {"yaml": False}
# A Secret field that the status endpoint shows as written (``tocsin.config.redact``).
SHOWN: Mapping[str, Any] = {"shown": True}

_TAG = "tag:yaml.org,2002:"
_NULL, _BOOL, _INT, _FLOAT, _STR = (
    _TAG + "null",
    _TAG + "bool",
    _TAG + "int",
    _TAG + "float",
    _TAG + "str",
)


class GoYAMLLoader(yaml.SafeLoader):
    """SafeLoader resolving plain scalars as Go YAML v2 does (no base 60, no dates)."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}


for _first, _resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        if _tag not in (_INT, _FLOAT, _TAG + "timestamp"):
            GoYAMLLoader.add_implicit_resolver(_tag, _regexp, [_first])
GoYAMLLoader.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
GoYAMLLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def compose(text: str) -> Node | None:
    """Compose ``text`` (one YAML document) into a node tree; ``None`` when empty."""
    loader = GoYAMLLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


class Secret(str):
    """A string that must not show up in logs or reprs (passwords, tokens, keys)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('<secret>')" if self else "Secret('')"


NO_SECRET = Secret("")


@dataclass(frozen=True, slots=True)
class Issue:
    """A rule broken inside one object; ``field`` is relative to it ("" for the object)."""

    message: str
    field: str = ""


@runtime_checkable
class Checked(Protocol):
    def check(self) -> Iterator[Issue]: ...


class ConvError(ValueError):
    """Raised by a converter; ``index`` points at the offending item of a list source."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True, slots=True)
class Conv:
    """``Annotated`` metadata: decode the node as ``source``, then map it with ``fn``.

    ``fn`` raises ``ValueError`` (or :class:`ConvError` to blame one list item) for a
    value it rejects.
    """

    fn: Callable[[Any], Any]
    source: Any = str


_INVALID: Any = object()


def yaml_key(field_name: str) -> str:
    return field_name.rstrip("_")


@cache
def _fields(cls: type) -> dict[str, tuple[str, Any]]:
    hints = typing.get_type_hints(cls, include_extras=True)
    out: dict[str, tuple[str, Any]] = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("yaml", True) is False:
            continue
        out[yaml_key(f.name)] = (f.name, hints[f.name])
    return out


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "null"
    return repr(node.value)


class Decoder:
    """One decoding pass over one file; collects problems and positions as it goes."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[ConfigProblem] = []
        # Dotted key -> 1-based line of the key (mapping entries) or item (list entries).
        self.positions: dict[str, int] = {"": 1}
        # Dotted keys that were present with a non-null value.
        self.present: set[str] = set()
        self._constructor = SafeConstructor()

    # -- reporting ---------------------------------------------------------------------

    def report(self, key: str, message: str, line: int | None = None) -> None:
        if line is None:
            line = self.line_of(key)
        self.problems.append(ConfigProblem(self.filename, line, key or "(document)", message))

    def line_of(self, key: str) -> int:
        """The line of ``key``, or of its nearest ancestor that was in the file."""
        probe = key
        while probe not in self.positions and probe:
            probe = _parent(probe)
        return self.positions.get(probe, 1)

    # -- decoding ----------------------------------------------------------------------

    def decode(self, node: Node, tp: Any, path: str) -> Any:
        """Decode ``node`` as ``tp``; report and return an invalid marker on failure."""
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            base, *extras = typing.get_args(tp)
            conv = next((e for e in extras if isinstance(e, Conv)), None)
            if conv is None:
                return self.decode(node, base, path)
            return self._convert(node, conv, path)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if _is_null(node):
                return None
            if len(args) != 1:
                raise TypeError(f"unsupported union {tp!r}")
            return self.decode(node, args[0], path)
        if tp is Any:
            return self._construct(node, path)
        if origin in (tuple, list):
            return self._sequence(node, typing.get_args(tp)[0], path)
        if origin in (dict, Mapping):
            return self._mapping(node, typing.get_args(tp)[1], path)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.decode_dataclass(node, tp, path)
        if tp is bool:
            return self._scalar(node, path, {_BOOL}, "a boolean (true or false)")
        if tp is int:
            return self._scalar(node, path, {_INT}, "an integer")
        if tp is float:
            value = self._scalar(node, path, {_INT, _FLOAT}, "a number")
            return value if value is _INVALID else float(value)
        if isinstance(tp, type) and issubclass(tp, str):
            if isinstance(node, ScalarNode):
                return tp("" if node.tag == _NULL else node.value)
            self.report(path, f"expected a string, got {_kind(node)}")
            return _INVALID
        raise TypeError(f"unsupported field type {tp!r}")

    def decode_dataclass(self, node: Node, cls: type, path: str) -> Any:
        if not isinstance(node, MappingNode):
            self.report(path, f"expected a mapping of settings, got {_kind(node)}")
            return _INVALID
        self._flatten(node, path)
        fields = _fields(cls)
        kwargs: dict[str, Any] = {}
        seen: set[str] = set()
        failed: set[str] = set()  # fields whose value had problems
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            key_path = _join(path, key)
            line = key_node.start_mark.line + 1
            if key in seen:
                self.report(key_path, f"duplicate key {key!r}", line)
                continue
            seen.add(key)
            self.positions[key_path] = line
            if key not in fields:
                self.report(key_path, f"unknown key {key!r}{did_you_mean(key, fields)}", line)
                continue
            if _is_null(value_node):
                continue
            self.present.add(key_path)
            name, tp = fields[key]
            problems_before = len(self.problems)
            value = self.decode(value_node, tp, key_path)
            if len(self.problems) != problems_before:
                failed.add(key)
            if value is not _INVALID:
                kwargs[name] = value
        obj = cls(**kwargs)
        if isinstance(obj, Checked):
            for issue in obj.check():
                # A rule over a field that already failed would only repeat the problem.
                head = re.split(r"[.\[]", issue.field, maxsplit=1)[0]
                if (head and head in failed) or (not head and failed):
                    continue
                self.report(_join(path, issue.field), issue.message)
        return obj

    # -- helpers -----------------------------------------------------------------------

    def _convert(self, node: Node, conv: Conv, path: str) -> Any:
        problems_before = len(self.problems)
        raw = self.decode(node, conv.source, path)
        if raw is _INVALID or len(self.problems) != problems_before:
            return _INVALID
        try:
            return conv.fn(raw)
        except ConvError as exc:
            at = path if exc.index is None else f"{path}[{exc.index}]"
            self.report(at, str(exc))
        except ValueError as exc:
            self.report(path, str(exc))
        return _INVALID

    def _scalar(self, node: Node, path: str, tags: set[str], what: str) -> Any:
        if isinstance(node, ScalarNode) and node.tag in tags:
            return self._constructor.construct_object(node)
        self.report(path, f"expected {what}, got {_kind(node)}")
        return _INVALID

    def _sequence(self, node: Node, item_type: Any, path: str) -> Any:
        if not isinstance(node, SequenceNode):
            self.report(path, f"expected a list, got {_kind(node)}")
            return _INVALID
        out = []
        for index, item in enumerate(node.value):
            item_path = f"{path}[{index}]"
            self.positions[item_path] = item.start_mark.line + 1
            value = self.decode(item, item_type, item_path)
            if value is not _INVALID:
                out.append(value)
        # A broken item is left out and the rest kept, so that checks across the file
        # still see the other items; the problem is recorded and the load fails anyway.
        return tuple(out)

    def _mapping(self, node: Node, value_type: Any, path: str) -> Any:
        if not isinstance(node, MappingNode):
            self.report(path, f"expected a mapping, got {_kind(node)}")
            return _INVALID
        self._flatten(node, path)
        out: dict[str, Any] = {}
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            key_path = _join(path, key)
            line = key_node.start_mark.line + 1
            if key in seen:
                self.report(key_path, f"duplicate key {key!r}", line)
                continue
            seen.add(key)
            self.positions[key_path] = line
            value = self.decode(value_node, value_type, key_path)
            if value is not _INVALID:
                out[key] = value
        return out

    def _key(self, node: Node, path: str) -> str | None:
        if isinstance(node, ScalarNode) and node.tag != _NULL:
            return str(node.value)
        self.report(path, f"keys must be strings, got {_kind(node)}", node.start_mark.line + 1)
        return None

    def _flatten(self, node: MappingNode, path: str) -> None:
        """Resolve YAML merge keys (``<<: *anchor``), which Go YAML v2 supports too.

        Keys written in the mapping override merged ones, and among merged mappings the
        first listed wins; what is left has no duplicates that the user did not write.
        """
        own = [(k, v) for k, v in node.value if k.tag != _TAG + "merge"]
        if len(own) == len(node.value):
            return
        try:
            self._constructor.flatten_mapping(node)
        except ConstructorError as exc:
            mark = exc.problem_mark or node.start_mark
            self.report(path, exc.problem or "bad merge key", mark.line + 1)
            node.value = own
            return
        merged = node.value[: len(node.value) - len(own)]
        written = {k.value for k, _ in own if isinstance(k, ScalarNode)}
        kept: dict[object, tuple[Node, Node]] = {}
        for key_node, value_node in merged:  # later pairs come from earlier mappings
            if key_node.value not in written:
                kept[key_node.value] = (key_node, value_node)
        node.value = [*kept.values(), *own]

    def _construct(self, node: Node, path: str) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.report(path, exc.problem or "cannot read value")
            return _INVALID


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``candidates``, or nothing."""
    hint = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def _join(path: str, key: str) -> str:
    if not key:
        return path
    return f"{path}.{key}" if path else key


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""
