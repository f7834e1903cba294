"""``tocsin check-config`` and ``tocsin test-routing``: the configuration at the command line.

They mirror ``amtool check-config`` and ``amtool config routes test`` so that people
moving from Alertmanager keep their habits (and scripts): same success line, same
comma-separated receiver list. Problems go to stderr as ``FILE:LINE: KEY: MESSAGE``.
Exit codes: 0 ok, 1 a check failed, 2 a usage error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tocsin.alerts.matchers import MatcherError, MatchType, parse_matcher
from tocsin.alerts.routing import (
    RouteNode,
    build_route_tree,
    format_route_tree,
    group_key,
    group_labels,
    match,
)
from tocsin.config import Config, ConfigError, ConfigProblem, format_duration, load_config

__all__ = ["check_config", "register", "routing_test"]

CONFIG_ENVVAR = "TOCSIN_CONFIG"


def register(app: typer.Typer) -> None:
    """Add ``check-config``, ``check-web-config``, ``hash-password`` and
    ``test-routing`` to ``app``."""
    app.command("check-config")(check_config)
    app.command("check-web-config")(check_web_config)
    app.command("hash-password")(hash_password)
    app.command("test-routing")(routing_test)


def check_config(
    files: Annotated[
        list[Path], typer.Argument(help="Configuration files to check.", show_default=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
) -> None:
    """Validate configuration files; every problem is reported with file, line and key."""
    reports = [_check(path) for path in files]
    failed = [r for r in reports if not r["ok"]]
    if as_json:
        typer.echo(json.dumps(_json_report(reports), indent=2))
    else:
        for report in reports:
            _print_report(report)
    if failed:
        raise typer.Exit(1)


def _check(path: Path) -> dict[str, Any]:
    """One file's report: loaded and made into the policy the server would run (its
    templates compiled, files and receivers' settings), or every problem found."""
    # imported here: the policy brings the channels, which other commands do without
    from tocsin.core.policy import ConfigPolicy
    from tocsin.engine.config_warnings import config_warnings

    try:
        config = load_config(path)
        policy = ConfigPolicy(config)
    except ConfigError as exc:
        return {"file": str(path), "ok": False, "problems": exc.problems}
    warnings = config_warnings(config, policy.templates)
    return {"file": str(path), "ok": True, "summary": summarize(config), "warnings": warnings}


def check_web_config(
    path: Annotated[Path, typer.Argument(help="Web configuration file (--web-config-file).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
) -> None:
    """Validate a web configuration file (TLS, basic auth) as promtool check web-config
    does; every problem with file, line and key."""
    from tocsin.config.web import load_web_config

    try:
        web = load_web_config(path)
    except ConfigError as exc:
        report: dict[str, Any] = {"file": str(path), "ok": False, "problems": exc.problems}
    else:
        tls = web.tls_server_config
        summary = {
            "tls": tls is not None,
            "client_auth_type": "" if tls is None else tls.client_auth_type,
            "basic_auth_users": sorted(web.basic_auth_users),
        }
        report = {"file": str(path), "ok": True, "summary": summary}
    if as_json:
        typer.echo(json.dumps(_json_report([report]), indent=2))
    elif report["ok"]:
        summary = report["summary"]
        typer.echo(f"Checking '{path}'  SUCCESS")
        tls_line = f"on, client certificates: {summary['client_auth_type']}"
        typer.echo(f" - TLS: {tls_line if summary['tls'] else 'off'}")
        typer.echo(f" - basic auth users: {', '.join(summary['basic_auth_users']) or 'none'}")
    else:
        typer.echo(f"Checking '{path}'  FAILED: {len(report['problems'])} problem(s)")
        _print_problems(report["problems"])
    if not report["ok"]:
        raise typer.Exit(1)


def hash_password(
    password: Annotated[
        str | None,
        typer.Option(
            envvar="TOCSIN_PASSWORD",
            help="Asked for when not given (or in TOCSIN_PASSWORD).",
            show_default=False,
        ),
    ] = None,
    cost: Annotated[int, typer.Option(min=4, max=31, help="bcrypt's cost.")] = 10,
) -> None:
    """Print the bcrypt hash of a password, for basic_auth_users in the web config."""
    import bcrypt

    if password is None:
        # asked on standard error: standard output is the hash alone, so that
        # HASH=$(tocsin hash-password) and tocsin hash-password > file work
        password = str(
            typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
        )
    if len(password.encode()) > 72:
        raise typer.BadParameter("bcrypt takes at most 72 bytes", param_hint="password")
    typer.echo(bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode())


def routing_test(
    labels: Annotated[
        list[str] | None,
        typer.Argument(help="Alert labels as name=value.", show_default=False),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar=CONFIG_ENVVAR,
            help="Configuration file.",
            show_default=False,
        ),
    ] = None,
    tree: Annotated[bool, typer.Option("--tree", help="Print the routing tree.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    verify_receivers: Annotated[
        str | None,
        typer.Option(
            "--verify-receivers",
            help="Fail unless the receivers are exactly these (comma-separated).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show which receivers an alert with the given labels is routed to."""
    if config_file is None:
        raise typer.BadParameter(
            f"no configuration file: pass --config or set {CONFIG_ENVVAR}",
            param_hint="'--config'",
        )
    alert_labels = _parse_labels(labels or [])
    try:
        config = load_config(config_file)
    except ConfigError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from None
    root = build_route_tree(config)
    nodes = match(root, alert_labels)
    receivers = ",".join(node.receiver for node in nodes)
    if as_json:
        report: dict[str, Any] = {
            "labels": alert_labels,
            "receivers": [node.receiver for node in nodes],
            "routes": [_node_json(node, alert_labels) for node in nodes],
        }
        typer.echo(json.dumps(report, indent=2))
    else:
        if tree:
            typer.echo(format_route_tree(root, highlight=nodes))
            typer.echo("")
        typer.echo(receivers)
    if verify_receivers is not None and verify_receivers != receivers:
        typer.echo("WARNING: Expected receivers did not match resolved receivers.", err=True)
        raise typer.Exit(1)


def summarize(config: Config) -> dict[str, int]:
    """Counts of what a configuration defines, for the success report."""
    root = build_route_tree(config)
    return {
        "routes": sum(1 for _ in root.walk()),
        "inhibit_rules": len(config.inhibit_rules),
        "receivers": len(config.receivers),
        "templates": len(config.templates),
        "time_intervals": len(config.time_intervals) + len(config.mute_time_intervals),
    }


def _parse_labels(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        try:
            matcher = parse_matcher(item)
        except MatcherError as exc:
            raise typer.BadParameter(f"{item!r}: {exc}", param_hint="LABELS") from None
        if matcher.type is not MatchType.EQUAL:
            raise typer.BadParameter(
                f"{item!r}: labels must be given as name=value", param_hint="LABELS"
            )
        out[matcher.name] = matcher.value
    return out


def _node_json(node: RouteNode, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "receiver": node.receiver,
        "id": node.id(),
        "key": node.key(),
        "group_key": group_key(node, labels),
        "group_labels": group_labels(node, labels),
        "group_by": sorted(node.group_by),
        "group_by_all": node.group_by_all,
        "group_wait": format_duration(node.group_wait),
        "group_interval": format_duration(node.group_interval),
        "repeat_interval": format_duration(node.repeat_interval),
        "mute_time_intervals": list(node.mute_time_intervals),
        "active_time_intervals": list(node.active_time_intervals),
        "continue": node.continue_,
    }


def _problem_json(problem: ConfigProblem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "key": problem.key,
        "message": problem.message,
    }


def _json_report(reports: list[dict[str, Any]]) -> dict[str, Any]:
    files = []
    for report in reports:
        entry: dict[str, Any] = {"file": report["file"], "ok": report["ok"]}
        if report["ok"]:
            entry["summary"] = report["summary"]
            if "warnings" in report:  # check-config's (check-web-config has none)
                entry["warnings"] = [str(w) for w in report["warnings"]]
        else:
            entry["problems"] = [_problem_json(p) for p in report["problems"]]
        files.append(entry)
    return {"ok": all(r["ok"] for r in reports), "files": files}


def _print_report(report: dict[str, Any]) -> None:
    if report["ok"]:
        summary = report["summary"]
        typer.echo(f"Checking '{report['file']}'  SUCCESS")
        typer.echo("Found:")
        typer.echo(" - global config")
        typer.echo(f" - route ({summary['routes']} nodes)")
        typer.echo(f" - {summary['inhibit_rules']} inhibit rules")
        typer.echo(f" - {summary['receivers']} receivers")
        typer.echo(f" - {summary['templates']} templates")
        typer.echo(f" - {summary['time_intervals']} time intervals")
        for warning in report.get("warnings", ()):  # accepted (exit 0), but worth a look
            typer.echo(_warning_line(report["file"], warning), err=True)
    else:
        count = len(report["problems"])
        typer.echo(f"Checking '{report['file']}'  FAILED: {count} problem(s)")
        _print_problems(report["problems"])


def _warning_line(file: str, warning: ConfigProblem | str) -> str:
    """``FILE:LINE: warning: KEY: MESSAGE``, or ``FILE: warning: MESSAGE`` for a
    warning about the file as a whole."""
    if isinstance(warning, ConfigProblem):
        return warning.as_warning()
    return f"{file}: warning: {warning}"


def _print_problems(problems: list[ConfigProblem]) -> None:
    for problem in problems:
        typer.echo(str(problem), err=True)
