"""Alertmanager (Go) templates translated to Jinja2: one row per construct."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tocsin.alerts.model import Alert
from tocsin.notify.gotemplate import GoTemplateError, looks_like_go, translate, translate_file
from tocsin.notify.message import Notification
from tocsin.notify.template_data import TemplateData, template_data
from tocsin.notify.templates import DEFAULT_TEMPLATES, Templates

NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def data() -> TemplateData:
    def alert(instance: str, resolved: bool = False) -> Alert:
        return Alert(
            fingerprint=instance,
            labels={"alertname": "Up", "instance": instance, "job": "node"},
            annotations={"summary": f"{instance} down"},
            starts_at=NOW - timedelta(minutes=3),
            ends_at=NOW - timedelta(minutes=1) if resolved else NOW + timedelta(minutes=5),
            generator_url="",
            updated_at=NOW,
            timeout=False,
        )

    return template_data(
        Notification(
            "ops", "k", {"job": "node"}, (alert("a"), alert("b"), alert("c", True)), NOW, "http://x"
        )
    )


@pytest.mark.parametrize(
    ("go", "expected"),
    [
        ("plain {% text %} {# not a comment #}", "plain {% text %} {# not a comment #}"),
        ("{{ .Receiver }}", "ops"),
        ("{{/* a comment */}}x", "x"),
        ("a  {{- .Status -}}  b", "afiringb"),
        ("a {{- /* c */ -}} b", "ab"),
        ("{{ .Alerts.Firing | len }}", "2"),
        ('{{ index .CommonLabels "job" }}', "node"),
        ("{{ (index .Alerts 0).Labels.instance }}", "a"),
        (
            "{{ range $i, $a := .Alerts }}{{ $i }}={{ $a.Labels.instance }} {{ end }}",
            "0=a 1=b 2=c ",
        ),
        ("{{ range $a := .Alerts.Resolved }}{{ $a.Fingerprint }}{{ end }}", "c"),
        (
            '{{ range .Alerts }}{{ if eq .Status "resolved" }}{{ break }}{{ end }}'
            "{{ .Fingerprint }}{{ end }}",
            "ab",
        ),
        (
            '{{ range .Alerts }}{{ if eq .Fingerprint "a" }}{{ continue }}{{ end }}'
            "{{ .Fingerprint }}{{ end }}",
            "bc",
        ),
        ("{{ range .GroupLabels }}[{{ . }}]{{ else }}none{{ end }}", "[node]"),
        ("{{ range .Alerts.Firing.Resolved }}x{{ else }}none{{ end }}", "none"),
        ("{{ with .CommonLabels.job }}job={{ . }}{{ end }}", "job=node"),
        ("{{ with .CommonLabels.nope }}x{{ else }}no {{ .Status }}{{ end }}", "no firing"),
        ('{{ if ne .Status "firing" }}1{{ else if gt (len .Alerts) 2 }}2{{ else }}3{{ end }}', "2"),
        ("{{ if and .Alerts (not .TruncatedAlerts) }}y{{ end }}", "y"),
        ('{{ or "" "fallback" }}', "fallback"),
        ("{{ $n := len .Alerts }}{{ $n }} {{ $.Status }}", "3 firing"),
        ('{{ printf "%s has %d (%q)" .Receiver 3 "x" }}', 'ops has 3 ("x")'),
        ('{{ "a,b" | reReplaceAll "," "-" }}', "a-b"),
        ('{{ reReplaceAll "(.*)-(.*)" "$2+$1" "x-y" }}', "y+x"),
        ('{{ title "hello world" }} {{ toLower "AB" }} {{ trimSpace "  z " }}', "Hello World ab z"),
        ('{{ match "^fir" .Status }}', "true"),
        # a KV prints as Alertmanager's KV.String does
        ("{{ .CommonLabels.Remove .GroupLabels.Names }}", "alertname=Up"),
        ('{{ stringSlice "a" "b" | join "+" }}', "a+b"),
        ("{{ `raw {{ text` }}", "raw {{ text"),
        ('{{ "tab\\there" }}', "tab\there"),
        ("{{ 0x10 }} {{ 1_000 }} {{ true }} {{ print nil }}", "16 1000 true <nil>"),
        ('{{ urlquery "a b&c" }}', "a+b%26c"),
        ("{{ (index .Alerts 0).StartsAt }}", "2024-03-01 08:57:00 +0000 UTC"),
    ],
)
def test_translation_renders_like_go(go: str, expected: str) -> None:
    assert Templates({}).render(translate(go), data()) == expected


@pytest.mark.parametrize(
    ("go", "fragment"),
    [
        ("{{ if .Status }}x", "without {{end}}"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ else }}", "unexpected {{else}}"),
        ("{{ break }}", "outside {{range}}"),
        ("{{ nosuch .Status }}", 'function "nosuch" not defined'),
        ('{{ define "x" }}y{{ end }}', "only allowed at the top"),
        ("{{ .Status ! }}", "unexpected '!'"),
        ("{{ }}", "empty action"),
        ('{{ "unterminated }}', "unexpected"),
        ("{{ (.Status }}", "unclosed"),
        ("{{ nil }}", "nil is not a command"),
    ],
)
def test_untranslatable_templates_fail_loudly(go: str, fragment: str) -> None:
    with pytest.raises(GoTemplateError) as info:
        translate(go)
    assert fragment in str(info.value)


def test_define_and_block_in_files() -> None:
    named = translate_file(
        'ignored text {{ define "a" }}A{{ .Status }}{{ end }}\n'
        '{{ define "b" }}{{ block "c" . }}C{{ end }}B{{ end }}'
    )
    assert set(named) == {"a", "b", "c"}
    templates = Templates(named)
    assert templates.render_named("a", data()) == "Afiring"
    assert templates.render_named("b", data()) == "CB"


def test_template_call_passes_its_argument_as_dot_and_dollar() -> None:
    named = translate_file('{{ define "n" }}{{ len . }}:{{ len $ }}{{ end }}')
    named["outer"] = translate('{{ template "n" .Alerts.Firing }}')
    assert Templates(named).render_named("outer", data()) == "2:2"


@pytest.mark.parametrize(
    ("source", "is_go"),
    [
        ("{{ .Status }}", True),
        ("{{- .Status }}", True),
        ('{{ template "x" . }}', True),
        ('{{ if eq .Status "firing" }}a{{ end }}', True),
        ("{{ toUpper .Status }}", True),
        ("{{ $x := 1 }}", True),
        ("{{ status }}", False),
        ("{{ status | upper }}", False),
        ("{% if x %}{{ .Status }}{% endif %}", False),
        ("no braces", False),
        ('{{ "a" | reReplaceAll "a" "b" }}', True),
        ("{{ 'jinja string' }}", False),
        ("{{ alerts | length }}", False),
        ("{{ len(alerts) }}", False),
        ("{{ x[0] }}", False),
        ('{{ "just a literal" }}', False),
    ],
)
def test_looks_like_go(source: str, is_go: bool) -> None:
    assert looks_like_go(source) is is_go


def test_every_public_default_template_renders() -> None:
    d = data()
    for name in DEFAULT_TEMPLATES.names():
        if name.startswith("__"):
            continue  # helpers that expect a variable from their caller
        dot = {"slack.default.alert": d.Alerts[0], "pagerduty.default.instances": d.Alerts}
        DEFAULT_TEMPLATES.render_named(name, d, dot=dot.get(name))


@given(st.text(alphabet=st.sampled_from("{}%#ab \n-\\'\"<>&"), max_size=40))
def test_text_outside_actions_renders_verbatim(text: str) -> None:
    # Plain text (no Go action in it) must come out exactly as written, in both modes,
    # whatever Jinja2 delimiters it happens to contain.
    assume("{{" not in text)
    for html in (False, True):
        assert Templates({}).render(
            translate("[" + text + "]{{ .Status }}"), data(), html=html
        ) == ("[" + text + "]firing")
