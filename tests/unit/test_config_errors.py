"""Configuration problems: each kind names the exact file, line and dotted key.

One row per rule Alertmanager enforces at load time (``config/config.go``,
``config/notifiers.go``, ``timeinterval``), plus the strictness Go's ``UnmarshalStrict``
gives it (unknown and duplicate keys, wrong types).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tocsin.config import ConfigError, ConfigProblem, load_config, parse_config

RECEIVERS = """\
receivers:
  - name: r
"""

# (id, config text, expected (line, key, message fragment) of the single problem)
CASES: list[tuple[str, str, tuple[int, str, str]]] = [
    (
        # UnmarshalStrict: unknown top-level key
        "unknown-top-level-key",
        "route: {receiver: r}\nrecievers: []\n" + RECEIVERS,
        (2, "recievers", "unknown key 'recievers' (did you mean 'receivers'?)"),
    ),
    (
        # UnmarshalStrict: unknown key inside a receiver integration
        "unknown-key-in-receiver-config",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "    webhook_configs:\n      - url: 'http://127.0.0.1:1/'\n        sendresolved: true\n",
        (6, "receivers[0].webhook_configs[0].sendresolved", "unknown key 'sendresolved'"),
    ),
    (
        # UnmarshalStrict: unknown key inside http_config (prometheus/common)
        "unknown-key-in-http-config",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "    webhook_configs:\n      - url: 'http://127.0.0.1:1/'\n"
        + "        http_config:\n          basic_auth: {user: a}\n",
        (7, "receivers[0].webhook_configs[0].http_config.basic_auth.user", "unknown key 'user'"),
    ),
    (
        # <boolean>: continue takes true or false
        "wrong-type-bool",
        "route:\n  receiver: r\n  routes:\n    - receiver: r\n      continue: perhaps\n"
        + RECEIVERS,
        (5, "route.routes[0].continue", "expected a boolean"),
    ),
    (
        # group_by is a list of label names
        "wrong-type-list",
        "route:\n  receiver: r\n  group_by: alertname\n" + RECEIVERS,
        (3, "route.group_by", "expected a list"),
    ),
    (
        # receivers is a list of receivers
        "wrong-type-mapping",
        "route: {receiver: r}\nreceivers:\n  - just-a-name\n",
        (3, "receivers[0]", "expected a mapping"),
    ),
    (
        # <duration>: units must be complete (`1h30` is not a duration)
        "bad-duration",
        "route:\n  receiver: r\n  group_wait: 1h30\n" + RECEIVERS,
        (3, "route.group_wait", "not a valid duration string: '1h30'"),
    ),
    (
        # <duration>: a number needs a unit
        "bad-duration-unitless",
        "route:\n  receiver: r\n  repeat_interval: 5\n" + RECEIVERS,
        (3, "route.repeat_interval", "not a valid duration string"),
    ),
    (
        # config.go: group_interval cannot be zero
        "zero-group-interval",
        "route:\n  receiver: r\n  group_interval: 0s\n" + RECEIVERS,
        (3, "route.group_interval", "group_interval cannot be zero"),
    ),
    (
        # <matcher>: a matcher needs an operator
        "bad-matcher",
        "route:\n  receiver: r\n  routes:\n    - matchers: ['ok=\"1\"', 'foo']\n" + RECEIVERS,
        (4, "route.routes[0].matchers[1]", "bad matcher format: foo"),
    ),
    (
        # <regex>: must compile
        "bad-regex-match-re",
        "route:\n  receiver: r\n  routes:\n    - match_re:\n        job: '(api'\n" + RECEIVERS,
        (5, "route.routes[0].match_re.job", "invalid regular expression"),
    ),
    (
        # <regex> is Go's RE2 syntax: a backreference compiles in Python, not in Go
        "backreference-match-re",
        "route:\n  receiver: r\n  routes:\n    - match_re:\n        job: '(a)\\1'\n" + RECEIVERS,
        (5, "route.routes[0].match_re.job", "invalid escape sequence"),
    ),
    (
        # <regex> inside a matcher of an inhibition rule
        "bad-regex-inhibit-matcher",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "inhibit_rules:\n  - source_matchers: ['a=~\"[\"']\n",
        (5, "inhibit_rules[0].source_matchers[0]", "invalid regular expression"),
    ),
    (
        # config.go checkReceiver: every receiver used in the tree must be defined
        "undefined-receiver",
        "route:\n  receiver: r\n  routes:\n    - receiver: r\n    - receiver: nobody\n" + RECEIVERS,
        (5, "route.routes[1].receiver", "undefined receiver 'nobody' used in route"),
    ),
    (
        # Tocsin: a runbook folder that does not exist would leave alerts without runbooks
        "missing-runbook-folder",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "tocsin:\n  runbooks:\n    paths: [/nonexistent/runbooks]\n",
        (6, "tocsin.runbooks.paths[0]", "no such file or folder: /nonexistent/runbooks"),
    ),
    (
        # config.go: receiver names are unique
        "duplicate-receiver",
        "route: {receiver: r}\n" + RECEIVERS + "  - name: r\n",
        (4, "receivers[1].name", "notification config name 'r' is not unique"),
    ),
    (
        # config.go: the root route must specify a default receiver
        "root-without-receiver",
        "route:\n  group_by: [a]\n" + RECEIVERS,
        (1, "route.receiver", "root route must specify a default receiver"),
    ),
    (
        # docs <route>: the top-level route must match all alerts (no matchers)
        "root-with-matchers",
        "route:\n  receiver: r\n  matchers: ['a=\"b\"']\n" + RECEIVERS,
        (3, "route.matchers", "root route must not have any matchers"),
    ),
    (
        # same rule for the deprecated match
        "root-with-match",
        "route:\n  receiver: r\n  match: {a: b}\n" + RECEIVERS,
        (3, "route.match", "root route must not have any matchers"),
    ),
    (
        # docs <route>: the root node cannot have any mute times
        "root-with-mute-time-intervals",
        "route:\n  receiver: r\n  mute_time_intervals: [x]\n"
        + RECEIVERS
        + "time_intervals: [{name: x}]\n",
        (3, "route.mute_time_intervals", "root route must not have any mute time intervals"),
    ),
    (
        # config.go Load: cannot have continue in root route
        "root-with-continue",
        "route:\n  receiver: r\n  continue: true\n" + RECEIVERS,
        (3, "route.continue", "cannot have continue in root route"),
    ),
    (
        # config.go checkTimeInterval: mute_time_intervals must name a time interval
        "undefined-mute-time-interval",
        "route:\n  receiver: r\n  routes:\n    - mute_time_intervals: [known, unknown]\n"
        + RECEIVERS
        + "time_intervals: [{name: known}]\n",
        (4, "route.routes[0].mute_time_intervals[1]", "undefined time interval 'unknown'"),
    ),
    (
        # same for active_time_intervals
        "undefined-active-time-interval",
        "route:\n  receiver: r\n  routes:\n    - active_time_intervals: [nope]\n" + RECEIVERS,
        (4, "route.routes[0].active_time_intervals[0]", "undefined time interval 'nope'"),
    ),
    (
        # config.go: time interval names are unique across both sections
        "duplicate-time-interval",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "mute_time_intervals: [{name: t}]\ntime_intervals: [{name: t}]\n",
        (5, "time_intervals[0].name", "time interval 't' is not unique"),
    ),
    (
        # docs <route>: '...' must be the sole label name
        "group-by-all-with-others",
        "route:\n  receiver: r\n  routes:\n    - group_by: ['...', cluster]\n" + RECEIVERS,
        (4, "route.routes[0].group_by", "cannot have wildcard group_by (`...`) and other labels"),
    ),
    (
        # <labelname>: [a-zA-Z_][a-zA-Z0-9_]*
        "invalid-label-in-group-by",
        "route:\n  receiver: r\n  group_by:\n    - alertname\n    - 'service-name'\n" + RECEIVERS,
        (5, "route.group_by[1]", "invalid label name 'service-name' in group_by list"),
    ),
    (
        # <labelname> in an inhibition rule's equal list
        "invalid-label-in-equal",
        "route: {receiver: r}\n" + RECEIVERS + "inhibit_rules:\n  - equal: ['0day']\n",
        (5, "inhibit_rules[0].equal[0]", "invalid label name '0day' in equal list"),
    ),
    (
        # <labelname> as a key of the deprecated match map
        "invalid-label-in-match",
        "route:\n  receiver: r\n  routes:\n    - match:\n        'a b': c\n" + RECEIVERS,
        (5, "route.routes[0].match.a b", "invalid label name 'a b'"),
    ),
    (
        # UnmarshalStrict: a key given twice
        "duplicate-key",
        "route:\n  receiver: r\n  receiver: r\n" + RECEIVERS,
        (3, "route.receiver", "duplicate key 'receiver'"),
    ),
    (
        # config.go: no route provided in config
        "missing-route",
        RECEIVERS,
        (1, "route", "no route provided in config"),
    ),
    (
        # notifiers.go: one of url or url_file must be configured
        "webhook-without-url",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "    webhook_configs:\n      - send_resolved: true\n",
        (5, "receivers[0].webhook_configs[0]", "one of url or url_file must be configured"),
    ),
    (
        # config.go parseURL: only http and https
        "bad-url-scheme",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "    webhook_configs:\n      - url: 'ftp://127.0.0.1/'\n",
        (5, "receivers[0].webhook_configs[0].url", "unsupported scheme 'ftp' for URL"),
    ),
    (
        # config.go: an email receiver needs a smarthost, here or in global
        "email-without-smarthost",
        "global: {smtp_from: a@b.c}\nroute: {receiver: r}\n"
        + RECEIVERS
        + "    email_configs:\n      - to: x@y.z\n",
        (6, "receivers[0].email_configs[0]", "no global SMTP smarthost set"),
    ),
    (
        # config.go: at most one of slack_api_url & slack_api_url_file
        "global-mutually-exclusive",
        "global:\n  slack_api_url: 'http://127.0.0.1/'\n  slack_api_url_file: /f\n"
        "route: {receiver: r}\n" + RECEIVERS,
        (3, "global.slack_api_url_file", "at most one of slack_api_url & slack_api_url_file"),
    ),
    (
        # timeinterval: end_time is exclusive and must follow start_time
        "time-range-backwards",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "time_intervals:\n  - name: t\n    time_intervals:\n"
        + "      - times:\n          - {start_time: '18:00', end_time: '09:00'}\n",
        (8, "time_intervals[0].time_intervals[0].times[0]", "start time cannot be equal"),
    ),
    (
        # timeinterval: weekday ranges do not wrap around the week
        "weekday-range-backwards",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "time_intervals:\n  - name: t\n    time_intervals:\n"
        + "      - weekdays: [monday, 'saturday:sunday']\n",
        (7, "time_intervals[0].time_intervals[0].weekdays[1]", "start day cannot be before"),
    ),
    (
        # timeinterval: a negative start day needs a negative end day
        "days-of-month-mixed-signs",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "time_intervals:\n  - name: t\n    time_intervals:\n"
        + "      - days_of_month: ['-3:5']\n",
        (7, "time_intervals[0].time_intervals[0].days_of_month[0]", "end day must be negative"),
    ),
    (
        # timeinterval: location must be an IANA zone
        "unknown-location",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "time_intervals:\n  - name: t\n    time_intervals:\n"
        + "      - location: Atlantis/Capital\n",
        (7, "time_intervals[0].time_intervals[0].location", "unknown time zone"),
    ),
    (
        # Tocsin: an events integration is known by its routing key, which is required
        "event-integration-without-key",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "tocsin:\n  event_integrations:\n    - name: datadog\n",
        (6, "tocsin.event_integrations[0].routing_key", "missing routing_key"),
    ),
    (
        # Tocsin: two integrations with one routing key could not be told apart
        "event-integrations-sharing-a-key",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "tocsin:\n  event_integrations:\n    - {name: a, routing_key: key-0123456789abcdef}\n"
        + "    - {name: b, routing_key: key-0123456789abcdef}\n",
        (7, "tocsin.event_integrations[1].routing_key", "another integration has this"),
    ),
    (
        # Tocsin: the key is the sender's only credential; "<secret>" is what the status
        # endpoint prints in its place
        "event-integration-with-placeholder-key",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "tocsin:\n  event_integrations:\n    - {name: a, routing_key: <secret>}\n",
        (6, "tocsin.event_integrations[0].routing_key", "at least 16 characters"),
    ),
    (
        "event-integration-with-short-key",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "tocsin:\n  event_integrations:\n    - {name: a, routing_key: abc123}\n",
        (6, "tocsin.event_integrations[0].routing_key", "at least 16 characters"),
    ),
    (
        # Tocsin: the identity labels come from the event
        "event-integration-sets-dedup-key",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "tocsin:\n  event_integrations:\n    - name: a\n      routing_key: key-0123456789abcdef\n"
        + "      labels: {dedup_key: x}\n",
        (8, "tocsin.event_integrations[0].labels.dedup_key", "set from the event itself"),
    ),
    (
        # Tocsin: unknown keys are errors here too
        "event-integration-unknown-key",
        "route: {receiver: r}\n"
        + RECEIVERS
        + "tocsin:\n  event_integrations:\n    - name: a\n      routing_key: key-0123456789abcdef\n"
        + "      lables: {team: x}\n",
        (8, "tocsin.event_integrations[0].lables", "unknown key 'lables'"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problem_names_file_line_and_key(text: str, expected: tuple[int, str, str]) -> None:
    line, key, fragment = expected
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "am.yml")
    problems = caught.value.problems
    assert [(p.file, p.line, p.key) for p in problems] == [("am.yml", line, key)], problems
    assert fragment in problems[0].message
    assert str(caught.value) == f"am.yml:{line}: {key}: {problems[0].message}"


def test_yaml_syntax_error_names_file_and_line() -> None:
    text = "route:\n  receiver: r\n  routes: [\n" + RECEIVERS
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "broken.yml")
    (problem,) = caught.value.problems
    assert problem.file == "broken.yml"
    assert problem.key == "(syntax)"
    # the parser notices at the first line that cannot continue the open list
    assert problem.line == 5
    assert "expected the node content" in problem.message


def test_all_problems_are_collected() -> None:
    text = textwrap.dedent(
        """\
        global:
          resolve_timeout: soon
        route:
          receiver: r
          routes:
            - receiver: ghost
              group_wait: forever
        receivers:
          - name: r
            webhook_configs:
              - url: 'http://127.0.0.1:1/'
                colour: red
        inhibit_rules:
          - equal: ['bad-label']
        """
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "am.yml")
    assert [(p.line, p.key) for p in caught.value.problems] == [
        (2, "global.resolve_timeout"),
        (6, "route.routes[0].receiver"),
        (7, "route.routes[0].group_wait"),
        (12, "receivers[0].webhook_configs[0].colour"),
        (14, "inhibit_rules[0].equal[0]"),
    ]
    assert len(str(caught.value).splitlines()) == 5


def test_problem_is_a_frozen_value() -> None:
    problem = ConfigProblem("f.yml", 3, "route.receiver", "msg")
    assert str(problem) == "f.yml:3: route.receiver: msg"
    with pytest.raises(AttributeError):
        problem.line = 4  # type: ignore[misc]


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    (problem,) = caught.value.problems
    assert problem.file == str(missing)
    assert problem.line == 1


def test_load_config_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "am.yml"
    path.write_text("route:\n  receiver: nobody\n" + RECEIVERS)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}:2: route.receiver: undefined receiver 'nobody' used in route"
    )
