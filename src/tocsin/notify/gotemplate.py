"""Alertmanager (Go ``text/template``) templates, translated to Jinja2 source.

An ``alertmanager.yml`` is full of Go templates: every default (``{{ template
"slack.default.title" . }}``), most users' titles (``[{{ .Status | toUpper }}] {{
.CommonLabels.alertname }}``), and the ``templates:`` files with their ``{{ define }}``
blocks. Tocsin renders everything with Jinja2 (sandboxed, one engine to secure and to
document), so Go templates are translated once, when loaded, into Jinja2 source over
the same data objects (:mod:`tocsin.notify.template_data`).

Supported: text, comments, trim markers (``{{-``, ``-}}``), pipelines with ``|``,
parenthesised pipelines, field chains (``.A.B``, ``$.A``), variables (``$x := ...``,
``range $i, $e := ...``), ``if``/``else if``/``else``, ``range`` (with ``else``,
``break``, ``continue``), ``with`` (with ``else``), ``template``, ``define`` and
``block``, and the functions in :data:`FUNCTIONS` (Go's built-ins and Alertmanager's
usual ones). Anything else raises :class:`GoTemplateError` naming the construct, at
load time, rather than rendering something subtly different.

Translation conventions: Go's dot is the Jinja variable ``dot``, ``$`` is ``go_root``,
``$name`` is ``v_name``; fields are read through ``go_field`` so that, as in Go, an
exported name (``.Alerts.Firing``) is a method or field and a lowercase one
(``.Labels.job``) is a map key, and a missing key is the empty string.
"""

from __future__ import annotations

import html
import json
import math
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup

from tocsin.alerts.routing import go_quote
from tocsin.notify.template_data import (
    KV,
    AlertList,
    Pair,
    Pairs,
    TemplateAlert,
    TemplateData,
)

__all__ = [
    "FUNCTIONS",
    "GoTemplateError",
    "go_field",
    "go_range",
    "go_str",
    "looks_like_go",
    "translate",
    "translate_file",
]


class GoTemplateError(ValueError):
    """A Go template that cannot be translated (or evaluated) faithfully."""


# --- runtime helpers (registered as Jinja2 globals by tocsin.notify.templates) --------

_DATA_TYPES = (TemplateData, TemplateAlert, Pair, Pairs, KV, AlertList)


def go_field(obj: Any, name: str) -> Any:
    """``obj.name`` with Go's rules: exported names are fields/methods, others map keys."""
    if name[:1].isupper() and isinstance(obj, _DATA_TYPES) and hasattr(type(obj), name):
        return getattr(obj, name)
    if isinstance(obj, Mapping):
        return obj.get(name, "")
    if obj is None or obj == "":
        # Go's missingkey=zero gives "" for an absent label; reading through it is nil.
        return ""
    raise GoTemplateError(f"can't evaluate field {name} in type {type(obj).__name__}")


def go_range(value: Any) -> Iterator[tuple[Any, Any]]:
    """``(key, element)`` pairs as Go's ``range`` visits them (maps sorted by key)."""
    if value is None or value == "":
        return iter(())
    if isinstance(value, Mapping):
        return iter([(k, value[k]) for k in sorted(value)])
    if isinstance(value, int) and not isinstance(value, bool):
        return iter([(i, i) for i in range(value)])
    if isinstance(value, str):
        raise GoTemplateError("range can't iterate over a string")
    return iter(enumerate(value))


def go_str(value: Any) -> Any:
    """How Go's ``fmt`` prints a value (lists as ``[a b]``, booleans lowercase)."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _go_datetime(value)
    if isinstance(value, timedelta):
        return _go_duration(value)
    if isinstance(value, Pair):
        return f"{{{value.Name} {value.Value}}}"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_str(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(str(go_str(v)) for v in value) + "]"
    return value


def _go_datetime(value: datetime) -> str:
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    offset = value.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return text + " +0000 UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return text + f" {sign}{minutes // 60:02d}{minutes % 60:02d}"


def _go_duration(value: timedelta) -> str:
    total = value.total_seconds()
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{sign}{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{sign}{int(minutes)}m{text}"
    return sign + text


def _truth(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return True
    return bool(value)


def _and(*args: Any) -> Any:
    for arg in args:
        if not _truth(arg):
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if _truth(arg):
            return arg
    return args[-1]


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise GoTemplateError("missing argument for comparison")
    return any(first == other for other in others)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        value = value.get(key, "") if isinstance(value, Mapping) else value[key]
    return value


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([vsdqfFeEgGxXtTc%])")


def _printf(fmt: str, *args: Any) -> str:
    queue = list(args)

    def one(found: re.Match[str]) -> str:
        flags, width, precision, verb = found.groups()
        if verb == "%":
            return "%"
        if not queue:
            return f"%!{verb}(MISSING)"
        arg = queue.pop(0)
        spec = flags.replace("#", "") + (width or "")
        if verb in "vs":
            text = str(go_str(arg))
            return format(text[: int(precision)] if precision else text, spec)
        if verb == "q":
            return format(go_quote(str(arg)), spec)
        if verb == "t":
            return format(str(go_str(bool(arg))), spec)
        if verb == "T":
            return type(arg).__name__
        if verb == "c":
            return chr(int(arg))
        if verb == "d":
            return format(int(arg), spec + "d")
        if verb in "xX":
            if isinstance(arg, str):
                text = arg.encode().hex()
                return text.upper() if verb == "X" else text
            return format(int(arg), spec + verb)
        prec = f".{precision}" if precision else ".6"
        return format(float(arg), spec + prec + verb.lower() if verb != "F" else spec + prec + "f")

    return _VERB.sub(one, fmt)


def _join(sep: str, items: Sequence[Any]) -> str:
    return sep.join(str(go_str(i)) for i in items)


def _title(text: str) -> str:
    # Go's strings.Title: upper-case the first letter of each word, keep the rest.
    return re.sub(r"(?:^|(?<=[^\w]))(\w)", lambda m: m.group(1).upper(), text)


def _since(value: datetime) -> timedelta:
    now = datetime.now(value.tzinfo)
    return now - value


def _humanize_duration(value: Any) -> str:
    seconds = float(value.total_seconds() if isinstance(value, timedelta) else value)
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{seconds * 1000:.4g}ms"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    parts.append(f"{secs}s")
    return sign + "".join(parts)


def _date(layout: str, value: datetime) -> str:
    # Go reference-time layouts, the common tokens only.
    tokens = [
        ("2006", "%Y"),
        ("01", "%m"),
        ("02", "%d"),
        ("15", "%H"),
        ("04", "%M"),
        ("05", "%S"),
        ("Jan", "%b"),
        ("Mon", "%a"),
        ("MST", "%Z"),
        ("-0700", "%z"),
    ]
    out = layout
    for go, py in tokens:
        out = out.replace(go, py)
    return value.strftime(out)


FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    # Go text/template built-ins.
    "and": _and,
    "or": _or,
    "not": lambda v: not _truth(v),
    "len": len,
    "index": _index,
    "print": lambda *a: "".join(str(go_str(x)) for x in a),
    "println": lambda *a: " ".join(str(go_str(x)) for x in a) + "\n",
    "printf": _printf,
    "eq": _eq,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "html": lambda s: html.escape(str(s)),
    "js": lambda s: json.dumps(str(s))[1:-1],
    "urlquery": lambda *a: urllib.parse.quote_plus("".join(str(x) for x in a)),
    # Alertmanager's additions.
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "title": _title,
    "trimSpace": lambda s: str(s).strip(),
    "join": _join,
    "match": lambda pattern, text: re.search(pattern, text) is not None,
    "reReplaceAll": lambda pattern, repl, text: re.sub(
        pattern, re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl), text
    ),
    "safeHtml": lambda s: Markup(str(s)),
    "safeUrl": lambda s: Markup(str(s)),
    "urlUnescape": lambda s: urllib.parse.unquote(str(s)),
    "stringSlice": lambda *a: list(a),
    "toJson": lambda v: json.dumps(v, separators=(",", ":")),
    "since": _since,
    "humanizeDuration": _humanize_duration,
    "date": _date,
    "tz": lambda name, value: value,
}


# --- translation ----------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "template", "define", "block", "break", "continue"}
)
_GO_WORDS = _KEYWORDS | set(FUNCTIONS) | {"true", "false", "nil"}


def looks_like_go(source: str) -> bool:
    """True when a template string is written in Go syntax.

    Every action must lex as Go and name only Go keywords and functions (Jinja2
    variables such as ``status`` are not Go words), and one must use something only Go
    has: a ``.Field``, a ``$`` variable, a keyword, or a function called with spaces.
    Jinja2 statements or comments (``{%``, ``{#``) make it Jinja2.
    """
    if "{%" in source or "{#" in source:
        return False
    go_only = False
    for found in _ACTION.finditer(source):
        body = found.group(1).strip("-").strip()
        if body.startswith("/*") and body.endswith("*/"):
            go_only = True
            continue
        try:
            tokens = _lex(body)
        except GoTemplateError:
            return False
        for tok in tokens:
            if tok.kind == "ident" and tok.text not in _GO_WORDS:
                return False
            if tok.kind == "char":
                return False
            if tok.kind in ("field", "declare") or (
                tok.kind == "ident" and tok.text not in ("true", "false", "nil")
            ):
                go_only = True
    return go_only


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)+')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+))
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<pipe>\|)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<comma>,)
  | (?P<field>(?:\$[A-Za-z_0-9]*)?(?:\.[A-Za-z_][A-Za-z_0-9]*)+|\$[A-Za-z_0-9]*|\.)
  | (?P<ident>[A-Za-z_][A-Za-z_0-9]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    spaced: bool = True  # preceded by whitespace (``(x).Field`` needs to know)


def _lex(action: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    spaced = True
    while pos < len(action):
        found = _TOKEN.match(action, pos)
        if found is None:
            raise GoTemplateError(f"unexpected {action[pos]!r} in action {{{{{action}}}}}")
        kind = found.lastgroup or ""
        if kind != "ws":
            tokens.append(_Tok(kind, found.group(), spaced))
        spaced = kind == "ws"
        pos = found.end()
    return tokens


def _var(name: str) -> str:
    if name == "$":
        return "go_root"
    return "v_" + name[1:]


def _field_expr(text: str) -> str:
    if text.startswith("."):
        base, chain = "dot", text[1:]
    else:
        head, _, chain = text.partition(".")
        base = _var(head)
    expr = base
    for name in filter(None, chain.split(".")):
        expr = f"go_field({expr}, {name!r})"
    return expr


def _string_literal(tok: _Tok) -> str:
    if tok.kind == "raw":
        return repr(tok.text[1:-1])
    try:
        value = json.loads(tok.text)
    except json.JSONDecodeError:
        try:
            value = tok.text[1:-1].encode("latin-1", "backslashreplace").decode("unicode-escape")
        except UnicodeDecodeError as exc:
            raise GoTemplateError(f"bad string literal {tok.text}: {exc}") from None
    return repr(value)


@dataclass
class _Parser:
    tokens: list[_Tok]
    action: str
    pos: int = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise GoTemplateError(f"unexpected end of action {{{{{self.action}}}}}")
        self.pos += 1
        return tok

    def done(self) -> bool:
        return self.pos >= len(self.tokens)

    def pipeline(self) -> str:
        expr: str | None = None
        while True:
            expr = self.command(expr)
            tok = self.peek()
            if tok is None or tok.kind != "pipe":
                return expr
            self.take()

    def command(self, piped: str | None) -> str:
        operands: list[tuple[str, str]] = []
        while (tok := self.peek()) is not None and tok.kind not in ("pipe", "close"):
            operands.append(self.operand())
        if not operands:
            raise GoTemplateError(f"missing command in {{{{{self.action}}}}}")
        kind, head = operands[0]
        args = [expr for _, expr in operands[1:]] + ([piped] if piped is not None else [])
        if kind == "func":
            return f"gofn_{head}({', '.join(args)})"
        if args:
            if kind != "field":
                raise GoTemplateError(f"can't give arguments to a non-function in {self.action}")
            return f"{head}({', '.join(args)})"
        return head

    def operand(self) -> tuple[str, str]:
        tok = self.take()
        if tok.kind == "open":
            inner = self.pipeline()
            close = self.peek()
            if close is None or close.kind != "close":
                raise GoTemplateError(f"unclosed '(' in {{{{{self.action}}}}}")
            self.take()
            expr = f"({inner})"
            chained = self.peek()
            if chained is not None and chained.kind == "field" and not chained.spaced:
                self.take()
                for name in filter(None, chained.text.split(".")):
                    expr = f"go_field({expr}, {name!r})"
            return "value", expr
        if tok.kind in ("string", "raw"):
            return "value", _string_literal(tok)
        if tok.kind == "number":
            text = tok.text.replace("_", "")
            if text.lower().startswith(("0x", "+0x", "-0x")):
                return "value", str(int(text, 16))
            return "value", text
        if tok.kind == "field":
            return "field", _field_expr(tok.text)
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return "value", tok.text
            if tok.text == "nil":
                return "value", "none"
            if tok.text in FUNCTIONS:
                return "func", tok.text
            raise GoTemplateError(f'function "{tok.text}" not defined')
        raise GoTemplateError(f"unexpected {tok.text!r} in {{{{{self.action}}}}}")


def _jinja_text(text: str) -> str:
    if not text:
        return ""
    if "{" in text:
        # Text that Jinja2 would read as a tag (``{%``, ``{#``, ``{{``): emit it as a
        # literal, marked safe so that HTML templates do not escape template text.
        return "{{ " + repr(text) + "|safe }}"
    return text


@dataclass
class _Frame:
    kind: str  # "if", "range", "with", "define"
    name: str = ""
    has_else: bool = False
    closing: str = ""


@dataclass
class _Translation:
    out: list[str] = field(default_factory=list)
    defines: dict[str, str] = field(default_factory=dict)
    stack: list[_Frame] = field(default_factory=list)
    saved: list[list[str]] = field(default_factory=list)
    allow_define: bool = False

    def emit(self, text: str) -> None:
        self.out.append(text)

    def action(self, body: str) -> None:
        tokens = _lex(body)
        if not tokens:
            raise GoTemplateError("empty action {{}}")
        first = tokens[0]
        if first.kind == "ident" and first.text in _KEYWORDS:
            self.keyword(first.text, _Parser(tokens, body, 1), body)
            return
        parser = _Parser(tokens, body)
        if (
            len(tokens) >= 2
            and tokens[0].kind == "field"
            and tokens[1].kind in ("declare", "assign")
        ):
            name = tokens[0].text
            if not name.startswith("$") or "." in name:
                raise GoTemplateError(f"cannot assign to {name}")
            parser.pos = 2
            self.emit(f"{{% set {_var(name)} = {parser.pipeline()} %}}")
        else:
            self.emit("{{ " + parser.pipeline() + " }}")
        if not parser.done():
            raise GoTemplateError(f"unexpected {parser.peek()} in {{{{{body}}}}}")

    def keyword(self, word: str, p: _Parser, body: str) -> None:
        if word == "if":
            self.stack.append(_Frame("if"))
            self.emit(f"{{% if {p.pipeline()} %}}")
        elif word == "range":
            self.range(p)
        elif word == "with":
            expr = p.pipeline()
            self.stack.append(_Frame("with"))
            self.emit(f"{{% if {expr} %}}{{% with dot = {expr} %}}")
        elif word == "else":
            self.else_(p)
        elif word == "end":
            self.end()
        elif word in ("break", "continue"):
            if not any(f.kind == "range" for f in self.stack):
                raise GoTemplateError(f"{{{{{word}}}}} outside {{{{range}}}}")
            self.emit(f"{{% {word} %}}")
        elif word == "template":
            name = self.name(p, body)
            arg = "none" if p.done() else p.pipeline()
            self.emit(
                f"{{% with dot = {arg}, go_root = {arg} %}}{{% include {name!r} %}}{{% endwith %}}"
            )
        elif word in ("define", "block"):
            name = self.name(p, body)
            arg = p.pipeline() if word == "block" and not p.done() else "dot"
            if word == "block":
                self.emit(
                    f"{{% with dot = {arg}, go_root = {arg} %}}{{% include {name!r} %}}"
                    "{% endwith %}"
                )
            elif not self.allow_define or self.stack:
                raise GoTemplateError("{{define}} is only allowed at the top of a template file")
            self.stack.append(_Frame("define", name))
            self.saved.append(self.out)
            self.out = []
        if not p.done():
            raise GoTemplateError(f"unexpected {p.peek()} in {{{{{body}}}}}")

    def name(self, p: _Parser, body: str) -> str:
        tok = p.take()
        if tok.kind not in ("string", "raw"):
            raise GoTemplateError(f"template name must be a string in {{{{{body}}}}}")
        return _eval_str(tok)

    def range(self, p: _Parser) -> None:
        names: list[str] = []
        tokens = p.tokens[p.pos :]
        kinds = [t.kind for t in tokens]
        if "declare" in kinds:
            cut = kinds.index("declare")
            names = [t.text for t in tokens[:cut] if t.kind == "field"]
            if not names or len(names) > 2 or any(not n.startswith("$") for n in names):
                raise GoTemplateError("range variables must be $name or $key, $value")
            p.pos += cut + 1
        expr = p.pipeline()
        key = _var(names[0]) if len(names) == 2 else "go_k"
        sets = ""
        if names:
            sets = f"{{% set {_var(names[-1])} = dot %}}"
        self.stack.append(_Frame("range"))
        self.emit(f"{{% for {key}, dot in go_range({expr}) %}}{sets}")

    def else_(self, p: _Parser) -> None:
        if not self.stack or self.stack[-1].kind == "define":
            raise GoTemplateError("unexpected {{else}}")
        frame = self.stack[-1]
        if frame.has_else and frame.kind != "if":
            raise GoTemplateError("more than one {{else}}")
        if not p.done():
            tok = p.take()
            if tok.text != "if" or frame.kind != "if":
                raise GoTemplateError(f"unsupported {{{{else {tok.text} ...}}}}")
            self.emit(f"{{% elif {p.pipeline()} %}}")
            return
        frame.has_else = True
        if frame.kind == "with":
            self.emit("{% endwith %}{% else %}")
        else:
            self.emit("{% else %}")

    def end(self) -> None:
        if not self.stack:
            raise GoTemplateError("unexpected {{end}}")
        frame = self.stack.pop()
        if frame.kind == "if":
            self.emit("{% endif %}")
        elif frame.kind == "range":
            self.emit("{% endfor %}")
        elif frame.kind == "with":
            self.emit("{% endif %}" if frame.has_else else "{% endwith %}{% endif %}")
        else:
            self.defines[frame.name] = "".join(self.out)
            self.out = self.saved.pop()


def _eval_str(tok: _Tok) -> str:
    """The value of a string token (template names)."""
    if tok.kind == "raw":
        return tok.text[1:-1]
    try:
        return str(json.loads(tok.text))
    except json.JSONDecodeError as exc:
        raise GoTemplateError(f"bad string literal {tok.text}: {exc}") from None


def _run(source: str, allow_define: bool) -> _Translation:
    state = _Translation(allow_define=allow_define)
    pos = 0
    pending_text = ""
    for found in _ACTION.finditer(source):
        text = pending_text + source[pos : found.start()]
        body = found.group(1)
        if body.startswith("- ") or body.startswith("-\t") or body.startswith("-\n"):
            text = text.rstrip(" \t\r\n")
            body = body[1:]
        trim_after = body.endswith((" -", "\t-", "\n-"))
        if trim_after:
            body = body[:-1]
        state.emit(_jinja_text(text))
        pending_text = ""
        stripped = body.strip()
        if not (stripped.startswith("/*") and stripped.endswith("*/")):
            state.action(stripped)
        pos = found.end()
        if trim_after:
            rest = source[pos:]
            pos += len(rest) - len(rest.lstrip(" \t\r\n"))
    state.emit(_jinja_text(pending_text + source[pos:]))
    if state.stack:
        raise GoTemplateError(f"unexpected EOF: {{{{{state.stack[-1].kind}}}}} without {{{{end}}}}")
    return state


def translate(source: str) -> str:
    """A Go template string (no ``define``) as Jinja2 source."""
    return "".join(_run(source, allow_define=False).out)


def translate_file(source: str) -> dict[str, str]:
    """The named templates a Go template file defines (``define``/``block``), as Jinja2.

    Text outside ``define`` blocks is ignored, as Alertmanager ignores it.
    """
    return _run(source, allow_define=True).defines
