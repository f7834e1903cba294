"""Inhibition, one row per rule of Alertmanager's docs (``<inhibit_rule>``) and
``inhibit/inhibit.go``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.alerts.inhibit import AlertRef, Inhibitor, InhibitRule, rules_from_config
from tocsin.alerts.labels import fingerprint
from tocsin.config import parse_config

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def rules(yaml_rules: str) -> list[InhibitRule]:
    config = parse_config(
        "route: {receiver: r}\nreceivers: [{name: r}]\ninhibit_rules:\n" + yaml_rules
    )
    return rules_from_config(config)


CRITICAL_OVER_WARNING = """
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname, service]
"""


def ref(labels: Mapping[str, str], ends_at: datetime | None = None) -> AlertRef:
    return (fingerprint(labels), labels, ends_at)


# (id, rules, firing sources, target, indices of the sources that inhibit the target)
CASES: list[tuple[str, str, list[dict[str, str]], dict[str, str], list[int]]] = [
    # "mutes an alert (target) [...] when an alert (source) exists [...]. Both target
    # and source alerts must have the same label values for the label names in equal"
    (
        "equal-labels-match",
        CRITICAL_OVER_WARNING,
        [{"severity": "critical", "alertname": "Down", "service": "api"}],
        {"severity": "warning", "alertname": "Down", "service": "api"},
        [0],
    ),
    (
        "equal-label-differs",
        CRITICAL_OVER_WARNING,
        [{"severity": "critical", "alertname": "Down", "service": "db"}],
        {"severity": "warning", "alertname": "Down", "service": "api"},
        [],
    ),
    # "if all the label names listed in equal are missing from both the source and
    # target alerts, the inhibition rule will apply"
    (
        "equal-labels-missing-on-both",
        CRITICAL_OVER_WARNING,
        [{"severity": "critical"}],
        {"severity": "warning"},
        [0],
    ),
    # "a missing label and a label with an empty value are the same thing"
    (
        "missing-equals-empty",
        CRITICAL_OVER_WARNING,
        [{"severity": "critical", "alertname": "Down", "service": ""}],
        {"severity": "warning", "alertname": "Down"},
        [0],
    ),
    # missing on one side, set on the other: not equal
    (
        "missing-on-target-only",
        CRITICAL_OVER_WARNING,
        [{"severity": "critical", "alertname": "Down", "service": "api"}],
        {"severity": "warning", "alertname": "Down"},
        [],
    ),
    # the target must match target_matchers
    (
        "target-side-does-not-match",
        CRITICAL_OVER_WARNING,
        [{"severity": "critical", "alertname": "Down", "service": "api"}],
        {"severity": "info", "alertname": "Down", "service": "api"},
        [],
    ),
    # only alerts matching source_matchers inhibit
    (
        "source-side-does-not-match",
        CRITICAL_OVER_WARNING,
        [{"severity": "warning", "alertname": "Down", "service": "api", "x": "1"}],
        {"severity": "warning", "alertname": "Down", "service": "api"},
        [],
    ),
    # every firing source counts
    (
        "several-sources",
        CRITICAL_OVER_WARNING,
        [
            {"severity": "critical", "alertname": "Down", "service": "api", "instance": "a"},
            {"severity": "critical", "alertname": "Down", "service": "api", "instance": "b"},
            {"severity": "critical", "alertname": "Down", "service": "db", "instance": "c"},
        ],
        {"severity": "warning", "alertname": "Down", "service": "api"},
        [0, 1],
    ),
    # "an alert that matches both the target and the source side of a rule cannot be
    # inhibited by alerts for which the same is true"
    (
        "both-sides-not-inhibited-by-both-sides",
        """
  - source_matchers: [alertname="NodeDown"]
    target_matchers: [alertname="NodeDown"]
""",
        [{"alertname": "NodeDown", "instance": "a"}],
        {"alertname": "NodeDown", "instance": "b"},
        [],
    ),
    # ... but it is inhibited by an alert matching the source side only
    (
        "both-sides-inhibited-by-source-only",
        """
  - source_matchers: [team="infra"]
    target_matchers: [severity=~"warning|critical"]
""",
        [{"team": "infra", "severity": "page"}],
        {"team": "infra", "severity": "warning"},
        [0],
    ),
    # deprecated source_match / target_match_re still work
    (
        "deprecated-match-maps",
        """
  - source_match: {severity: critical}
    target_match_re: {severity: 'warn.*'}
    equal: [cluster]
""",
        [{"severity": "critical", "cluster": "eu"}],
        {"severity": "warning", "cluster": "eu"},
        [0],
    ),
    # the deprecated regexes are anchored like matchers
    (
        "deprecated-regex-anchored",
        """
  - source_match: {severity: critical}
    target_match_re: {severity: 'warn'}
""",
        [{"severity": "critical"}],
        {"severity": "warning"},
        [],
    ),
]


@pytest.mark.parametrize(
    ("rule_yaml", "sources", "target", "inhibiting"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_inhibition(
    rule_yaml: str, sources: list[dict[str, str]], target: dict[str, str], inhibiting: list[int]
) -> None:
    inhibitor = Inhibitor(rules(rule_yaml), [ref(s) for s in sources], now=NOW)
    # One inhibiting alert is named, as Alertmanager names one: the least fingerprint.
    expected = [min(fingerprint(sources[i]) for i in inhibiting)] if inhibiting else []
    assert inhibitor.inhibited_by(fingerprint(target), target) == expected
    assert inhibitor.is_inhibited(fingerprint(target), target) is bool(inhibiting)


@pytest.mark.parametrize(
    ("ends_at", "inhibited"),
    [
        # "The cache might be stale and contain resolved alerts": resolved sources skip
        (NOW - timedelta(seconds=1), False),
        (NOW, False),  # resolved exactly now (end time not after now)
        (NOW + timedelta(minutes=5), True),  # still firing
        (None, True),  # no end time given: firing
    ],
)
def test_resolved_sources_do_not_inhibit(ends_at: datetime | None, inhibited: bool) -> None:
    source = {"severity": "critical", "alertname": "Down", "service": "api"}
    target = {"severity": "warning", "alertname": "Down", "service": "api"}
    inhibitor = Inhibitor(rules(CRITICAL_OVER_WARNING), [ref(source, ends_at)], now=NOW)
    assert inhibitor.is_inhibited(fingerprint(target), target) is inhibited


def test_an_alert_never_inhibits_itself() -> None:
    rule = """
  - source_matchers: [kind="outage"]
    target_matchers: [severity="page"]
"""
    alert = {"kind": "outage", "severity": "page"}  # matches both sides of the rule
    other = {"kind": "outage", "severity": "low"}  # matches the source side only
    inhibitor = Inhibitor(rules(rule), [ref(alert)], now=NOW)
    assert inhibitor.inhibited_by(fingerprint(alert), alert) == []
    inhibitor = Inhibitor(rules(rule), [ref(alert), ref(other)], now=NOW)
    assert inhibitor.inhibited_by(fingerprint(alert), alert) == [fingerprint(other)]


def test_one_inhibiting_alert_is_named_that_of_the_first_rule_that_inhibits() -> None:
    both = CRITICAL_OVER_WARNING + (
        '  - source_matchers: [alertname="ClusterDown"]\n'
        '    target_matchers: [severity="warning"]\n'
    )
    critical = {"severity": "critical", "alertname": "Down", "service": "api"}
    cluster = {"alertname": "ClusterDown"}
    target = {"severity": "warning", "alertname": "Down", "service": "api"}
    inhibitor = Inhibitor(rules(both), [ref(cluster), ref(critical)], now=NOW)
    assert inhibitor.inhibited_by(fingerprint(target), target) == [fingerprint(critical)]
    many = [{**critical, "instance": str(i)} for i in range(50)]
    inhibitor = Inhibitor(rules(CRITICAL_OVER_WARNING), [ref(s) for s in many], now=NOW)
    assert inhibitor.inhibited_by(fingerprint(target), target) == [
        min(fingerprint(s) for s in many)
    ]


def test_two_element_refs_are_firing() -> None:
    source = {"severity": "critical", "alertname": "Down", "service": "api"}
    target = {"severity": "warning", "alertname": "Down", "service": "api"}
    inhibitor = Inhibitor(rules(CRITICAL_OVER_WARNING), [(fingerprint(source), source)])
    assert inhibitor.inhibited_by(fingerprint(target), target) == [fingerprint(source)]


def test_rule_from_config_folds_deprecated_matchers() -> None:
    (rule,) = rules(
        """
  - source_match: {a: "1"}
    source_match_re: {b: "x|y"}
    source_matchers: ['c!="2"']
    target_matchers: [d="3"]
    equal: [service, alertname, service]
"""
    )
    assert [str(m) for m in rule.source_matchers] == ['a="1"', 'b=~"^(?:x|y)$"', 'c!="2"']
    assert rule.equal == ("alertname", "service")
