"""Inhibition: a firing *source* alert mutes *target* alerts that share its ``equal`` labels.

Alertmanager's semantics (``inhibit/inhibit.go`` and the configuration docs):

* only firing source alerts inhibit (one whose end time has passed does not);
* every label in ``equal`` must have the same value on both alerts, a missing label
  counting as the empty value (so a rule whose ``equal`` labels are absent from both
  alerts applies);
* an alert matching both the source and target side of a rule is not inhibited by
  another alert that also matches both sides of that rule;
* an alert never inhibits itself.

An :class:`Inhibitor` is a snapshot: built from the rules and the alerts firing now, it
answers for any alert. Sources are indexed per rule by their ``equal`` label values, so
a question costs one dictionary lookup per rule, not a scan of the alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from tocsin.alerts.matchers import Matcher, matches_all
from tocsin.config.common import with_legacy_maps
from tocsin.config.model import Config
from tocsin.config.model import InhibitRule as InhibitRuleConfig

__all__ = ["AlertRef", "InhibitRule", "Inhibitor", "rules_from_config"]

# (fingerprint, labels) of a firing alert, or (fingerprint, labels, ends_at) to let the
# inhibitor drop alerts that have ended by ``now``.
AlertRef = tuple[str, Mapping[str, str]] | tuple[str, Mapping[str, str], datetime | None]


@dataclass(frozen=True)
class InhibitRule:
    """One resolved rule: the deprecated ``*_match``/``*_match_re`` maps folded in."""

    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...]
    name: str = ""

    @classmethod
    def from_config(cls, rule: InhibitRuleConfig) -> InhibitRule:
        return cls(
            source_matchers=with_legacy_maps(
                rule.source_match, rule.source_match_re, rule.source_matchers
            ),
            target_matchers=with_legacy_maps(
                rule.target_match, rule.target_match_re, rule.target_matchers
            ),
            equal=tuple(sorted(set(rule.equal))),
            name=rule.name,
        )

    def equal_values(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(labels.get(name, "") for name in self.equal)


def rules_from_config(config: Config) -> list[InhibitRule]:
    return [InhibitRule.from_config(rule) for rule in config.inhibit_rules]


@dataclass(frozen=True, slots=True)
class _Source:
    fingerprint: str
    matches_target: bool  # the source also matches the rule's target side


class Inhibitor:
    """Which firing alerts inhibit a given alert, for a fixed set of firing alerts."""

    def __init__(
        self,
        rules: Iterable[InhibitRule],
        alerts: Iterable[AlertRef],
        now: datetime | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self._sources: list[dict[tuple[str, ...], list[_Source]]] = [{} for _ in self.rules]
        for alert in alerts:
            fingerprint, labels = alert[0], alert[1]
            ends_at = alert[2] if len(alert) == 3 else None
            if ends_at is not None and now is not None and ends_at <= now:
                continue  # resolved: a stale source no longer inhibits
            for rule, index in zip(self.rules, self._sources, strict=True):
                if matches_all(rule.source_matchers, labels):
                    source = _Source(fingerprint, matches_all(rule.target_matchers, labels))
                    index.setdefault(rule.equal_values(labels), []).append(source)

    def inhibited_by(self, fingerprint: str, labels: Mapping[str, str]) -> list[str]:
        """The fingerprint of one firing alert that inhibits this one, or none.

        One, as Alertmanager's ``inhibitedBy`` holds one: of the first rule that
        inhibits, the least source fingerprint, so that the answer does not change
        between two reads. (All of them would make every inhibited alert of a storm
        carry hundreds of fingerprints in the API and the console.)
        """
        for rule, index in zip(self.rules, self._sources, strict=True):
            if not matches_all(rule.target_matchers, labels):
                continue
            both_sides = matches_all(rule.source_matchers, labels)
            found = [
                source.fingerprint
                for source in index.get(rule.equal_values(labels), ())
                if source.fingerprint != fingerprint and not (both_sides and source.matches_target)
            ]
            if found:
                return [min(found)]
        return []

    def is_inhibited(self, fingerprint: str, labels: Mapping[str, str]) -> bool:
        return bool(self.inhibited_by(fingerprint, labels))
