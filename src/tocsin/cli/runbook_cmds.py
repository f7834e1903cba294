"""``tocsin runbook``: Markdown runbooks at the command line.

``parse FILE`` prints what Tocsin understood (alerts, procedures, SLAs, escalation,
checks, each with its source lines) or, with ``--json``, the whole structured runbook;
``suggest FILE`` prints an Alertmanager/Prometheus starting point derived from it.
Exit codes: 0 ok, 1 the file could not be read, 2 a usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tocsin.cli import runbook_use_cmds
from tocsin.cli.output import fail, print_json
from tocsin.runbooks import Runbook, Threshold, parse_runbook, suggest_config
from tocsin.runbooks.quantities import describe_duration
from tocsin.runbooks.suggest import Part

__all__ = ["parse", "register", "suggest", "summary"]

FileArg = Annotated[
    Path, typer.Argument(help="Markdown runbook to read.", show_default=False, metavar="FILE")
]


def register(app: typer.Typer) -> None:
    """Add the ``runbook`` command group (``parse``, ``suggest``) to ``app``."""
    group = typer.Typer(
        name="runbook",
        help="Markdown runbooks as structured data.",
        no_args_is_help=True,
    )
    group.command("parse")(parse)
    group.command("suggest")(suggest)
    runbook_use_cmds.add_to(group)  # show, search, lint
    app.add_typer(group, name="runbook")


def _load(path: Path) -> Runbook:
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    runbook = parse_runbook(data, name=path.stem, source=str(path))
    for warning in runbook.warnings:
        typer.echo(f"warning: {path}: {warning}", err=True)
    return runbook


def parse(
    file: FileArg,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole structured runbook as JSON.")
    ] = False,
) -> None:
    """Parse a runbook: a summary of what was found, or the full JSON."""
    runbook = _load(file)
    if as_json:
        print_json(runbook.to_json())
    else:
        typer.echo(summary(runbook))


def suggest(
    file: FileArg,
    only: Annotated[
        Part | None,
        typer.Option(
            "--only",
            help="Print only the Alertmanager fragment (config) or only the Prometheus "
            "rules (rules): one YAML document, for check-config or promtool to read.",
        ),
    ] = None,
) -> None:
    """Print a commented Alertmanager route/receiver fragment and Prometheus rule
    skeletons derived from the runbook (placeholders to fill in, not a finished config):
    two YAML documents, or one with --only."""
    typer.echo(suggest_config(_load(file), only), nl=False)


def _lines(lines: tuple[int, int]) -> str:
    first, last = lines
    return f"L{first}" if first == last else f"L{first}-{last}"


def _threshold(t: Threshold) -> str:
    unit = f" {t.unit}" if t.unit else ""
    metric = f"{t.metric} " if t.metric else ""
    return f"{metric}{t.operator} {t.value:g}{unit}"


def summary(runbook: Runbook) -> str:
    """The human summary `runbook parse` prints."""
    out = [
        f"{runbook.title or runbook.name}  ({runbook.source or runbook.name}, "
        f"{runbook.line_count} lines)",
        "  ".join(
            f"{label}: {count}"
            for label, count in (
                ("sections", len(runbook.sections)),
                ("procedures", len(runbook.procedures)),
                ("alerts", len(runbook.alerts)),
                ("SLAs", len(runbook.slas)),
                ("escalation rows", sum(len(m.rows) for m in runbook.escalation_matrices)),
                ("levels", len(runbook.escalation_levels)),
                ("checks", len(runbook.checks)),
            )
        ),
    ]

    def block(title: str, rows: list[str]) -> None:
        if rows:
            out.append("")
            out.append(f"{title}:")
            out.extend(f"  {row}" for row in rows)

    block(
        "Alerts",
        [
            "  ".join(
                part
                for part in (
                    f"{_lines(a.lines):<9}",
                    a.name,
                    f"[{a.severity}]" if a.severity else "",
                    _threshold(a.threshold) if a.threshold else "",
                    f"for {describe_duration(a.duration)}" if a.duration else "",
                    f"({len(a.steps)} steps)",
                )
                if part
            )
            for a in runbook.alerts
        ],
    )
    block(
        "Procedures",
        [f"{_lines(p.lines):<9}{p.title}  ({len(p.steps)} steps)" for p in runbook.procedures],
    )
    block(
        "SLAs and timers",
        [
            f"{_lines(s.lines):<9}{s.kind:<15}{describe_duration(s.duration):<16}{s.action}"
            + (f"  [{s.context}]" if s.context else "")
            for s in runbook.slas
        ],
    )
    block(
        "Alert categories",
        [
            f"{_lines(c.lines):<9}{c.name}: "
            + ", ".join(ch.target or ch.kind for ch in c.channels)
            + (f"; respond within {describe_duration(c.response_time)}" if c.response_time else "")
            for c in runbook.categories
        ],
    )
    block(
        "Escalation",
        [
            f"{_lines(r.lines):<9}{r.severity}: {r.primary or '-'} -> {r.backup or '-'}"
            for m in runbook.escalation_matrices
            for r in m.rows
        ]
        + [
            f"{_lines(lv.lines):<9}level {lv.number}: {lv.name}"
            + (f" (after {describe_duration(lv.delay)})" if lv.delay else "")
            for lv in runbook.escalation_levels
        ],
    )
    block(
        "Contacts and channels",
        [f"{_lines(c.lines):<9}{c.role}: {c.value}" for c in runbook.contacts]
        + [
            f"{_lines(c.lines):<9}{c.kind}" + (f" {c.target}" if c.target else "")
            for c in runbook.channels
            if not any(c in k.channels for k in runbook.contacts)
        ],
    )
    block(
        "Checks",
        [
            f"{_lines(c.lines):<9}{c.kind:<7}{c.target or c.name or '-'}"
            + (f" every {describe_duration(c.interval)}" if c.interval else "")
            + (f", {c.failure_threshold} failures" if c.failure_threshold else "")
            + (f", {_threshold(c.threshold)}" if c.threshold else "")
            + (f" for {describe_duration(c.duration)}" if c.duration else "")
            for c in runbook.checks
        ],
    )
    block(
        "Troubleshooting",
        [
            f"{_lines(r.lines):<9}{r.symptom or r.alert or '-'}"
            for t in runbook.troubleshooting
            for r in t.rows
        ],
    )
    block("Warnings", list(runbook.warnings))
    return "\n".join(out)
