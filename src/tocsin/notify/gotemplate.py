"""Alertmanager (Go ``text/template``) templates, translated to Jinja2 source.

An ``alertmanager.yml`` is full of Go templates: every default (``{{ template
"slack.default.title" . }}``), most users' titles (``[{{ .Status | toUpper }}] {{
.CommonLabels.alertname }}``), and the ``templates:`` files with their ``{{ define }}``
blocks. Tocsin renders everything with Jinja2 (sandboxed, one engine to secure and to
document), so Go templates are translated once, when loaded, into Jinja2 source over
the same data objects (:mod:`tocsin.notify.template_data`).

Supported: text, comments, trim markers (``{{-``, ``-}}``), pipelines with ``|``,
parenthesised pipelines, field chains (``.A.B``, ``$.A``, ``(index .Alerts 0).Labels``),
method calls with arguments (``.StartsAt.Format "15:04"``, ``.CommonLabels.Remove
.GroupLabels.Names``), variables (``$x := ...``, ``$x = ...`` assigning across a
``range``, ``range $i, $e := ...``, ``if``/``with $x := ...``), ``if``/``else if``/
``else``, ``range`` (with ``else``, ``break``, ``continue``), ``with`` (with ``else``
and ``else with``), ``template``, ``define`` and ``block``, number, string, raw-string
and character constants, and the functions in :data:`FUNCTIONS` (all of Go's built-ins
and Alertmanager's; ``and`` and ``or`` stop at the first argument that decides, as
Go's). What Go refuses when it parses a template is refused here, on translation, with
Go's words: an undefined function or variable, a wrong number of arguments to a
function, ``nil`` as a command. Run-time behaviour is :mod:`tocsin.notify.goruntime`'s.

Translation conventions: Go's dot is the Jinja variable ``dot``, ``$`` is ``go_root``,
``$name`` is the namespace ``v_name`` (its value ``v_name.v``, so that an assignment in
a loop is seen after it, as in Go); fields are read through ``go_field`` so that, as in
Go, an exported name (``.Alerts.Firing``) is a method or field and a lowercase one
(``.Labels.job``) is a map key, and a missing key is the empty string; a method given
arguments is ``go_call``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from tocsin.notify.gofmt import go_str
from tocsin.notify.goruntime import ARITY, FUNCTIONS, go_field, go_range

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
    """A Go template that cannot be translated (or evaluated) faithfully. A translation's
    error says where: ``line`` (1-based, in the source) and ``template`` (the name of the
    ``define`` it is in, "" outside one), so that a template file's problem names its line."""

    def __init__(self, message: str, line: int | None = None, template: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.template = template


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
            if tok.kind == "char" and not _is_char_constant(tok):
                return False  # 'a string' is Jinja2's; Go's quotes one character
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
  | (?P<number>[-+]?(?:
        0[xX](?:[0-9a-fA-F_]+\.?[0-9a-fA-F_]*|\.[0-9a-fA-F_]+)[pP][-+]?\d+
      | 0[xX][0-9a-fA-F_]+
      | 0[oObB][0-7_]+
      | (?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?
    ))
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
    """The Jinja2 expression of Go variable ``name``'s value."""
    if name == "$":
        return "go_root"
    return f"v_{name[1:]}.v"


def _namespace(name: str) -> str:
    """The Jinja2 namespace holding Go variable ``name`` (``$x``)."""
    return "v_" + name[1:]


def _is_char_constant(tok: _Tok) -> bool:
    try:
        _char_literal(tok)
    except GoTemplateError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class _Operand:
    """One word of a command: a function's name, or a value's Jinja2 expression; a
    field chain's last name and what it is read from (``receiver``), which make it a
    method call when the command gives it arguments."""

    kind: str  # "func", "field", "value", "nil"
    expr: str
    text: str  # as written, for messages
    receiver: str | None = None
    method: str = ""


def _chain(base: str, names: list[str], text: str) -> _Operand:
    expr = base
    for name in names[:-1]:
        expr = f"go_field({expr}, {name!r})"
    if not names:
        return _Operand("field", expr, text)
    last = names[-1]
    return _Operand("field", f"go_field({expr}, {last!r})", text, expr, last)


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


def _char_literal(tok: _Tok) -> str:
    """A Go character constant (``'a'``, ``'\\n'``, ``'\\u00e9'``): its code point."""
    inner = tok.text[1:-1]
    try:
        value = inner.encode("latin-1", "backslashreplace").decode("unicode-escape")
    except UnicodeDecodeError:
        value = ""
    if len(value) != 1:
        raise GoTemplateError(f"malformed character constant: {tok.text}")
    return str(ord(value))


def _number_literal(tok: _Tok) -> str:
    """A Go number constant as Jinja2: an int when Go's is one (``0x10``, ``1_000``,
    ``017``), else a float (``1.5``, ``1e3``, ``0x1p-2``)."""
    text = tok.text.replace("_", "")
    sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    lower = digits.lower()
    value: int | float
    try:
        if lower.startswith("0x") and "p" in lower:
            value = float.fromhex(digits)
        elif lower.startswith(("0x", "0o", "0b")):
            value = int(digits, 0)
        elif re.fullmatch(r"0\d+", digits):
            value = int(digits, 8)
        elif re.fullmatch(r"\d+", digits):
            value = int(digits)
        else:
            value = float(digits)
    except ValueError:
        raise GoTemplateError(f"bad number syntax: {tok.text!r}") from None
    if isinstance(value, float) and math.isinf(value):
        raise GoTemplateError(f"number out of range: {tok.text}")
    written = repr(value)
    return f"(-{written})" if sign == "-" else written


def _and_expr(args: list[str]) -> str:
    """Go's ``and``: the first false argument or the last, the rest not evaluated (as
    Jinja2's ``and``, whose truth is Go's for template values)."""
    return "(" + " and ".join(args) + ")"


def _or_expr(args: list[str]) -> str:
    """Go's ``or``: the first true argument or the last, the rest not evaluated."""
    return "(" + " or ".join(args) + ")"


def _check_arity(name: str, count: int) -> None:
    low, high = ARITY[name]
    if count < low or (high is not None and count > high):
        want = str(low) if low == high else f"at least {low}" if high is None else f"{low}-{high}"
        raise GoTemplateError(f"wrong number of args for {name}: want {want} got {count}")


@dataclass
class _Parser:
    tokens: list[_Tok]
    action: str
    pos: int = 0
    defined: frozenset[str] = frozenset({"$"})  # the variables in scope

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
        operands: list[_Operand] = []
        while (tok := self.peek()) is not None and tok.kind not in ("pipe", "close"):
            operands.append(self.operand())
        if not operands:
            raise GoTemplateError(f"missing value for command in {{{{{self.action}}}}}")
        head = operands[0]
        args = [self.argument(o) for o in operands[1:]] + ([piped] if piped is not None else [])
        if head.kind == "func":
            _check_arity(head.expr, len(args))
            if head.expr == "and":
                return _and_expr(args)
            if head.expr == "or":
                return _or_expr(args)
            return f"gofn_{head.expr}({', '.join(args)})"
        if head.kind == "nil":
            raise GoTemplateError("nil is not a command")
        if args:
            if head.receiver is None:
                raise GoTemplateError(f"can't give argument to non-function {head.text}")
            return f"go_call({head.receiver}, {head.method!r}, {', '.join(args)})"
        return head.expr

    def argument(self, operand: _Operand) -> str:
        if operand.kind == "func":  # a function as an argument is called without any
            _check_arity(operand.expr, 0)
            return f"gofn_{operand.expr}()"
        return operand.expr

    def variable(self, name: str) -> str:
        if name not in self.defined:
            raise GoTemplateError(f'undefined variable "{name}"')
        return _var(name)

    def operand(self) -> _Operand:
        tok = self.take()
        if tok.kind == "open":
            inner = self.pipeline()
            close = self.peek()
            if close is None or close.kind != "close":
                raise GoTemplateError(f"unclosed '(' in {{{{{self.action}}}}}")
            self.take()
            chained = self.peek()
            if chained is not None and chained.kind == "field" and not chained.spaced:
                self.take()
                names = [n for n in chained.text.split(".") if n]
                return _chain(f"({inner})", names, f"({inner}){chained.text}")
            return _Operand("value", f"({inner})", "(...)")
        if tok.kind in ("string", "raw"):
            return _Operand("value", _string_literal(tok), tok.text)
        if tok.kind == "char":
            return _Operand("value", _char_literal(tok), tok.text)
        if tok.kind == "number":
            return _Operand("value", _number_literal(tok), tok.text)
        if tok.kind == "field":
            if tok.text.startswith("."):
                return _chain("dot", [n for n in tok.text.split(".") if n], tok.text)
            head, _, chain = tok.text.partition(".")
            names = [n for n in chain.split(".") if n]
            return _chain(self.variable(head), names, tok.text)
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return _Operand("value", tok.text, tok.text)
            if tok.text == "nil":
                return _Operand("nil", "none", tok.text)
            if tok.text in FUNCTIONS:
                return _Operand("func", tok.text, tok.text)
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
    kind: str  # "if", "range", "with", "define", "block" (in a setting)
    name: str = ""
    has_else: bool = False
    closing: str = ""
    line: int = 0  # of the action that opened it: where an unclosed one is reported
    # opened by an "else if" / "else with": closed by the {{end}} of the frame below
    implicit: bool = False
    variables: set[str] = field(default_factory=set)  # declared in it
    outer: list[set[str]] = field(default_factory=list)  # a define's caller's scopes


@dataclass
class _Translation:
    out: list[str] = field(default_factory=list)
    defines: dict[str, str] = field(default_factory=dict)
    stack: list[_Frame] = field(default_factory=list)
    saved: list[list[str]] = field(default_factory=list)
    allow_define: bool = False
    scopes: list[set[str]] = field(default_factory=lambda: [{"$"}])

    def emit(self, text: str) -> None:
        self.out.append(text)

    def parser(self, tokens: list[_Tok], body: str, pos: int = 0) -> _Parser:
        return _Parser(tokens, body, pos, frozenset().union(*self.scopes))

    def push(self, frame: _Frame) -> None:
        self.stack.append(frame)
        self.scopes.append(frame.variables)

    def declare(self, name: str) -> None:
        self.scopes[-1].add(name)

    def declaration(self, p: _Parser) -> str | None:
        """The variable a control's pipeline declares (``if $x := ...``), if any."""
        rest = p.tokens[p.pos :]
        if len(rest) >= 2 and rest[0].kind == "field" and rest[1].kind == "declare":
            name = rest[0].text
            if not name.startswith("$") or "." in name or name == "$":
                raise GoTemplateError(f"cannot declare {name}")
            p.pos += 2
            return name
        return None

    def action(self, body: str) -> None:
        tokens = _lex(body)
        if not tokens:
            raise GoTemplateError("empty action {{}}")
        first = tokens[0]
        if first.kind == "ident" and first.text in _KEYWORDS:
            self.keyword(first.text, self.parser(tokens, body, 1), body)
            return
        parser = self.parser(tokens, body)
        if (
            len(tokens) >= 2
            and tokens[0].kind == "field"
            and tokens[1].kind in ("declare", "assign")
        ):
            name = tokens[0].text
            if not name.startswith("$") or "." in name or name == "$":
                raise GoTemplateError(f"cannot assign to {name}")
            parser.pos = 2
            value = parser.pipeline()
            if tokens[1].kind == "declare":
                self.emit(f"{{% set {_namespace(name)} = namespace(v={value}) %}}")
                self.declare(name)
            else:
                parser.variable(name)
                self.emit(f"{{% set {_namespace(name)}.v = {value} %}}")
        else:
            self.emit("{{ " + parser.pipeline() + " }}")
        if not parser.done():
            raise GoTemplateError(f"unexpected {parser.peek()} in {{{{{body}}}}}")

    def keyword(self, word: str, p: _Parser, body: str) -> None:
        if word in ("if", "with"):
            self.open_if_or_with(word, p)
        elif word == "range":
            self.range(p)
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
            if word == "block" and not self.allow_define:
                # In a setting: the block's body runs in place (nothing can redefine it).
                self.emit(f"{{% with dot = {arg}, go_root = {arg} %}}")
            elif word == "block":
                self.emit(
                    f"{{% with dot = {arg}, go_root = {arg} %}}{{% include {name!r} %}}"
                    "{% endwith %}"
                )
            elif not self.allow_define or self.stack:
                raise GoTemplateError("{{define}} is only allowed at the top of a template file")
            # A named template sees its own variables only ($ is its argument).
            kind = "block" if word == "block" and not self.allow_define else "define"
            frame = _Frame(kind, name, outer=self.scopes)
            self.scopes = []
            self.push(frame)
            self.declare("$")
            if kind == "define":
                self.saved.append(self.out)
                self.out = []
        if not p.done():
            raise GoTemplateError(f"unexpected {p.peek()} in {{{{{body}}}}}")

    def open_if_or_with(self, word: str, p: _Parser, *, implicit: bool = False) -> None:
        """``if``/``with`` (or the ``if``/``with`` of an ``else if``/``else with``)."""
        frame = _Frame(word, implicit=implicit)
        name = self.declaration(p)
        value = p.pipeline()
        self.push(frame)
        if name is not None:
            self.emit(f"{{% set {_namespace(name)} = namespace(v={value}) %}}")
            value = _var(name)
            self.declare(name)
        if word == "if":
            self.emit(f"{{% if {value} %}}")
        else:
            self.emit(f"{{% if {value} %}}{{% with dot = {value} %}}")

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
        self.push(_Frame("range"))
        sets = ""
        if len(names) == 2:
            sets += f"{{% set {_namespace(names[0])} = namespace(v=go_k) %}}"
        if names:
            sets += f"{{% set {_namespace(names[-1])} = namespace(v=dot) %}}"
        for name in names:
            self.declare(name)
        self.emit(f"{{% for go_k, dot in go_range({expr}) %}}{sets}")

    def else_(self, p: _Parser) -> None:
        if not self.stack or self.stack[-1].kind in ("define", "block"):
            raise GoTemplateError("unexpected {{else}}")
        frame = self.stack[-1]
        if frame.has_else:
            raise GoTemplateError("expected end; found {{else}}")
        chained = None if p.done() else p.take()
        if chained is not None and (chained.text != frame.kind or frame.kind == "range"):
            raise GoTemplateError(
                f"{{{{else {chained.text}}}}} is not allowed in {{{{{frame.kind}}}}}"
            )
        frame.has_else = True
        self.emit("{% endwith %}{% else %}" if frame.kind == "with" else "{% else %}")
        if chained is not None:
            # {{if a}}x{{else if b}}y{{end}} is {{if a}}x{{else}}{{if b}}y{{end}}{{end}}
            self.open_if_or_with(chained.text, p, implicit=True)

    def end(self) -> None:
        if not self.stack:
            raise GoTemplateError("unexpected {{end}}")
        while True:
            frame = self.stack.pop()
            self.scopes.pop()
            self.close(frame)
            if not frame.implicit:
                return

    def close(self, frame: _Frame) -> None:
        if frame.kind == "if":
            self.emit("{% endif %}")
        elif frame.kind == "range":
            self.emit("{% endfor %}")
        elif frame.kind == "with":
            self.emit("{% endif %}" if frame.has_else else "{% endwith %}{% endif %}")
        elif frame.kind == "block":
            self.emit("{% endwith %}")
            self.scopes = frame.outer
        else:
            self.defines[frame.name] = "".join(self.out)
            self.out = self.saved.pop()
            self.scopes = frame.outer


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
            _located_action(state, stripped, source.count("\n", 0, found.start()) + 1)
        pos = found.end()
        if trim_after:
            rest = source[pos:]
            pos += len(rest) - len(rest.lstrip(" \t\r\n"))
    state.emit(_jinja_text(pending_text + source[pos:]))
    if state.stack:
        frame = state.stack[-1]
        raise GoTemplateError(
            f"unexpected EOF: {{{{{frame.kind}}}}} without {{{{end}}}}",
            frame.line,
            _define_of(state),
        )
    return state


def _located_action(state: _Translation, body: str, line: int) -> None:
    """Translate one action; its error, and a block it opens, know its line."""
    depth = len(state.stack)
    try:
        state.action(body)
    except GoTemplateError as exc:
        exc.line = exc.line or line
        exc.template = exc.template or _define_of(state)
        raise
    if len(state.stack) > depth:
        state.stack[-1].line = line


def _define_of(state: _Translation) -> str:
    return next((f.name for f in state.stack if f.kind == "define"), "")


def translate(source: str) -> str:
    """A Go template string (no ``define``) as Jinja2 source."""
    return "".join(_run(source, allow_define=False).out)


def translate_file(source: str) -> dict[str, str]:
    """The named templates a Go template file defines (``define``/``block``), as Jinja2.

    Text outside ``define`` blocks is ignored, as Alertmanager ignores it.
    """
    return _run(source, allow_define=True).defines
