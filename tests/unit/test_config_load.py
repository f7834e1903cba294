"""Loading whole configuration files: Alertmanager's own example, the runbook-style
configurations, the shipped example, and the defaults Alertmanager documents."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tocsin.alerts.routing import build_route_tree, format_routes_test
from tocsin.config import (
    Config,
    HTTPClientConfig,
    Secret,
    load_config,
    parse_config,
)
from tocsin.defaults import EXAMPLE_CONFIG

DATA = Path(__file__).parent / "data"
EXAMPLE = EXAMPLE_CONFIG

MINIMAL = """
route:
  receiver: default
receivers:
  - name: default
"""


@pytest.mark.parametrize(
    ("path", "receivers", "inhibit_rules", "time_intervals"),
    [
        # docs: "A provided valid example file shows usage in context" (doc/examples/simple.yml)
        (DATA / "alertmanager-simple.yml", 5, 1, 0),
        # runbook-style configurations: deprecated match/match_re, mute_time_intervals
        (DATA / "threads-agent.yml", 5, 1, 1),
        (DATA / "news-topic-intelligence.yml", 4, 2, 1),
        (DATA / "thread-condenser.yml", 3, 1, 2),
        # the file `tocsin serve` uses by default
        (EXAMPLE, 6, 1, 1),
    ],
)
def test_configs_load(path: Path, receivers: int, inhibit_rules: int, time_intervals: int) -> None:
    config = load_config(path)
    assert len(config.receivers) == receivers
    assert len(config.inhibit_rules) == inhibit_rules
    assert len(config.named_time_intervals()) == time_intervals
    assert config.source == str(path)
    assert config.original == path.read_text()


def test_simple_example_routes_like_alertmanager() -> None:
    # amtool config routes test on doc/examples/simple.yml (its help text's example)
    root = build_route_tree(load_config(DATA / "alertmanager-simple.yml"))
    assert format_routes_test(root, {"service": "database"}) == "team-DB-pager"
    assert format_routes_test(root, {"service": "database", "owner": "team-X"}) == ("team-X-pager")
    assert format_routes_test(root, {"service": "foo1", "severity": "critical"}) == "team-X-pager"
    assert format_routes_test(root, {"service": "files"}) == "team-Y-mails"
    assert format_routes_test(root, {"service": "other"}) == "team-X-mails"


def test_example_routes_the_runbook_categories() -> None:
    root = build_route_tree(load_config(EXAMPLE))
    assert format_routes_test(root, {"severity": "critical"}) == "pager"
    assert format_routes_test(root, {"severity": "warning"}) == "warnings-chat"
    assert format_routes_test(root, {"category": "business"}) == "business-email"
    assert format_routes_test(root, {"category": "infrastructure"}) == "infra-chat,ops-email"


def test_example_points_only_at_localhost() -> None:
    config = load_config(EXAMPLE)
    for receiver in config.receivers:
        for webhook in receiver.webhook_configs:
            assert webhook.url is not None
            assert webhook.url.startswith("http://127.0.0.1:")
        for email in receiver.email_configs:
            assert email.smarthost.startswith("127.0.0.1:")


def test_documented_defaults() -> None:
    config = parse_config(MINIMAL)
    # docs, "File layout and global settings": resolve_timeout default 5m,
    # smtp_hello "localhost", smtp_require_tls true, the API URL defaults.
    assert config.global_.resolve_timeout == timedelta(minutes=5)
    assert config.global_.smtp_hello == "localhost"
    assert config.global_.smtp_require_tls is True
    assert config.global_.pagerduty_url == "https://events.pagerduty.com/v2/enqueue"
    assert config.global_.opsgenie_api_url == "https://api.opsgenie.com/"
    assert config.global_.telegram_api_url == "https://api.telegram.org"
    assert config.global_.webex_api_url == "https://webexapis.com/v1/messages"
    assert config.templates == ()
    assert config.inhibit_rules == ()


def test_empty_global_block_keeps_defaults() -> None:
    # Alertmanager restores the default global config when `global:` is present but empty.
    config = parse_config("global:\n" + MINIMAL)
    assert config.global_.resolve_timeout == timedelta(minutes=5)


@pytest.mark.parametrize(
    ("receiver_yaml", "kind", "expected"),
    [
        # docs <webhook_config>: send_resolved default true, max_alerts 0, timeout 0s
        (
            "webhook_configs: [{url: 'http://127.0.0.1:1/'}]",
            "webhook",
            {"send_resolved": True, "max_alerts": 0, "timeout": timedelta(0)},
        ),
        # docs <email_config>: send_resolved default false, smarthost/from from global
        (
            "email_configs: [{to: 'a@b.c'}]",
            "email",
            {
                "send_resolved": False,
                "smarthost": "127.0.0.1:25",
                "from_": "am@example.org",
                "hello": "localhost",
                "require_tls": True,
            },
        ),
        # docs <slack_config>: send_resolved default false, api_url from global
        (
            "slack_configs: [{channel: '#c'}]",
            "slack",
            {"send_resolved": False, "api_url": "http://127.0.0.1:2/slack"},
        ),
        # docs <pagerduty_config>: url from global, severity 'error', source = client
        (
            "pagerduty_configs: [{routing_key: k, client: me}]",
            "pagerduty",
            {
                "url": "https://events.pagerduty.com/v2/enqueue",
                "severity": "error",
                "source": "me",
            },
        ),
        # docs <pushover_config>: retry 1m, expire 1h
        (
            "pushover_configs: [{user_key: u, token: t}]",
            "pushover",
            {"retry": timedelta(minutes=1), "expire": timedelta(hours=1)},
        ),
        # docs <telegram_config>: parse_mode HTML, api_url from global
        (
            "telegram_configs: [{bot_token: b, chat_id: 42}]",
            "telegram",
            {"parse_mode": "HTML", "api_url": "https://api.telegram.org", "chat_id": 42},
        ),
        # docs <wechat_config>: message_type text, api_url from global
        (
            "wechat_configs: [{api_secret: s, corp_id: c}]",
            "wechat",
            {"message_type": "text", "api_url": "https://qyapi.weixin.qq.com/cgi-bin/"},
        ),
        # docs <victorops_config>: message_type CRITICAL
        (
            "victorops_configs: [{api_key: k, routing_key: r}]",
            "victorops",
            {"message_type": "CRITICAL"},
        ),
        # docs <opsgenie_config>: api_key from global, update_alerts false
        (
            "opsgenie_configs: [{}]",
            "opsgenie",
            {"api_key": "og-key", "update_alerts": False},
        ),
        # docs <webex_config>: api_url from global
        (
            "webex_configs: [{room_id: r, http_config: {authorization: {credentials: t}}}]",
            "webex",
            {"api_url": "https://webexapis.com/v1/messages"},
        ),
    ],
)
def test_receiver_defaults(receiver_yaml: str, kind: str, expected: dict[str, object]) -> None:
    text = f"""
global:
  smtp_smarthost: '127.0.0.1:25'
  smtp_from: am@example.org
  slack_api_url: 'http://127.0.0.1:2/slack'
  opsgenie_api_key: og-key
route: {{receiver: r}}
receivers:
  - name: r
    {receiver_yaml}
"""
    settings = getattr(parse_config(text).receivers[0], f"{kind}_configs")[0]
    for name, value in expected.items():
        assert getattr(settings, name) == value, name


def test_receivers_inherit_global_http_config() -> None:
    # docs: "[ http_config: <http_config> | default = global.http_config ]"
    config = parse_config(
        """
global:
  http_config:
    proxy_url: 'http://127.0.0.1:3128'
route: {receiver: r}
receivers:
  - name: r
    webhook_configs:
      - url: 'http://127.0.0.1:1/'
      - url: 'http://127.0.0.1:1/'
        http_config: {follow_redirects: false}
"""
    )
    first, second = config.receivers[0].webhook_configs
    assert first.http_config == HTTPClientConfig(proxy_url="http://127.0.0.1:3128")
    assert second.http_config == HTTPClientConfig(follow_redirects=False)


def test_secrets_are_hidden_in_reprs() -> None:
    config = parse_config(
        MINIMAL.replace(
            "- name: default", "- name: default\n    pagerduty_configs: [{routing_key: hunter2}]"
        )
    )
    key = config.receivers[0].pagerduty_configs[0].routing_key
    assert isinstance(key, Secret)
    assert key == "hunter2"
    assert "hunter2" not in repr(config)


def test_templates_are_relative_to_the_config_file(tmp_path: Path) -> None:
    # docs: templates are file paths; Alertmanager joins relative ones to the file's dir.
    path = tmp_path / "am.yml"
    path.write_text("templates: ['t/*.tmpl', '/abs/x.tmpl']\n" + MINIMAL)
    assert load_config(path).templates == (str(tmp_path / "t" / "*.tmpl"), "/abs/x.tmpl")


def test_plain_scalars_are_read_as_go_yaml_does() -> None:
    # YAML 1.1 would turn 17:00 into the integer 1020 and 2024-01-01 into a date; Go's
    # YAML keeps them as text, and so must we, or unquoted times would not load.
    config = parse_config(
        MINIMAL
        + """
time_intervals:
  - name: evening
    time_intervals:
      - times: [{start_time: 17:00, end_time: 24:00}]
        years: [2024]
"""
    )
    (interval,) = config.named_time_intervals()["evening"]
    assert interval.times is not None
    assert (interval.times[0].start_minute, interval.times[0].end_minute) == (1020, 1440)


def test_yaml_anchors_and_merge_keys() -> None:
    # Go YAML v2 supports anchors and `<<` merge keys; configs in the wild use them.
    config = parse_config(
        """
route:
  receiver: r
  routes:
    - &base {receiver: r, group_wait: 1m, matchers: ['a="1"']}
    - <<: *base
      matchers: ['a="2"']
receivers: [{name: r}]
"""
    )
    first, second = config.route.routes
    assert second.group_wait == first.group_wait == timedelta(minutes=1)
    assert str(second.matchers[0]) == 'a="2"'


def test_config_is_typed_and_frozen() -> None:
    config = parse_config(MINIMAL)
    assert isinstance(config, Config)
    with pytest.raises(AttributeError):
        config.source = "x"  # type: ignore[misc]
