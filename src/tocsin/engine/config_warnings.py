"""What a configuration accepted by the loader would still let down, said when it is
loaded: ``tocsin check-config`` prints it, the server logs it at start and reload."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tocsin.config import Config, ConfigProblem
from tocsin.core.alert_names import config_alert_names
from tocsin.core.runbook_library import markdown_files
from tocsin.engine.health import self_alert_loops
from tocsin.engine.incident_reminders import unpaged_incidents
from tocsin.notify.config_checks import undefined_templates, unsupported_integrations
from tocsin.notify.templates import Templates
from tocsin.runbooks.lint import broken_links
from tocsin.runbooks.model import Runbook
from tocsin.runbooks.parser import parse_runbook

Books = Mapping[str, tuple[Runbook, str]]
"""Runbook name -> (the runbook, its file), as ``runbooks.lint`` takes them."""


def config_warnings(
    config: Config, templates: Templates, books: Books | None = None
) -> list[ConfigProblem | str]:
    """Integrations no channel sends, named templates used and never defined, the
    alert about failing pages paged through what fails, incident alerts (``alert:
    true``) routed to nobody or paged as one group for every incident, runbook links
    to nothing (among ``books``: the server passes those it loaded; else the files of
    ``tocsin.runbooks.paths`` are read)."""
    return [
        *unsupported_integrations(config),
        *undefined_templates(config, templates),
        *self_alert_loops(config),
        *unpaged_incidents(config),
        *broken_runbook_links(config, books),
    ]


def broken_runbook_links(config: Config, books: Books | None = None) -> list[ConfigProblem]:
    """``tocsin.runbooks.links`` that name a runbook or a section none of ``books`` has
    (``runbook lint`` finds the same): the page would link to nothing, and carry no
    steps. Warned of, not refused: read from the files, a runbook uploaded through the
    API is not among them, and the link may be to it."""
    links = [a for a in config_alert_names(config) if a.explicit]
    if not links:
        return []
    found = _runbook_files(config) if books is None else books
    return [
        ConfigProblem(f.file, f.line, "tocsin.runbooks.links", f.message)
        for f in broken_links(found, links)
    ]


def _runbook_files(config: Config) -> dict[str, tuple[Runbook, str]]:
    base = Path(config.source).resolve().parent
    books = {}
    for name, path in markdown_files(config.tocsin.runbooks.paths, base).items():
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            continue  # (the library says so when it loads it)
        books[name] = (parse_runbook(text, name=name, source=str(path)), str(path))
    return books
