"""The typed configuration tree: ``global``, ``route``, ``receivers``, ``inhibit_rules``,
``time_intervals`` (and the deprecated ``mute_time_intervals``) and ``templates``.

The shapes and defaults are Alertmanager's, so an existing ``alertmanager.yml`` loads
unchanged. :class:`Config` is the top level: a Tocsin section (people, schedules,
escalation policies, ...) is added as one more typed field there, whose dataclass may
define ``check()``, plus, if it refers to other sections, a cross-check registered in
:mod:`tocsin.config.validate`.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from tocsin.alerts.labels import NameValidation, label_name_error
from tocsin.alerts.timeintervals import (
    InclusiveRange,
    Location,
    TimeInterval,
    TimeRange,
    load_location,
    parse_day_of_month_range,
    parse_month_range,
    parse_time_range,
    parse_weekday_range,
    parse_year_range,
)
from tocsin.config.common import (
    SECRET_TOKEN,
    URL,
    HostPort,
    HTTPClientConfig,
    MatcherList,
    ProbeURL,
    PromDuration,
    RegexString,
    SecretURL,
    TLSConfig,
    at_most_one,
)
from tocsin.config.decode import NO_SECRET, NOT_YAML, Conv, Issue, Secret
from tocsin.config.durations import format_duration
from tocsin.config.escalation import EscalationPolicy
from tocsin.config.oncall import Person, ScheduleConfig
from tocsin.config.receivers import Receiver

__all__ = [
    "Config",
    "GlobalConfig",
    "InhibitRule",
    "NamedTimeInterval",
    "Route",
]


@dataclass(frozen=True)
class GlobalConfig:
    """``global``: defaults for the other sections."""

    resolve_timeout: PromDuration = timedelta(minutes=5)
    http_config: HTTPClientConfig = field(default_factory=HTTPClientConfig)
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: HostPort = ""
    smtp_auth_username: str = ""
    smtp_auth_password: Secret = NO_SECRET
    smtp_auth_password_file: str = ""
    smtp_auth_secret: Secret = NO_SECRET
    smtp_auth_secret_file: str = ""
    smtp_auth_identity: str = ""
    smtp_require_tls: bool = True
    smtp_tls_config: TLSConfig = field(default_factory=TLSConfig)
    smtp_force_implicit_tls: bool | None = None
    slack_api_url: SecretURL | None = None
    slack_api_url_file: str = ""
    slack_app_token: Secret = NO_SECRET
    slack_app_token_file: str = ""
    slack_app_url: URL | None = None
    pagerduty_url: URL = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_api_url: URL = "https://api.opsgenie.com/"
    opsgenie_api_key: Secret = NO_SECRET
    opsgenie_api_key_file: str = ""
    wechat_api_url: URL = "https://qyapi.weixin.qq.com/cgi-bin/"
    wechat_api_secret: Secret = NO_SECRET
    wechat_api_secret_file: str = ""
    wechat_api_corp_id: str = ""
    victorops_api_url: URL = "https://alert.victorops.com/integrations/generic/20131114/alert/"
    victorops_api_key: Secret = NO_SECRET
    victorops_api_key_file: str = ""
    telegram_api_url: URL = "https://api.telegram.org"
    webex_api_url: URL = "https://webexapis.com/v1/messages"
    jira_api_url: URL | None = None
    rocketchat_api_url: URL = "https://open.rocket.chat/"
    rocketchat_token: Secret | None = None
    rocketchat_token_file: str = ""
    rocketchat_token_id: Secret | None = None
    rocketchat_token_id_file: str = ""

    @property
    def slack_configured(self) -> bool:
        """Whether Slack messages can be sent with no URL or token of their own: an
        incoming webhook, or a bot token (chat.postMessage), inline or in a file."""
        return bool(
            self.slack_api_url
            or self.slack_api_url_file
            or self.slack_app_token
            or self.slack_app_token_file
        )

    @property
    def smtp_configured(self) -> bool:
        """Whether e-mail can be sent with no server or sender of its own."""
        return bool(self.smtp_smarthost) and bool(self.smtp_from)

    def check(self) -> Iterator[Issue]:
        yield from at_most_one(self, "slack_api_url", "slack_api_url_file")
        yield from at_most_one(self, "slack_app_token", "slack_app_token_file")
        yield from at_most_one(self, "opsgenie_api_key", "opsgenie_api_key_file")
        yield from at_most_one(self, "victorops_api_key", "victorops_api_key_file")
        yield from at_most_one(self, "wechat_api_secret", "wechat_api_secret_file")
        yield from at_most_one(self, "smtp_auth_password", "smtp_auth_password_file")
        yield from at_most_one(self, "smtp_auth_secret", "smtp_auth_secret_file")
        if self.rocketchat_token is not None and self.rocketchat_token_file:
            yield Issue(
                "at most one of rocketchat_token & rocketchat_token_file must be configured",
                "rocketchat_token_file",
            )
        if self.rocketchat_token_id is not None and self.rocketchat_token_id_file:
            yield Issue(
                "at most one of rocketchat_token_id & rocketchat_token_id_file must be configured",
                "rocketchat_token_id_file",
            )


@dataclass(frozen=True)
class Route:
    """A node of the routing tree as written; :mod:`tocsin.alerts.routing` resolves it.

    ``None`` (and an empty ``group_by``) means "inherit from the parent".
    """

    receiver: str = ""
    group_by: tuple[str, ...] | None = None
    continue_: bool = False
    match: Mapping[str, str] = field(default_factory=dict)
    match_re: Mapping[str, RegexString] = field(default_factory=dict)
    matchers: MatcherList = ()
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    group_wait: PromDuration | None = None
    group_interval: PromDuration | None = None
    repeat_interval: PromDuration | None = None
    routes: tuple[Route, ...] = ()

    def check(self) -> Iterator[Issue]:
        for name in self.match:
            yield from _label_name_issue(name, f"match.{name}")
        for name in self.match_re:
            yield from _label_name_issue(name, f"match_re.{name}")
        group_by = self.group_by or ()
        labels = [g for g in group_by if g != "..."]
        if labels and len(labels) != len(group_by):
            yield Issue(
                "cannot have wildcard group_by (`...`) and other labels at the same time",
                "group_by",
            )
        seen: set[str] = set()
        for index, name in enumerate(group_by):
            if name == "...":
                continue
            problem = _label_name_problem(name)
            if problem is not None:
                yield Issue(f"invalid label name {name!r} in group_by list", f"group_by[{index}]")
            elif name in seen:
                yield Issue(f"duplicated label {name!r} in group_by", f"group_by[{index}]")
            seen.add(name)
        if self.group_interval is not None and self.group_interval == timedelta(0):
            yield Issue("group_interval cannot be zero", "group_interval")
        if self.repeat_interval is not None and self.repeat_interval == timedelta(0):
            yield Issue("repeat_interval cannot be zero", "repeat_interval")

    @property
    def has_matchers(self) -> bool:
        return bool(self.match or self.match_re or self.matchers)


@dataclass(frozen=True)
class InhibitRule:
    """Mute ``target`` alerts while a ``source`` alert with the same ``equal`` labels fires."""

    name: str = ""
    source_match: Mapping[str, str] = field(default_factory=dict)
    source_match_re: Mapping[str, RegexString] = field(default_factory=dict)
    source_matchers: MatcherList = ()
    target_match: Mapping[str, str] = field(default_factory=dict)
    target_match_re: Mapping[str, RegexString] = field(default_factory=dict)
    target_matchers: MatcherList = ()
    equal: tuple[str, ...] = ()

    def check(self) -> Iterator[Issue]:
        for section in ("source_match", "source_match_re", "target_match", "target_match_re"):
            for name in getattr(self, section):
                yield from _label_name_issue(name, f"{section}.{name}")
        for index, name in enumerate(self.equal):
            if _label_name_problem(name) is not None:
                yield Issue(f"invalid label name {name!r} in equal list", f"equal[{index}]")


# --- time intervals -------------------------------------------------------------------


@dataclass(frozen=True)
class TimeRangeSpec:
    """``times`` entry as written: ``start_time`` and ``end_time`` as ``HH:MM``."""

    start_time: str = ""
    end_time: str = ""


def _time_range(spec: TimeRangeSpec) -> TimeRange:
    return parse_time_range(spec.start_time, spec.end_time)


TimeRangeItem = Annotated[TimeRange, Conv(_time_range, source=TimeRangeSpec)]
WeekdayItem = Annotated[InclusiveRange, Conv(parse_weekday_range)]
DayOfMonthItem = Annotated[InclusiveRange, Conv(parse_day_of_month_range)]
MonthItem = Annotated[InclusiveRange, Conv(parse_month_range)]
YearItem = Annotated[InclusiveRange, Conv(parse_year_range)]
LocationItem = Annotated[Location, Conv(load_location)]


@dataclass(frozen=True)
class TimeIntervalSpec:
    """``<time_interval_spec>`` as written; becomes a pure :class:`TimeInterval`."""

    times: tuple[TimeRangeItem, ...] | None = None
    weekdays: tuple[WeekdayItem, ...] | None = None
    days_of_month: tuple[DayOfMonthItem, ...] | None = None
    months: tuple[MonthItem, ...] | None = None
    years: tuple[YearItem, ...] | None = None
    location: LocationItem | None = None


def _time_interval(spec: TimeIntervalSpec) -> TimeInterval:
    return TimeInterval(
        times=spec.times,
        weekdays=spec.weekdays,
        days_of_month=spec.days_of_month,
        months=spec.months,
        years=spec.years,
        location=spec.location,
    )


TimeIntervalItem = Annotated[TimeInterval, Conv(_time_interval, source=TimeIntervalSpec)]


@dataclass(frozen=True)
class NamedTimeInterval:
    """``<time_interval>``: a name routes refer to, and the intervals it covers."""

    name: str = ""
    time_intervals: tuple[TimeIntervalItem, ...] = ()

    def check(self) -> Iterator[Issue]:
        if not self.name:
            yield Issue("missing name in time interval", "name")


# --- Tocsin's own settings ------------------------------------------------------------


@dataclass(frozen=True)
class RunbookSettings:
    """``tocsin.runbooks``: Markdown runbooks to load (files or folders, relative to the
    config file, re-read on reload) and explicit links of alert names to runbook
    sections (``HighErrorRate: threads-agent-alertmanager#higherrorrate``)."""

    paths: tuple[str, ...] = ()
    links: Mapping[str, str] = field(default_factory=dict)

    def check(self) -> Iterator[Issue]:
        for alert, target in self.links.items():
            if not target.split("#", 1)[0]:
                yield Issue("must name a runbook: NAME or NAME#anchor", f"links.{alert}")


# PagerDuty's integration keys are 32 characters; a key is the sender's only credential.
ROUTING_KEY_MIN = 16


@dataclass(frozen=True)
class EventIntegration:
    """``tocsin.event_integrations[]``: a sender of PagerDuty Events API v2 events
    (``POST /v2/enqueue``), known by the routing key it sends. Its events become alerts
    labelled ``integration: NAME``, with ``labels`` as defaults the event's own fields
    override (``tocsin.alerts.pd_events``)."""

    name: str = ""
    routing_key: Secret = NO_SECRET
    labels: Mapping[str, str] = field(default_factory=dict)

    def check(self) -> Iterator[Issue]:
        if not self.name:
            yield Issue("missing name", "name")
        if not self.routing_key:
            yield Issue("missing routing_key: the key its events are sent with", "routing_key")
        elif self.routing_key == SECRET_TOKEN or len(self.routing_key) < ROUTING_KEY_MIN:
            # the key is the sender's only credential ("<secret>" is what the status
            # endpoint prints in its place: pasted back, it would be a key anyone knows)
            yield Issue(
                f"must be at least {ROUTING_KEY_MIN} characters, not {SECRET_TOKEN}",
                "routing_key",
            )
        for label in self.labels:
            problem = _label_name_problem(label)
            if problem:
                yield Issue(problem, f"labels.{label}")
            elif label in ("integration", "dedup_key"):
                yield Issue("set from the event itself, not configurable", f"labels.{label}")


HEARTBEAT_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"  # a path segment: /api/v1/heartbeats/NAME
# the labels Tocsin sets on a heartbeat's or a probe's alert itself
HEARTBEAT_OWN_LABELS = ("alertname", "heartbeat")
PROBE_OWN_LABELS = ("alertname", "probe")


def _monitor_label_issues(labels: Mapping[str, str], own: tuple[str, ...]) -> Iterator[Issue]:
    for label in labels:
        problem = _label_name_problem(label)
        if problem:
            yield Issue(problem, f"labels.{label}")
        elif label in own:
            yield Issue("set by Tocsin itself, not configurable", f"labels.{label}")


@dataclass(frozen=True)
class Heartbeat:
    """``tocsin.heartbeats[]``: a job that must ping Tocsin at least every ``period``
    (a cron job, a backup, a queue consumer's loop); ``grace`` more than that without a
    ping, or a ping that reports a failure, raises an alert (``tocsin.monitors``)
    labelled ``heartbeat: NAME`` plus ``labels``, annotated with ``annotations``."""

    name: str = ""
    period: PromDuration = timedelta(0)
    # unset: the period, at most an hour (Healthchecks.io's default grace is an hour,
    # which would make a 30-second heartbeat wait an hour)
    grace: PromDuration | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def allowance(self) -> timedelta:
        """How late a ping may be: ``grace``, or by default the period, at most 1h."""
        return self.grace if self.grace is not None else min(self.period, timedelta(hours=1))

    def check(self) -> Iterator[Issue]:
        if not self.name:
            yield Issue("missing name: the path segment jobs ping (/ping/NAME)", "name")
        elif not re.fullmatch(HEARTBEAT_NAME, self.name):
            yield Issue(
                "must be letters, digits, '_', '.' or '-' (it is a path segment: /ping/NAME)",
                "name",
            )
        if self.period <= timedelta(0):
            yield Issue("missing period: how often the job pings (e.g. 24h, 5m)", "period")
        yield from _monitor_label_issues(self.labels, HEARTBEAT_OWN_LABELS)


PROBE_METHODS = ("GET", "HEAD", "POST")


@dataclass(frozen=True)
class Probe:
    """``tocsin.probes[]``: a URL Tocsin requests every ``interval`` (synthetic
    monitoring: "Liveness: GET /health"). ``failures`` failed requests in a row (an
    error, a ``timeout``, a status not in ``expect_status`` (any 2xx when empty), a
    body without ``body_contains``) raise ``ProbeFailing`` labelled ``probe: NAME``
    plus ``labels``; the next success resolves it (``tocsin.monitors.probes``)."""

    name: str = ""
    url: ProbeURL = ""  # http(s)://..., or tcp://HOST:PORT: a connection accepted passes
    method: str = "GET"
    interval: PromDuration = timedelta(seconds=30)
    timeout: PromDuration = timedelta(seconds=10)
    failures: int = 3
    # a certificate this close to its expiry raises ProbeCertificateExpiring (0s: never)
    cert_expiry: PromDuration = timedelta(days=14)
    expect_status: tuple[int, ...] = ()
    body_contains: str = ""
    # values secret: an Authorization header holds a token (shown as <secret> by the
    # status endpoint, as Alertmanager shows http_config's)
    headers: Mapping[str, Secret] = field(default_factory=dict)
    http_config: HTTPClientConfig | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def tcp(self) -> bool:
        return urlsplit(self.url).scheme == "tcp"  # lowercased, as the check reads it

    @property
    def verb(self) -> str:
        """What it does, as shown: its HTTP method, or CONNECT for a tcp:// probe."""
        return "CONNECT" if self.tcp else self.method

    def check(self) -> Iterator[Issue]:
        if not re.fullmatch(HEARTBEAT_NAME, self.name):
            yield Issue(
                "must be letters, digits, '_', '.' or '-' (it is a path segment: "
                "/api/v1/probes/NAME)",
                "name",
            )
        if not self.url:
            yield Issue("missing url: what to request", "url")
        if self.method not in PROBE_METHODS:
            yield Issue(f"must be one of {', '.join(PROBE_METHODS)}", "method")
        elif self.method == "HEAD" and self.body_contains:
            yield Issue("an answer to HEAD has no body to look in: use GET", "body_contains")
        if self.interval <= timedelta(0):
            yield Issue("must be more than 0s", "interval")
        if self.timeout <= timedelta(0):
            yield Issue("must be more than 0s", "timeout")
        elif self.timeout > self.interval:
            yield Issue(
                f"must not exceed interval ({format_duration(self.interval)}): the next "
                "request would start before this one gave up",
                "timeout",
            )
        if self.failures < 1:
            yield Issue("must be at least 1", "failures")
        if self.tcp:
            http_only = {
                "expect_status": bool(self.expect_status),
                "body_contains": bool(self.body_contains),
                "headers": bool(self.headers),
                "http_config": self.http_config is not None,
                "method": self.method != "GET",
            }
            for key, given in http_only.items():
                if given:
                    yield Issue("a tcp:// probe only connects: no HTTP request to shape", key)
        if self.cert_expiry < timedelta(0):
            yield Issue("cannot be negative (0s: no warning)", "cert_expiry")
        for i, code in enumerate(self.expect_status):
            if not 100 <= code <= 599:
                yield Issue("an HTTP status is 100 to 599", f"expect_status[{i}]")
        yield from _monitor_label_issues(self.labels, PROBE_OWN_LABELS)


INCIDENT_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"  # a severity or a role: a CLI word and a label value


@dataclass(frozen=True)
class IncidentSeverity:
    """``tocsin.incidents.severities[]``: a severity an incident is declared at, and
    what it owes: a first status-page update within ``first_update_within`` of being
    declared (unset: ``update_every``), then one every ``update_every``, and, once
    resolved, a post-mortem within ``postmortem_within`` (0s: none of these). Each
    missed one raises an alert (``tocsin.incidents.reminders``)."""

    name: str = ""
    description: str = ""
    first_update_within: PromDuration | None = None
    update_every: PromDuration = timedelta(0)
    postmortem_within: PromDuration = timedelta(0)
    # receivers told of these incidents (besides ``tocsin.incidents.announce``)
    announce: tuple[str, ...] = ()
    # while one is open, an IncidentOpen alert fires: routed like any alert, to a
    # receiver with an escalation policy it pages the on-call ("major incidents: page
    # the on-call engineer"), acknowledged and escalated as any alert group
    alert: bool = False

    @property
    def first_update(self) -> timedelta:
        found = self.first_update_within
        return self.update_every if found is None else found

    def check(self) -> Iterator[Issue]:
        if not re.fullmatch(INCIDENT_NAME, self.name):
            yield Issue("required: letters, digits, '_', '.' or '-' (e.g. SEV1)", "name")
        for key in ("first_update_within", "update_every", "postmortem_within"):
            value = getattr(self, key)
            if value is not None and value < timedelta(0):
                yield Issue("cannot be negative (0s: none)", key)


# As the shared runbooks grade them ("SEV-1: complete outage, data loss risk"), with
# "update the status page within 15 minutes" and "schedule postmortem within 48 hours".
DEFAULT_SEVERITIES = (
    IncidentSeverity(
        "SEV1",
        "Complete outage, or risk of data loss",
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=48),
    ),
    IncidentSeverity(
        "SEV2",
        "Degraded experience: latency, part of a feature lost",
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=48),
    ),
    IncidentSeverity("SEV3", "Minor: tooling failures, bugs that can wait"),
)


@dataclass(frozen=True)
class IncidentSettings:
    """``tocsin.incidents``: the severities (most severe first), the roles a
    responder can take (the declarer is ``commander`` unless another is named), the
    status page's title, labels added to the reminder alerts (to route them), and the
    receivers every incident is announced to."""

    severities: tuple[IncidentSeverity, ...] = DEFAULT_SEVERITIES
    roles: tuple[str, ...] = ("commander", "communications", "scribe")
    status_page_title: str = "Service status"
    labels: Mapping[str, str] = field(default_factory=dict)
    # receivers told when any incident is declared, updated on the status page, changes
    # severity or status, or resolves ("notify the #ops Slack channel")
    announce: tuple[str, ...] = ()
    # what the status page lists, each with the state of the incidents affecting it
    components: tuple[str, ...] = ()
    # how long before its start a maintenance window should be announced ("announce at
    # least 48 hours in advance"): one scheduled later is taken, and said to be short
    maintenance_notice: PromDuration = timedelta(0)

    def check(self) -> Iterator[Issue]:
        if not self.severities:
            yield Issue("at least one severity is needed to declare an incident", "severities")
        listed = [("severities", [s.name for s in self.severities], ".name")]
        listed.append(("roles", list(self.roles), ""))
        listed.append(("components", list(self.components), ""))
        for key, names, field_ in listed:
            for i, name in enumerate(names):
                if name in names[:i]:
                    yield Issue(f"duplicate {name!r}", f"{key}[{i}]{field_}")
        for i, component in enumerate(self.components):
            if not component.strip() or component != component.strip():
                yield Issue("a name, without spaces around it", f"components[{i}]")
        for i, role in enumerate(self.roles):
            if not re.fullmatch(INCIDENT_NAME, role):
                yield Issue("letters, digits, '_', '.' or '-' (e.g. commander)", f"roles[{i}]")
        yield from _monitor_label_issues(self.labels, INCIDENT_OWN_LABELS)

    def severity(self, name: str) -> IncidentSeverity | None:
        return next((s for s in self.severities if s.name == name), None)

    def announced_to(self, severity: str) -> tuple[str, ...]:
        """The receivers told of an incident of ``severity``, each once."""
        found = self.severity(severity)
        return tuple(dict.fromkeys((*self.announce, *(found.announce if found else ()))))


# the labels Tocsin sets on an incident's reminder alerts itself
INCIDENT_OWN_LABELS = ("alertname", "incident", "incident_severity")


@dataclass(frozen=True)
class TocsinSettings:
    """``tocsin:``: what Tocsin does beyond Alertmanager (Alertmanager would reject the
    key, so a file that uses it is Tocsin's own).

    ``fallbacks`` maps a receiver to the one that gets its notifications when they fail
    for good; ``failing_after`` is how many failed attempts in a row make Tocsin raise
    its own ``TocsinNotificationsFailing`` alert for that receiver integration.
    """

    fallbacks: Mapping[str, str] = field(default_factory=dict)
    failing_after: int = 3
    runbooks: RunbookSettings = field(default_factory=RunbookSettings)
    # Verifies requests from Slack's interactive buttons (acknowledge / resolve).
    slack_signing_secret: Secret = NO_SECRET
    # Senders of PagerDuty Events API v2 events, by routing key.
    event_integrations: tuple[EventIntegration, ...] = ()
    heartbeats: tuple[Heartbeat, ...] = ()
    probes: tuple[Probe, ...] = ()
    incidents: IncidentSettings = field(default_factory=IncidentSettings)

    def check(self) -> Iterator[Issue]:
        if self.failing_after < 1:
            yield Issue("must be at least 1", "failing_after")
        names: set[str] = set()
        keys: set[str] = set()
        for i, integration in enumerate(self.event_integrations):
            if integration.name in names:
                yield Issue(f"duplicate name {integration.name!r}", f"event_integrations[{i}].name")
            if integration.routing_key and integration.routing_key in keys:
                yield Issue(
                    "another integration has this routing_key",
                    f"event_integrations[{i}].routing_key",
                )
            names.add(integration.name)
            keys.add(integration.routing_key)
        for name, target in self.fallbacks.items():
            if name == target:
                yield Issue(f"receiver {name!r} cannot be its own fallback", f"fallbacks.{name}")
        monitors: list[tuple[str, list[str]]] = [
            ("heartbeats", [b.name for b in self.heartbeats]),
            ("probes", [p.name for p in self.probes]),
        ]
        for key, listed in monitors:
            for i, name in enumerate(listed):
                if name in listed[:i]:
                    yield Issue(f"duplicate name {name!r}", f"{key}[{i}].name")

    def heartbeat(self, name: str) -> Heartbeat | None:
        return next((b for b in self.heartbeats if b.name == name), None)


# --- top level --------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """The whole configuration file, validated, with global defaults filled in."""

    global_: GlobalConfig = field(default_factory=GlobalConfig)
    route: Route = field(default_factory=Route)
    receivers: tuple[Receiver, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = ()
    templates: tuple[str, ...] = ()
    mute_time_intervals: tuple[NamedTimeInterval, ...] = ()
    time_intervals: tuple[NamedTimeInterval, ...] = ()
    tocsin: TocsinSettings = field(default_factory=TocsinSettings)
    # On-call (Tocsin's own top-level sections).
    people: tuple[Person, ...] = ()
    schedules: tuple[ScheduleConfig, ...] = ()
    escalation_policies: tuple[EscalationPolicy, ...] = ()

    # Not read from the file.
    original: str = field(default="", metadata=NOT_YAML, repr=False)
    source: str = field(default="", metadata=NOT_YAML)
    positions: Mapping[str, int] = field(
        default_factory=dict, metadata=NOT_YAML, repr=False, compare=False
    )

    def receiver(self, name: str) -> Receiver | None:
        return next((r for r in self.receivers if r.name == name), None)

    def named_time_intervals(self) -> dict[str, tuple[TimeInterval, ...]]:
        """Both ``time_intervals`` and the deprecated ``mute_time_intervals``, by name."""
        return {t.name: t.time_intervals for t in (*self.mute_time_intervals, *self.time_intervals)}

    def person(self, name: str) -> Person | None:
        return next((p for p in self.people if p.name == name), None)

    def schedule(self, name: str) -> ScheduleConfig | None:
        return next((s for s in self.schedules if s.name == name), None)

    def escalation_policy(self, name: str) -> EscalationPolicy | None:
        return next((p for p in self.escalation_policies if p.name == name), None)

    def event_integration(self, routing_key: str) -> EventIntegration | None:
        """The integration that sends events with ``routing_key`` (compared in constant
        time: the key is the sender's credential)."""
        found = None
        for integration in self.tocsin.event_integrations:
            if hmac.compare_digest(integration.routing_key.encode(), routing_key.encode()):
                found = integration
        return found

    def line_of(self, key: str) -> int:
        """The 1-based line of a dotted key (or of its nearest ancestor in the file)."""
        probe = key
        while probe and probe not in self.positions:
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return self.positions.get(probe, 1)


def _label_name_problem(name: str) -> str | None:
    return label_name_error(name, NameValidation.LEGACY)


def _label_name_issue(name: str, at: str) -> Iterator[Issue]:
    if _label_name_problem(name) is not None:
        yield Issue(f"invalid label name {name!r}", at)
