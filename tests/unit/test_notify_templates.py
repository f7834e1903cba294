"""Message templates: defaults, override files (Jinja2 and Go), config values, safety."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tocsin.alerts.model import Alert
from tocsin.config.receivers import PAGERDUTY_DEFAULT_DETAILS, EmailConfig, SlackConfig
from tocsin.notify.message import Notification, with_runbook_annotations
from tocsin.notify.template_data import TemplateData, template_data
from tocsin.notify.templates import (
    DEFAULT_TEMPLATES,
    TemplateLoadError,
    TemplateRenderError,
    Templates,
    parse_jinja_defines,
)

NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def alert(labels: dict[str, str], fp: str, *, resolved: bool = False, **ann: str) -> Alert:
    return Alert(
        fingerprint=fp,
        labels=labels,
        annotations=ann,
        starts_at=NOW - timedelta(minutes=10),
        ends_at=NOW - timedelta(minutes=1) if resolved else NOW + timedelta(minutes=5),
        generator_url=f"http://prom:9090/graph?fp={fp}",
        updated_at=NOW,
        timeout=not resolved,
    )


def data(extra: Mapping[str, Mapping[str, Any]] | None = None) -> TemplateData:
    alerts = (
        alert(
            {"alertname": "DiskFull", "instance": "db1", "severity": "page"},
            "f1",
            summary="Disk 99%",
        ),
        alert(
            {"alertname": "DiskFull", "instance": "db2", "severity": "page"},
            "f2",
            summary="Disk 97%",
        ),
        alert(
            {"alertname": "DiskFull", "instance": "db3", "severity": "page"}, "f3", resolved=True
        ),
    )
    return template_data(
        Notification(
            receiver="dba",
            group_key='{}:{alertname="DiskFull"}',
            group_labels={"alertname": "DiskFull"},
            alerts=alerts,
            now=NOW,
            external_url="https://tocsin.example",
            extra=extra or {},
        )
    )


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("title", "[FIRING:2] DiskFull (page)"),
        ("username", "Tocsin"),
        ("title_link", "https://tocsin.example/ui/alerts"),
        ("fallback", "Disk 99% · [FIRING:2] DiskFull (page) | https://tocsin.example/ui/alerts"),
        ("color", "danger"),
        ("pretext", ""),
    ],
)
def test_default_slack_fields(field: str, expected: str) -> None:
    value = getattr(SlackConfig(), field)
    assert DEFAULT_TEMPLATES.render(value, data(), field=field) == expected


def test_subject_when_all_resolved_and_group_labels_cover_common_labels() -> None:
    d = template_data(
        Notification(
            "r", "k", {"alertname": "A"}, (alert({"alertname": "A"}, "x", resolved=True),), NOW
        )
    )
    assert DEFAULT_TEMPLATES.render_named("__subject", d) == "[RESOLVED] A "


def test_default_pagerduty_details() -> None:
    d = data()
    rendered = {k: DEFAULT_TEMPLATES.render(v, d) for k, v in PAGERDUTY_DEFAULT_DETAILS.items()}
    assert rendered["num_firing"] == "2"
    assert rendered["num_resolved"] == "1"
    # what it says first, since when, its labels; the summary is not repeated
    assert rendered["firing"].startswith(
        "Summary: Disk 99%\nStarted: 2024-03-01T08:50:00.000Z\n"
        "Labels:\n - alertname = DiskFull\n - instance = db1\n"
    )
    assert " - severity = page\nSource: http://prom:9090/graph?fp=f1\n" in rendered["firing"]
    assert "Annotations:" not in rendered["firing"]
    assert "db3" in rendered["resolved"]
    assert "db1" not in rendered["resolved"]


def test_an_alert_without_a_source_gets_no_empty_source_line() -> None:
    """An alert Tocsin raised itself or one posted without a generatorURL: the text
    lists no "Source:" with nothing after it."""
    bare = msgspec.structs.replace(alert({"alertname": "A"}, "x"), generator_url="")
    d = template_data(Notification("r", "k", {"alertname": "A"}, (bare,), NOW))
    text = DEFAULT_TEMPLATES.render_named("__text_alert_list", d, dot=d.Alerts)
    assert text.startswith("Started: 2024-03-01T08:50:00.000Z\nLabels:\n - alertname = A\n")
    assert "Source" not in text


def test_runbook_extra_is_rendered_when_present() -> None:
    extra = {
        "f1": {
            "runbook_url": "https://rb/disk",
            "runbook_steps": ["df -h", {"text": "rotate logs"}],
            "severity": "SEV2",
        }
    }
    d = data(extra)
    text = DEFAULT_TEMPLATES.render_named("email.default.text", d)
    assert "Severity: SEV2\nRunbook: https://rb/disk\nSteps:\n 1. df -h\n 2. rotate logs\n" in text
    assert text.count("Runbook:") == 1  # only the alert that has one
    slack = DEFAULT_TEMPLATES.render_named("slack.default.alert", d, dot=d.Alerts[0])
    assert "<https://rb/disk|Runbook>" in slack
    assert "2. rotate logs" in slack
    teams = DEFAULT_TEMPLATES.render_named("msteams.default.text", d)
    assert "[Runbook](https://rb/disk)" in teams
    html = DEFAULT_TEMPLATES.render(EmailConfig().html, d, html=True)
    assert '<a href="https://rb/disk"' in html
    assert "<li>rotate logs</li>" in html
    assert "Runbook" not in DEFAULT_TEMPLATES.render_named("email.default.text", data())


def test_a_page_says_its_runbook_once() -> None:
    """The runbook a page carries in annotations too (for plain webhooks) is shown once,
    as its runbook lines, not again among the annotations; other annotations stay."""
    runbook = {"runbook_url": "https://rb/disk", "runbook_steps": ["df -h", "rotate logs"]}
    paged = with_runbook_annotations(
        alert({"alertname": "DiskFull"}, "f1", summary="Disk 99%", dashboard="https://g/d"),
        runbook,
    )
    assert paged.annotations["runbook_steps"] == "1. df -h\n2. rotate logs"
    d = template_data(Notification("r", "k", {}, (paged,), NOW, extra={"f1": runbook}))
    for rendered in (
        DEFAULT_TEMPLATES.render_named("email.default.text", d),
        DEFAULT_TEMPLATES.render(EmailConfig().html, d, html=True),
    ):
        assert "runbook_steps" not in rendered
        assert "runbook_url" not in rendered
        assert rendered.count("rotate logs") == 1
        assert "dashboard = https://g/d" in rendered
    text = DEFAULT_TEMPLATES.render_named("email.default.text", d)
    assert "Annotations:\n - dashboard = https://g/d\n" in text


def test_an_alert_s_own_runbook_url_is_kept_beside_the_linked_runbook() -> None:
    """An alert whose runbook_url is a wiki page keeps it (with_runbook_annotations
    leaves a web address as it is): the page shows it among its annotations."""
    runbook = {"runbook_url": "https://tocsin/runbooks/db#disk", "runbook_steps": ["df -h"]}
    own = alert({"alertname": "DiskFull"}, "f1", runbook_url="https://wiki/disk")
    paged = with_runbook_annotations(own, runbook)
    d = template_data(Notification("r", "k", {}, (paged,), NOW, extra={"f1": runbook}))
    text = DEFAULT_TEMPLATES.render_named("email.default.text", d)
    assert " - runbook_url = https://wiki/disk\n" in text
    assert "Runbook: https://tocsin/runbooks/db#disk\n" in text
    assert "runbook_steps" not in text


def test_a_storm_s_page_says_its_steps_and_links_once() -> None:
    """Three alerts of one runbook in one page: its steps and the group's acknowledge
    and resolve links are shown once (with the first), each alert keeps its runbook's
    address; an alert of another runbook gets that one's steps."""
    disk = {"runbook_url": "https://rb/disk", "runbook_steps": ["df -h"]}
    links = {"ack_url": "https://t/act/ack/g", "resolve_url": "https://t/act/resolve/g"}
    alerts = [alert({"alertname": "DiskFull", "instance": f"db{n}"}, f"f{n}") for n in range(3)]
    alerts.append(alert({"alertname": "Load"}, "f9"))
    extra = {f"f{n}": {**disk, **links} for n in range(3)}
    extra["f9"] = {"runbook_url": "https://rb/load", "runbook_steps": ["uptime"], **links}
    d = template_data(Notification("r", "k", {}, tuple(alerts), NOW, extra=extra))
    for text in (
        DEFAULT_TEMPLATES.render_named("email.default.text", d),
        DEFAULT_TEMPLATES.render(EmailConfig().html, d, html=True),
    ):
        assert text.count("df -h") == 1
        assert text.count("uptime") == 1  # another runbook: its own steps
        assert text.count("https://t/act/ack/g") == 1
        assert text.count("https://rb/disk") == 3
    plain = DEFAULT_TEMPLATES.render_named("email.default.text", d)
    assert plain.index("Acknowledge:") < plain.index("db1")  # with the first alert


def test_email_html_is_autoescaped_and_text_is_not() -> None:
    d = template_data(
        Notification("r", "k", {}, (alert({"alertname": "<X&Y>"}, "a", summary="<b>"),), NOW)
    )
    html = DEFAULT_TEMPLATES.render(EmailConfig().html, d, html=True)
    assert "&lt;X&amp;Y&gt;" in html
    assert "<X&Y>" not in html
    assert "<b>" not in html.replace("<br>", "")
    text = DEFAULT_TEMPLATES.render_named("email.default.text", d)
    assert "alertname = <X&Y>" in text


def test_slack_alert_escapes_mrkdwn() -> None:
    d = template_data(Notification("r", "k", {}, (alert({"alertname": "a<b>&c"}, "a"),), NOW))
    text = DEFAULT_TEMPLATES.render_named("slack.default.alert", d, dot=d.Alerts[0])
    assert "*a&lt;b&gt;&amp;c*" in text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # Alertmanager (Go) syntax, as found in existing configurations.
        ("[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}", "[FIRING] DiskFull"),
        ("{{ range .Alerts.Firing }}{{ .Labels.instance }} {{ end }}", "db1 db2 "),
        ('{{ if eq .Status "firing" }}red{{ else }}green{{ end }}', "red"),
        ("{{ len .Alerts }}/{{ .Alerts.Resolved | len }}", "3/1"),
        ('{{ .GroupLabels.SortedPairs.Values | join "," }}', "DiskFull"),
        ("{{ .CommonLabels.missing }}|", "|"),
        ('{{ template "__alertmanager" . }}', "Tocsin"),
        # Jinja2 syntax.
        ("{{ status }} {{ alerts | length }} {{ commonLabels.severity }}", "firing 3 page"),
        ("{% for a in alerts.firing %}{{ a.labels.instance }};{% endfor %}", "db1;db2;"),
        ("{{ alerts[0].startsAt | rfc3339 }}", "2024-03-01T08:50:00.000Z"),
        ("no template here", "no template here"),
    ],
)
def test_config_values_in_either_syntax(source: str, expected: str) -> None:
    assert DEFAULT_TEMPLATES.render(source, data()) == expected


def test_override_files_in_both_syntaxes(tmp_path: Path) -> None:
    (tmp_path / "a.tmpl").write_text(
        '{{ define "slack.default.title" }}GO {{ .Status }} {{ len .Alerts }}{{ end }}\n'
        '{{ define "team.footer" }}{{ .ExternalURL }}{{ end }}\n'
    )
    (tmp_path / "b.jinja").write_text(
        '{% define "email.default.subject" %}'
        "J {{ status }}:{{ groupLabels.alertname }}"
        "{% enddefine %}"
    )
    templates = Templates.load(["*.tmpl", "*.jinja"], base_dir=tmp_path)
    d = data()
    assert templates.render(SlackConfig().title, d) == "GO firing 3"
    assert templates.render('{{ template "team.footer" . }}', d) == "https://tocsin.example"
    assert (
        templates.render(
            EmailConfig().headers.get("Subject", '{{ template "email.default.subject" . }}'), d
        )
        == "J firing:DiskFull"
    )
    # Defaults not overridden are still there, and using the override.
    assert (
        templates.render(SlackConfig().fallback, d)
        == "Disk 99% · GO firing 3 | https://tocsin.example/ui/alerts"
    )
    assert DEFAULT_TEMPLATES.render(SlackConfig().title, d) == "[FIRING:2] DiskFull (page)"


def test_later_files_win(tmp_path: Path) -> None:
    (tmp_path / "1.j2").write_text('{% define "x" %}one{% enddefine %}')
    (tmp_path / "2.j2").write_text('{% define "x" %}two{% enddefine %}')
    assert Templates.load(["*.j2"], tmp_path).render_named("x", data()) == "two"


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("bad.tmpl", '{{ define "x" }}{{ if .Status }}open', "without {{end}}"),
        ("bad2.tmpl", '{{ define "x" }}{{ nosuchfunc . }}{{ end }}', 'function "nosuchfunc"'),
        ("bad.j2", '{% define "x" %}{% if %}{% enddefine %}', "template 'x'"),
    ],
)
def test_bad_template_files_are_reported_at_load(
    tmp_path: Path, name: str, content: str, fragment: str
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(TemplateLoadError) as info:
        Templates.load([name], tmp_path)
    assert fragment in str(info.value)


# (file, content, (line, key, message) of each problem): where check-config and the
# server say a template file is wrong
FILE_PROBLEMS = [
    # Go: a function Tocsin lacks, on the line of its action
    (
        "fn.tmpl",
        '{{ define "ok" }}fine{{ end }}\n\n{{ define "t" }}\n{{ range .Alerts }}\n'
        '  {{ .Labels.x | split "," }}\n{{ end }}{{ end }}\n',
        [(5, "template 't'", 'function "split" not defined')],
    ),
    # Go: an unclosed block, at the line that opens it
    (
        "open.tmpl",
        '{{ define "t" }}\nx\n{{ if .Status }}\nopen\n',
        [(3, "template 't'", "unexpected EOF: {{if}} without {{end}}")],
    ),
    # Go: a stray end outside any define: the file's own text
    ("stray.tmpl", "text\n{{ end }}\n", [(2, "(template file)", "unexpected {{end}}")]),
    # Jinja2: each broken define at its own line, counted from the file's start
    (
        "two.j2",
        '{% define "a" %}\nline\n{{ x | nosuchfilter }}\n{% enddefine %}\n'
        '{% define "b" -%}\n\n  {% if %}{%- enddefine %}',
        [
            (3, "template 'a'", "No filter named 'nosuchfilter'."),
            (7, "template 'b'", "Expected an expression, got 'end of statement block'"),
        ],
    ),
]


@pytest.mark.parametrize(("name", "content", "expected"), FILE_PROBLEMS)
def test_template_file_problems_name_file_line_and_template(
    tmp_path: Path, name: str, content: str, expected: list[tuple[int, str, str]]
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(TemplateLoadError) as info:
        Templates.load([name], tmp_path)
    found = [(p.file, p.line, p.key, p.message) for p in info.value.problems]
    assert found == [(str(tmp_path / name), *problem) for problem in expected]


def test_every_broken_template_file_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.tmpl").write_text('{{ define "a" }}{{ nosuch }}{{ end }}')
    (tmp_path / "b.tmpl").write_text('{{ define "b" }}{{ if .X }}{{ end }}')
    (tmp_path / "c.tmpl").write_text('{{ define "c" }}fine{{ end }}')
    with pytest.raises(TemplateLoadError) as info:
        Templates.load(["*.tmpl"], tmp_path)
    assert [Path(p.file).name for p in info.value.problems] == ["a.tmpl", "b.tmpl"]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("plain text", None),
        ("{{ .Status }} {{ .CommonLabels.alertname | toUpper }}", None),
        ("{{ status }} {{ alerts | length }}", None),
        # Go that uses a function Tocsin lacks: said in Go's words
        ("{{ .Foo | nosuchfunc }}", 'function "nosuchfunc" not defined'),
        ("{{ if .Status }}open", "unexpected EOF: {{if}} without {{end}}"),
        # Jinja2: in Jinja2's
        ("{{ status | nosuchfilter }}", "No filter named 'nosuchfilter'."),
        ("{{ alerts[0].labels | nope }}", "No filter named 'nope'."),
        ("{% if %}", "Expected an expression, got 'end of statement block'"),
    ],
)
def test_a_config_value_is_compiled_without_rendering(source: str, problem: str | None) -> None:
    assert DEFAULT_TEMPLATES.compile_problem(source) == problem


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ alerts.append(1) }}",
        '{{ template "no.such.template" . }}',
        "{{ .Status.Foo }}",
    ],
)
def test_render_errors_are_contained(source: str) -> None:
    with pytest.raises(TemplateRenderError) as info:
        DEFAULT_TEMPLATES.render(source, data(), field="title")
    assert str(info.value).startswith("title: ")


def test_the_sandbox_hides_internals() -> None:
    assert DEFAULT_TEMPLATES.render("[{{ alerts.__class__ }}{{ status._x }}]", data()) == "[]"


def test_parse_jinja_defines_trims_only_when_asked() -> None:
    found = parse_jinja_defines(
        '{% define "a" -%}\n  x\n{%- enddefine %} {% define "b" %}\n y \n{% enddefine %}'
    )
    assert found == {"a": "x", "b": "\n y \n"}


def test_every_default_name_alertmanager_configs_refer_to_exists() -> None:
    names = set(DEFAULT_TEMPLATES.names())
    for config in (SlackConfig(),):
        for field in ("title", "username", "fallback", "pretext", "title_link", "text", "footer"):
            value = getattr(config, field)
            assert value.split('"')[1] in names
    assert {"email.default.subject", "email.default.html", "pagerduty.default.instances"} <= names
    assert {"msteams.default.title", "msteams.default.summary", "msteams.default.text"} <= names
    assert {"msteamsv2.default.title", "msteamsv2.default.text"} <= names
