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
(``firing`` or ``resolved``), ``alerts``/``Alerts`` (with ``.Firing`` and ``.Resolved``),
``groupLabels``, ``commonLabels``, ``commonAnnotations`` (and ``GroupLabels``, ...; each
with ``.SortedPairs``, ``.Names``, ``.Values``, ``.Remove(names)``), ``externalURL``,
``groupKey``, ``truncatedAlerts``. Each alert has ``status``, ``labels``,
``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``, ``fingerprint`` (and the Go
names) plus ``extra`` (``.Extra`` in Go syntax): what Tocsin attached to it
(``runbook_url``, ``runbook_steps``, ``severity``, ...), empty when nothing was.
``dot`` is the value a named template was called with (Go's ``.``: the whole data, or
e.g. one alert). Helpers: Go's and Alertmanager's template functions under
``gofn_<name>`` (``gofn_toUpper``, ``gofn_join``, ...) and the filters ``rfc3339`` and
``mrkdwn`` (escapes Slack markup).
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

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


class TemplateLoadError(ValueError):
    """A template file that cannot be read or compiled; the message names the file."""


class TemplateRenderError(ValueError):
    """A template that failed to render; ``field`` names the setting being rendered."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def parse_jinja_defines(source: str) -> dict[str, str]:
    """The ``{% define "name" %}...{% enddefine %}`` sections of a Jinja2 template file."""
    found: dict[str, str] = {}
    for match in _DEFINE.finditer(source):
        body = match.group("body")
        if match.group("ltrim"):
            body = body.lstrip()
        if match.group("rtrim"):
            body = body.rstrip()
        found[match.group("name")] = body
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
        env.globals.update(go_field=go_field, go_range=go_range)
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

        Raises :class:`TemplateLoadError` naming the file for an unreadable file or a
        template that does not compile, so a bad template is found at load, not at 3 a.m.
        """
        named = dict(_default_named())
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        for pattern in patterns:
            full = pattern if Path(pattern).is_absolute() else str(base / pattern)
            for path in sorted(glob.glob(full)):
                named.update(_read_file(Path(path)))
        templates = cls(named)
        templates.check()
        return templates

    def check(self) -> None:
        """Compile every named template in both environments (raises TemplateLoadError)."""
        for name in self._named:
            for env in (self._text, self._html):
                try:
                    env.get_template(name)
                except jinja2.TemplateError as exc:
                    raise TemplateLoadError(f"template {name!r}: {exc}") from None

    def names(self) -> list[str]:
        return sorted(self._named)

    # --- rendering ----------------------------------------------------------------------

    def render(
        self, source: str, data: TemplateData, *, html: bool = False, field: str = ""
    ) -> str:
        """Render a config value (Go or Jinja2 syntax); raises TemplateRenderError."""
        if "{{" not in source and "{%" not in source and "{#" not in source:
            return source
        try:
            return self._compile(source, html).render(data.context())
        except (jinja2.TemplateError, GoTemplateError, TypeError, ValueError) as exc:
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
        except (jinja2.TemplateError, GoTemplateError, TypeError, ValueError) as exc:
            raise TemplateRenderError(field or name, _describe(exc)) from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template {exc.name!r} not defined"
    return f"{type(exc).__name__}: {exc}"


@lru_cache(maxsize=512)
def _translated(source: str) -> str:
    return translate(source) if looks_like_go(source) else source


def _read_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateLoadError(f"{path}: cannot read template file: {exc}") from None
    if path.suffix in _JINJA_SUFFIXES:
        return parse_jinja_defines(text)
    try:
        return translate_file(text)
    except GoTemplateError as exc:
        raise TemplateLoadError(f"{path}: {exc}") from None


@lru_cache(maxsize=1)
def _default_named() -> dict[str, str]:
    text = resources.files("tocsin.notify").joinpath("templates/default.jinja").read_text("utf-8")
    return parse_jinja_defines(text)


DEFAULT_TEMPLATES = Templates(_default_named())
