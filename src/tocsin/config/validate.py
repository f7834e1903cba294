"""Rules that span sections of the configuration, and the ``global`` defaults.

Each cross-check is a function ``(config) -> problems`` in :data:`CROSS_CHECKS` (run once
the file has a root route); a new
top-level section that refers to others (an escalation policy naming a schedule, ...)
adds its own function there. Problems name the line through ``config.line_of``.

After the checks pass, :func:`apply_global_defaults` fills in what receivers inherit
from ``global`` (SMTP settings, API URLs and keys, ``http_config``), exactly where
Alertmanager does, so notifiers read one effective value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tocsin.config.errors import ConfigProblem
from tocsin.config.escalation import check_escalation
from tocsin.config.model import Config, GlobalConfig, Route
from tocsin.config.oncall import Person, check_oncall
from tocsin.config.receivers import (
    PAGERDUTY_DEFAULT_DETAILS,
    EmailConfig,
    JiraConfig,
    OpsGenieConfig,
    PagerdutyConfig,
    Receiver,
    RocketchatConfig,
    SlackConfig,
    TelegramConfig,
    VictorOpsConfig,
    WebexConfig,
    WechatConfig,
)

__all__ = ["CROSS_CHECKS", "apply_global_defaults", "cross_check"]

CrossCheck = Callable[[Config], Iterator[ConfigProblem]]


def _problem(config: Config, key: str, message: str) -> ConfigProblem:
    return ConfigProblem(config.source, config.line_of(key), key, message)


def _walk(route: Route, path: str) -> Iterator[tuple[Route, str]]:
    yield route, path
    for index, child in enumerate(route.routes):
        yield from _walk(child, f"{path}.routes[{index}]")


def check_root_route(config: Config) -> Iterator[ConfigProblem]:
    root = config.route
    if not root.receiver:
        yield _problem(config, "route.receiver", "root route must specify a default receiver")
    for key in ("match", "match_re", "matchers"):
        if getattr(root, key):
            yield _problem(config, f"route.{key}", "root route must not have any matchers")
    if root.mute_time_intervals:
        yield _problem(
            config, "route.mute_time_intervals", "root route must not have any mute time intervals"
        )
    if root.active_time_intervals:
        yield _problem(
            config,
            "route.active_time_intervals",
            "root route must not have any active time intervals",
        )
    if root.continue_:
        yield _problem(config, "route.continue", "cannot have continue in root route")


def check_receivers(config: Config) -> Iterator[ConfigProblem]:
    names: set[str] = set()
    for index, receiver in enumerate(config.receivers):
        if receiver.name and receiver.name in names:
            yield _problem(
                config,
                f"receivers[{index}].name",
                f"notification config name {receiver.name!r} is not unique",
            )
        names.add(receiver.name)
    for route, path in _walk(config.route, "route"):
        if route.receiver and route.receiver not in names:
            yield _problem(
                config, f"{path}.receiver", f"undefined receiver {route.receiver!r} used in route"
            )


def check_time_intervals(config: Config) -> Iterator[ConfigProblem]:
    names: set[str] = set()
    for section in ("mute_time_intervals", "time_intervals"):
        for index, interval in enumerate(getattr(config, section)):
            if interval.name and interval.name in names:
                what = "mute time interval" if section == "mute_time_intervals" else "time interval"
                yield _problem(
                    config,
                    f"{section}[{index}].name",
                    f"{what} {interval.name!r} is not unique",
                )
            names.add(interval.name)
    for route, path in _walk(config.route, "route"):
        for key in ("mute_time_intervals", "active_time_intervals"):
            for index, name in enumerate(getattr(route, key)):
                if name not in names:
                    yield _problem(
                        config,
                        f"{path}.{key}[{index}]",
                        f"undefined time interval {name!r} used in route",
                    )


def check_global_requirements(config: Config) -> Iterator[ConfigProblem]:
    """Receiver settings that may come from ``global`` must come from somewhere."""
    g = config.global_
    for r_index, receiver in enumerate(config.receivers):
        for kind, index, settings in receiver.integrations():
            key = f"receivers[{r_index}].{kind}_configs[{index}]"
            for message in _missing_globals(settings, g):
                yield _problem(config, key, message)


def _missing_globals(settings: object, g: GlobalConfig) -> Iterator[str]:
    if isinstance(settings, EmailConfig):
        if not settings.smarthost and not g.smtp_smarthost:
            yield "no global SMTP smarthost set"
        if not settings.from_ and not g.smtp_from:
            yield "no global SMTP from set"
    elif isinstance(settings, SlackConfig):
        has_own = settings.api_url or settings.api_url_file
        has_app = settings.app_token or settings.app_token_file
        if not (has_own or has_app or g.slack_configured):
            yield "no global Slack API URL set either inline or in a file"
    elif isinstance(settings, OpsGenieConfig):
        if not (settings.api_key or settings.api_key_file) and not (
            g.opsgenie_api_key or g.opsgenie_api_key_file
        ):
            yield "no global OpsGenie API Key set either inline or in a file"
    elif isinstance(settings, WechatConfig):
        if not (settings.api_secret or settings.api_secret_file) and not (
            g.wechat_api_secret or g.wechat_api_secret_file
        ):
            yield "no global Wechat ApiSecret set"
        if not settings.corp_id and not g.wechat_api_corp_id:
            yield "no global Wechat CorpID set"
    elif isinstance(settings, VictorOpsConfig):
        if not (settings.api_key or settings.api_key_file) and not (
            g.victorops_api_key or g.victorops_api_key_file
        ):
            yield "no global VictorOps API Key set"
    elif isinstance(settings, JiraConfig):
        if settings.api_url is None and g.jira_api_url is None:
            yield "no global Jira Cloud URL set"
    elif isinstance(settings, RocketchatConfig):
        if (
            settings.token_id is None
            and not settings.token_id_file
            and (g.rocketchat_token_id is None and not g.rocketchat_token_id_file)
        ):
            yield "no global Rocketchat TokenID set either inline or in a file"
        if (
            settings.token is None
            and not settings.token_file
            and (g.rocketchat_token is None and not g.rocketchat_token_file)
        ):
            yield "no global Rocketchat Token set either inline or in a file"


# (what a check relies on, check). A check is skipped when a problem already found sits
# at a key matching one of its patterns: a receiver whose entry failed to load would
# otherwise show up again as an "undefined receiver", a global setting that failed as a
# missing one.
def check_fallbacks(config: Config) -> Iterator[ConfigProblem]:
    names = {r.name for r in config.receivers}
    for name, target in config.tocsin.fallbacks.items():
        for which, value in (("receiver", name), ("fallback receiver", target)):
            if value not in names:
                yield _problem(
                    config, f"tocsin.fallbacks.{name}", f"undefined {which} {value!r} used"
                )


def check_announcements(config: Config) -> Iterator[ConfigProblem]:
    """Every receiver incidents are announced to exists."""
    names = {r.name for r in config.receivers}
    settings = config.tocsin.incidents
    lists = [("tocsin.incidents.announce", settings.announce)]
    lists += [
        (f"tocsin.incidents.severities[{i}].announce", s.announce)
        for i, s in enumerate(settings.severities)
    ]
    for key, receivers in lists:
        for j, name in enumerate(receivers):
            if name not in names:
                yield _problem(config, f"{key}[{j}]", f"undefined receiver {name!r} used")


def check_oncall_sections(config: Config) -> Iterator[ConfigProblem]:
    for key, message in check_oncall(config.people, config.schedules):
        yield _problem(config, key, message)
    yield from _unreachable_people(config)
    refs = [
        (f"receivers[{i}].escalation_policy", r.escalation_policy)
        for i, r in enumerate(config.receivers)
        if r.escalation_policy
    ]
    for key, message in check_escalation(
        config.escalation_policies,
        [p.name for p in config.people],
        [s.name for s in config.schedules],
        [r.name for r in config.receivers],
        policy_refs=refs,
    ):
        yield _problem(config, key, message)


def paged_people(config: Config) -> set[str]:
    """The people escalation can page: a policy's person targets, and everyone in a
    schedule a policy pages (its layers and its overrides)."""
    targets = [t for p in config.escalation_policies for step in p.steps for t in step.targets]
    paged = {t.person for t in targets if t.person}
    schedules = {t.schedule for t in targets if t.schedule}
    for s in config.schedules:
        if s.name in schedules:
            paged.update(name for layer in s.layers for name in layer.participants)
            paged.update(o.person for o in s.overrides if o.person)
    return paged


_NO_SMTP = "global.smtp_smarthost or smtp_from is not set"
_NO_SLACK = "global.slack_api_url (or slack_app_token) is not set"


def unreachable(person: Person, config: Config) -> str | None:
    """Why a page to ``person`` would reach nobody, as a config problem's message, or
    None: they are reachable, or no policy can page them. An email needs ``global``'s
    SMTP server and sender, a Slack user a Slack set up in ``global``
    (``core.policy.person_receiver`` pages by the same rule)."""
    if person.name not in paged_people(config):
        return None
    why = _unreachable_because(person, config.global_)
    if why is None:
        return None
    return f"{person.name!r} can be paged by escalation but {why}: nothing would reach them"


def _unreachable_because(person: Person, g: GlobalConfig) -> str | None:
    if (person.email and g.smtp_configured) or (person.slack_user and g.slack_configured):
        return None
    if not person.email and not person.slack_user:
        return "has no email or slack_user"
    why = [f"has an email but {_NO_SMTP}"] if person.email else ["has no email"]
    if person.slack_user:
        why.append(_NO_SLACK)
    return ", and ".join(why)


def _unreachable_people(config: Config) -> Iterator[ConfigProblem]:
    """People escalation can page whom Tocsin cannot reach: a page to them would go
    nowhere, found at 3 a.m. rather than now. (A person PUT through the API must pass
    the same rule, see ``core.people``.)"""
    g = config.global_
    for i, person in enumerate(config.people):
        for urgency, rules in person.notification_rules.items():
            for j, rule in enumerate(rules):
                key = f"people[{i}].notification_rules.{urgency}[{j}]"
                if rule.channel == "slack" and person.slack_user and not g.slack_configured:
                    yield _problem(config, key, f"slack rule but {_NO_SLACK}")
                if rule.channel == "email" and person.email and not g.smtp_configured:
                    yield _problem(config, key, f"email rule but {_NO_SMTP}")
        if person.contacts_via_api:
            continue  # the server checks what the API holds (core.people)
        problem = unreachable(person, config)
        if problem is not None:
            hint = " (contacts_via_api: true if they set their own through the API)"
            yield _problem(config, f"people[{i}]", problem + hint)


def check_runbook_paths(config: Config) -> Iterator[ConfigProblem]:
    """Runbook files and folders must exist (relative to the config file, as the
    server reads them): a typo would otherwise leave every alert without its runbook."""
    base = Path(config.source).resolve().parent
    for index, entry in enumerate(config.tocsin.runbooks.paths):
        path = Path(entry) if Path(entry).is_absolute() else base / entry
        if not path.exists():
            yield _problem(
                config, f"tocsin.runbooks.paths[{index}]", f"no such file or folder: {path}"
            )


CROSS_CHECKS: list[tuple[tuple[str, ...], CrossCheck]] = [
    ((), check_root_route),
    ((r"receivers(\[\d+\](\.name)?)?",), check_receivers),
    ((r"(mute_)?time_intervals(\[\d+\](\.name)?)?",), check_time_intervals),
    ((r"global(\..*)?",), check_global_requirements),
    ((r"receivers(\[\d+\](\.name)?)?", r"tocsin(\..*)?"), check_fallbacks),
    ((r"tocsin(\..*)?",), check_runbook_paths),
    ((r"receivers(\[\d+\](\.name)?)?", r"tocsin(\..*)?"), check_announcements),
    (
        (
            r"people(\[\d+\](\.name)?)?",
            r"schedules(\[\d+\](\.name)?)?",
            r"escalation_policies(\[\d+\](\.name)?)?",
            r"receivers(\[\d+\](\.name)?)?",
        ),
        check_oncall_sections,
    ),
]


def cross_check(config: Config, known: Iterable[ConfigProblem] = ()) -> list[ConfigProblem]:
    """Problems across sections, leaving out those ``known`` problems already explain."""
    known_keys = [p.key for p in known]
    problems: list[ConfigProblem] = []
    for patterns, check in CROSS_CHECKS:
        if any(re.fullmatch(pattern, key) for pattern in patterns for key in known_keys):
            continue
        problems.extend(
            p for p in check(config) if not any(_within(p.key, key) for key in known_keys)
        )
    return problems


def _within(key: str, ancestor: str) -> bool:
    return key == ancestor or key.startswith((ancestor + ".", ancestor + "["))


# --- global defaults ------------------------------------------------------------------


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _effective(settings: Any, g: GlobalConfig) -> Any:
    changes: dict[str, Any] = {}
    if getattr(settings, "http_config", "absent") is None:
        changes["http_config"] = g.http_config
    if isinstance(settings, EmailConfig):
        changes.update(
            smarthost=settings.smarthost or g.smtp_smarthost,
            from_=settings.from_ or g.smtp_from,
            hello=settings.hello or g.smtp_hello,
            auth_username=settings.auth_username or g.smtp_auth_username,
            auth_identity=settings.auth_identity or g.smtp_auth_identity,
            require_tls=g.smtp_require_tls
            if settings.require_tls is None
            else settings.require_tls,
            tls_config=settings.tls_config or g.smtp_tls_config,
        )
        if settings.force_implicit_tls is None:
            changes["force_implicit_tls"] = g.smtp_force_implicit_tls
        if not settings.auth_password and not settings.auth_password_file:
            changes.update(
                auth_password=g.smtp_auth_password, auth_password_file=g.smtp_auth_password_file
            )
        if not settings.auth_secret and not settings.auth_secret_file:
            changes.update(auth_secret=g.smtp_auth_secret, auth_secret_file=g.smtp_auth_secret_file)
    elif isinstance(settings, SlackConfig):
        own = settings.api_url or settings.api_url_file or settings.app_token
        if not own and not settings.app_token_file:
            if g.slack_api_url or g.slack_api_url_file:
                changes.update(api_url=g.slack_api_url, api_url_file=g.slack_api_url_file)
            else:
                changes.update(app_token=g.slack_app_token, app_token_file=g.slack_app_token_file)
        if settings.app_url is None and g.slack_app_url is not None:
            changes["app_url"] = g.slack_app_url
    elif isinstance(settings, PagerdutyConfig):
        if settings.url is None:
            changes["url"] = g.pagerduty_url
        if not settings.source:
            changes["source"] = settings.client
        changes["details"] = {**PAGERDUTY_DEFAULT_DETAILS, **settings.details}
    elif isinstance(settings, OpsGenieConfig):
        changes["api_url"] = _with_slash(settings.api_url or g.opsgenie_api_url)
        if not settings.api_key and not settings.api_key_file:
            changes.update(api_key=g.opsgenie_api_key, api_key_file=g.opsgenie_api_key_file)
    elif isinstance(settings, WechatConfig):
        changes.update(
            api_url=_with_slash(settings.api_url or g.wechat_api_url),
            corp_id=settings.corp_id or g.wechat_api_corp_id,
        )
        if not settings.api_secret and not settings.api_secret_file:
            changes.update(api_secret=g.wechat_api_secret, api_secret_file=g.wechat_api_secret_file)
    elif isinstance(settings, VictorOpsConfig):
        changes["api_url"] = _with_slash(settings.api_url or g.victorops_api_url)
        if not settings.api_key and not settings.api_key_file:
            changes.update(api_key=g.victorops_api_key, api_key_file=g.victorops_api_key_file)
    elif isinstance(settings, TelegramConfig):
        changes["api_url"] = settings.api_url or g.telegram_api_url
    elif isinstance(settings, WebexConfig):
        changes["api_url"] = settings.api_url or g.webex_api_url
    elif isinstance(settings, JiraConfig):
        changes["api_url"] = settings.api_url or g.jira_api_url
    elif isinstance(settings, RocketchatConfig):
        changes["api_url"] = settings.api_url or g.rocketchat_api_url
        if settings.token_id is None and not settings.token_id_file:
            changes.update(token_id=g.rocketchat_token_id, token_id_file=g.rocketchat_token_id_file)
        if settings.token is None and not settings.token_file:
            changes.update(token=g.rocketchat_token, token_file=g.rocketchat_token_file)
    return dataclasses.replace(settings, **changes) if changes else settings


def effective_receiver(receiver: Receiver, g: GlobalConfig) -> Receiver:
    """``receiver`` with its inherited settings filled in from ``global``."""
    updates: dict[str, Any] = {}
    for field in dataclasses.fields(receiver):
        if field.name.endswith("_configs"):
            items = getattr(receiver, field.name)
            updates[field.name] = tuple(_effective(s, g) for s in items)
    return dataclasses.replace(receiver, **updates)


def apply_global_defaults(config: Config) -> Config:
    """``config`` with every receiver's inherited settings filled in from ``global``."""
    receivers = tuple(effective_receiver(r, config.global_) for r in config.receivers)
    return dataclasses.replace(config, receivers=receivers)
