"""What a configuration accepted by the loader would still let down, said when it is
loaded: ``tocsin check-config`` prints it, the server logs it at start and reload."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tocsin.config import Config, ConfigProblem
from tocsin.config.escalation import Span, unreached
from tocsin.config.oncall import late_layers
from tocsin.core.alert_names import config_alert_names
from tocsin.core.runbook_library import markdown_files
from tocsin.engine.health import self_alert_loops
from tocsin.engine.incident_reminders import unpaged_incidents
from tocsin.notify.config_checks import undefined_templates, unsupported_integrations
from tocsin.notify.templates import Templates
from tocsin.runbooks.lint import broken_links
from tocsin.runbooks.model import Runbook
from tocsin.runbooks.parser import parse_runbook
from tocsin.timeutil import utcnow

Books = Mapping[str, tuple[Runbook, str]]
"""Runbook name -> (the runbook, its file), as ``runbooks.lint`` takes them."""

# How far ahead on-call coverage is looked at: four weeks hold a weekly rotation of four
# people, and the weeks in which two zones' clocks have changed and the other's not yet
# (New York's in mid-March, London's at its end), while computing them takes
# milliseconds.
COVERAGE_HORIZON = timedelta(days=28)


def config_warnings(
    config: Config,
    templates: Templates,
    books: Books | None = None,
    *,
    now: datetime | None = None,
) -> list[ConfigProblem | str]:
    """Integrations no channel sends, named templates used and never defined, the
    alert about failing pages paged through what fails, incident alerts (``alert:
    true``) routed to nobody or paged as one group for every incident, runbook links
    to nothing (among ``books``: the server passes those it loaded; else the files of
    ``tocsin.runbooks.paths`` are read), and gaps in on-call coverage from ``now``
    (the wall clock when not given: these are said when a file is checked or loaded,
    about the weeks that follow)."""
    return [
        *unsupported_integrations(config),
        *undefined_templates(config, templates),
        *self_alert_loops(config),
        *unpaged_incidents(config),
        *broken_runbook_links(config, books),
        *coverage_gaps(config, utcnow() if now is None else now),
    ]


def coverage_gaps(config: Config, now: datetime) -> list[ConfigProblem]:
    """Layers that begin after ``now`` (nobody on call from them until then), and each
    escalation policy a receiver uses that, some time in the ``COVERAGE_HORIZON`` after
    ``now``, would reach nobody at every step (all its targets schedules, none with
    anyone on call): one warning per policy, with its first gap and the time uncovered
    in all. Warnings, not problems: a business-hours rota can be meant, and the server
    raises ``TocsinNobodyPaged`` when a page does reach nobody. Overrides made through
    the API are not known here; the file's are counted."""
    found = [
        ConfigProblem(config.source, config.line_of(key), key, message)
        for key, message in late_layers(config.schedules, now)
    ]
    used = {r.escalation_policy for r in config.receivers if r.escalation_policy}
    end = now + COVERAGE_HORIZON
    on_call: dict[str, list[Span]] = {}  # each schedule's timeline, once for all policies
    for index, policy in enumerate(config.escalation_policies):
        if policy.name not in used:
            continue  # it pages nobody, so its gaps wake nobody either
        names = policy.schedules()
        for name in names:
            if name not in on_call and (schedule := config.schedule(name)) is not None:
                on_call[name] = schedule.on_call_spans(now, end)
        gaps = unreached(policy, on_call, now, end)
        if not gaps:
            continue
        key = f"escalation_policies[{index}]"
        message = f"{policy.name!r}: {_when(gaps, end)}, every step reaches nobody: "
        found.append(
            ConfigProblem(config.source, config.line_of(key), key, message + _nobody_in(names))
        )
    return found


def _when(gaps: list[Span], end: datetime) -> str:
    """The first gap, and the time uncovered in all when there are more."""
    (first, until), *_ = gaps
    # a gap that runs to the horizon's end may run on: its length is not known
    when = f"from {_instant(first)} " + ("on" if until >= end else f"for {_length(until - first)}")
    if len(gaps) > 1:
        total = sum((high - low for low, high in gaps), timedelta())
        when += f" ({_length(total)} in all in the next {COVERAGE_HORIZON.days} days)"
    return when


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _length(span: timedelta) -> str:
    """Hours and minutes (``13h``, ``1h30m``, ``45m``), a part minute counted whole:
    no days or weeks, so that a gap and a total compare at a glance."""
    hours, minutes = divmod(math.ceil(span.total_seconds() / 60), 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes or not hours else "")


def _nobody_in(schedules: list[str]) -> str:
    quoted = [repr(name) for name in schedules]
    if len(quoted) == 1:
        return f"schedule {quoted[0]} has nobody on call"
    return f"schedules {', '.join(quoted[:-1])} and {quoted[-1]} have nobody on call"


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
