"""``tocsin runbook lint``: one row per rule, each finding at its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tocsin.cli.main import app
from tocsin.config import parse_config
from tocsin.core.alert_names import config_alert_names, rule_alert_names
from tocsin.runbooks.lint import NamedAlert, lint_coverage, lint_runbook
from tocsin.runbooks.parser import parse_runbook

PROCEDURE = "# Ops\n\n## DiskFull\n**Severity**: Critical\n\n1. Run `df -h`\n2. Clean up\n"


@pytest.mark.parametrize(
    ("markdown", "rule", "line"),
    [
        # an alert procedure without steps
        (
            "# Ops\n\n## DiskFull\n**Severity**: Critical\n**Description**: disk > 90%\n",
            "no-steps",
            3,
        ),
        # a placeholder in angle brackets, inline
        ("# Ops\n\n## Restart\n1. Run `kubectl delete pod <pod-name>`\n", "placeholder", 4),
        # an upper-case shell variable nobody sets
        ("# Ops\n\n## Logs\n1. Run `kubectl logs -n $NAMESPACE api`\n", "placeholder", 4),
        # in a fenced block: the line of the placeholder, not of the fence
        (
            "# Ops\n\n## Deploy\n1. Push:\n   ```bash\n   docker build .\n"
            "   docker push <registry>/x\n   ```\n",
            "placeholder",
            7,
        ),
        # a TODO stub
        ("# Ops\n\nTODO: write the failover procedure\n", "todo", 3),
        # a link never filled in
        ("# Ops\n\n1. Open the incident: [Link to incident template]\n", "todo", 3),
        # commands pasted with their output
        (
            "# Ops\n\n```console\n$ kubectl get pods\nNAME   READY   STATUS\n"
            "api-1  1/1     Running\n```\n",
            "command-output",
            3,
        ),
    ],
)
def test_each_rule_is_found_at_its_line(markdown: str, rule: str, line: int) -> None:
    book = parse_runbook(markdown, name="ops")
    findings = lint_runbook(book, markdown, "ops.md")
    assert (rule, line) in [(f.rule, f.line) for f in findings], [str(f) for f in findings]


@pytest.mark.parametrize(
    "markdown",
    [
        PROCEDURE,  # steps, no placeholders
        "# Ops\n\n1. Run `NS=prod; kubectl get pods -n $NS`\n",  # a variable it sets itself
        "# Ops\n\n```bash\n# list pods\nkubectl get pods\n```\n",  # comments are not output
        "# Ops\n\nUse <br> for line breaks in the status page.\n",  # HTML, not a placeholder
    ],
)
def test_clean_runbooks_have_no_findings(markdown: str) -> None:
    assert lint_runbook(parse_runbook(markdown, name="ops"), markdown, "ops.md") == []


def test_coverage_both_ways() -> None:
    book = parse_runbook(PROCEDURE, name="ops")
    named = [NamedAlert("HighLatency", "rules.yml", 4), NamedAlert("disk_full", "rules.yml", 9)]
    found = {(f.file, f.line, f.rule) for f in lint_coverage({"ops": (book, "ops.md")}, named)}
    assert found == {("rules.yml", 4, "no-runbook")}  # disk_full finds DiskFull
    nothing_names_it = lint_coverage({"ops": (book, "ops.md")}, [NamedAlert("X", "r.yml", 1)])
    assert ("ops.md", 3, "unused-procedure") in {(f.file, f.line, f.rule) for f in nothing_names_it}


OPS = "# Ops\n\n## Health checks\n\nPoll /healthz.\n\n" + PROCEDURE.removeprefix("# Ops\n\n")


@pytest.mark.parametrize(
    ("alert", "findings"),
    [
        # a rule's runbook_url to a section with no procedure: linked, but its pages
        # would carry no steps (a warning)
        (
            NamedAlert("LivenessDown", "r.yml", 4, "rb/ops.md#health-checks"),
            [("r.yml", 4, "link-without-steps")],
        ),
        # ...to the runbook, whose procedure of that name it takes
        (NamedAlert("DiskFull", "r.yml", 4, "rb/ops.md"), []),
        # ...to a section with one procedure: that one, whatever its name
        (NamedAlert("DiskSpace", "r.yml", 4, "rb/ops.md#diskfull"), []),
        # ...to a section that does not exist: an error at the rule
        (
            NamedAlert("LivenessDown", "r.yml", 4, "rb/ops.md#healthchecks"),
            [("r.yml", 4, "broken-link")],
        ),
        # a wiki page: not Tocsin's to check; the alert's procedure is found by name
        (NamedAlert("DiskFull", "r.yml", 4, "https://wiki.example/DiskFull"), []),
        (
            NamedAlert("Other", "r.yml", 4, "https://wiki.example/Other"),
            [("r.yml", 4, "no-runbook")],
        ),
        # a config link must name a runbook and a section it has
        (NamedAlert("Disk", "am.yml", 9, "ops#diskfull", explicit=True), []),
        (
            NamedAlert("Disk", "am.yml", 9, "ops#nosuchanchor", explicit=True),
            [("am.yml", 9, "broken-link")],
        ),
        (
            NamedAlert("Disk", "am.yml", 9, "opps#diskfull", explicit=True),
            [("am.yml", 9, "broken-link")],
        ),
    ],
)
def test_links_are_checked(alert: NamedAlert, findings: list[tuple[str, int, str]]) -> None:
    book = parse_runbook(OPS, name="ops")
    found = lint_coverage({"ops": (book, "ops.md")}, [alert, NamedAlert("DiskFull", "r.yml", 1)])
    assert [(f.file, f.line, f.rule) for f in found] == findings


def test_a_link_to_a_table_of_procedures_needs_the_alert_s_name() -> None:
    table = (
        "# Api\n\n## Alerts\n\n| Alert | Symptom | Mitigation |\n|---|---|---|\n"
        "| High 5xx rate | errors | roll back |\n| Slow responses | latency | scale out |\n"
    )
    book = parse_runbook(table, name="api")
    named = [
        NamedAlert("SlowResponses", "r.yml", 4, "api.md#alerts"),
        NamedAlert("ApiSlow", "r.yml", 9, "api.md#alerts"),
    ]
    found = lint_coverage({"api": (book, "api.md")}, named)
    assert [(f.line, f.rule) for f in found] == [(9, "ambiguous-link"), (7, "unused-procedure")]


def test_a_procedure_reached_by_a_link_is_used() -> None:
    book = parse_runbook(OPS, name="ops")
    linked = NamedAlert("Disk", "am.yml", 9, "ops#diskfull", explicit=True)
    assert lint_coverage({"ops": (book, "ops.md")}, [linked]) == []


def test_alert_names_from_config_and_rules_with_lines() -> None:
    config = parse_config(
        "route:\n  receiver: a\n  routes:\n    - receiver: a\n"
        "      matchers: ['alertname=\"DiskFull\"']\nreceivers:\n  - name: a\n",
        "am.yml",
    )
    assert config_alert_names(config) == [NamedAlert("DiskFull", "am.yml", 5)]
    rules = "groups:\n  - name: g\n    rules:\n      - alert: HighLatency\n        expr: up == 0\n"
    assert rule_alert_names(rules, "rules.yml") == [NamedAlert("HighLatency", "rules.yml", 4)]
    annotated = rules + "        annotations:\n          runbook_url: rb/ops.md#latency\n"
    assert rule_alert_names(annotated, "rules.yml") == [
        NamedAlert("HighLatency", "rules.yml", 4, "rb/ops.md#latency")
    ]
    linked = parse_config(
        "route:\n  receiver: a\nreceivers:\n  - name: a\n"
        "tocsin:\n  runbooks:\n    links:\n      Disk: ops#diskfull\n",
        "am.yml",
    )
    assert config_alert_names(linked) == [NamedAlert("Disk", "am.yml", 8, "ops#diskfull", True)]


def test_cli_exit_code_is_1_on_errors_and_0_on_warnings(tmp_path: Path) -> None:
    (tmp_path / "ops.md").write_text(PROCEDURE)
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: DiskFull\n        expr: x\n")
    runner = CliRunner()
    ok = runner.invoke(app, ["runbook", "lint", str(tmp_path), "--rules", str(rules)])
    assert ok.exit_code == 0, ok.output
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: NoBook\n        expr: x\n")
    bad = runner.invoke(app, ["runbook", "lint", str(tmp_path), "--rules", str(rules)])
    assert bad.exit_code == 1
    assert f"{rules}:4: error: no-runbook: alert 'NoBook' has no runbook procedure" in bad.output
    usage = runner.invoke(app, ["runbook", "lint"])
    assert usage.exit_code == 2


def test_a_runbook_path_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["runbook", "lint", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope'}: no such file or folder" in result.stderr


FENCE = "```"


@pytest.mark.parametrize(
    ("markdown", "finding"),
    [
        # a fence never closed swallows the later alert: an error that says where
        (
            "# Ops\n\n## DiskFull\n**Severity**: critical\n\n1. Run:\n\n"
            f"{FENCE}bash\ndf -h\n\n## MemFull\n**Severity**: warning\n\n1. Fix\n",
            "ops.md:8: error: unclosed-fence: code fence opened here is never closed; "
            "lines 8-14 are code",
        ),
        # at the end, hiding no heading: a warning
        (
            f"# Ops\n\n1. Run:\n\n{FENCE}\nls\n",
            "ops.md:5: warning: unclosed-fence: code fence opened here is never closed; "
            "lines 5-6 are code",
        ),
        # in a list item it ends with the item
        (
            f"# Ops\n\n1. a\n   {FENCE}\n   x\n2. b\n",
            "ops.md:4: warning: unclosed-fence: code fence opened here is never closed; "
            "lines 4-5 are code",
        ),
        # an HTML comment never closed
        (
            "# Ops\n\n<!-- draft\n\n## MemFull\n**Severity**: warning\n\n1. Fix\n",
            "ops.md:3: error: unclosed-comment: HTML comment opened here is never closed; "
            "lines 3-8 are hidden",
        ),
    ],
)
def test_an_unclosed_fence_or_comment_is_named(markdown: str, finding: str) -> None:
    book = parse_runbook(markdown, name="ops")
    found = [str(f) for f in lint_runbook(book, markdown, "ops.md") if f.rule.startswith("unc")]
    assert found == [finding]


@pytest.mark.parametrize(
    "markdown",
    [
        f"# Ops\n\n{FENCE}bash\nls\n{FENCE}\n",
        f"# Ops\n\n````\n{FENCE}\nnested\n{FENCE}\n````\n",
        f"# Ops\n\n1. Run:\n   {FENCE}\n   ls\n   {FENCE}\n2. Done\n",
        f"# Ops\n\n> {FENCE}\n> ls\n> {FENCE}\n",
        "# Ops\n\n~~~\nls\n~~~~\n",
        "# Ops\n\n<!-- a\nb -->\n\nText <!-- c --> and `<!--` in code.\n",
    ],
)
def test_closed_fences_and_comments_are_not_named(markdown: str) -> None:
    book = parse_runbook(markdown, name="ops")
    assert not [f for f in lint_runbook(book, markdown, "ops.md") if f.rule.startswith("unc")]
