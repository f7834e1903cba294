"""Reading a configuration file: YAML syntax, typed decoding, cross-checks, defaults.

Every problem of every stage is collected and raised together in one
:class:`ConfigError`, so a user fixes a file in one round trip. Template paths are
resolved against the directory of the file, as Alertmanager does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TypeVar

import yaml

from tocsin.config.decode import Decoder, compose
from tocsin.config.errors import ConfigError, ConfigProblem
from tocsin.config.model import Config
from tocsin.config.validate import apply_global_defaults, cross_check

__all__ = ["load_config", "parse_config"]


def load_config(path: str | Path) -> Config:
    """Read and validate the configuration file at ``path``."""
    return parse_config(read_text(path), str(path))


def read_text(path: str | Path) -> str:
    """A configuration file's text; a file that cannot be read is a ConfigError."""
    name = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(name, 1, "(file)", exc.strerror or str(exc))]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(name, 1, "(file)", f"not UTF-8 text: {exc}")]) from None


def parse_config(text: str, filename: str = "<config>") -> Config:
    """Validate configuration ``text``; ``filename`` names it in problems and anchors
    relative template paths (unless it is a placeholder such as ``<config>``)."""
    try:
        root = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        context = exc.context or ""
        if context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            context += f" (line {exc.context_mark.line + 1})"
        message = ": ".join(part for part in (context, exc.problem) if part) or str(exc)
        raise ConfigError([ConfigProblem(filename, line, "(syntax)", message)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(filename, 1, "(syntax)", str(exc))]) from None

    decoder = Decoder(filename)
    if root is None or (root.tag.endswith(":null") and not root.value):
        config = Config()
    else:
        decoded = decoder.decode_dataclass(root, Config, "")
        config = decoded if isinstance(decoded, Config) else Config()
    config = dataclasses.replace(
        config,
        original=text,
        source=filename,
        positions=dict(decoder.positions),
        templates=_resolve_templates(config.templates, filename),
    )
    problems = list(decoder.problems)
    if "route" not in decoder.present:
        problems.append(
            ConfigProblem(filename, config.line_of("route"), "route", "no route provided in config")
        )
    else:
        problems.extend(cross_check(config, known=decoder.problems))
    if problems:
        raise ConfigError(problems)
    return apply_global_defaults(config)


def _resolve_templates(templates: tuple[str, ...], filename: str) -> tuple[str, ...]:
    if filename.startswith("<"):
        return templates
    base = Path(filename).parent
    return tuple(t if not t or Path(t).is_absolute() else str(base / t) for t in templates)


T = TypeVar("T")


def parse_section(text: str, cls: type[T], filename: str = "<request>") -> T:
    """Validate one entry of a section (a person sent to the API, say) with the same
    decoder and checks as the file, so the API and the file accept the same things."""
    try:
        root = compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(filename, 1, "(syntax)", str(exc))]) from None
    decoder = Decoder(filename)
    decoded = decoder.decode_dataclass(root, cls, "") if root is not None else None
    if decoder.problems or not isinstance(decoded, cls):
        problems = decoder.problems or [ConfigProblem(filename, 1, "(document)", "empty")]
        raise ConfigError(problems)
    return decoded
