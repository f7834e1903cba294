"""Receivers and their integration settings (``email_configs``, ``webhook_configs``, ...).

Every key Alertmanager documents for an integration is accepted, with its default (the
default message templates included, as Alertmanager fills them in); any other key is a
problem. The load-time rules of each integration (a webhook needs ``url`` or
``url_file``, a PagerDuty receiver a routing or service key, ...) are in ``check()``.
Settings inherited from ``global`` (SMTP, Slack API URL, ``http_config``, ...) are
filled in after the whole file is read, by :mod:`tocsin.config.validate`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tocsin.config.common import (
    URL,
    GoDuration,
    HostPort,
    HTTPClientConfig,
    PromDuration,
    SecretURL,
    SigV4Config,
    TLSConfig,
    at_most_one,
)
from tocsin.config.decode import NO_SECRET, SHOWN, Issue, Secret

__all__ = [
    "INTEGRATION_KINDS",
    "PAGERDUTY_DEFAULT_DETAILS",
    "DiscordConfig",
    "EmailConfig",
    "EmailThreading",
    "JiraConfig",
    "MSTeamsConfig",
    "MSTeamsV2Config",
    "OpsGenieConfig",
    "OpsGenieResponder",
    "PagerdutyConfig",
    "PagerdutyImage",
    "PagerdutyLink",
    "PushoverConfig",
    "Receiver",
    "RocketchatAction",
    "RocketchatConfig",
    "RocketchatField",
    "SNSConfig",
    "SlackAction",
    "SlackConfig",
    "SlackConfirmationField",
    "SlackField",
    "TelegramConfig",
    "VictorOpsConfig",
    "WebexConfig",
    "WebhookConfig",
    "WechatConfig",
]


def _tmpl(name: str) -> str:
    return '{{ template "' + name + '" . }}'


# Filled into a PagerDuty receiver's ``details`` for each key it does not set.
PAGERDUTY_DEFAULT_DETAILS: Mapping[str, str] = {
    "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
    "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
    "num_firing": "{{ .Alerts.Firing | len }}",
    "num_resolved": "{{ .Alerts.Resolved | len }}",
}


@dataclass(frozen=True)
class EmailThreading:
    enabled: bool = False
    thread_by_date: str = ""


@dataclass(frozen=True)
class EmailConfig:
    send_resolved: bool = False
    to: str = ""
    from_: str = ""
    hello: str = ""
    smarthost: HostPort = ""
    auth_username: str = ""
    auth_password: Secret = NO_SECRET
    auth_password_file: str = ""
    auth_secret: Secret = NO_SECRET
    auth_secret_file: str = ""
    auth_identity: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    html: str = _tmpl("email.default.html")
    text: str = ""
    require_tls: bool | None = None
    tls_config: TLSConfig | None = None
    force_implicit_tls: bool | None = None
    threading: EmailThreading = field(default_factory=EmailThreading)

    def check(self) -> Iterator[Issue]:
        if not self.to:
            yield Issue("missing to address in email config", "to")
        seen: set[str] = set()
        for name in self.headers:
            canonical = "-".join(part.capitalize() for part in name.split("-"))
            if canonical in seen:
                yield Issue(f"duplicate header {canonical!r} in email config", f"headers.{name}")
            seen.add(canonical)
        yield from at_most_one(self, "auth_password", "auth_password_file")
        yield from at_most_one(self, "auth_secret", "auth_secret_file")
        if self.threading.enabled:
            if "References" in seen or "In-Reply-To" in seen:
                yield Issue(
                    "conflicting configuration: threading.enabled conflicts with a custom "
                    "References or In-Reply-To header",
                    "threading",
                )
            if self.threading.thread_by_date not in ("none", "daily"):
                yield Issue(
                    "threading.thread_by_date must be either 'none' or 'daily'",
                    "threading.thread_by_date",
                )


@dataclass(frozen=True)
class PagerdutyLink:
    href: str = ""
    text: str = ""


@dataclass(frozen=True)
class PagerdutyImage:
    src: str = ""
    alt: str = ""
    href: str = ""


@dataclass(frozen=True)
class PagerdutyConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    service_key: Secret = NO_SECRET
    service_key_file: str = ""
    routing_key: Secret = NO_SECRET
    routing_key_file: str = ""
    url: URL | None = None
    client: str = _tmpl("pagerduty.default.client")
    client_url: str = _tmpl("pagerduty.default.clientURL")
    description: str = '{{ template "pagerduty.default.description" .}}'
    details: Mapping[str, Any] = field(default_factory=dict)
    images: tuple[PagerdutyImage, ...] = ()
    links: tuple[PagerdutyLink, ...] = ()
    source: str = ""
    severity: str = "error"
    class_: str = ""
    component: str = ""
    group: str = ""
    timeout: GoDuration = timedelta(0)

    def check(self) -> Iterator[Issue]:
        keys = (self.routing_key, self.service_key, self.routing_key_file, self.service_key_file)
        if not any(keys):
            yield Issue("missing service or routing key in PagerDuty config")
        yield from at_most_one(self, "routing_key", "routing_key_file")
        yield from at_most_one(self, "service_key", "service_key_file")


@dataclass(frozen=True)
class SlackConfirmationField:
    text: str = ""
    title: str = ""
    ok_text: str = ""
    dismiss_text: str = ""

    def check(self) -> Iterator[Issue]:
        if not self.text:
            yield Issue("missing text in Slack confirmation configuration", "text")


@dataclass(frozen=True)
class SlackAction:
    type: str = ""
    text: str = ""
    url: str = ""
    style: str = ""
    name: str = ""
    value: str = ""
    confirm: SlackConfirmationField | None = None

    def check(self) -> Iterator[Issue]:
        if not self.type:
            yield Issue("missing type in Slack action configuration", "type")
        if not self.text:
            yield Issue("missing text in Slack action configuration", "text")
        if not self.url and not self.name:
            yield Issue("missing name or url in Slack action configuration")


@dataclass(frozen=True)
class SlackField:
    title: str = ""
    value: str = ""
    short: bool | None = None

    def check(self) -> Iterator[Issue]:
        if not self.title:
            yield Issue("missing title in Slack field configuration", "title")
        if not self.value:
            yield Issue("missing value in Slack field configuration", "value")


@dataclass(frozen=True)
class SlackConfig:
    send_resolved: bool = False
    http_config: HTTPClientConfig | None = None
    api_url: SecretURL | None = None
    api_url_file: str = ""
    app_token: Secret = NO_SECRET
    app_token_file: str = ""
    app_url: URL | None = None
    channel: str = ""
    username: str = _tmpl("slack.default.username")
    color: str = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: str = _tmpl("slack.default.title")
    title_link: str = _tmpl("slack.default.titlelink")
    pretext: str = _tmpl("slack.default.pretext")
    text: str = _tmpl("slack.default.text")
    message_text: str = ""
    fields: tuple[SlackField, ...] = ()
    short_fields: bool = False
    footer: str = _tmpl("slack.default.footer")
    fallback: str = _tmpl("slack.default.fallback")
    callback_id: str = _tmpl("slack.default.callbackid")
    icon_emoji: str = _tmpl("slack.default.iconemoji")
    icon_url: str = _tmpl("slack.default.iconurl")
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    mrkdwn_in: tuple[str, ...] = ()
    actions: tuple[SlackAction, ...] = ()
    update_message: bool = False
    timeout: GoDuration = timedelta(0)

    def check(self) -> Iterator[Issue]:
        yield from at_most_one(self, "api_url", "api_url_file")
        yield from at_most_one(self, "app_token", "app_token_file")
        if (self.api_url or self.api_url_file) and (self.app_token or self.app_token_file):
            yield Issue(
                "at most one of api_url/api_url_file & app_token/app_token_file must be configured"
            )


@dataclass(frozen=True)
class WebhookConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    # a secret in logs and reprs, but shown by the status endpoint, as Alertmanager
    # 0.25's (amtool config show) shows it
    url: SecretURL | None = field(default=None, metadata=SHOWN)
    url_file: str = ""
    max_alerts: int = 0
    timeout: GoDuration = timedelta(0)

    def check(self) -> Iterator[Issue]:
        if self.url is None and not self.url_file:
            yield Issue("one of url or url_file must be configured")
        yield from at_most_one(self, "url", "url_file")
        if self.max_alerts < 0:
            yield Issue("max_alerts must not be negative", "max_alerts")


_OPSGENIE_TYPES = re.compile(r"^(team|teams|user|escalation|schedule)$")


@dataclass(frozen=True)
class OpsGenieResponder:
    id: str = ""
    name: str = ""
    username: str = ""
    type: str = ""

    def check(self) -> Iterator[Issue]:
        if not (self.id or self.username or self.name):
            yield Issue("responder has to have at least one of id, username or name specified")
        if "{{" not in self.type and not _OPSGENIE_TYPES.match(self.type.lower()):
            yield Issue(
                f"responder type {self.type!r} does not match valid options "
                "team, teams, user, escalation, schedule",
                "type",
            )


@dataclass(frozen=True)
class OpsGenieConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    api_key: Secret = NO_SECRET
    api_key_file: str = ""
    api_url: URL | None = None
    message: str = _tmpl("opsgenie.default.message")
    description: str = _tmpl("opsgenie.default.description")
    source: str = _tmpl("opsgenie.default.source")
    details: Mapping[str, str] = field(default_factory=dict)
    entity: str = ""
    responders: tuple[OpsGenieResponder, ...] = ()
    actions: str = ""
    tags: str = ""
    note: str = ""
    priority: str = ""
    update_alerts: bool = False

    def check(self) -> Iterator[Issue]:
        yield from at_most_one(self, "api_key", "api_key_file")


@dataclass(frozen=True)
class WechatConfig:
    send_resolved: bool = False
    http_config: HTTPClientConfig | None = None
    api_secret: Secret = NO_SECRET
    api_secret_file: str = ""
    corp_id: str = ""
    message: str = _tmpl("wechat.default.message")
    api_url: URL | None = None
    to_user: str = _tmpl("wechat.default.to_user")
    to_party: str = _tmpl("wechat.default.to_party")
    to_tag: str = _tmpl("wechat.default.to_tag")
    agent_id: str = _tmpl("wechat.default.agent_id")
    message_type: str = "text"

    def check(self) -> Iterator[Issue]:
        if self.message_type not in ("text", "markdown"):
            yield Issue(
                f"weChat message type {self.message_type!r} does not match valid options "
                "text, markdown",
                "message_type",
            )
        yield from at_most_one(self, "api_secret", "api_secret_file")


@dataclass(frozen=True)
class PushoverConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    user_key: Secret = NO_SECRET
    user_key_file: str = ""
    token: Secret = NO_SECRET
    token_file: str = ""
    title: str = _tmpl("pushover.default.title")
    message: str = _tmpl("pushover.default.message")
    url: str = _tmpl("pushover.default.url")
    url_title: str = ""
    device: str = ""
    sound: str = ""
    priority: str = '{{ if eq .Status "firing" }}2{{ else }}0{{ end }}'
    retry: GoDuration = timedelta(minutes=1)
    expire: GoDuration = timedelta(hours=1)
    ttl: GoDuration = timedelta(0)
    html: bool = False
    monospace: bool = False

    def check(self) -> Iterator[Issue]:
        if not self.user_key and not self.user_key_file:
            yield Issue("one of user_key or user_key_file must be configured")
        yield from at_most_one(self, "user_key", "user_key_file")
        if not self.token and not self.token_file:
            yield Issue("one of token or token_file must be configured")
        yield from at_most_one(self, "token", "token_file")
        yield from at_most_one(self, "monospace", "html")


_VICTOROPS_RESERVED = (
    "routing_key",
    "message_type",
    "state_message",
    "entity_display_name",
    "monitoring_tool",
    "entity_id",
    "entity_state",
)


@dataclass(frozen=True)
class VictorOpsConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    api_key: Secret = NO_SECRET
    api_key_file: str = ""
    api_url: URL | None = None
    routing_key: str = ""
    message_type: str = "CRITICAL"
    state_message: str = _tmpl("victorops.default.state_message")
    entity_display_name: str = _tmpl("victorops.default.entity_display_name")
    monitoring_tool: str = _tmpl("victorops.default.monitoring_tool")
    custom_fields: Mapping[str, str] = field(default_factory=dict)

    def check(self) -> Iterator[Issue]:
        if not self.routing_key:
            yield Issue("missing Routing key in VictorOps config", "routing_key")
        yield from at_most_one(self, "api_key", "api_key_file")
        for name in _VICTOROPS_RESERVED:
            if name in self.custom_fields:
                yield Issue(
                    f"victorOps config contains custom field {name} which cannot be used as "
                    "it conflicts with the fixed/static fields",
                    f"custom_fields.{name}",
                )


@dataclass(frozen=True)
class SNSConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    api_url: str = ""
    sigv4: SigV4Config = field(default_factory=SigV4Config)
    topic_arn: str = ""
    phone_number: str = ""
    target_arn: str = ""
    subject: str = '{{ template "sns.default.subject" . }}'
    message: str = '{{ template "sns.default.message" . }}'
    attributes: Mapping[str, str] = field(default_factory=dict)
    use_aws_http_client: bool = False

    def check(self) -> Iterator[Issue]:
        given = [x for x in (self.target_arn, self.topic_arn, self.phone_number) if x]
        if len(given) != 1:
            yield Issue(
                "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config"
            )


_TELEGRAM_PARSE_MODES = ("", "Markdown", "MarkdownV2", "HTML")


@dataclass(frozen=True)
class TelegramConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    api_url: URL | None = None
    bot_token: Secret = NO_SECRET
    bot_token_file: str = ""
    chat_id: int = 0
    chat_id_file: str = ""
    message_thread_id: int = 0
    message: str = '{{ template "telegram.default.message" . }}'
    disable_notifications: bool = False
    parse_mode: str = "HTML"

    def check(self) -> Iterator[Issue]:
        if not self.bot_token and not self.bot_token_file:
            yield Issue("missing bot_token or bot_token_file on telegram_config")
        yield from at_most_one(self, "bot_token", "bot_token_file")
        if self.chat_id == 0 and not self.chat_id_file:
            yield Issue("missing chat_id on telegram_config", "chat_id")
        yield from at_most_one(self, "chat_id", "chat_id_file")
        if self.parse_mode not in _TELEGRAM_PARSE_MODES:
            yield Issue(
                "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML "
                "or empty string",
                "parse_mode",
            )


@dataclass(frozen=True)
class WebexConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    api_url: URL | None = None
    message: str = _tmpl("webex.default.message")
    room_id: str = ""

    def check(self) -> Iterator[Issue]:
        if not self.room_id:
            yield Issue("missing room_id on webex_config", "room_id")
        if self.http_config is None or self.http_config.authorization is None:
            yield Issue("missing webex_configs.http_config.authorization", "http_config")


@dataclass(frozen=True)
class DiscordConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    webhook_url: SecretURL | None = None
    webhook_url_file: str = ""
    content: str = ""
    title: str = _tmpl("discord.default.title")
    message: str = _tmpl("discord.default.message")
    username: str = ""
    avatar_url: str = ""

    def check(self) -> Iterator[Issue]:
        if self.webhook_url is None and not self.webhook_url_file:
            yield Issue("one of webhook_url or webhook_url_file must be configured")
        yield from at_most_one(self, "webhook_url", "webhook_url_file")


@dataclass(frozen=True)
class MSTeamsConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    webhook_url: SecretURL | None = None
    webhook_url_file: str = ""
    title: str = _tmpl("msteams.default.title")
    summary: str = _tmpl("msteams.default.summary")
    text: str = _tmpl("msteams.default.text")

    def check(self) -> Iterator[Issue]:
        if self.webhook_url is None and not self.webhook_url_file:
            yield Issue("one of webhook_url or webhook_url_file must be configured")
        yield from at_most_one(self, "webhook_url", "webhook_url_file")


@dataclass(frozen=True)
class MSTeamsV2Config:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    webhook_url: SecretURL | None = None
    webhook_url_file: str = ""
    title: str = _tmpl("msteamsv2.default.title")
    text: str = _tmpl("msteamsv2.default.text")

    def check(self) -> Iterator[Issue]:
        if self.webhook_url is None and not self.webhook_url_file:
            yield Issue("one of webhook_url or webhook_url_file must be configured")
        yield from at_most_one(self, "webhook_url", "webhook_url_file")


@dataclass(frozen=True)
class JiraConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    api_url: URL | None = None
    api_type: str = ""
    project: str = ""
    summary: str = _tmpl("jira.default.summary")
    description: str = _tmpl("jira.default.description")
    labels: tuple[str, ...] = ()
    priority: str = _tmpl("jira.default.priority")
    issue_type: str = ""
    reopen_transition: str = ""
    resolve_transition: str = ""
    wont_fix_resolution: str = ""
    reopen_duration: PromDuration | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def check(self) -> Iterator[Issue]:
        if not self.project:
            yield Issue("missing project in jira_config", "project")
        if not self.issue_type:
            yield Issue("missing issue_type in jira_config", "issue_type")
        if self.api_type not in ("", "auto", "cloud", "datacenter"):
            yield Issue(
                "unknown api_type on jira_config, must be auto, cloud or datacenter", "api_type"
            )


@dataclass(frozen=True)
class RocketchatField:
    title: str = ""
    value: str = ""
    short: bool | None = None


@dataclass(frozen=True)
class RocketchatAction:
    type: str = ""
    text: str = ""
    url: str = ""
    msg: str = ""


@dataclass(frozen=True)
class RocketchatConfig:
    send_resolved: bool = False
    http_config: HTTPClientConfig | None = None
    api_url: URL | None = None
    token_id: Secret | None = None
    token_id_file: str = ""
    token: Secret | None = None
    token_file: str = ""
    channel: str = ""
    color: str = '{{ if eq .Status "firing" }}red{{ else }}green{{ end }}'
    title: str = _tmpl("rocketchat.default.title")
    title_link: str = _tmpl("rocketchat.default.titlelink")
    text: str = _tmpl("rocketchat.default.text")
    fields: tuple[RocketchatField, ...] = ()
    short_fields: bool = False
    emoji: str = _tmpl("rocketchat.default.emoji")
    icon_url: str = _tmpl("rocketchat.default.iconurl")
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    actions: tuple[RocketchatAction, ...] = ()

    def check(self) -> Iterator[Issue]:
        if self.token is not None and self.token_file:
            yield Issue("at most one of token & token_file must be configured", "token_file")
        if self.token_id is not None and self.token_id_file:
            yield Issue(
                "at most one of token_id & token_id_file must be configured", "token_id_file"
            )


@dataclass(frozen=True)
class Receiver:
    """A named set of integrations an alert group is sent to."""

    name: str = ""
    discord_configs: tuple[DiscordConfig, ...] = ()
    email_configs: tuple[EmailConfig, ...] = ()
    jira_configs: tuple[JiraConfig, ...] = ()
    msteams_configs: tuple[MSTeamsConfig, ...] = ()
    msteamsv2_configs: tuple[MSTeamsV2Config, ...] = ()
    opsgenie_configs: tuple[OpsGenieConfig, ...] = ()
    pagerduty_configs: tuple[PagerdutyConfig, ...] = ()
    pushover_configs: tuple[PushoverConfig, ...] = ()
    rocketchat_configs: tuple[RocketchatConfig, ...] = ()
    slack_configs: tuple[SlackConfig, ...] = ()
    sns_configs: tuple[SNSConfig, ...] = ()
    telegram_configs: tuple[TelegramConfig, ...] = ()
    victorops_configs: tuple[VictorOpsConfig, ...] = ()
    webex_configs: tuple[WebexConfig, ...] = ()
    webhook_configs: tuple[WebhookConfig, ...] = ()
    wechat_configs: tuple[WechatConfig, ...] = ()
    # Tocsin's: page people through this policy until someone acknowledges.
    escalation_policy: str = ""

    def check(self) -> Iterator[Issue]:
        if not self.name:
            yield Issue("missing name in receiver", "name")

    def integrations(self) -> Iterator[tuple[str, int, object]]:
        """Every integration as ``(kind, index, settings)``, e.g. ``("webhook", 0, cfg)``."""
        for kind in INTEGRATION_KINDS:
            for index, settings in enumerate(getattr(self, f"{kind}_configs")):
                yield kind, index, settings


INTEGRATION_KINDS = (
    "discord",
    "email",
    "jira",
    "msteams",
    "msteamsv2",
    "opsgenie",
    "pagerduty",
    "pushover",
    "rocketchat",
    "slack",
    "sns",
    "telegram",
    "victorops",
    "webex",
    "webhook",
    "wechat",
)
