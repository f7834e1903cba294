"""``config.original`` as ``GET /api/v2/status`` serves it (and ``amtool config show``
prints it): the user's text with every secret value shown as ``<secret>``, as
Alertmanager shows it, and nothing else changed."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from tocsin.config import parse_config
from tocsin.config.redact import redact, secrets_of

CONFIG = """\
global:
  smtp_smarthost: mail.example.org:587
  smtp_auth_username: alerts
  smtp_auth_password: "hunter2-smtp"   # rotated monthly
route:
  receiver: pager
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: 'abcdef0123456789abcdef0123456789'
    slack_configs:
      - api_url: https://hooks.slack.com/services/T0/B0/XXXXSECRET
        channel: '#alerts'
    webhook_configs:
      - url: http://127.0.0.1:9/hook       # shown, as Alertmanager 0.25 shows it
tocsin:
  slack_signing_secret: signing-s3cret
  event_integrations:
    - name: datadog
      routing_key: 0123456789abcdef0123456789abcdef
      labels: {team: hunter2-smtp-team}
"""

REDACTED = """\
global:
  smtp_smarthost: mail.example.org:587
  smtp_auth_username: alerts
  smtp_auth_password: "<secret>"   # rotated monthly
route:
  receiver: pager
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: '<secret>'
    slack_configs:
      - api_url: <secret>
        channel: '#alerts'
    webhook_configs:
      - url: http://127.0.0.1:9/hook       # shown, as Alertmanager 0.25 shows it
tocsin:
  slack_signing_secret: <secret>
  event_integrations:
    - name: datadog
      routing_key: <secret>
      labels: {team: hunter2-smtp-team}
"""


def test_every_secret_value_is_shown_as_secret_and_nothing_else_changes() -> None:
    config = parse_config(CONFIG, "am.yml")
    assert redact(config.original, secrets_of(config)) == REDACTED
    # what amtool reads back is a valid configuration (Alertmanager's "<secret>" too)
    parse_config(REDACTED, "am.yml")


def test_a_config_without_secrets_is_shown_as_written() -> None:
    text = "route:\n  receiver: r  # default\nreceivers:\n  - name: r\n"
    config = parse_config(text, "am.yml")
    assert redact(config.original, secrets_of(config)) == text


secret_text = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="\"'\\"),
    min_size=4,
    max_size=40,
)


@given(secret_text, secret_text)
def test_no_secret_survives_whatever_it_looks_like(password: str, key: str) -> None:
    data = {
        "global": {"smtp_auth_password": password},
        "route": {"receiver": "r"},
        "receivers": [{"name": "r"}],
        "tocsin": {"event_integrations": [{"name": "x", "routing_key": key}]},
    }
    text = yaml.safe_dump(data, width=10_000, sort_keys=False)
    config = parse_config(text, "am.yml")
    shown = redact(config.original, secrets_of(config))
    values = yaml.safe_load(shown)
    assert values["global"]["smtp_auth_password"] == "<secret>"
    assert values["tocsin"]["event_integrations"][0]["routing_key"] == "<secret>"
    assert values["route"] == {"receiver": "r"}
