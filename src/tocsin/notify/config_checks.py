"""What a configuration's notifications would trip over, found when it is loaded
(``tocsin check-config``, the server's start and reload) rather than at the first alert.

* Problems, which refuse the configuration: template files (``templates:``) that cannot
  be read or do not compile, and templates in receivers' settings (a Slack ``text``, an
  e-mail header, a PagerDuty detail, ...) that do not compile. Compiling renders
  nothing and sends nothing.
* Warnings, which do not: integrations the configuration accepts (Alertmanager has
  them) but no channel of Tocsin's sends, whose every notification would fail for good.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from tocsin.config import Config, ConfigError, ConfigProblem, Secret
from tocsin.config.common import HTTPClientConfig, TLSConfig
from tocsin.config.decode import yaml_key
from tocsin.notify.channels.registry import SUPPORTED
from tocsin.notify.templates import DEFAULT_TEMPLATES, TemplateLoadError, Templates

__all__ = [
    "load_templates",
    "template_value_problems",
    "undefined_templates",
    "unsupported_integrations",
]


def load_templates(config: Config) -> Templates:
    """The configuration's templates, compiled as the channels will use them; a
    ConfigError names every template file and receiver setting that does not compile."""
    problems: list[ConfigProblem] = []
    try:
        templates = Templates.load(config.templates)
    except TemplateLoadError as exc:
        problems.extend(exc.problems)
        templates = DEFAULT_TEMPLATES  # settings compile alike, whatever names exist
    problems.extend(template_value_problems(config, templates))
    if problems:
        raise ConfigError(problems)
    return templates


def template_value_problems(config: Config, templates: Templates) -> Iterator[ConfigProblem]:
    """A problem for each receiver setting that does not compile as a template, in the
    integrations Tocsin sends (the others are warned about as a whole)."""
    for key, source in _receiver_settings(config):
        reason = templates.compile_problem(source)
        if reason is not None:
            yield ConfigProblem(config.source, config.line_of(key), key, f"bad template: {reason}")


def undefined_templates(config: Config, templates: Templates) -> list[ConfigProblem]:
    """A warning for each template file's template and each receiver setting that uses
    a named template nothing defines (``{{ template "slack.titel" . }}``): a notification
    rendering it is sent with the setting's default instead (``notify.rendering``)."""
    found = [
        ConfigProblem(origin.file, origin.line, f"template {name!r}", _uses(missing))
        for name, origin, missing in templates.undefined_in_files()
    ]
    for key, source in _receiver_settings(config):
        missing = templates.undefined_uses(source)
        if missing:
            found.append(ConfigProblem(config.source, config.line_of(key), key, _uses(missing)))
    return found


def _uses(missing: list[str]) -> str:
    names = ", ".join(repr(n) for n in missing)
    return (
        f"uses template {names}, which no template file defines: what renders it is sent "
        "with its default text"
    )


def _receiver_settings(config: Config) -> Iterator[tuple[str, str]]:
    """Every text setting of the integrations Tocsin sends (the others are warned about
    as a whole), with its dotted key."""
    for i, receiver in enumerate(config.receivers):
        for kind, index, settings in receiver.integrations():
            if kind in SUPPORTED:
                yield from _settings_text(settings, f"receivers[{i}].{kind}_configs[{index}]")


def _settings_text(value: Any, key: str) -> Iterator[tuple[str, str]]:
    """Every text setting under ``key`` that may be a template, with its dotted key.
    Secrets are left out (a problem would quote them), and so are the HTTP client's
    settings (files and addresses, never templates)."""
    if isinstance(value, Secret | HTTPClientConfig | TLSConfig):
        return
    if isinstance(value, str):
        yield key, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _settings_text(getattr(value, f.name), f"{key}.{yaml_key(f.name)}")
    elif isinstance(value, Mapping):
        for name, item in value.items():
            yield from _settings_text(item, f"{key}.{name}")
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            yield from _settings_text(item, f"{key}[{index}]")


def unsupported_integrations(config: Config) -> list[ConfigProblem]:
    """A warning for each receiver's kind of integration that no channel sends
    (``opsgenie_configs``, ``telegram_configs``, ...): each of its notifications fails
    for good, and the receiver's other integrations are sent as usual."""
    found: list[ConfigProblem] = []
    for i, receiver in enumerate(config.receivers):
        kinds = dict.fromkeys(k for k, _, _ in receiver.integrations() if k not in SUPPORTED)
        for kind in kinds:
            key = f"receivers[{i}].{kind}_configs"
            message = (
                f"receiver {receiver.name!r}: not supported by Tocsin: notifications to "
                f"this receiver's {kind} integration fail"
            )
            found.append(ConfigProblem(config.source, config.line_of(key), key, message))
    return found
