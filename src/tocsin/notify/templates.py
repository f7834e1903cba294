"""Message templates: Tocsin's defaults, users' template files, and config values.

Everything renders with one sandboxed Jinja2 engine; Alertmanager's Go templates are
translated to it on load (:mod:`tocsin.notify.gotemplate`), so an existing
``alertmanager.yml`` and its ``templates:`` files keep working.

**Named templates.** Messages are assembled from named templates (``email.default.subject``,
``slack.default.title``, ``pagerduty.default.instances``, ...), the names Alertmanager's
configuration defaults refer to (``title: '{{ template "slack.default.title" . }}'``).
Tocsin's definitions live in ``templates/default.jinja``. The files listed under
``templates:`` in the configuration (glob patterns, relative to the configuration file)
add names or replace them, later files winning:

* ``*.j2``, ``*.jinja``, ``*.jinja2``: Jinja2, each template in
  ``{% define "name" %}...{% enddefine %}``;
* any other file: Alertmanager's Go syntax, ``{{ define "name" }}...{{ end }}``.

**Config values** (``title``, ``text``, ``headers``, PagerDuty ``details``, ...) are
templates too: Go syntax when they use it (``{{ .Status }}``), Jinja2 otherwise
(``{{ status }}``).

**Variables.** A template sees the webhook payload's data, under the payload's keys and
under Alertmanager's Go names: ``receiver``/``Receiver``, ``status``/``Status``
(``firing`` or ``resolved``; ``acknowledged`` in the notice telling those paged who took
a group, who is ``acknowledgedBy``/``AcknowledgedBy``), ``alerts``/``Alerts`` (with
``.Firing`` and ``.Resolved``), ``groupLabels``, ``commonLabels``, ``commonAnnotations``
(and ``GroupLabels``, ...; each with ``.SortedPairs``, ``.Names``, ``.Values``,
``.Remove(names)``), ``externalURL``, ``groupKey``, ``truncatedAlerts``. Each alert has
``status``, ``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``,
``fingerprint`` (and the Go names) plus ``extra`` (``.Extra`` in Go syntax): what Tocsin
attached to it (``runbook_url``, ``runbook_steps``, ``severity``, ...), empty when
nothing was. ``dot`` is the value a named template was called with (Go's ``.``: the
whole data, or e.g. one alert). Helpers: Go's and Alertmanager's template functions
under ``gofn_<name>`` (``gofn_toUpper``, ``gofn_join``, ...) and the filters ``rfc3339``
and ``mrkdwn`` (escapes Slack markup).
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tocsin.config.errors import ConfigProblem
from tocsin.notify.goruntime import go_call
from tocsin.notify.gotemplate import (
    FUNCTIONS,
    GoTemplateError,
    go_field,
    go_range,
    go_str,
    looks_like_go,
    translate,
    translate_file,
)
from tocsin.notify.template_data import TemplateData
from tocsin.timeutil import format_rfc3339

__all__ = [
    "DEFAULT_TEMPLATES",
    "TemplateLoadError",
    "TemplateRenderError",
    "Templates",
    "parse_jinja_defines",
]

_JINJA_SUFFIXES = (".j2", ".jinja", ".jinja2")
_DEFINE = re.compile(
    r"\{%(-?)\s*define\s+(['\"])(?P<name>.+?)\2\s*(?P<ltrim>-?)%\}(?P<body>.*?)"
    r"\{%(?P<rtrim>-?)\s*enddefine\s*-?%\}",
    re.DOTALL,
)


_GO_DEFINE = re.compile(r"""\{\{-?\s*(?:define|block)\s+(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)""")


# ``.Field`` or ``$var`` in an action, not after a name (Jinja2's ``a.b``) or a call
_GO_FIELD = re.compile(r"\{\{[^}]*?(?<![\w)\]])[.$][A-Za-z_]")


class TemplateLoadError(ValueError):
    """Template files that cannot be read or compiled: ``problems``, each naming the
    file, the line and the template (``FILE:LINE: template 'NAME': MESSAGE``)."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class _Origin(NamedTuple):
    """Where a named template is written: its file, and the line its body starts on;
    ``exact``: Jinja2's line numbers in the body count from there (a Go template's
    translation has lines of its own, so its problems are shown at its ``define``)."""

    file: str
    line: int
    exact: bool


class TemplateRenderError(ValueError):
    """A template that failed to render; ``field`` names the setting being rendered."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def parse_jinja_defines(source: str) -> dict[str, str]:
    """The ``{% define "name" %}...{% enddefine %}`` sections of a Jinja2 template file."""
    return {name: body for name, (body, _) in _jinja_defines(source).items()}


def _jinja_defines(source: str) -> dict[str, tuple[str, int]]:
    """Each define's body and the line (1-based) its first character is on."""
    found: dict[str, tuple[str, int]] = {}
    for match in _DEFINE.finditer(source):
        body, start = match.group("body"), match.start("body")
        if match.group("ltrim"):
            stripped = body.lstrip()
            start += len(body) - len(stripped)
            body = stripped
        if match.group("rtrim"):
            body = body.rstrip()
        found[match.group("name")] = (body, source.count("\n", 0, start) + 1)
    return found


def _mrkdwn(value: Any) -> str:
    """Escape what Slack's mrkdwn treats as markup (``&``, ``<``, ``>``)."""
    return str(go_str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rfc3339(value: Any) -> str:
    return format_rfc3339(value) if isinstance(value, datetime) else str(value)


class Templates:
    """A set of named templates and the two environments that render them.

    Text (titles, plain bodies, JSON fields) renders without escaping, as Go's
    ``text/template``; HTML (email bodies) renders with autoescaping.
    """

    def __init__(self, named: Mapping[str, str]) -> None:
        self._named = dict(named)
        self.origins: dict[str, _Origin] = {}  # where the files' templates are written
        self._compiled: dict[tuple[bool, str], jinja2.Template] = {}
        self._text = self._environment(autoescape=False)
        self._html = self._environment(autoescape=True)

    def _environment(self, *, autoescape: bool) -> ImmutableSandboxedEnvironment:
        env = ImmutableSandboxedEnvironment(
            loader=jinja2.FunctionLoader(self._source),
            autoescape=autoescape,
            keep_trailing_newline=True,
            finalize=go_str,
            extensions=["jinja2.ext.loopcontrols"],
            auto_reload=False,
        )
        env.globals.update({f"gofn_{name}": fn for name, fn in FUNCTIONS.items()})
        env.globals.update(go_field=go_field, go_call=go_call, go_range=go_range)
        env.filters["rfc3339"] = _rfc3339
        env.filters["mrkdwn"] = _mrkdwn
        return env

    def _source(self, name: str) -> tuple[str, None, Callable[[], bool]] | None:
        source = self._named.get(name)
        return None if source is None else (source, None, lambda: True)

    # --- construction -------------------------------------------------------------------

    @classmethod
    def load(cls, patterns: Iterable[str] = (), base_dir: str | Path | None = None) -> Templates:
        """Tocsin's defaults, then every file matching ``patterns`` (sorted per pattern).

        Raises :class:`TemplateLoadError` naming the file and line of every unreadable
        file and every template that does not compile, so a bad template is found at
        load, not at 3 a.m.
        """
        named = dict(_default_named())
        origins: dict[str, _Origin] = {}
        problems: list[ConfigProblem] = []
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        for pattern in patterns:
            full = pattern if Path(pattern).is_absolute() else str(base / pattern)
            for path in sorted(glob.glob(full)):
                try:
                    found = _read_file(Path(path))
                except TemplateLoadError as exc:
                    problems.extend(exc.problems)
                    continue
                for name, (body, origin) in found.items():
                    named[name], origins[name] = body, origin
        templates = cls(named)
        templates.origins = origins
        problems.extend(templates.problems(origins))
        if problems:
            raise TemplateLoadError(problems)
        return templates

    def problems(self, origins: Mapping[str, _Origin] | None = None) -> list[ConfigProblem]:
        """Every named template that does not compile (in either environment), where
        ``origins`` says it is written."""
        found: list[ConfigProblem] = []
        for name in self._named:
            for env in (self._text, self._html):
                try:
                    env.get_template(name)
                except jinja2.TemplateError as exc:
                    origin = (origins or {}).get(name, _Origin("(default templates)", 1, True))
                    lineno = getattr(exc, "lineno", None) or 1
                    line = origin.line + lineno - 1 if origin.exact else origin.line
                    found.append(ConfigProblem(origin.file, line, _key(name), _reason(exc)))
                    break
        return found

    def compile_problem(self, source: str) -> str | None:
        """Why a config value (``title``, ``text``, ...) does not compile as a template,
        in the words of the syntax it was read as; None when it does (or is plain text).
        Compiling is all: nothing is rendered, and it is cached for the sends to come."""
        if _plain(source):
            return None
        try:
            self._compile(source, html=False)
        except GoTemplateError as exc:
            return str(exc)
        except jinja2.TemplateError as exc:
            # read as Jinja2 because something in it is not Go's (a function Tocsin
            # lacks, say); when it has Go's fields, Go's reading says what is wrong
            if _GO_FIELD.search(source):
                try:
                    translate(source)
                except GoTemplateError as go:
                    return str(go)
            return _reason(exc)
        return None

    def names(self) -> list[str]:
        return sorted(self._named)

    def undefined_uses(self, source: str) -> list[str]:
        """The named templates a config value (``{{ template "slack.title" . }}``) uses
        that no template defines: Go, and Tocsin, find out only when it renders (in a
        branch that never runs, never), so it is a warning, not a problem."""
        if _plain(source):
            return []
        try:
            return self._undefined(_translated(source))
        except (GoTemplateError, jinja2.TemplateError):
            return []  # compile_problem says why

    def undefined_in_files(self) -> list[tuple[str, _Origin, list[str]]]:
        """Each template of the files that uses templates nothing defines, where it is
        written, and those it uses."""
        found = []
        for name, origin in self.origins.items():
            try:
                missing = self._undefined(self._named[name])
            except jinja2.TemplateError:
                continue  # a problem of its own (``problems``)
            if missing:
                found.append((name, origin, missing))
        return found

    def _undefined(self, jinja_source: str) -> list[str]:
        used = meta.find_referenced_templates(self._text.parse(jinja_source))
        return sorted({n for n in used if n is not None and n not in self._named})

    # --- rendering ----------------------------------------------------------------------

    def render(
        self, source: str, data: TemplateData, *, html: bool = False, field: str = ""
    ) -> str:
        """Render a config value (Go or Jinja2 syntax); raises TemplateRenderError."""
        if _plain(source):
            return source
        try:
            return self._compile(source, html).render(data.context())
        except Exception as exc:  # whatever a user's template does, it is its failure
            raise TemplateRenderError(field, _describe(exc)) from None

    def _compile(self, source: str, html: bool) -> jinja2.Template:
        # Config values repeat for every notification: compile each once.
        template = self._compiled.get((html, source))
        if template is None:
            env = self._html if html else self._text
            template = env.from_string(_translated(source))
            if len(self._compiled) < 1024:
                self._compiled[(html, source)] = template
        return template

    def render_named(
        self,
        name: str,
        data: TemplateData,
        *,
        dot: Any = None,
        html: bool = False,
        field: str = "",
    ) -> str:
        """Render named template ``name`` with ``dot`` as its argument (default: ``data``)."""
        env = self._html if html else self._text
        context = data.context()
        if dot is not None:
            context.update(dot=dot, go_root=dot)
        else:
            context.update(go_root=data)
        try:
            return env.get_template(name).render(context)
        except Exception as exc:  # whatever a user's template does, it is its failure
            raise TemplateRenderError(field or name, _describe(exc)) from None


def _plain(source: str) -> bool:
    """Text with no template syntax in it: shown as it is."""
    return "{{" not in source and "{%" not in source and "{#" not in source


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template {exc.name!r} not defined"
    return f"{type(exc).__name__}: {exc}"


def _reason(exc: jinja2.TemplateError) -> str:
    """A compile error's own words (its line is told apart)."""
    message = exc.message if isinstance(exc, jinja2.TemplateSyntaxError) else None
    return message or _describe(exc)


def _key(template: str) -> str:
    """What a template file's problem is about: the template, or the file's own text."""
    return f"template {template!r}" if template else "(template file)"


@lru_cache(maxsize=512)
def _translated(source: str) -> str:
    return translate(source) if looks_like_go(source) else source


def _read_file(path: Path) -> dict[str, tuple[str, _Origin]]:
    """A template file's named templates (as Jinja2) and where each is written."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = ConfigProblem(name, 1, "(template file)", f"cannot read template file: {exc}")
        raise TemplateLoadError([problem]) from None
    if path.suffix in _JINJA_SUFFIXES:
        return {
            define: (body, _Origin(name, line, exact=True))
            for define, (body, line) in _jinja_defines(text).items()
        }
    try:
        translated = translate_file(text)
    except GoTemplateError as exc:
        problem = ConfigProblem(name, exc.line or 1, _key(exc.template), str(exc))
        raise TemplateLoadError([problem]) from None
    lines = _go_define_lines(text)
    return {
        define: (body, _Origin(name, lines.get(define, 1), exact=False))
        for define, body in translated.items()
    }


def _go_define_lines(text: str) -> dict[str, int]:
    """The line of each ``{{ define "name" }}`` (or ``block``) of a Go template file."""
    found: dict[str, int] = {}
    for match in _GO_DEFINE.finditer(text):
        quoted, raw = match.group(1), match.group(2)
        try:
            name = raw if raw is not None else str(json.loads(f'"{quoted}"'))
        except json.JSONDecodeError:
            continue  # the translation reports it
        found.setdefault(name, text.count("\n", 0, match.start()) + 1)
    return found


@lru_cache(maxsize=1)
def _default_named() -> dict[str, str]:
    text = resources.files("tocsin.notify").joinpath("templates/default.jinja").read_text("utf-8")
    return parse_jinja_defines(text)


DEFAULT_TEMPLATES = Templates(_default_named())
