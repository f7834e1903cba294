"""Tocsin's configuration: Alertmanager's ``alertmanager.yml`` (loaded unchanged) plus,
later, Tocsin's own sections, as one typed and validated tree.

>>> from tocsin.config import load_config
>>> config = load_config("src/tocsin/defaults/alertmanager.yml")  # doctest: +SKIP

A file that cannot be used raises :class:`ConfigError`, whose ``problems`` list every
mistake with its file, line and dotted key.
"""

from tocsin.config.common import (
    Authorization,
    BasicAuth,
    HTTPClientConfig,
    HTTPHeader,
    OAuth2,
    SigV4Config,
    TLSConfig,
)
from tocsin.config.decode import Secret
from tocsin.config.durations import format_duration, parse_duration, parse_go_duration
from tocsin.config.errors import ConfigError, ConfigProblem
from tocsin.config.loader import load_config, parse_config
from tocsin.config.model import (
    Config,
    GlobalConfig,
    InhibitRule,
    NamedTimeInterval,
    Route,
)
from tocsin.config.receivers import (
    INTEGRATION_KINDS,
    DiscordConfig,
    EmailConfig,
    JiraConfig,
    MSTeamsConfig,
    MSTeamsV2Config,
    OpsGenieConfig,
    PagerdutyConfig,
    PushoverConfig,
    Receiver,
    RocketchatConfig,
    SlackConfig,
    SNSConfig,
    TelegramConfig,
    VictorOpsConfig,
    WebexConfig,
    WebhookConfig,
    WechatConfig,
)

__all__ = [
    "INTEGRATION_KINDS",
    "Authorization",
    "BasicAuth",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "DiscordConfig",
    "EmailConfig",
    "GlobalConfig",
    "HTTPClientConfig",
    "HTTPHeader",
    "InhibitRule",
    "JiraConfig",
    "MSTeamsConfig",
    "MSTeamsV2Config",
    "NamedTimeInterval",
    "OAuth2",
    "OpsGenieConfig",
    "PagerdutyConfig",
    "PushoverConfig",
    "Receiver",
    "RocketchatConfig",
    "Route",
    "SNSConfig",
    "Secret",
    "SigV4Config",
    "SlackConfig",
    "TLSConfig",
    "TelegramConfig",
    "VictorOpsConfig",
    "WebexConfig",
    "WebhookConfig",
    "WechatConfig",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_go_duration",
]
