"""``config.original`` as ``GET /api/v2/status`` serves it (``amtool config show`` prints
it, ``amtool config routes`` parses it): the user's text with every secret value shown
as ``<secret>``, as Alertmanager shows it, found by where it is, and nothing else
changed."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tocsin.config import parse_config
from tocsin.config.redact import commented_out, redacted, shown

CONFIG = """\
global:
  smtp_smarthost: mail.example.org:587
  smtp_auth_username: alerts
  smtp_auth_password: "alerts"   # rotated monthly (equal to the user name, by chance)
route:
  receiver: pager
  group_wait: 30s
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: 'it''s-a-key'
    slack_configs:
      - {api_url: "https://hooks.slack.com/services/T0/B0/XXXX", channel: '#alerts'}
    webhook_configs:
      - url: http://127.0.0.1:9/hook       # shown, as Alertmanager 0.25 shows it
tocsin:
  slack_signing_secret: &signing 30s
  event_integrations:
    - name: datadog
      routing_key: |
        0123456789abcdef0123456789abcdef
      labels: {team: storage}
  probes:
    - name: api
      url: http://127.0.0.1:9/health
      headers: {Authorization: "Bearer PROBE-TOKEN"}
"""

REDACTED = """\
global:
  smtp_smarthost: mail.example.org:587
  smtp_auth_username: alerts
  smtp_auth_password: <secret>   # rotated monthly (equal to the user name, by chance)
route:
  receiver: pager
  group_wait: 30s
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: <secret>
    slack_configs:
      - {api_url: <secret>, channel: '#alerts'}
    webhook_configs:
      - url: http://127.0.0.1:9/hook       # shown, as Alertmanager 0.25 shows it
tocsin:
  slack_signing_secret: &signing <secret>
  event_integrations:
    - name: datadog
      routing_key: <secret>
      labels: {team: storage}
  probes:
    - name: api
      url: http://127.0.0.1:9/health
      headers: {Authorization: <secret>}
"""


def test_every_secret_value_is_shown_as_secret_and_nothing_else_changes() -> None:
    config = parse_config(CONFIG, "am.yml")
    assert redacted(config.original, config) == REDACTED
    # what amtool reads back is a valid configuration (Alertmanager's "<secret>" too),
    # but for a routing key: "<secret>" pasted back must not become a key anyone knows
    parse_config(REDACTED.split("tocsin:")[0], "am.yml")


def test_a_config_without_secrets_is_shown_as_written() -> None:
    text = "route:\n  receiver: r  # default\nreceivers:\n  - name: r\n"
    config = parse_config(text, "am.yml")
    assert redacted(config.original, config) == text


def test_a_secret_inherited_from_global_is_hidden_where_it_is_written() -> None:
    text = (
        "global:\n  smtp_auth_password: pw-1\n  smtp_smarthost: m:25\n  smtp_from: a@b.c\n"
        "route: {receiver: r}\n"
        "receivers:\n  - name: r\n    email_configs:\n      - to: x@example.org\n"
    )
    config = parse_config(text, "am.yml")
    shown = redacted(config.original, config)
    assert "pw-1" not in shown
    assert yaml.safe_load(shown)["receivers"][0]["email_configs"] == [{"to": "x@example.org"}]


# -- property: whatever the secrets and the YAML style, exactly they are hidden ---------

secret_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("äß€\t"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() and s != "<secret>")


@given(
    password=secret_text,
    key=secret_text.filter(lambda s: len(s) >= 16),
    name=st.sampled_from(["r", "alerts", "30s"]),
    flow=st.sampled_from([False, True, None]),
    quote=st.sampled_from([None, '"', "'", "|"]),
)
def test_exactly_the_secrets_are_hidden_whatever_they_look_like(
    password: str, key: str, name: str, flow: bool | None, quote: str | None
) -> None:
    data: dict[str, Any] = {
        "global": {"smtp_auth_password": password, "smtp_auth_username": name},
        "route": {"receiver": name, "group_wait": "30s"},
        "receivers": [{"name": name}],
        "tocsin": {"event_integrations": [{"name": name, "routing_key": key}]},
    }
    text = yaml.safe_dump(
        data, width=10_000, sort_keys=False, default_flow_style=flow, default_style=quote
    )
    config = parse_config(text, "am.yml")
    shown = yaml.safe_load(redacted(config.original, config))
    expected = yaml.safe_load(text)
    expected["global"]["smtp_auth_password"] = "<secret>"
    expected["tocsin"]["event_integrations"][0]["routing_key"] = "<secret>"
    assert shown == expected


# -- Tocsin's own keys, commented out so that Alertmanager's loader takes the file -------

# (text, what is shown): one row per layout a Tocsin-only key can be written in
COMMENTED = [
    # a receiver's escalation_policy, with a comment of its own
    (
        "receivers:\n  - name: p\n    escalation_policy: sev1  # page\n",
        "receivers:\n  - name: p\n    # escalation_policy: sev1  # page\n",
    ),
    # the receiver's first key: the item goes on on the next line
    (
        "receivers:\n  - escalation_policy: sev1\n    name: p\n",
        "receivers:\n  - # escalation_policy: sev1\n    name: p\n",
    ),
    # a top-level section, each of its lines at its own indentation
    (
        "route: {receiver: p}\npeople:\n  - name: a\n\n    email: a@b.c\nreceivers: []\n",
        "route: {receiver: p}\n# people:\n  # - name: a\n\n    # email: a@b.c\nreceivers: []\n",
    ),
    # the last section of a file without a final newline
    (
        "route: {receiver: p}\ntocsin:\n  failing_after: 5",
        "route: {receiver: p}\n# tocsin:\n  # failing_after: 5",
    ),
    # a block scalar, its lines whatever they hold
    (
        "tocsin:\n  slack_signing_secret: |\n    a: b\n    - c\nroute: {}\n",
        "# tocsin:\n  # slack_signing_secret: |\n    # a: b\n    # - c\nroute: {}\n",
    ),
    # a key without a value
    (
        "receivers:\n  - name: p\n    escalation_policy:\n",
        "receivers:\n  - name: p\n    # escalation_policy:\n",
    ),
    # schedules and escalation_policies alike
    ("schedules: []\nescalation_policies: []\n", "# schedules: []\n# escalation_policies: []\n"),
    # nothing of Tocsin's: as written
    ("route:\n  receiver: p  # the default\n", "route:\n  receiver: p  # the default\n"),
    # a nested key of the same name is Alertmanager's business, not a Tocsin key
    ("route:\n  tocsin: x\n", "route:\n  tocsin: x\n"),
]


@pytest.mark.parametrize(("text", "expected"), COMMENTED)
def test_tocsin_keys_are_commented_out(text: str, expected: str) -> None:
    assert commented_out(text) == expected


def test_a_flow_style_receiver_keeps_its_key_as_written() -> None:
    """A comment cannot take a key out of ``{...}``: the text is shown unchanged (amtool's
    routes then refuse it, as before) rather than broken."""
    text = "route: {receiver: p}\nreceivers:\n  - {name: p, escalation_policy: sev1}\n"
    policies = "escalation_policies:\n  - name: sev1\n    steps: [{targets: [{receiver: p}]}]\n"
    config = parse_config(text + policies, "am.yml")
    assert shown(config.original, config) == config.original


def test_shown_hides_secrets_and_comments_tocsin_keys_out() -> None:
    config = parse_config(CONFIG, "am.yml")
    text = shown(config.original, config)
    assert "0123456789abcdef" not in text
    assert text.splitlines()[15:] == [
        "# tocsin:",
        "  # slack_signing_secret: &signing <secret>",
        "  # event_integrations:",
        "    # - name: datadog",
        "      # routing_key: <secret>",
        "      # labels: {team: storage}",
        "  # probes:",
        "    # - name: api",
        "      # url: http://127.0.0.1:9/health",
        "      # headers: {Authorization: <secret>}",
    ]
    assert "PROBE-TOKEN" not in text
    assert text.splitlines()[:15] == REDACTED.splitlines()[:15]


@given(
    flow=st.sampled_from([False, True, None]),
    quote=st.sampled_from([None, '"', "'", "|"]),
    policy_first=st.booleans(),
    sections=st.lists(
        st.sampled_from(["tocsin", "people", "schedules", "escalation_policies", "route"]),
        unique=True,
    ),
)
def test_what_is_left_is_the_file_without_tocsin_keys(
    flow: bool | None, quote: str | None, policy_first: bool, sections: list[str]
) -> None:
    """Whatever the style the file is written in, the shown text is either the file
    without exactly Tocsin's keys, or (flow style, where a comment cannot reach) the file
    as written."""
    receiver = {"escalation_policy": "sev1", "name": "p"}
    if not policy_first:
        receiver = {"name": "p", "escalation_policy": "sev1"}
    data: dict[str, Any] = {"receivers": [receiver, {"name": "q"}]}
    for section in sections:
        data[section] = {"receiver": "p"} if section == "route" else [{"name": "x"}]
    text = yaml.safe_dump(
        data, width=10_000, sort_keys=False, default_flow_style=flow, default_style=quote
    )
    try:
        out = commented_out(text)
    except ValueError:
        assert flow is not False  # only a flow-style mapping cannot be commented out
        return
    expected = {k: v for k, v in data.items() if k in ("receivers", "route")}
    expected["receivers"] = [{"name": "p"}, {"name": "q"}]
    assert yaml.safe_load(out) == expected
    assert len(out.splitlines()) == len(text.splitlines())


# -- a password in a URL, shown as xxxxx (Go's url.Redacted, as Alertmanager shows a
# proxy_url's): the URL stays one Alertmanager's loader, and so amtool, takes -------------

HOOK = "receivers:\n  - name: r\n    webhook_configs:\n      - url: http://127.0.0.1:9/h\n"


def _webhook(settings: str) -> str:
    return f"route: {{receiver: r}}\n{HOOK}        {settings}\n"


# (the file, what is shown): one row per URL field that can carry a password, and per
# way of writing its value
URLS = [
    # a receiver's proxy, plain
    (
        _webhook("http_config: {proxy_url: http://proxyuser:PROXYPW@127.0.0.1:3128}"),
        _webhook("http_config: {proxy_url: http://proxyuser:xxxxx@127.0.0.1:3128}"),
    ),
    # the global proxy, double-quoted, with a comment
    (
        'global:\n  http_config:\n    proxy_url: "http://u:PW@p:3128"  # corp\n' + _webhook(""),
        'global:\n  http_config:\n    proxy_url: "http://u:xxxxx@p:3128"  # corp\n' + _webhook(""),
    ),
    # OAuth2's token endpoint and proxy, single-quoted
    (
        _webhook(
            "http_config: {oauth2: {client_id: c, token_url: 'https://u:TPW@idp/t', "
            "proxy_url: 'http://u:OPW@p'}}"
        ),
        _webhook(
            "http_config: {oauth2: {client_id: c, token_url: 'https://u:xxxxx@idp/t', "
            "proxy_url: 'http://u:xxxxx@p'}}"
        ),
    ),
    # a webhook's url (shown, as Alertmanager 0.25 shows it), its password only masked
    (
        "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n"
        "      - url: http://hook:HOOKPW@127.0.0.1:9/h?x=1\n",
        "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n"
        "      - url: http://hook:xxxxx@127.0.0.1:9/h?x=1\n",
    ),
    # a URL field of Alertmanager's (PagerDuty's url, a global API URL)
    (
        "global: {opsgenie_api_url: 'https://o:OGPW@api.example/'}\nroute: {receiver: r}\n"
        "receivers:\n  - name: r\n    pagerduty_configs:\n"
        "      - {routing_key: k, url: 'https://p:PDPW@events.example/v2'}\n",
        "global: {opsgenie_api_url: 'https://o:xxxxx@api.example/'}\nroute: {receiver: r}\n"
        "receivers:\n  - name: r\n    pagerduty_configs:\n"
        "      - {routing_key: <secret>, url: 'https://p:xxxxx@events.example/v2'}\n",
    ),
    # a password written with an escape: the whole URL, double-quoted
    (
        _webhook('http_config: {proxy_url: "http://u:P\\x57@p"}'),
        _webhook('http_config: {proxy_url: "http://u:xxxxx@p"}'),
    ),
    # an empty password is a password (as Go has it); a user alone is not
    (
        _webhook("http_config: {proxy_url: 'http://u:@p'}"),
        _webhook("http_config: {proxy_url: 'http://u:xxxxx@p'}"),
    ),
    (
        _webhook("http_config: {proxy_url: 'http://u@p:3128'}"),
        _webhook("http_config: {proxy_url: 'http://u@p:3128'}"),
    ),
    # a Tocsin probe's URL (its section commented out by shown(), still read)
    (
        "route: {receiver: r}\nreceivers: [{name: r}]\ntocsin:\n  probes:\n"
        "    - {name: api, url: 'https://probe:PRPW@api.example/health'}\n",
        "route: {receiver: r}\nreceivers: [{name: r}]\ntocsin:\n  probes:\n"
        "    - {name: api, url: 'https://probe:xxxxx@api.example/health'}\n",
    ),
]


@pytest.mark.parametrize(("text", "expected"), URLS)
def test_a_password_in_a_url_is_shown_as_go_shows_it(text: str, expected: str) -> None:
    config = parse_config(text, "am.yml")
    assert redacted(config.original, config) == expected
    parse_config(expected, "am.yml")  # still URLs the loader takes


@given(
    password=st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="@/?#[]"),
        min_size=1,
        max_size=30,
    ).filter(lambda s: s != "xxxxx"),
    quote=st.sampled_from([None, '"', "'"]),
)
def test_whatever_the_password_it_is_not_shown(password: str, quote: str | None) -> None:
    url = f"http://proxyuser:{password}@127.0.0.1:3128/"
    data = {
        "route": {"receiver": "r"},
        "receivers": [{"name": "r", "webhook_configs": [{"url": "http://127.0.0.1:9/h"}]}],
        "global": {"http_config": {"proxy_url": url}},
    }
    text = yaml.safe_dump(data, width=10_000, sort_keys=False, default_style=quote)
    config = parse_config(text, "am.yml")
    shown_data = yaml.safe_load(redacted(config.original, config))
    assert shown_data["global"]["http_config"]["proxy_url"] == (
        "http://proxyuser:xxxxx@127.0.0.1:3128/"
    )
    assert shown_data["receivers"] == data["receivers"]  # nothing else changed
