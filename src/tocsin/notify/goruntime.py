"""What translated Go templates call when they run: field and method access, ``range``,
and the functions of ``text/template`` and of Alertmanager.

:mod:`tocsin.notify.gotemplate` translates a Go template into Jinja2 source calling
these (``go_field``, ``go_call``, ``gofn_<name>``, ...); :mod:`tocsin.notify.templates`
registers them as the environment's globals. They follow Go's rules, not Python's:

* ``.Name`` on a value calls its Go method or reads its field (:func:`go_field`), on a
  map reads the key; a method given arguments is :func:`go_call`. Times and durations
  have Go's methods (:mod:`tocsin.notify.gotime`);
* functions take Go's argument types and fail as Go's do (``error calling index:
  index out of range: 5``): an execution error is ``GoExecError``;
* what they print, they print as Go's ``fmt`` does (:mod:`tocsin.notify.gofmt`).

Regular expressions (``match``, ``reReplaceAll``) are RE2, as Go's ``regexp``: the same
syntax, and linear time whatever a label value holds.
"""

from __future__ import annotations

import math
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2
from markupsafe import Markup

from tocsin.notify.gofmt import (
    GoExecError,
    eval_args,
    go_float,
    go_json,
    go_print,
    go_type,
    is_int,
    printf,
    sprint,
    want_str,
)
from tocsin.notify.gotime import (
    DURATION_METHODS,
    MULTI_RESULT_METHODS,
    TIME_METHODS,
    duration_ns,
    go_format,
)
from tocsin.notify.template_data import (
    KV,
    AlertList,
    Pair,
    Pairs,
    TemplateAlert,
    TemplateData,
)

__all__ = ["ARITY", "FUNCTIONS", "go_call", "go_field", "go_range"]


_DATA_TYPES = (TemplateData, TemplateAlert, Pair, Pairs, KV, AlertList)


# --- fields, methods, range -------------------------------------------------------------


def _want(arity: int, name: str, args: tuple[Any, ...]) -> None:
    if len(args) != arity:
        raise GoExecError(f"wrong number of args for {name}: want {arity} got {len(args)}")


def _call_method(name: str, fn: Callable[..., Any], obj: Any, args: tuple[Any, ...]) -> Any:
    try:
        return fn(obj, *args)
    except GoExecError:
        raise
    except (TypeError, ValueError, OverflowError, ArithmeticError) as exc:
        raise GoExecError(f"error calling {name}: {exc}") from None


def _member(obj: Any, name: str, args: tuple[Any, ...]) -> tuple[bool, Any]:
    """(found, value) of Go's method or field ``name`` of ``obj`` called with ``args``."""
    if isinstance(obj, datetime | timedelta):
        if isinstance(obj, datetime) and name in MULTI_RESULT_METHODS:
            results = MULTI_RESULT_METHODS[name]
            raise GoExecError(f"can't call method/function {name!r} with {results} results")
        table = TIME_METHODS if isinstance(obj, datetime) else DURATION_METHODS
        entry = table.get(name)
        if entry is None:
            return False, None
        arity, fn = entry
        _want(arity, name, args)
        return True, _call_method(name, fn, obj, args)
    if not isinstance(obj, _DATA_TYPES):
        return False, None
    attr = getattr(type(obj), name, None)
    if attr is None:
        return False, None
    if isinstance(attr, property):  # a Go method without arguments
        _want(0, name, args)
        return True, getattr(obj, name)
    if callable(attr):  # a Go method with arguments (KV.Remove)
        _want(attr.__code__.co_argcount - 1, name, args)
        return True, _call_method(name, attr, obj, args)
    if args:  # a struct field
        raise GoExecError(f"{name} has arguments but cannot be invoked as function")
    return True, getattr(obj, name)


def go_field(obj: Any, name: str) -> Any:
    """``obj.Name`` with Go's rules: a method (called) or field; on a map, the key
    (``.Labels.job``), missing keys being the empty string (``missingkey=zero``)."""
    if name[:1].isupper():
        found, value = _member(obj, name, ())
        if found:
            return value
    if isinstance(obj, Mapping):
        return obj.get(name, "")
    if obj is None or (isinstance(obj, str) and not obj):
        # An absent label is ""; reading through it is nil.
        return ""
    raise GoExecError(f"can't evaluate field {name} in type {go_type(obj)}")


def go_call(obj: Any, name: str, *args: Any) -> Any:
    """``obj.Name arg...``: Go's method ``Name`` of ``obj`` called with ``args``
    (``.StartsAt.Format "15:04"``, ``.CommonLabels.Remove .GroupLabels.Names``)."""
    if name[:1].isupper():
        found, value = _member(obj, name, args)
        if found:
            return value
    if isinstance(obj, Mapping):
        raise GoExecError(f"{name} is not a method but has arguments")
    raise GoExecError(f"can't evaluate field {name} in type {go_type(obj)}")


def go_range(value: Any) -> Iterator[tuple[Any, Any]]:
    """``(key, element)`` pairs as Go's ``range`` visits them (maps sorted by key)."""
    if value is None or (isinstance(value, str) and not value):
        return iter(())
    if isinstance(value, Mapping):
        return iter([(k, value[k]) for k in sorted(value)])
    if is_int(value):
        return iter([(i, i) for i in range(value)])
    if isinstance(value, list | tuple):
        return iter(enumerate(value))
    raise GoExecError(f"range can't iterate over {go_print(value)}")


# --- text/template's built-in functions ------------------------------------------------


def _want_strings(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise GoExecError(f"wrong type for value; expected []string; got {go_type(value)}")
    return [str(v) for v in value]


def _and(*args: Any) -> Any:
    for arg in args:
        if not arg:
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if arg:
            return arg
    return args[-1]


def _call(fn: Any, *args: Any) -> Any:
    if fn is None:
        raise GoExecError("call of nil")
    if not callable(fn):
        raise GoExecError(f"non-function of type {go_type(fn)}")
    return fn(*args)


def _len(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogateescape"))  # Go counts bytes
    if isinstance(value, Mapping | list | tuple):
        return len(value)
    raise GoExecError(f"len of type {go_type(value)}")


def _index_arg(index: Any, cap: int) -> int:
    if index is None:
        raise GoExecError("cannot index slice/array with nil")
    if not is_int(index):
        raise GoExecError(f"cannot index slice/array with type {go_type(index)}")
    if index < 0 or index > cap:
        raise GoExecError(f"index out of range: {index}")
    return int(index)


def _index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise GoExecError("index of untyped nil")
    for index in indexes:
        if isinstance(item, str):
            data = item.encode("utf-8", "surrogateescape")
            i = _index_arg(index, len(data))
            if i >= len(data):
                raise GoExecError(f"index out of range: {i}")
            item = data[i]  # a byte, as Go's
        elif isinstance(item, list | tuple):
            i = _index_arg(index, len(item))
            if i >= len(item):
                raise GoExecError(f"index out of range: {i}")
            item = item[i]
        elif isinstance(item, Mapping):
            if not isinstance(index, str):
                raise GoExecError(f"value has type {go_type(index)}; should be string")
            item = item.get(index, "")
        else:
            raise GoExecError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise GoExecError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoExecError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise GoExecError("cannot 3-index slice a string")
        data: Any = item.encode("utf-8", "surrogateescape")
    elif isinstance(item, list | tuple):
        data = item
    else:
        raise GoExecError(f"can't slice item of type {go_type(item)}")
    bounds = [0, len(data)]
    for i, index in enumerate(indexes):
        value = _index_arg(index, len(data))
        if i < 2:
            bounds[i] = value
    if bounds[0] > bounds[1]:
        raise GoExecError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    if len(indexes) == 3 and bounds[1] > indexes[2]:
        raise GoExecError(f"invalid slice index: {bounds[1]} > {indexes[2]}")
    part = data[bounds[0] : bounds[1]]
    if isinstance(item, str):
        return part.decode("utf-8", "replace")
    return type(item)(part) if isinstance(item, AlertList | Pairs) else list(part)


def _basic(value: Any) -> tuple[str, Any]:
    """Go's ``basicKind`` of a value and the value to compare (a Duration's nanoseconds)."""
    if value is None:
        return "invalid", None
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int):
        return "int", int(value)
    if isinstance(value, timedelta):
        return "int", duration_ns(value)
    if isinstance(value, float):
        return "float", value
    if isinstance(value, str):
        return "string", str(value)
    return "other", value


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise GoExecError("missing argument for comparison")
    k1, v1 = _basic(first)
    for other in others:
        k2, v2 = _basic(other)
        if k1 != k2:
            if k1 != "invalid" and k2 != "invalid":
                raise GoExecError(
                    f"incompatible types for comparison: {go_type(first)} and {go_type(other)}"
                )
            continue  # nil equals only nil
        if k1 == "other":
            if type(first) is not type(other):
                raise GoExecError(
                    f"incompatible types for comparison: {go_type(first)} and {go_type(other)}"
                )
            if isinstance(first, Mapping | list | tuple | TemplateAlert | TemplateData):
                raise GoExecError(f"non-comparable type {go_type(first)}")
        if v1 == v2:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    k1, v1 = _basic(a)
    k2, v2 = _basic(b)
    if k1 in ("invalid", "other", "bool") or k2 in ("invalid", "other", "bool"):
        raise GoExecError("invalid type for comparison")
    if k1 != k2:
        raise GoExecError(f"incompatible types for comparison: {go_type(a)} and {go_type(b)}")
    return bool(v1 < v2)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


_HTML_ESCAPES = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}
_JS_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def _html(*args: Any) -> str:
    """Go's ``HTMLEscapeString`` of the arguments' text."""
    return "".join(_HTML_ESCAPES.get(c, c) for c in eval_args(args))


def _js_char(c: str) -> str:
    if c in _JS_ESCAPES:
        return _JS_ESCAPES[c]
    if c < " ":
        return f"\\u00{ord(c):02X}"
    if c >= "\x80" and not c.isprintable() and c != " ":
        return f"\\u{ord(c):04X}"
    return c


def _js(*args: Any) -> str:
    """Go's ``JSEscapeString`` of the arguments' text."""
    return "".join(_js_char(c) for c in eval_args(args))


def _urlquery(*args: Any) -> str:
    """Go's ``url.QueryEscape`` of the arguments' text."""
    return urllib.parse.quote_plus(eval_args(args), safe="")


# --- Alertmanager's functions -------------------------------------------------------------


def _simple_case(text: str, upper: bool) -> str:
    # Go maps rune by rune (unicode.ToUpper): "ß" stays "ß" where Python makes "SS".
    out = []
    for c in text:
        mapped = c.upper() if upper else c.lower()
        out.append(mapped if len(mapped) == 1 else c)
    return "".join(out)


_MID = frozenset(
    "'.:·\u0387\u055f\u05f4\u2018\u2019\u2024\u2027\ufe13\ufe52\ufe55\uff07\uff0e\uff1a"
)


def _is_break(c: str) -> bool:
    """A rune that ends a word for title casing (x/text/cases' approximation of UAX #29)."""
    if c in _MID or c == "_" or c.isalnum():
        return False
    return unicodedata.category(c)[0] not in "MLN" and unicodedata.category(c) not in ("Cf", "Pc")


def _title(text: str) -> str:
    """``cases.Title(language.AmericanEnglish)``: each word's first cased letter upper,
    the word's other letters lower (``hELLO wORLD`` is ``Hello World``)."""
    text = want_str(text)
    out: list[str] = []
    mid_word = False
    was_mid = False
    for c in text:
        if was_mid and c in _MID:
            mid_word = False
        was_mid = c in _MID
        if c.lower() != c.upper() or c.istitle():  # cased
            if not mid_word:
                out.append(c.title())
                mid_word = True
            else:
                out.append(c.lower())
        else:
            out.append(c)
            if _is_break(c):
                mid_word = False
    return "".join(out)


@lru_cache(maxsize=256)
def _regexp(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args else str(exc)
        raise GoExecError(f"error parsing regexp: {reason}") from None


def _match(pattern: Any, text: Any) -> bool:
    return _regexp(want_str(pattern)).search(want_str(text)) is not None


def _expand(template: str, match: Any, names: Mapping[str, int]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; a
    group that does not exist or did not take part is empty."""
    out: list[str] = []
    rest = template
    while "$" in rest:
        before, rest = rest.split("$", 1)
        out.append(before)
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        found = re.match(r"\{(\w+)\}|(\w+)", rest)
        if found is None:
            out.append("$")  # malformed: the $ is text
            continue
        name = found.group(1) or found.group(2)
        rest = rest[found.end() :]
        if name.isdigit() and not (name[0] == "0" and len(name) > 1):
            group = int(name)
        else:
            group = names.get(name, -1)
        if 0 <= group <= match.re.groups and match.start(group) >= 0:
            out.append(match.group(group))
    out.append(rest)
    return "".join(out)


def _re_replace_all(pattern: Any, repl: Any, text: Any) -> str:
    """Go's ``ReplaceAllString``: an empty match right after a match is not replaced."""
    compiled = _regexp(want_str(pattern))
    repl, text = want_str(repl), want_str(text)
    out: list[str] = []
    last_end = 0
    search = 0
    while search <= len(text):
        found = compiled.search(text, search)
        if found is None:
            break
        start, end = found.span()
        out.append(text[last_end:start])
        if end > last_end or start == 0:
            out.append(_expand(repl, found, compiled.groupindex))
        last_end = end
        search = search + 1 if search + 1 > end else end
    out.append(text[last_end:])
    return "".join(out)


def _url_unescape(text: Any) -> str:
    """Go's ``url.QueryUnescape``: ``+`` is a space; a bad ``%`` escape is an error."""
    text = want_str(text)
    bad = re.search(r"%(?![0-9A-Fa-f]{2})", text)
    if bad is not None:
        raise GoExecError(f'invalid URL escape "{text[bad.start() : bad.start() + 3]}"')
    return urllib.parse.unquote_plus(text)


def _want_time(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise GoExecError(f"wrong type for value; expected time.Time; got {go_type(value)}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _tz(name: Any, value: Any) -> datetime:
    name = want_str(name)
    when = _want_time(value)
    if name in ("", "UTC"):
        return when.astimezone(UTC)
    if name == "Local":
        return when.astimezone()
    try:
        return when.astimezone(ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise GoExecError(f"unknown time zone {name}") from None


def _since(value: Any) -> timedelta:
    return datetime.now(UTC) - _want_time(value)


_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan"
    r"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+)",
    re.IGNORECASE,
)


def _to_float(value: Any) -> float:
    """prometheus/common's ``convertToFloat``: a number, a numeric string, a Duration."""
    if isinstance(value, bool):
        raise GoExecError(f"can't convert {go_type(value)} to float")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, timedelta):
        return _unit_seconds(value)
    if isinstance(value, str):
        if not _GO_FLOAT.fullmatch(value):
            raise GoExecError(f'strconv.ParseFloat: parsing "{value}": invalid syntax')
        if value.lstrip("+-")[:2].lower() == "0x":
            return float.fromhex(value)
        return float(value)
    raise GoExecError(f"can't convert {go_type(value)} to float")


def _unit_seconds(value: timedelta) -> float:
    nanos = duration_ns(value)
    whole = abs(nanos) // 1_000_000_000
    return math.copysign(whole + abs(nanos) % 1_000_000_000 / 1e9, nanos)


def _g4(value: float) -> str:
    """``%.4g``."""
    if math.isnan(value) or math.isinf(value):
        return go_float(value)
    return format(value, ".4g")


def _humanize_duration(value: Any) -> str:
    """prometheus/common's ``HumanizeDuration``: ``1d 2h 3m 4s``, ``1.5s``, ``100ms``."""
    v = _to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return "0s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        whole = int(v)
        seconds, minutes = whole % 60, whole // 60 % 60
        hours, days = whole // 3600 % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for unit in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = unit
        v *= 1000
    return f"{_g4(v)}{prefix}s"


def _date(layout: Any, value: Any) -> str:
    return go_format(_want_time(value), want_str(layout))


def _safe(text: Any) -> Markup:
    return Markup(want_str(text))


# name: (function, fewest arguments, most arguments or None for any number)
_TABLE: Mapping[str, tuple[Callable[..., Any], int, int | None]] = {
    # Go's text/template.
    "and": (_and, 1, None),
    "call": (_call, 1, None),
    "html": (_html, 0, None),
    "index": (_index, 1, None),
    "js": (_js, 0, None),
    "len": (_len, 1, 1),
    "not": (lambda v: not v, 1, 1),
    "or": (_or, 1, None),
    "print": (sprint, 0, None),
    "printf": (printf, 1, None),
    "println": (lambda *a: " ".join(go_print(x) for x in a) + "\n", 0, None),
    "slice": (_slice, 1, None),
    "urlquery": (_urlquery, 0, None),
    "eq": (_eq, 1, None),
    "ne": (lambda a, b: not _eq(a, b), 2, 2),
    "lt": (_lt, 2, 2),
    "le": (_le, 2, 2),
    "gt": (lambda a, b: not _le(a, b), 2, 2),
    "ge": (lambda a, b: not _lt(a, b), 2, 2),
    # Alertmanager's (template/template.go's DefaultFuncs).
    "toUpper": (lambda s: _simple_case(want_str(s), upper=True), 1, 1),
    "toLower": (lambda s: _simple_case(want_str(s), upper=False), 1, 1),
    "title": (_title, 1, 1),
    "trimSpace": (lambda s: want_str(s).strip(), 1, 1),
    "join": (lambda sep, items: want_str(sep).join(_want_strings(items)), 2, 2),
    "match": (_match, 2, 2),
    "safeHtml": (_safe, 1, 1),
    "safeUrl": (_safe, 1, 1),
    "urlUnescape": (_url_unescape, 1, 1),
    "reReplaceAll": (_re_replace_all, 3, 3),
    "stringSlice": (lambda *a: [want_str(s) for s in a], 0, None),
    "date": (_date, 2, 2),
    "tz": (_tz, 2, 2),
    "since": (_since, 1, 1),
    "humanizeDuration": (_humanize_duration, 1, 1),
    "toJson": (go_json, 1, 1),
}


def _calling(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` whose failures read as Go's: ``error calling NAME: ...``."""

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except GoExecError as exc:
            raise GoExecError(f"error calling {name}: {exc}") from None
        except (TypeError, ValueError, OverflowError, ArithmeticError, IndexError) as exc:
            raise GoExecError(f"error calling {name}: {exc}") from None

    call.__name__ = name
    return call


FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    name: _calling(name, fn) for name, (fn, _, _) in _TABLE.items()
}
"""Go's and Alertmanager's template functions (``gofn_<name>`` in the environment)."""

ARITY: Mapping[str, tuple[int, int | None]] = {
    name: (low, high) for name, (_, low, high) in _TABLE.items()
}
"""Each function's fewest and most arguments (None: any number), checked on translation."""
