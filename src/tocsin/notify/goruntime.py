"""What translated Go templates call when they run: Go's printing, field and method
access, ``range``, and the functions of ``text/template`` and of Alertmanager.

:mod:`tocsin.notify.gotemplate` translates a Go template into Jinja2 source calling
these (``go_field``, ``go_call``, ``gofn_<name>``, ...); :mod:`tocsin.notify.templates`
registers them as the environment's globals. They follow Go's rules, not Python's:

* printing (:func:`go_str`) is ``fmt.Print``'s: ``[a b]`` for a list, ``map[k:v]`` for
  a map, a label set as ``alertname=Up, job=node`` (Alertmanager's ``KV.String``),
  ``1e+06`` for a large float, a time as ``2024-03-01 09:00:00 +0000 UTC``, a duration
  as ``1h2m3s``;
* ``.Name`` on a value calls its Go method or reads its field (:func:`go_field`), on a
  map reads the key; a method given arguments is :func:`go_call`. Times and durations
  have Go's methods (:mod:`tocsin.notify.gotime`);
* functions take Go's argument types and fail as Go's do (``error calling index:
  index out of range: 5``): an execution error is :class:`GoExecError`.

Regular expressions (``match``, ``reReplaceAll``) are RE2, as Go's ``regexp``: the same
syntax, and linear time whatever a label value holds.
"""

from __future__ import annotations

import math
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2
from markupsafe import Markup

from tocsin.alerts.routing import go_quote
from tocsin.notify.gotime import (
    DURATION_METHODS,
    MULTI_RESULT_METHODS,
    RFC3339NANO,
    TIME_METHODS,
    GoMonth,
    GoWeekday,
    duration_ns,
    duration_string,
    go_format,
    time_string,
)
from tocsin.notify.template_data import (
    KV,
    AlertList,
    Pair,
    Pairs,
    TemplateAlert,
    TemplateData,
)

__all__ = [
    "ARITY",
    "FUNCTIONS",
    "GoExecError",
    "go_call",
    "go_field",
    "go_float",
    "go_range",
    "go_str",
    "go_type",
]


class GoExecError(ValueError):
    """A Go template that failed while running, in Go's words (``error calling len:
    len of type int``, ``can't evaluate field Foo in type string``)."""


_DATA_TYPES = (TemplateData, TemplateAlert, Pair, Pairs, KV, AlertList)


# --- Go's names for values --------------------------------------------------------------


def go_type(value: Any) -> str:
    """The Go type a template value stands for, as Go's messages and ``%T`` name it."""
    named: tuple[tuple[type, str], ...] = (
        (bool, "bool"),
        (GoMonth, "time.Month"),
        (GoWeekday, "time.Weekday"),
        (int, "int"),
        (float, "float64"),
        (Markup, "template.HTML"),
        (str, "string"),
        (datetime, "time.Time"),
        (timedelta, "time.Duration"),
        (KV, "template.KV"),
        (Pairs, "template.Pairs"),
        (Pair, "template.Pair"),
        (AlertList, "template.Alerts"),
        (TemplateAlert, "template.Alert"),
        (TemplateData, "*template.Data"),
    )
    if value is None:
        return "<nil>"
    for kind, name in named:
        if isinstance(value, kind):
            return name
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, TemplateAlert) for v in value):
            return "[]template.Alert"
        return "[]string" if all(isinstance(v, str) for v in value) else "[]interface {}"
    return type(value).__name__


# --- printing ---------------------------------------------------------------------------


def _shortest_digits(value: float) -> tuple[str, int]:
    """The shortest digits that read back as ``value`` (> 0) and the decimal point's
    position (``dp``: 1234.5 is "12345", 4), as Go's ``strconv`` computes them."""
    digits_tuple, exponent = Decimal(repr(value)).as_tuple()[1:]
    assert isinstance(exponent, int)
    digits = "".join(map(str, digits_tuple)).lstrip("0") or "0"
    stripped = digits.rstrip("0")
    point = len(digits) + exponent
    return stripped or "0", point


def _fixed(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _exponent(digits: str, point: int) -> str:
    exp = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def go_float(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 64)``: how Go prints a float (``%v``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(abs(value))
    exp = point - 1
    if exp < -4 or exp >= 6:
        return sign + _exponent(digits, point)
    return sign + _fixed(digits, point)


def _struct(fields: Sequence[Any]) -> str:
    return "{" + " ".join(_v(f) for f in fields) + "}"


def _v(value: Any, nil: str = "<nil>") -> str:
    """``fmt.Sprint(value)``: Go's default format (``%v``)."""
    if value is None:
        return nil
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, GoMonth | GoWeekday):
        return str(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime):
        return time_string(value)
    if isinstance(value, timedelta):
        return duration_string(value)
    if isinstance(value, KV | Pairs):
        return value.String  # Alertmanager's String(): "alertname=Up, job=node"
    if isinstance(value, Pair):
        return _struct((value.Name, value.Value))
    if isinstance(value, TemplateAlert):
        return _struct(
            (
                value.Status,
                value.Labels,
                value.Annotations,
                value.StartsAt,
                value.EndsAt,
                value.GeneratorURL,
                value.Fingerprint,
            )
        )
    if isinstance(value, TemplateData):
        fields = (value.Receiver, value.Status, value.Alerts, value.GroupLabels)
        rest = (value.CommonLabels, value.CommonAnnotations, value.ExternalURL)
        return "&" + _struct(fields + rest)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{_v(k)}:{_v(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_v(v) for v in value) + "]"
    return str(value)


def go_str(value: Any) -> Any:
    """How a Go template prints a value (the environment's ``finalize``). Markup (from
    ``safeHtml``) stays Markup; nil prints nothing."""
    if isinstance(value, Markup):
        return value
    return _v(value, nil="")


def _sprint(*args: Any) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    out: list[str] = []
    previous_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i and not is_string and not previous_string:
            out.append(" ")
        out.append(_v(arg))
        previous_string = is_string
    return "".join(out)


def _eval_args(args: tuple[Any, ...]) -> str:
    """text/template's ``evalArgs``: one string as it is, else ``fmt.Sprint``."""
    if len(args) == 1 and isinstance(args[0], str):
        return str(args[0])
    return _sprint(*args)


# --- printf -----------------------------------------------------------------------------

_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?(.|$)", re.DOTALL)
_STRINGERS = (str, datetime, timedelta, GoMonth, GoWeekday, KV, Pairs)


def _bad_verb(verb: str, arg: Any) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(arg)}={_v(arg)})"


def _sign(text: str, negative: bool, flags: str) -> str:
    if negative:
        return "-" + text
    if "+" in flags:
        return "+" + text
    return " " + text if " " in flags else text


def _integer(arg: int, verb: str, flags: str, precision: str | None) -> str:
    magnitude = abs(arg)
    if verb == "d":
        text = str(magnitude)
    elif verb in "xX":
        text = format(magnitude, verb)
    elif verb in "oO":
        text = format(magnitude, "o")
    elif verb == "b":
        text = format(magnitude, "b")
    elif verb == "c":
        return chr(arg)
    elif verb == "q":
        return "'" + go_quote(chr(arg))[1:-1].replace("'", "\\'").replace('\\"', '"') + "'"
    else:  # U
        return f"U+{arg:04X}"
    if precision:
        text = text.zfill(int(precision))
    prefix = {"x": "0x", "X": "0X", "o": "0", "b": "0b"}.get(verb, "") if "#" in flags else ""
    if verb == "O":
        prefix = "0o"
    return _sign(prefix + text, arg < 0, flags)


def _float(arg: float, verb: str, flags: str, precision: str | None) -> str:
    if math.isnan(arg):
        return "NaN"
    if math.isinf(arg):
        return "+Inf" if arg > 0 else "-Inf"
    negative = arg < 0 or (arg == 0 and math.copysign(1, arg) < 0)
    magnitude = abs(arg)
    if verb in "gGv" and precision is None:
        text = go_float(magnitude)  # the shortest, as Go's %v and %g
        text = text.upper() if verb == "G" else text
    else:
        digits = 6 if precision is None else int(precision or 0)
        text = format(magnitude, f".{digits}{'f' if verb == 'F' else verb}")
    return _sign(text, negative, flags)


def _string_verb(arg: Any, verb: str, precision: str | None) -> str | None:
    """``%s``, ``%q``, ``%x`` of a string (or a Stringer); None when Go refuses it."""
    if isinstance(arg, list | tuple) and not isinstance(arg, Pairs):
        parts = [_string_verb(v, verb, precision) for v in arg]
        if any(p is None for p in parts):
            return None
        return "[" + " ".join(p or "" for p in parts) + "]"
    if not isinstance(arg, _STRINGERS):
        return None
    text = _v(arg)
    if precision is not None:
        text = text[: int(precision or 0)]
    if verb == "q":
        return go_quote(text)
    if verb in "xX":
        encoded = text.encode("utf-8", "surrogateescape").hex()
        return encoded.upper() if verb == "X" else encoded
    return text


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _format_one(arg: Any, verb: str, flags: str, precision: str | None) -> tuple[str, bool]:
    """One verb applied to one argument: (text, whether zero padding applies)."""
    if verb == "T":
        return go_type(arg), False
    if verb == "t":
        if isinstance(arg, bool):
            return ("true" if arg else "false"), False
        return _bad_verb(verb, arg), False
    if verb == "v":
        if isinstance(arg, float):
            return _float(arg, "v", flags, precision), True
        if _is_int(arg) and not isinstance(arg, GoMonth | GoWeekday):
            return _integer(arg, "d", flags, None), True
        return _v(arg), False
    if isinstance(arg, timedelta) and verb not in "sq":
        arg = duration_ns(arg)  # a Duration is an int64 to every verb but %s and %q
    if _is_int(arg) and verb in "dxXoObcqU":
        return _integer(int(arg), verb, flags, precision), verb not in "cqU"
    if isinstance(arg, float) and verb in "eEfFgG":
        return _float(arg, verb, flags, precision), True
    if verb in "sqxX":
        text = _string_verb(arg, verb, precision)
        if text is not None:
            return text, False
    if isinstance(arg, list | tuple) and arg and verb in "dxXoObeEfFgG":
        return "[" + " ".join(_format_one(v, verb, flags, precision)[0] for v in arg) + "]", False
    return _bad_verb(verb, arg), False


def _pad(text: str, width: str | None, flags: str, numeric: bool) -> str:
    if not width or len(text) >= int(width):
        return text
    size = int(width)
    if "-" in flags:
        return text.ljust(size)
    if "0" in flags and numeric and text[:1] in "+- ":
        return text[0] + text[1:].rjust(size - 1, "0")
    return text.rjust(size, "0" if "0" in flags and numeric else " ")


def _printf(fmt: str, *args: Any) -> str:
    """``fmt.Sprintf`` for the verbs templates use (``%s %v %d %q %x %f %e %g %t %T
    %c %o %b %U %%``, flags ``-+# 0``, width, precision), with Go's complaints:
    ``%!d(string=x)``, ``%!s(MISSING)``, ``%!(EXTRA int=3)``."""
    _want_str(fmt, "format")
    queue = list(args)
    used = 0

    def one(found: re.Match[str]) -> str:
        nonlocal used
        flags, width, precision, verb = found.groups()
        if verb == "%":
            return "%"
        if not verb:
            return "%!(NOVERB)"
        if used >= len(queue):
            return f"%!{verb}(MISSING)"
        arg = queue[used]
        used += 1
        text, numeric = _format_one(arg, verb, flags, precision)
        return _pad(text, width, flags, numeric)

    out = _VERB.sub(one, fmt)
    if used < len(queue):
        extra = ", ".join(f"{go_type(a)}={_v(a)}" for a in queue[used:])
        out += f"%!(EXTRA {extra})"
    return out


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
    if _is_int(value):
        return iter([(i, i) for i in range(value)])
    if isinstance(value, list | tuple):
        return iter(enumerate(value))
    raise GoExecError(f"range can't iterate over {_v(value)}")


# --- text/template's built-in functions ------------------------------------------------


def _want_str(value: Any, what: str = "value") -> str:
    if not isinstance(value, str):
        raise GoExecError(f"wrong type for {what}; expected string; got {go_type(value)}")
    return str(value)


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
    if not _is_int(index):
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
    return "".join(_HTML_ESCAPES.get(c, c) for c in _eval_args(args))


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
    return "".join(_js_char(c) for c in _eval_args(args))


def _urlquery(*args: Any) -> str:
    """Go's ``url.QueryEscape`` of the arguments' text."""
    return urllib.parse.quote_plus(_eval_args(args), safe="")


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
    text = _want_str(text)
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
    return _regexp(_want_str(pattern)).search(_want_str(text)) is not None


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
    compiled = _regexp(_want_str(pattern))
    repl, text = _want_str(repl), _want_str(text)
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
    text = _want_str(text)
    bad = re.search(r"%(?![0-9A-Fa-f]{2})", text)
    if bad is not None:
        raise GoExecError(f'invalid URL escape "{text[bad.start() : bad.start() + 3]}"')
    return urllib.parse.unquote_plus(text)


def _want_time(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise GoExecError(f"wrong type for value; expected time.Time; got {go_type(value)}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _tz(name: Any, value: Any) -> datetime:
    name = _want_str(name)
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


_JSON_HTML = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _json_string(text: str) -> str:
    out = ['"']
    for c in text:
        if c in _JSON_HTML:
            out.append(_JSON_HTML[c])
        elif c in '"\\':
            out.append("\\" + c)
        elif c in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[c])
        elif c < " ":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _json_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise GoExecError(f"json: unsupported value: {go_float(value)}")
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(abs(value))
    if 1e-6 <= abs(value) < 1e21:
        return sign + _fixed(digits, point)
    text = _exponent(digits, point)
    return sign + re.sub(r"e([+-])0(\d)$", r"e\1\2", text)  # e-07 is e-7


def _json(value: Any) -> str:
    """``encoding/json.Marshal`` of a template value (Alertmanager's ``toJson``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, datetime):
        return _json_string(go_format(value, RFC3339NANO))
    if isinstance(value, timedelta):
        return str(duration_ns(value))
    fields: Sequence[tuple[str, Any]]
    if isinstance(value, Pair):
        fields = (("Name", value.Name), ("Value", value.Value))
    elif isinstance(value, TemplateAlert):
        fields = (
            ("status", value.Status),
            ("labels", value.Labels),
            ("annotations", value.Annotations),
            ("startsAt", value.StartsAt),
            ("endsAt", value.EndsAt),
            ("generatorURL", value.GeneratorURL),
            ("fingerprint", value.Fingerprint),
        )
    elif isinstance(value, TemplateData):
        fields = (
            ("receiver", value.Receiver),
            ("status", value.Status),
            ("alerts", value.Alerts),
            ("groupLabels", value.GroupLabels),
            ("commonLabels", value.CommonLabels),
            ("commonAnnotations", value.CommonAnnotations),
            ("externalURL", value.ExternalURL),
        )
    elif isinstance(value, Mapping):
        fields = [(str(k), value[k]) for k in sorted(value)]
    elif isinstance(value, list | tuple):
        return "[" + ",".join(_json(v) for v in value) + "]"
    else:
        raise GoExecError(f"json: unsupported type: {go_type(value)}")
    return "{" + ",".join(f"{_json_string(k)}:{_json(v)}" for k, v in fields) + "}"


def _date(layout: Any, value: Any) -> str:
    return go_format(_want_time(value), _want_str(layout))


def _safe(text: Any) -> Markup:
    return Markup(_want_str(text))


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
    "print": (_sprint, 0, None),
    "printf": (_printf, 1, None),
    "println": (lambda *a: " ".join(_v(x) for x in a) + "\n", 0, None),
    "slice": (_slice, 1, None),
    "urlquery": (_urlquery, 0, None),
    "eq": (_eq, 1, None),
    "ne": (lambda a, b: not _eq(a, b), 2, 2),
    "lt": (_lt, 2, 2),
    "le": (_le, 2, 2),
    "gt": (lambda a, b: not _le(a, b), 2, 2),
    "ge": (lambda a, b: not _lt(a, b), 2, 2),
    # Alertmanager's (template/template.go's DefaultFuncs).
    "toUpper": (lambda s: _simple_case(_want_str(s), upper=True), 1, 1),
    "toLower": (lambda s: _simple_case(_want_str(s), upper=False), 1, 1),
    "title": (_title, 1, 1),
    "trimSpace": (lambda s: _want_str(s).strip(), 1, 1),
    "join": (lambda sep, items: _want_str(sep).join(_want_strings(items)), 2, 2),
    "match": (_match, 2, 2),
    "safeHtml": (_safe, 1, 1),
    "safeUrl": (_safe, 1, 1),
    "urlUnescape": (_url_unescape, 1, 1),
    "reReplaceAll": (_re_replace_all, 3, 3),
    "stringSlice": (lambda *a: [_want_str(s) for s in a], 0, None),
    "date": (_date, 2, 2),
    "tz": (_tz, 2, 2),
    "since": (_since, 1, 1),
    "humanizeDuration": (_humanize_duration, 1, 1),
    "toJson": (_json, 1, 1),
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
