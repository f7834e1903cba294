"""``check-config`` and ``test-routing``, driven through Typer's test runner.

They follow ``amtool check-config`` and ``amtool config routes test`` (docs
"Verification"; amtool's routing test prints the receivers comma-separated).
"""

from __future__ import annotations

import json
from pathlib import Path

import bcrypt
import pytest
import typer
from typer.testing import CliRunner

from tocsin import __version__
from tocsin.cli.config_cmds import register
from tocsin.cli.main import app as main_app
from tocsin.defaults import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG
SIMPLE = Path(__file__).parent / "data" / "alertmanager-simple.yml"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yml"
    path.write_text("route:\n  receiver: ghost\n  group_wait: soon\nreceivers:\n  - name: r\n")
    return path


def test_check_config_success(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["check-config", str(SIMPLE)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Checking '{SIMPLE}'  SUCCESS"
    assert " - 1 inhibit rules" in lines
    assert " - 5 receivers" in lines
    assert " - 1 templates" in lines
    assert result.stderr == ""


def test_check_config_reports_every_problem_on_stderr(
    app: typer.Typer, runner: CliRunner, bad_config: Path
) -> None:
    result = runner.invoke(app, ["check-config", str(EXAMPLE), str(bad_config)])
    assert result.exit_code == 1
    assert f"Checking '{EXAMPLE}'  SUCCESS" in result.stdout
    assert f"Checking '{bad_config}'  FAILED: 2 problem(s)" in result.stdout
    assert result.stderr.splitlines() == [
        f"{bad_config}:2: route.receiver: undefined receiver 'ghost' used in route",
        f"{bad_config}:3: route.group_wait: not a valid duration string: 'soon'",
    ]


def test_check_config_json(app: typer.Typer, runner: CliRunner, bad_config: Path) -> None:
    result = runner.invoke(app, ["check-config", "--json", str(SIMPLE), str(bad_config)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    good, bad = report["files"]
    assert good == {
        "file": str(SIMPLE),
        "ok": True,
        "summary": {
            "routes": 8,
            "inhibit_rules": 1,
            "receivers": 5,
            "templates": 1,
            "time_intervals": 0,
        },
        "warnings": [],
    }
    assert bad["ok"] is False
    assert bad["problems"][0] == {
        "file": str(bad_config),
        "line": 2,
        "key": "route.receiver",
        "message": "undefined receiver 'ghost' used in route",
    }


def test_check_config_needs_a_file(app: typer.Typer, runner: CliRunner) -> None:
    assert runner.invoke(app, ["check-config"]).exit_code == 2


def test_check_config_missing_file(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["check-config", str(tmp_path / "nope.yml")])
    assert result.exit_code == 1
    assert f"{tmp_path / 'nope.yml'}:1:" in result.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["service=database"], "team-DB-pager"),
        (["service=database", "owner=team-X"], "team-X-pager"),
        (['service="foo1"', "severity=critical"], "team-X-pager"),
        ([], "team-X-mails"),
    ],
)
def test_test_routing_prints_receivers(
    app: typer.Typer, runner: CliRunner, labels: list[str], receivers: str
) -> None:
    result = runner.invoke(app, ["test-routing", "--config", str(SIMPLE), *labels])
    assert result.exit_code == 0, result.output
    assert result.stdout == receivers + "\n"


def test_test_routing_reads_the_config_from_the_environment(
    app: typer.Typer, runner: CliRunner
) -> None:
    result = runner.invoke(
        app, ["test-routing", "category=infrastructure"], env={"TOCSIN_CONFIG": str(EXAMPLE)}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "infra-chat,ops-email\n"


def test_test_routing_tree(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["test-routing", "--config", str(EXAMPLE), "--tree", "severity=critical"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Routing tree:"
    assert any('{severity="critical"}' in line and "<- matched" in line for line in lines)
    assert lines[-1] == "pager"


def test_test_routing_json(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(
        app,
        ["test-routing", "--config", str(EXAMPLE), "--json", "severity=critical", "alertname=X"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["receivers"] == ["pager"]
    (route,) = report["routes"]
    assert route["group_key"] == '{}/{severity="critical"}:{alertname="X"}'
    assert route["group_wait"] == "10s"
    assert route["repeat_interval"] == "1h"
    assert route["id"] == '{}/{severity="critical"}/2'


def test_test_routing_verify_receivers(app: typer.Typer, runner: CliRunner) -> None:
    args = ["test-routing", "--config", str(EXAMPLE), "severity=critical"]
    assert runner.invoke(app, [*args, "--verify-receivers", "pager"]).exit_code == 0
    result = runner.invoke(app, [*args, "--verify-receivers", "slack"])
    assert result.exit_code == 1
    assert "Expected receivers did not match" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["test-routing", "severity=critical"],  # no --config and no TOCSIN_CONFIG
        ["test-routing", "--config", str(EXAMPLE), "severity=~crit"],  # not name=value
        ["test-routing", "--config", str(EXAMPLE), "not a label"],
    ],
)
def test_test_routing_usage_errors(app: typer.Typer, runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, args, env={"TOCSIN_CONFIG": ""})
    assert result.exit_code == 2, result.output


def test_test_routing_bad_config(app: typer.Typer, runner: CliRunner, bad_config: Path) -> None:
    result = runner.invoke(app, ["test-routing", "--config", str(bad_config), "a=b"])
    assert result.exit_code == 1
    assert f"{bad_config}:2: route.receiver:" in result.stderr


# --- the web config ---------------------------------------------------------------------


def test_hash_password_makes_a_hash_check_web_config_takes(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    made = runner.invoke(app, ["hash-password", "--cost", "4"], input="s3cret\ns3cret\n")
    assert made.exit_code == 0, made.output
    # the prompts go to standard error: standard output is the hash alone
    hashed = made.stdout.strip()
    assert "Password" in made.stderr
    assert bcrypt.checkpw(b"s3cret", hashed.encode())
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  alice: {hashed}\n")
    checked = runner.invoke(app, ["check-web-config", str(web)])
    assert checked.exit_code == 0, checked.output
    assert f"Checking '{web}'  SUCCESS" in checked.output
    assert " - TLS: off" in checked.output
    assert " - basic auth users: alice" in checked.output
    report = json.loads(runner.invoke(app, ["check-web-config", "--json", str(web)]).output)
    assert report["files"][0]["summary"]["basic_auth_users"] == ["alice"]


def test_hash_password_asks_twice(app: typer.Typer, runner: CliRunner) -> None:
    mismatched = runner.invoke(app, ["hash-password"], input="one\ntwo\none\none\n")
    assert "do not match" in mismatched.output


def test_check_web_config_reports_every_problem(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    web = tmp_path / "web.yml"
    web.write_text("basic_auth_users:\n  alice: plain\nrate_limit: {interval: 1s}\n")
    checked = runner.invoke(app, ["check-web-config", str(web)])
    assert checked.exit_code == 1
    assert "FAILED: 2 problem(s)" in checked.output
    assert f"{web}:2: basic_auth_users.alice: not a bcrypt hash" in checked.output
    assert f"{web}:3: rate_limit.burst: burst must be at least 1" in checked.output


def test_version_plain_and_json() -> None:
    runner = CliRunner()
    assert runner.invoke(main_app, ["version"]).stdout.strip() == f"tocsin {__version__}"
    shown = runner.invoke(main_app, ["version", "--json"])
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["version"] == __version__


LOOP = """
global: {smtp_smarthost: '127.0.0.1:25', smtp_from: t@x.org}
route:
  receiver: pager
  routes: %s
receivers:
  - name: pager
    escalation_policy: critical
  - name: chat
    webhook_configs: [{url: 'http://127.0.0.1:9/chat'}]
people: [{name: ann, email: a@x.org}]
escalation_policies:
  - name: critical
    steps: [{delay: 0s, targets: [{person: ann}]}]
%s
"""
SELF_ROUTE = "[{matchers: ['alertname=\"TocsinNotificationsFailing\"'], receiver: chat}]"
BOTH_ROUTE = (
    "[{matchers: ['alertname=~\"TocsinNotificationsFailing|TocsinNobodyPaged\"'], receiver: chat}]"
)
NOBODY = "TocsinNobodyPaged"


@pytest.mark.parametrize(
    ("routes", "tocsin", "warned"),
    [
        # the alert that pages fail would be paged: said, for the policy's receiver
        # and for people's pages; and the one that a page reached nobody, once
        ("[]", "", ["receiver 'pager'", "pages to people", NOBODY]),
        # a route sends the first to chat first: no loop for it
        (SELF_ROUTE, "", [NOBODY]),
        (BOTH_ROUTE, "", []),
        # a fallback for the policy's receiver: only people's pages are left
        ("[]", "tocsin: {fallbacks: {pager: chat}}", ["pages to people", NOBODY]),
    ],
)
def test_check_config_warns_of_a_self_alert_paged_through_what_fails(
    app: typer.Typer,
    runner: CliRunner,
    tmp_path: Path,
    routes: str,
    tocsin: str,
    warned: list[str],
) -> None:
    path = tmp_path / "am.yml"
    path.write_text(LOOP % (routes, tocsin))
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 0, result.output  # a warning, not a failure
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert len(warnings) == len(warned), warnings
    for line, what in zip(warnings, warned, strict=True):
        if what == NOBODY:
            assert f"{NOBODY} (an escalation that reached nobody" in line
            assert f'route alertname="{NOBODY}"' in line
            continue
        assert f"TocsinNotificationsFailing about failing {what}" in line
        assert 'route alertname="TocsinNotificationsFailing"' in line
    report = json.loads(runner.invoke(app, ["check-config", "--json", str(path)]).stdout)
    assert len(report["files"][0]["warnings"]) == len(warned)


INCIDENTS = """
route:
  receiver: default
  routes: %s
receivers:
  - name: default
  - name: pager
    webhook_configs: [{url: 'http://127.0.0.1:9/pager'}]
tocsin:
  incidents:
    severities:
      - {name: SEV-1, alert: true}
      - {name: SEV-2, alert: true}
      - {name: SEV-3}
"""


@pytest.mark.parametrize(
    ("routes", "warned"),
    [
        # IncidentOpen reaches only the default receiver, which has no integration
        ("[]", ["SEV-1", "SEV-2"]),
        # routed to a pager for the most severe only (severity="critical", rank 0)
        (
            "[{matchers: ['alertname=IncidentOpen', 'severity=critical'], receiver: pager}]",
            ["SEV-2"],
        ),
        ("[{matchers: ['alertname=\"IncidentOpen\"'], receiver: pager}]", []),
    ],
)
def test_check_config_warns_of_incident_alerts_that_page_nobody(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, routes: str, warned: list[str]
) -> None:
    """``alert: true`` promises a page for an open incident of that severity: a route
    that sends its IncidentOpen alert to nobody is said, a warning per severity."""
    path = tmp_path / "am.yml"
    path.write_text(INCIDENTS % routes)
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert [w.split("severities: ")[1].split(" ")[0] for w in warnings] == warned
    for line in warnings:
        assert "which the routes send only to default, notifying nobody" in line


PAGED_INCIDENTS = """
global: {smtp_smarthost: '127.0.0.1:9', smtp_from: tocsin@example.org}
route:
  receiver: default
  group_by: %s
  routes: %s
receivers:
  - name: default
  - name: pager
    escalation_policy: ladder
people: [{name: alice, email: alice@example.org}]
escalation_policies: [{name: ladder, steps: [{targets: [{person: alice}]}]}]
tocsin:
  incidents:
    severities:
      - {name: SEV-1, alert: true}
      - {name: SEV-2}
"""


@pytest.mark.parametrize(
    ("group_by", "routes", "warned"),
    [
        # the pager groups by alertname and service: every incident's page is one group
        ("[alertname, service]", "[{matchers: [alertname=IncidentOpen], receiver: pager}]", True),
        # ... unless the route for IncidentOpen groups by incident, or by every label
        (
            "[alertname]",
            "[{matchers: [alertname=IncidentOpen], receiver: pager, group_by: [incident]}]",
            False,
        ),
        ("['...']", "[{matchers: [alertname=IncidentOpen], receiver: pager}]", False),
        # a receiver without an escalation policy opens no on-call group to share
        ("[alertname]", "[]", False),
    ],
)
def test_check_config_warns_of_incident_pages_that_share_one_group(
    app: typer.Typer,
    runner: CliRunner,
    tmp_path: Path,
    group_by: str,
    routes: str,
    warned: bool,
) -> None:
    """An IncidentOpen alert grouped without its incident label joins the previous
    incident's alert group: the second incident re-opens the first's, which still
    shows the first. Said, with the fix."""
    path = tmp_path / "am.yml"
    path.write_text(PAGED_INCIDENTS % (group_by, routes))
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    shared = [line for line in result.stderr.splitlines() if "grouped without" in line]
    assert len(shared) == warned
    for line in shared:
        assert "SEV-1's IncidentOpen alerts are grouped without their incident label" in line
        assert "for pager" in line
        assert "add incident to that route's group_by" in line


RUNBOOKS = Path(__file__).resolve().parents[3] / "shared" / "runbooks"


def test_check_config_warns_of_runbook_links_to_nothing(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    """A link to a section or a runbook no runbook file has is said, with the link's
    line (as ``runbook lint`` says it); a good link is not."""
    path = tmp_path / "am.yml"
    path.write_text(
        "route: {receiver: default}\nreceivers: [{name: default}]\ntocsin:\n  runbooks:\n"
        f"    paths: [{RUNBOOKS}]\n    links:\n"
        "      ServiceDown: threads-agent-alertmanager#nosuchsection\n"
        "      High5xxRate: nosuchbook#x\n"
        "      HighErrorRate: threads-agent-alertmanager\n"
    )
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    warnings = sorted(line for line in result.stderr.splitlines() if ": warning: " in line)
    assert warnings == [
        f"{path}:7: warning: tocsin.runbooks.links: links alert 'ServiceDown' to "
        "'threads-agent-alertmanager#nosuchsection': 'threads-agent-alertmanager' has no "
        "section #nosuchsection",
        f"{path}:8: warning: tocsin.runbooks.links: links alert 'High5xxRate' to "
        "'nosuchbook#x': no runbook of that name",
    ]


def test_hash_password_from_the_environment_asks_nothing(
    app: typer.Typer, runner: CliRunner
) -> None:
    made = runner.invoke(app, ["hash-password", "--cost", "4"], env={"TOCSIN_PASSWORD": "pw"})
    assert made.exit_code == 0, made.output
    assert made.stderr == ""
    assert bcrypt.checkpw(b"pw", made.stdout.strip().encode())


# -- templates compiled as the server compiles them: a problem each, FILE:LINE ---------

TEMPLATED = """\
templates: [custom.tmpl]
route: {receiver: chat}
receivers:
  - name: chat
    slack_configs:
      - api_url: http://127.0.0.1:9/slack
        text: %s
"""


@pytest.mark.parametrize(
    ("template_file", "text", "expected"),
    [
        # a template file using a function Tocsin lacks: the file's line
        (
            '{{ define "t" }}\n{{ .CommonLabels.x | split "," }}{{ end }}\n',
            "'{{ template \"t\" . }}'",
            ["custom.tmpl:2: template 't': function \"split\" not defined"],
        ),
        # a receiver's own template that does not compile: the config's line and key
        (
            '{{ define "t" }}fine{{ end }}\n',
            "'{{ .Foo | nosuchfunc }}'",
            [
                "am.yml:7: receivers[0].slack_configs[0].text: bad template: function "
                '"nosuchfunc" not defined'
            ],
        ),
        # both at once: every problem in one round
        (
            '{{ define "t" }}{{ if .X }}{{ end }}\n',
            "'{% if %}'",
            [
                "custom.tmpl:1: template 't': unexpected EOF: {{define}} without {{end}}",
                "am.yml:7: receivers[0].slack_configs[0].text: bad template: Expected an "
                "expression, got 'end of statement block'",
            ],
        ),
    ],
)
def test_check_config_compiles_templates_as_the_server_does(
    app: typer.Typer,
    runner: CliRunner,
    tmp_path: Path,
    template_file: str,
    text: str,
    expected: list[str],
) -> None:
    (tmp_path / "custom.tmpl").write_text(template_file)
    path = tmp_path / "am.yml"
    path.write_text(TEMPLATED % text)
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith(f"Checking '{path}'  FAILED: {len(expected)} problem(s)")
    assert result.stderr.splitlines() == sorted(f"{tmp_path}/{e}" for e in expected)


UNSUPPORTED = {
    "opsgenie": "{api_key: k}",
    "victorops": "{api_key: k, routing_key: r}",
    "pushover": "{user_key: u, token: t}",
    "telegram": "{bot_token: t, chat_id: 1}",
    "wechat": "{api_secret: s, corp_id: c}",
    "sns": "{topic_arn: 'arn:aws:sns:us-east-1:1:t', sigv4: {region: us-east-1}}",
    "discord": "{webhook_url: 'https://discord.example/api/webhooks/1/x'}",
    "webex": "{room_id: r, http_config: {authorization: {credentials: c}}}",
    "jira": "{project: P, issue_type: Bug, api_url: 'https://jira.example/'}",
    "rocketchat": "{channel: c, token: t, token_id: i}",
}


@pytest.mark.parametrize(("kind", "settings"), sorted(UNSUPPORTED.items()))
def test_check_config_warns_of_integrations_tocsin_cannot_send(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, kind: str, settings: str
) -> None:
    path = tmp_path / "am.yml"
    path.write_text(
        "route: {receiver: chat}\nreceivers:\n  - name: chat\n"
        "    webhook_configs: [{url: 'http://127.0.0.1:9/chat'}]\n"
        f"  - name: ops\n    {kind}_configs: [{settings}, {settings}]\n"
    )
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 0, result.output  # a warning, not a failure
    assert result.stderr.splitlines() == [
        f"{path}:6: warning: receivers[1].{kind}_configs: receiver 'ops': not supported by "
        f"Tocsin: notifications to this receiver's {kind} integration fail"
    ]
    report = json.loads(runner.invoke(app, ["check-config", "--json", str(path)]).stdout)
    (warning,) = report["files"][0]["warnings"]
    assert warning.startswith(f"{path}:6: receivers[1].{kind}_configs: receiver 'ops'")


def test_check_config_does_not_warn_of_what_tocsin_sends(
    app: typer.Typer, runner: CliRunner
) -> None:
    result = runner.invoke(app, ["check-config", str(SIMPLE), str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "not supported" not in result.stderr


# (the template file, the receiver's Slack title, the warnings: line and key)
UNDEFINED_ROWS: list[tuple[str, str, list[tuple[int, str]]]] = [
    # defined: nothing to say
    ('{{ define "my.title" }}hi{{ end }}', '{{ template "my.title" . }}', []),
    # a receiver's setting using a template nothing defines
    ('{{ define "my.title" }}hi{{ end }}', '{{ template "my.titel" . }}', [(0, "title")]),
    # a file's template using one nothing defines, in a branch or not (Go finds out
    # only when it runs)
    (
        '{{ define "my.title" }}{{ if .Alerts }}{{ template "nope" . }}{{ end }}{{ end }}',
        '{{ template "my.title" . }}',
        [(1, "template 'my.title'")],
    ),
    # Tocsin's own defaults are defined
    ("", '{{ template "slack.default.title" . }}', []),
]


@pytest.mark.parametrize(("file", "title", "warned"), UNDEFINED_ROWS)
def test_check_config_warns_of_templates_used_and_never_defined(
    app: typer.Typer,
    runner: CliRunner,
    tmp_path: Path,
    file: str,
    title: str,
    warned: list[tuple[int, str]],
) -> None:
    (tmp_path / "my.tmpl").write_text(file + "\n")
    path = tmp_path / "am.yml"
    path.write_text(
        "templates: ['my.tmpl']\nroute: {receiver: chat}\nreceivers:\n  - name: chat\n"
        "    slack_configs:\n      - api_url: 'http://127.0.0.1:9/hook'\n"
        f"        title: '{title}'\n"
    )
    checked = runner.invoke(app, ["check-config", str(path)])
    lines = [x for x in checked.stderr.splitlines() if "no template file defines" in x]
    expected = []
    for line, key in warned:
        if key == "title":
            where = f"{path}:7: warning: receivers[0].slack_configs[0].title"
        else:
            where = f"{tmp_path / 'my.tmpl'}:{line}: warning: {key}"
        expected.append(where)
    assert [x.split(": uses template")[0] for x in lines] == expected
    assert checked.exit_code == 0, checked.output  # a warning, not a failure
