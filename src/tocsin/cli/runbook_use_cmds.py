"""``tocsin runbook show|search|lint``: runbooks as the responder and the author use them.

``show`` and ``search`` ask a running server (``--url``/``TOCSIN_URL``); ``lint`` reads
files (the config, Prometheus rule files, runbooks) and needs no server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tocsin.cli.client_cmds import JsonOption, UrlOption
from tocsin.cli.output import fail, print_json, print_table
from tocsin.client import ApiError, Client
from tocsin.defaults import DEFAULT_URL

if TYPE_CHECKING:
    from tocsin.runbooks.lint import Finding, NamedAlert
    from tocsin.runbooks.model import Runbook


def show(
    alertname: Annotated[str, typer.Argument(help="The alert's name, e.g. HighErrorRate.")],
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Print the runbook procedure linked to an alert."""
    try:
        with Client(url) as client:
            link = client.runbook_for(alertname)
    except (ApiError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json(link)
        return
    proc = link["procedure"]
    typer.echo(f"{alertname}: {link['url']}")
    if proc is None:
        return
    if proc["severity"]:
        typer.echo(f"Severity: {proc['severity']}")
    if proc["description"]:
        typer.echo(f"Description: {proc['description']}")
    for i, step in enumerate(proc["steps"], 1):
        typer.echo(f"{step['number'] or i}. {step['text']}")
        for command in step["commands"]:
            if command not in step["text"]:
                typer.echo(f"     $ {command}")


def search(
    query: Annotated[str, typer.Argument(help="Words to look for.")],
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many sections.")] = 10,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Search all runbook text, best sections first."""
    try:
        with Client(url) as client:
            hits = client.search_runbooks(query, limit)
    except (ApiError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json(hits)
        return
    rows = [
        [h["runbook"], h["title"], h["snippet"].replace("\n", " ")[:70], h["url"]] for h in hits
    ]
    print_table(["RUNBOOK", "SECTION", "MATCH", "URL"], rows)


def lint(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Runbook files or folders (besides the config's).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", envvar="TOCSIN_CONFIG", help="Tocsin config.")
    ] = None,
    rules: Annotated[
        list[Path] | None, typer.Option("--rules", help="Prometheus rule files.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Report, with file and line: alerts without a runbook, procedures nothing names,
    procedures without steps, placeholders, TODO stubs, commands mixed with output.
    Exits 1 when there is an error (not only warnings)."""
    # here, not at the top: the runbook library brings the store (SQLAlchemy, psycopg),
    # and every tocsin command, `tocsin ack` at 3 a.m. too, paid for it at start
    from tocsin.config import ConfigError, load_config
    from tocsin.core.alert_names import RuleFileError, config_alert_names, rule_alert_names
    from tocsin.core.runbook_library import markdown_files
    from tocsin.runbooks.lint import Severity, lint_coverage, lint_runbook
    from tocsin.runbooks.parser import parse_runbook

    named: list[NamedAlert] = []
    files: dict[str, Path] = {}
    if config is not None:
        try:
            cfg = load_config(config)
        except ConfigError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        named += config_alert_names(cfg)
        files.update(markdown_files(cfg.tocsin.runbooks.paths, config.resolve().parent))
    for rule_file in rules or []:
        try:
            named += rule_alert_names(rule_file.read_text(), str(rule_file))
        except (OSError, RuleFileError) as exc:
            fail(str(exc))
    for given in paths or []:
        if not given.exists():
            fail(f"{given}: no such file or folder", 2)
    files.update(markdown_files(tuple(str(p) for p in paths or []), Path.cwd()))
    if not files:
        fail("no runbooks: give files or folders, or a config with tocsin.runbooks.paths", 2)
    findings: list[Finding] = []
    books: dict[str, tuple[Runbook, str]] = {}
    for name, path in sorted(files.items()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        book = parse_runbook(text, name=name, source=str(path))
        books[name] = (book, str(path))
        findings += lint_runbook(book, text, str(path))
    findings += lint_coverage(books, named)
    if as_json:
        print_json([_finding_json(f) for f in findings])
    else:
        for f in findings:
            typer.echo(str(f))
        errors = sum(f.severity is Severity.ERROR for f in findings)
        typer.echo(f"{len(books)} runbooks, {errors} errors, {len(findings) - errors} warnings")
    if any(f.severity is Severity.ERROR for f in findings):
        raise typer.Exit(1)


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "file": f.file,
        "line": f.line,
        "rule": f.rule,
        "severity": f.severity.value,
        "message": f.message,
    }


def add_to(group: typer.Typer) -> None:
    group.command("show")(show)
    group.command("search")(search)
    group.command("lint")(lint)
