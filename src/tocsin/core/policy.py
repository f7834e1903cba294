"""The loaded configuration as the alert store's Policy: routing and inhibition."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from tocsin.alerts.inhibit import Inhibitor, InhibitRule
from tocsin.alerts.labels import LabelSet
from tocsin.alerts.model import Alert
from tocsin.alerts.mutes import Muter
from tocsin.alerts.routing import build_route_tree, group_key, group_labels, match
from tocsin.alerts.timeintervals import TimeInterval
from tocsin.config import Config
from tocsin.config.oncall import Person
from tocsin.config.receivers import EmailConfig, Receiver, SlackConfig
from tocsin.config.validate import effective_receiver
from tocsin.core.alert_store import RouteMatch
from tocsin.notify.config_checks import load_templates
from tocsin.notify.templates import Templates


class ConfigPolicy:
    def __init__(
        self, config: Config, people: Callable[[str], Person | None] | None = None
    ) -> None:
        self.config = config
        self._person = people or config.person
        self.root = build_route_tree(config)
        self.rules = [InhibitRule.from_config(r) for r in config.inhibit_rules]
        # Loaded (and compiled) with the config, template files and receivers' template
        # settings alike, so a broken template refuses the config (ConfigError: file,
        # line, key), at start or reload, instead of failing a notification at 3 a.m.
        self.templates: Templates = load_templates(config)
        self._people: dict[str, tuple[Person, Receiver]] = {}

    def route(self, labels: LabelSet) -> list[RouteMatch]:
        return [
            RouteMatch(
                receiver=node.receiver,
                group_key=group_key(node, labels),
                group_labels=group_labels(node, labels),
            )
            for node in match(self.root, labels)
        ]

    def inhibitor(self, firing: Iterable[Alert]) -> Muter:
        if not self.rules:  # nothing to index: do not walk every firing alert
            return _NOTHING_INHIBITS
        return _InhibitMuter(Inhibitor(self.rules, ((a.fingerprint, a.labels) for a in firing)))

    def receiver_names(self) -> list[str]:
        return [r.name for r in self.config.receivers]

    def receiver(self, name: str) -> Receiver | None:
        """A configured receiver, or ``person:NAME``: how Tocsin reaches that person
        when an escalation pages them (e-mail through the global SMTP settings, Slack
        through the global Slack URL, as far as the person's profile has them)."""
        if not name.startswith(PERSON_PREFIX):
            return self.config.receiver(name)
        person = self._person(name.removeprefix(PERSON_PREFIX))
        if person is None:
            return None
        cached = self._people.get(person.name)
        if cached is None or cached[0] is not person:  # updated through the API
            cached = self._people[person.name] = (person, person_receiver(person, self.config))
        return cached[1]

    def time_intervals(self) -> Mapping[str, Sequence[TimeInterval]]:
        return self.config.named_time_intervals()


class _InhibitMuter:
    def __init__(self, inhibitor: Inhibitor) -> None:
        self._inhibitor = inhibitor

    def muted_by(self, fingerprint: str, labels: LabelSet) -> list[str]:
        return self._inhibitor.inhibited_by(fingerprint, labels)


class _NoInhibition:
    def muted_by(self, fingerprint: str, labels: LabelSet) -> list[str]:
        return []


_NOTHING_INHIBITS = _NoInhibition()

PERSON_PREFIX = "person:"


def person_receiver(person: Person, config: Config) -> Receiver:
    """The receiver that reaches one person: ``email[0]`` and ``slack[0]`` when known."""
    emails = (EmailConfig(to=person.email, send_resolved=True),) if person.email else ()
    slacks: tuple[SlackConfig, ...] = ()
    if person.slack_user and config.global_.slack_configured:
        slacks = (SlackConfig(channel=f"@{person.slack_user}", send_resolved=True),)
    receiver = Receiver(
        name=f"{PERSON_PREFIX}{person.name}", email_configs=emails, slack_configs=slacks
    )
    return effective_receiver(receiver, config.global_)
