"""Which alert names the configuration and the Prometheus rule files mention, and where.

Used by ``tocsin runbook lint`` to find alerts without a procedure and procedures
without an alert. From the config: every ``alertname`` equality matcher of routes and
inhibit rules (regular expressions name no single alert). From rule files: every
``alert:`` of every group, with its line and its ``runbook_url``. From
``tocsin.runbooks.links``: every linked alert, with where it is linked to.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from tocsin.alerts.matchers import Matcher, MatchType
from tocsin.config import Config
from tocsin.config.model import Route
from tocsin.runbooks.lint import NamedAlert


def _names(matchers: tuple[Matcher, ...], match: dict[str, str] | None = None) -> list[str]:
    out = [m.value for m in matchers if m.name == "alertname" and m.type is MatchType.EQUAL]
    if match and "alertname" in match:
        out.append(match["alertname"])
    return out


def config_alert_names(config: Config) -> list[NamedAlert]:
    found: list[NamedAlert] = []

    def walk(route: Route, path: str) -> Iterator[tuple[Route, str]]:
        yield route, path
        for i, child in enumerate(route.routes):
            yield from walk(child, f"{path}.routes[{i}]")

    for route, path in walk(config.route, "route"):
        for name in _names(route.matchers, dict(route.match)):
            found.append(NamedAlert(name, config.source, config.line_of(f"{path}.matchers")))
    for i, rule in enumerate(config.inhibit_rules):
        for side in ("source", "target"):
            matchers = getattr(rule, f"{side}_matchers")
            match = dict(getattr(rule, f"{side}_match"))
            for name in _names(matchers, match):
                key = f"inhibit_rules[{i}].{side}_matchers"
                found.append(NamedAlert(name, config.source, config.line_of(key)))
    for name, target in config.tocsin.runbooks.links.items():
        line = config.line_of(f"tocsin.runbooks.links.{name}")
        found.append(NamedAlert(name, config.source, line, target, explicit=True))
    return found


class RuleFileError(ValueError):
    pass


def rule_alert_names(text: str, filename: str) -> list[NamedAlert]:
    """The ``alert:`` names of a Prometheus rule file, with their lines."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{filename}: not YAML: {exc}") from None
    found: list[NamedAlert] = []
    if not isinstance(root, yaml.MappingNode):
        return found
    for key, groups in root.value:
        if key.value != "groups" or not isinstance(groups, yaml.SequenceNode):
            continue
        for group in groups.value:
            if not isinstance(group, yaml.MappingNode):
                continue
            for gkey, rules in group.value:
                if gkey.value != "rules" or not isinstance(rules, yaml.SequenceNode):
                    continue
                for rule in rules.value:
                    if isinstance(rule, yaml.MappingNode):
                        found += _rule_alert(rule, filename)
    return found


def _rule_alert(rule: yaml.MappingNode, filename: str) -> list[NamedAlert]:
    """The alert an alerting rule names, with its ``runbook_url`` annotation."""
    name: yaml.ScalarNode | None = None
    url = ""
    for key, value in rule.value:
        if key.value == "alert" and isinstance(value, yaml.ScalarNode):
            name = value
        elif key.value == "annotations" and isinstance(value, yaml.MappingNode):
            for akey, avalue in value.value:
                if akey.value == "runbook_url" and isinstance(avalue, yaml.ScalarNode):
                    url = str(avalue.value)
    if name is None:
        return []
    return [NamedAlert(str(name.value), filename, name.start_mark.line + 1, url)]
