"""Go's printing, as a Go template's output and its functions show values: ``fmt.Print``
(``[a b]`` for a list, ``map[k:v]`` for a map, a label set as ``alertname=Up, job=node``,
``1e+06`` for a large float, a time as ``2024-03-01 09:00:00 +0000 UTC``, a duration as
``1h2m3s``), ``fmt.Sprintf``'s verbs and complaints, ``encoding/json`` (Alertmanager's
``toJson``), and Go's names for the values' types (``%T``, and the messages of
:class:`GoExecError`). Used by :mod:`tocsin.notify.goruntime`."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from tocsin.alerts.routing import go_quote
from tocsin.notify.gotime import (
    RFC3339NANO,
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
    "GoExecError",
    "eval_args",
    "go_float",
    "go_json",
    "go_print",
    "go_str",
    "go_type",
    "is_int",
    "printf",
    "sprint",
    "want_str",
]


class GoExecError(ValueError):
    """A Go template that failed while running, in Go's words (``error calling len:
    len of type int``, ``can't evaluate field Foo in type string``)."""


def want_str(value: Any, what: str = "value") -> str:
    if not isinstance(value, str):
        raise GoExecError(f"wrong type for {what}; expected string; got {go_type(value)}")
    return str(value)


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
    return "{" + " ".join(go_print(f) for f in fields) + "}"


def go_print(value: Any, nil: str = "<nil>") -> str:
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
        return "map[" + " ".join(f"{go_print(k)}:{go_print(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    return str(value)


def go_str(value: Any) -> Any:
    """How a Go template prints a value (the environment's ``finalize``). Markup (from
    ``safeHtml``) stays Markup; nil prints nothing."""
    if isinstance(value, Markup):
        return value
    return go_print(value, nil="")


def sprint(*args: Any) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    out: list[str] = []
    previous_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i and not is_string and not previous_string:
            out.append(" ")
        out.append(go_print(arg))
        previous_string = is_string
    return "".join(out)


def eval_args(args: tuple[Any, ...]) -> str:
    """text/template's ``evalArgs``: one string as it is, else ``fmt.Sprint``."""
    if len(args) == 1 and isinstance(args[0], str):
        return str(args[0])
    return sprint(*args)


# --- printf -----------------------------------------------------------------------------

_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?(.|$)", re.DOTALL)
_STRINGERS = (str, datetime, timedelta, GoMonth, GoWeekday, KV, Pairs)


def _bad_verb(verb: str, arg: Any) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(arg)}={go_print(arg)})"


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
    text = go_print(arg)
    if precision is not None:
        text = text[: int(precision or 0)]
    if verb == "q":
        return go_quote(text)
    if verb in "xX":
        encoded = text.encode("utf-8", "surrogateescape").hex()
        return encoded.upper() if verb == "X" else encoded
    return text


def is_int(value: Any) -> bool:
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
        if is_int(arg) and not isinstance(arg, GoMonth | GoWeekday):
            return _integer(arg, "d", flags, None), True
        return go_print(arg), False
    if isinstance(arg, timedelta) and verb not in "sq":
        arg = duration_ns(arg)  # a Duration is an int64 to every verb but %s and %q
    if is_int(arg) and verb in "dxXoObcqU":
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


def printf(fmt: str, *args: Any) -> str:
    """``fmt.Sprintf`` for the verbs templates use (``%s %v %d %q %x %f %e %g %t %T
    %c %o %b %U %%``, flags ``-+# 0``, width, precision), with Go's complaints:
    ``%!d(string=x)``, ``%!s(MISSING)``, ``%!(EXTRA int=3)``."""
    want_str(fmt, "format")
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
        extra = ", ".join(f"{go_type(a)}={go_print(a)}" for a in queue[used:])
        out += f"%!(EXTRA {extra})"
    return out


# --- encoding/json ------------------------------------------------------------------

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
    """A float as ``encoding/json`` writes it (Alertmanager's ``toJson``): the shortest
    digits, as a fraction between 1e-6 and 1e21, else with an exponent."""
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


def go_json(value: Any) -> str:
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
        return "[" + ",".join(go_json(v) for v in value) + "]"
    else:
        raise GoExecError(f"json: unsupported type: {go_type(value)}")
    return "{" + ",".join(f"{_json_string(k)}:{go_json(v)}" for k, v in fields) + "}"
