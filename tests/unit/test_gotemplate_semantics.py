"""Go template semantics as Alertmanager runs them: one row per documented behaviour of
``text/template``, of Go's ``time`` and ``fmt``, and of Alertmanager's functions and data.

Expected values are what Go (Alertmanager 0.27's ``template.go``) prints for the same
data; each row says which behaviour it pins.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.model import Alert
from tocsin.alerts.routing import go_quote
from tocsin.notify.gotemplate import GoTemplateError, translate, translate_file
from tocsin.notify.message import Notification
from tocsin.notify.template_data import TemplateData, template_data
from tocsin.notify.templates import TemplateRenderError, Templates

NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
STARTS = datetime(2024, 3, 1, 8, 57, 5, 250000, tzinfo=UTC)


def data() -> TemplateData:
    def alert(instance: str, *, resolved: bool = False) -> Alert:
        return Alert(
            fingerprint=f"fp-{instance}",
            # "account" sorts before "alertname": Alertmanager's sorted views put
            # alertname first all the same
            labels={"alertname": "Up", "account": "acme", "instance": instance, "job": "node"},
            annotations={"summary": f"{instance} down", "runbook": "rb"},
            starts_at=STARTS,
            ends_at=NOW - timedelta(minutes=1) if resolved else NOW + timedelta(minutes=5),
            generator_url="http://prom/g",
            updated_at=NOW,
            # a firing alert whose end was derived: Alertmanager shows the zero time
            timeout=not resolved,
        )

    return template_data(
        Notification(
            "ops",
            "k",
            {"job": "node"},
            (alert("a"), alert("b"), alert("c", resolved=True)),
            NOW,
            "http://am",
        )
    )


def render(go: str, *, html: bool = False) -> str:
    return Templates({"t": translate(go)}).render_named("t", data(), html=html)


FIRST = "(index .Alerts 0)"
LAST = "(index .Alerts 2)"

RENDERS = [
    # --- time.Time: printing, methods, layouts --------------------------------------
    pytest.param(
        f"{{{{ {FIRST}.StartsAt }}}}", "2024-03-01 08:57:05.25 +0000 UTC", id="Time.String"
    ),
    pytest.param(f"{{{{ {FIRST}.EndsAt }}}}", "0001-01-01 00:00:00 +0000 UTC", id="zero-time"),
    pytest.param(f"{{{{ {FIRST}.EndsAt.IsZero }}}}", "true", id="IsZero"),
    pytest.param(
        '{{ range .Alerts }}{{ .StartsAt.Format "15:04" }} {{ end }}',
        "08:57 08:57 08:57 ",
        id="Format-in-range",
    ),
    pytest.param(
        f'{{{{ {FIRST}.StartsAt.Format "2006-01-02T15:04:05Z07:00" }}}}',
        "2024-03-01T08:57:05Z",
        id="Format-RFC3339",
    ),
    pytest.param(
        f'{{{{ {FIRST}.StartsAt.Format "Mon Jan _2 3:04:05.000PM MST 2006" }}}}',
        "Fri Mar  1 8:57:05.250AM UTC 2024",
        id="Format-reference-words",
    ),
    pytest.param(
        f'{{{{ "15:04:05" | {FIRST}.StartsAt.Format }}}}', "08:57:05", id="piped-method-arg"
    ),
    pytest.param(f"{{{{ {FIRST}.StartsAt.Unix }}}}", "1709283425", id="Unix"),
    pytest.param(f"{{{{ {FIRST}.StartsAt.UnixMilli }}}}", "1709283425250", id="UnixMilli"),
    pytest.param(f"{{{{ {FIRST}.EndsAt.Unix }}}}", "-62135596800", id="Unix-of-zero"),
    pytest.param(f'{{{{ {FIRST}.StartsAt.UTC.Format "15:04 MST" }}}}', "08:57 UTC", id="UTC-chain"),
    pytest.param(
        f"{{{{ eq {FIRST}.StartsAt.Local.Unix {FIRST}.StartsAt.Unix }}}}", "true", id="Local"
    ),
    pytest.param(
        f"{{{{ {FIRST}.StartsAt.Month }}}} {{{{ eq {FIRST}.StartsAt.Month 3 }}}}",
        "March true",
        id="Month-prints-name-compares-as-int",
    ),
    pytest.param(f"{{{{ {FIRST}.StartsAt.Weekday }}}}", "Friday", id="Weekday"),
    pytest.param(
        f"{{{{ {FIRST}.StartsAt.Year }}}}-{{{{ {FIRST}.StartsAt.YearDay }}}}",
        "2024-61",
        id="Year-YearDay",
    ),
    pytest.param(
        f"{{{{ {LAST}.EndsAt.Sub {LAST}.StartsAt }}}}", "1m54.75s", id="Sub-is-a-Duration"
    ),
    pytest.param(
        f"{{{{ ({LAST}.EndsAt.Sub {LAST}.StartsAt).Seconds }}}}", "114.75", id="Duration.Seconds"
    ),
    pytest.param(
        f"{{{{ {FIRST}.StartsAt.Add 3600000000000 }}}}",
        "2024-03-01 09:57:05.25 +0000 UTC",
        id="Add-nanoseconds",
    ),
    pytest.param(
        f"{{{{ {LAST}.StartsAt.Before {LAST}.EndsAt }}}} "
        f"{{{{ {LAST}.StartsAt.After {LAST}.EndsAt }}}}",
        "true false",
        id="Before-After",
    ),
    pytest.param(f'{{{{ date "02/01 15h04" {FIRST}.StartsAt }}}}', "01/03 08h57", id="am-date"),
    pytest.param(
        f'{{{{ ({FIRST}.StartsAt | tz "Europe/Paris").Format "15:04 MST -07:00" }}}}',
        "09:57 CET +01:00",
        id="am-tz",
    ),
    pytest.param(f'{{{{ printf "%T" (since {FIRST}.StartsAt) }}}}', "time.Duration", id="am-since"),
    pytest.param(
        "{{ humanizeDuration 90061 }}|{{ humanizeDuration 0.1234 }}|{{ humanizeDuration 1.5 }}"
        '|{{ humanizeDuration "60.5" }}|{{ humanizeDuration 0 }}|{{ humanizeDuration -3600 }}',
        "1d 1h 1m 1s|123.4ms|1.5s|1m 0s|0s|-1h 0m 0s",
        id="am-humanizeDuration",
    ),
    pytest.param(
        f"{{{{ humanizeDuration ({LAST}.EndsAt.Sub {LAST}.StartsAt) }}}}",
        "1m 54s",
        id="humanizeDuration-of-a-Duration",
    ),
    # --- control structures ------------------------------------------------------------
    pytest.param(
        '{{ if eq .Status "x" }}1{{ else if eq .Status "firing" }}2{{ else }}3{{ end }}',
        "2",
        id="else-if",
    ),
    pytest.param(
        '{{ if eq .Status "x" }}1{{ else if eq .Status "y" }}2{{ else if .Receiver }}3'
        "{{ else }}4{{ end }}",
        "3",
        id="else-if-chain",
    ),
    pytest.param(
        "{{ with .CommonLabels.nope }}a{{ else with .CommonLabels.job }}job={{ . }}{{ end }}",
        "job=node",
        id="else-with",
    ),
    pytest.param(
        "{{ with .CommonLabels.nope }}a{{ else with .CommonLabels.none }}b"
        "{{ else }}c {{ .Status }}{{ end }}",
        "c firing",
        id="else-with-else",
    ),
    pytest.param(
        "{{ range $i, $a := .Alerts }}{{ if $i }},{{ end }}"
        "{{ $i }}:{{ $a.Labels.instance }}{{ end }}",
        "0:a,1:b,2:c",
        id="range-key-value",
    ),
    pytest.param(
        '{{ $n := 0 }}{{ range .Alerts }}{{ if eq .Status "firing" }}{{ $n = 1 }}{{ end }}'
        "{{ end }}{{ $n }}",
        "1",
        id="assignment-seen-after-range",
    ),
    pytest.param("{{ if $job := .CommonLabels.job }}{{ $job }}{{ end }}", "node", id="if-declares"),
    pytest.param(
        "{{ with $a := index .Alerts 1 }}{{ $a.Labels.instance }}/{{ .Fingerprint }}{{ end }}",
        "b/fp-b",
        id="with-declares",
    ),
    pytest.param("{{ range .Alerts }}{{ $.Receiver }}{{ end }}", "opsopsops", id="dollar-in-range"),
    pytest.param(
        '{{ block "part" .CommonLabels }}{{ .job }}{{ end }}', "node", id="block-in-a-setting"
    ),
    pytest.param(
        f'{{{{ ({FIRST}.Labels.Remove (stringSlice "account" "job")).instance }}}}',
        "a",
        id="method-result-then-field",
    ),
    # --- Alertmanager's data ---------------------------------------------------------
    pytest.param(
        "{{ len .Alerts.Firing }}/{{ len .Alerts.Resolved }}", "2/1", id="Firing-Resolved"
    ),
    pytest.param(
        "{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}",
        "alertname=Up account=acme job=node ",
        id="SortedPairs-alertname-first",
    ),
    pytest.param("{{ .CommonLabels }}", "alertname=Up, account=acme, job=node", id="KV.String"),
    pytest.param(
        f"{{{{ {FIRST}.Labels.Names }}}} {{{{ {FIRST}.Labels.Values }}}}",
        "[alertname account instance job] [Up acme a node]",
        id="Names-Values",
    ),
    pytest.param(
        f'{{{{ {FIRST}.Annotations.Remove (stringSlice "runbook") }}}}',
        "summary=a down",
        id="Annotations.Remove",
    ),
    pytest.param(
        "{{ .CommonLabels.Remove .GroupLabels.Names }}",
        "alertname=Up, account=acme",
        id="Remove-GroupLabels",
    ),
    pytest.param(
        "{{ range $k, $v := .CommonLabels }}{{ $k }};{{ end }}",
        "account;alertname;job;",
        id="range-over-map-sorted-by-key",
    ),
    pytest.param("{{ .CommonLabels.missing }}|", "|", id="missingkey-zero"),
    # --- text/template's built-ins --------------------------------------------------
    pytest.param('{{ and 1 0 "x" }} {{ and 1 "x" }}', "0 x", id="and-first-false-or-last"),
    pytest.param('{{ or 0 "" "x" }} {{ or 0 "" }}', "x ", id="or-first-true-or-last"),
    pytest.param(
        "{{ or .Receiver (index .Alerts 99) }} {{ and .TruncatedAlerts (index .Alerts 99) }}",
        "ops 0",
        id="and-or-stop-evaluating",
    ),
    pytest.param('{{ not "" }} {{ not .Alerts }}', "true false", id="not"),
    pytest.param('{{ len "héllo" }} {{ len .CommonLabels }}', "6 3", id="len-counts-bytes"),
    pytest.param(
        '{{ index .CommonLabels "job" }} {{ index .Alerts.Firing 1 | printf "%T" }} '
        '{{ index "abc" 1 }}',
        "node template.Alert 98",
        id="index-map-slice-string",
    ),
    pytest.param(
        '{{ slice "hello" 1 3 }} {{ slice "hello" 2 }} {{ slice .CommonLabels.Names 1 2 }}',
        "el llo [account]",
        id="slice",
    ),
    pytest.param("{{ len (slice .Alerts 1).Firing }}", "1", id="slice-keeps-Alerts"),
    pytest.param('{{ print 1 2 "a" "b" 3 }}', "1 2ab3", id="print-spaces-between-non-strings"),
    pytest.param('{{ println 1 "a" }}', "1 a\n", id="println"),
    pytest.param(
        '{{ printf "%s|%5.2f|%-4d|%04d|%x|%X|%q|%v|%t|%c|%o|%%" '
        '"s" 3.14159 7 42 255 255 "q" 1.5 true 65 8 }}',
        's| 3.14|7   |0042|ff|FF|"q"|1.5|true|A|10|%',
        id="printf-verbs",
    ),
    pytest.param(
        '{{ printf "%d %s %s" "x" 3 }} {{ printf "a" 1 }}',
        "%!d(string=x) %!s(int=3) %!s(MISSING) a%!(EXTRA int=1)",
        id="printf-complaints",
    ),
    pytest.param(
        '{{ printf "%v %v %v %g" 1e6 100000.0 0.00001 1234567.0 }}',
        "1e+06 100000 1e-05 1.234567e+06",
        id="floats-print-as-go",
    ),
    pytest.param(
        '{{ printf "%T %T %T %T" .CommonLabels .Alerts 1 "s" }}',
        "template.KV template.Alerts int string",
        id="printf-T",
    ),
    pytest.param(
        '{{ eq .Status "resolved" "firing" }} {{ eq 2 1 }} {{ ne "a" "b" }}',
        "true false true",
        id="eq-any-of",
    ),
    pytest.param(
        '{{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 2.5 }}',
        "true true true false",
        id="ordering",
    ),
    pytest.param("{{ eq .Status nil }}", "false", id="eq-nil"),
    pytest.param(
        '{{ html "<a href=\'x\'>&\\"" }}',
        "&lt;a href=&#39;x&#39;&gt;&amp;&#34;",
        id="html",
    ),
    pytest.param(
        '{{ js "a\'b\\"<c>=&\\n" }}', "a\\'b\\\"\\u003Cc\\u003E\\u003D\\u0026\\u000A", id="js"
    ),
    pytest.param('{{ urlquery "a b/c?d=é" }}', "a+b%2Fc%3Fd%3D%C3%A9", id="urlquery"),
    pytest.param(
        "{{ 0x1F }} {{ 017 }} {{ 1_000 }} {{ 1e3 }} {{ 'a' }} {{ -2 }}",
        "31 15 1000 1000 97 -2",
        id="number-and-char-constants",
    ),
    # --- Alertmanager's functions ----------------------------------------------------
    pytest.param(
        '{{ toUpper "straße" }} {{ toLower "ÀB" }} {{ trimSpace "  x \\n" }}',
        "STRAßE àb x",
        id="case-and-space",
    ),
    pytest.param(
        '{{ title "hELLO wORLD-wide foo_bar don\'t" }}',
        "Hello World-Wide Foo_bar Don't",
        id="title-is-cases.Title",
    ),
    pytest.param('{{ .CommonLabels.Values | join ", " }}', "Up, acme, node", id="join"),
    pytest.param(
        '{{ match "^fir" .Status }} {{ match "(?i)FIRING" .Status }}', "true true", id="match"
    ),
    pytest.param(
        '{{ reReplaceAll "(a+)(b)?" "<$1|${2}x|$2x|$$>" "aab ac" }}',
        "<aa|bx||$> <a|x||$>c",
        id="reReplaceAll-expands-as-Go",
    ),
    pytest.param('{{ reReplaceAll "x*" "-" "abxd" }}', "-a-b-d-", id="reReplaceAll-empty-matches"),
    pytest.param('{{ "a.b.c" | reReplaceAll "\\\\." "/" }}', "a/b/c", id="reReplaceAll-piped"),
    pytest.param('{{ urlUnescape "a%20b+c" }}', "a b c", id="urlUnescape"),
    pytest.param('{{ stringSlice "a" "b" }} {{ len (stringSlice) }}', "[a b] 0", id="stringSlice"),
    pytest.param(
        "{{ toJson .CommonLabels }}",
        '{"account":"acme","alertname":"Up","job":"node"}',
        id="toJson-map-sorted",
    ),
    pytest.param(
        f"{{{{ toJson {FIRST} }}}}",
        '{"status":"firing","labels":{"account":"acme","alertname":"Up","instance":"a",'
        '"job":"node"},"annotations":{"runbook":"rb","summary":"a down"},'
        '"startsAt":"2024-03-01T08:57:05.25Z","endsAt":"0001-01-01T00:00:00Z",'
        '"generatorURL":"http://prom/g","fingerprint":"fp-a"}',
        id="toJson-alert",
    ),
    pytest.param(
        '{{ toJson "<a&b>" }} {{ toJson 1.5 }} {{ toJson 1e21 }} '
        "{{ toJson .Alerts.Resolved.Firing }}",
        '"\\u003ca\\u0026b\\u003e" 1.5 1e+21 []',
        id="toJson-escapes-and-numbers",
    ),
]


@pytest.mark.parametrize(("go", "expected"), RENDERS)
def test_renders_as_alertmanager(go: str, expected: str) -> None:
    assert render(go) == expected


def test_safe_html_is_not_escaped_in_html_templates() -> None:
    assert render('{{ safeHtml "<b>x</b>" }} {{ "<i>" }}', html=True) == "<b>x</b> &lt;i&gt;"


RUN_ERRORS = [
    pytest.param(
        f"{{{{ {FIRST}.StartsAt.Format }}}}",
        "wrong number of args for Format: want 1 got 0",
        id="method-arity",
    ),
    pytest.param(
        f"{{{{ {FIRST}.StartsAt.Date }}}}",
        "can't call method/function 'Date' with 3 results",
        id="multi-result",
    ),
    pytest.param(
        f"{{{{ {FIRST}.StartsAt.Nope }}}}",
        "can't evaluate field Nope in type time.Time",
        id="no-such-method",
    ),
    pytest.param(
        "{{ .Status.Foo }}", "can't evaluate field Foo in type string", id="field-of-string"
    ),
    pytest.param(
        '{{ .CommonLabels.job "x" }}',
        "job is not a method but has arguments",
        id="map-key-with-args",
    ),
    pytest.param(
        "{{ index .Alerts 9 }}", "error calling index: index out of range: 9", id="index-range"
    ),
    pytest.param('{{ slice "abc" 2 1 }}', "invalid slice index: 2 > 1", id="slice-order"),
    pytest.param('{{ slice "abc" 0 1 2 }}', "cannot 3-index slice a string", id="slice-3-string"),
    pytest.param('{{ eq 1 "1" }}', "incompatible types for comparison", id="eq-types"),
    pytest.param("{{ lt true false }}", "invalid type for comparison", id="lt-bool"),
    pytest.param("{{ len 3 }}", "len of type int", id="len-int"),
    pytest.param("{{ call .Receiver }}", "non-function of type string", id="call"),
    pytest.param("{{ toUpper 1 }}", "expected string; got int", id="string-function-type"),
    pytest.param(
        '{{ join "," .Alerts }}', "expected []string; got template.Alerts", id="join-type"
    ),
    pytest.param('{{ match "(" "x" }}', "error parsing regexp", id="bad-regexp"),
    pytest.param(
        f'{{{{ tz "Nowhere/Land" {FIRST}.StartsAt }}}}',
        "unknown time zone Nowhere/Land",
        id="tz-unknown",
    ),
    pytest.param('{{ humanizeDuration "one" }}', "invalid syntax", id="humanizeDuration-text"),
    pytest.param('{{ urlUnescape "%zz" }}', 'invalid URL escape "%zz"', id="urlUnescape-bad"),
    pytest.param('{{ template "nope" . }}', "template 'nope' not defined", id="no-template"),
]


@pytest.mark.parametrize(("go", "fragment"), RUN_ERRORS)
def test_run_errors_say_what_go_says(go: str, fragment: str) -> None:
    with pytest.raises(TemplateRenderError) as info:
        render(go)
    assert fragment in str(info.value)


PARSE_ERRORS = [
    pytest.param('{{ len "a" "b" }}', "wrong number of args for len: want 1 got 2", id="arity"),
    pytest.param(
        "{{ printf }}",
        "wrong number of args for printf: want at least 1 got 0",
        id="arity-variadic",
    ),
    pytest.param("{{ eq }}", "wrong number of args for eq: want at least 1 got 0", id="eq-arity"),
    pytest.param(
        "{{ print len }}", "wrong number of args for len: want 1 got 0", id="function-as-argument"
    ),
    pytest.param("{{ $x }}", 'undefined variable "$x"', id="undefined-variable"),
    pytest.param("{{ $x = 1 }}", 'undefined variable "$x"', id="assign-undeclared"),
    pytest.param(
        "{{ range .Alerts }}{{ $a := 1 }}{{ end }}{{ $a }}",
        'undefined variable "$a"',
        id="scope-ends-at-end",
    ),
    pytest.param(
        '{{ "x" 1 }}', "can't give argument to non-function", id="arguments-to-a-constant"
    ),
    pytest.param(
        "{{ $ 1 }}", "can't give argument to non-function $", id="arguments-to-a-variable"
    ),
    pytest.param("{{ nil }}", "nil is not a command", id="nil-command"),
    pytest.param(
        "{{ range .Alerts }}{{ else if .X }}{{ end }}",
        "not allowed in {{range}}",
        id="else-if-in-range",
    ),
    pytest.param(
        "{{ if .X }}{{ else with .Y }}{{ end }}", "not allowed in {{if}}", id="else-with-in-if"
    ),
    pytest.param(
        "{{ if .X }}{{ else }}{{ else }}{{ end }}", "expected end; found {{else}}", id="two-elses"
    ),
    pytest.param("{{ 09 }}", "bad number syntax", id="bad-octal"),
    pytest.param("{{ 'ab' }}", "malformed character constant", id="bad-char"),
    pytest.param("{{ nosuch 1 }}", 'function "nosuch" not defined', id="undefined-function"),
]


@pytest.mark.parametrize(("go", "fragment"), PARSE_ERRORS)
def test_what_go_refuses_to_parse_is_refused_on_translation(go: str, fragment: str) -> None:
    with pytest.raises(GoTemplateError) as info:
        translate(go)
    assert fragment in str(info.value)


def test_a_named_template_sees_only_its_own_variables() -> None:
    with pytest.raises(GoTemplateError, match='undefined variable "\\$x"'):
        translate_file('{{ $x := 1 }}{{ define "t" }}{{ $x }}{{ end }}')
    named = translate_file('{{ define "t" }}{{ $y := .Status }}{{ $y }}/{{ $.Receiver }}{{ end }}')
    named["call"] = translate('{{ $y := "outer" }}{{ template "t" . }}{{ $y }}')
    assert Templates(named).render_named("call", data()) == "firing/opsouter"


# --- properties ---------------------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)


@given(_TEXT)
def test_any_go_string_constant_renders_as_its_value(text: str) -> None:
    # The lexer and the literal's decoding: Go's own quoting of any text reads back.
    assert render("{{ " + go_quote(text) + " }}") == text
    assert render('{{ printf "%s" ' + go_quote(text) + " }}") == text


@given(
    _TEXT, st.text(alphabet="abc.*", min_size=1, max_size=3), st.text(alphabet="xyz", max_size=3)
)
def test_re_replace_all_of_a_literal_is_replace(text: str, needle: str, repl: str) -> None:
    # A quoted pattern matches itself only; with no $ in it, the replacement is literal.
    pattern = re.escape(needle)
    source = (
        "{{ reReplaceAll " + go_quote(pattern) + " " + go_quote(repl) + " " + go_quote(text) + " }}"
    )
    assert render(source) == text.replace(needle, repl)


@given(st.lists(st.sampled_from(["a", "b", "c", ""]), max_size=6))
def test_and_or_pick_as_go(values: list[str]) -> None:
    if not values:
        return
    args = " ".join(go_quote(v) for v in values)
    first_false = next((v for v in values if not v), values[-1])
    first_true = next((v for v in values if v), values[-1])
    assert render(f"{{{{ and {args} }}}}|{{{{ or {args} }}}}") == f"{first_false}|{first_true}"
