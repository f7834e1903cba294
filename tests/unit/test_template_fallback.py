"""A template that fails when a notification is sent never loses the notification: the
field falls back to its default, a warning names receiver, integration, field and error,
and the delivery's outcome says so. Only where a message goes (e-mail ``to``/``from``,
a PagerDuty routing key) has no default and still fails for good."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from msgspec.structs import replace

from tocsin.alerts.model import Alert
from tocsin.config.decode import Secret
from tocsin.config.receivers import (
    EmailConfig,
    MSTeamsV2Config,
    PagerdutyConfig,
    PagerdutyLink,
    SlackConfig,
    SlackField,
)
from tocsin.notify.channels import email, msteams, pagerduty, slack
from tocsin.notify.channels.email import build_email
from tocsin.notify.channels.http import ClientPool, HTTPClient
from tocsin.notify.channels.msteams import teams_message
from tocsin.notify.channels.pagerduty import pagerduty_event
from tocsin.notify.channels.slack import slack_message
from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome, OutcomeKind
from tocsin.notify.rendering import FieldRenderer, declared_defaults
from tocsin.notify.template_data import template_data
from tocsin.notify.templates import DEFAULT_TEMPLATES, Templates

NOW = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
# Nothing listens on port 1: the send fails fast, after the message was built.
NOWHERE = "http://127.0.0.1:1/"
BROKEN = "{{ .CommonLabels.Nope.Deeper }}{{ .StartsAt.Format }}"  # fails when it runs
ERROR = "can't evaluate field StartsAt in type *template.Data"


def notification() -> Notification:
    alerts = tuple(
        Alert(
            fingerprint=f"fp{i}",
            labels={"alertname": "DiskFull", "instance": f"db{i}"},
            annotations={"summary": f"disk full on db{i}"},
            starts_at=NOW - timedelta(minutes=3),
            ends_at=NOW + timedelta(minutes=5),
            generator_url="http://prom/g",
            updated_at=NOW,
            timeout=True,
        )
        for i in range(2)
    )
    return Notification(
        "dba", "{}:{}", {"alertname": "DiskFull"}, alerts, NOW, "https://tocsin.example"
    )


def defaults_of(field: str, config: object) -> str:
    return DEFAULT_TEMPLATES.render(declared_defaults(config)[field], template_data(notification()))


Send = Callable[[Notification, HTTPClient], Awaitable[Outcome]]


def run_send(send: Callable[[HTTPClient], Awaitable[Outcome]]) -> Outcome:
    async def main() -> Outcome:
        async with ClientPool(timeout=5.0) as pool:
            return await send(pool.client_for(None))

    return asyncio.run(main())


# --- each channel's settings fall back to their defaults ------------------------------------


def test_slack_title_and_fields_fall_back() -> None:
    config = SlackConfig(title=BROKEN, text="fine", fields=(SlackField(title="t", value=BROKEN),))
    message = slack_message(notification(), config)
    assert message["blocks"][0]["text"]["text"] == defaults_of("title", SlackConfig()).strip()
    assert message["blocks"][0]["text"]["text"] == "[FIRING:2] DiskFull"
    fields = next(b for b in message["blocks"] if "fields" in b)
    assert fields["fields"][0]["text"] == "*t*\n"  # no default: empty
    assert {"type": "section", "text": {"type": "mrkdwn", "text": "fine"}} in message["blocks"]


def test_slack_alert_section_falls_back_to_tocsins_own(tmp_path: Path) -> None:
    (tmp_path / "t.tmpl").write_text(
        '{{ define "slack.default.alert" }}{{ .Labels.Remove }}{{ end }}'
    )
    message = slack_message(notification(), SlackConfig(), Templates.load(["*.tmpl"], tmp_path))
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) == 2
    assert all("*DiskFull*" in s for s in sections)


def test_a_broken_override_of_a_default_name_falls_back_to_tocsins(tmp_path: Path) -> None:
    (tmp_path / "t.tmpl").write_text(
        '{{ define "slack.default.title" }}{{ index .Alerts 7 }}{{ end }}'
        '{{ define "slack.default.footer" }}FOOT {{ .Receiver }}{{ end }}'
    )
    templates = Templates.load(["*.tmpl"], tmp_path)
    message = slack_message(notification(), SlackConfig(), templates)
    assert message["blocks"][0]["text"]["text"] == "[FIRING:2] DiskFull"
    assert message["blocks"][-1]["elements"][0]["text"] == "FOOT dba"  # the working override


def test_a_user_title_falls_back_to_the_users_working_default(tmp_path: Path) -> None:
    (tmp_path / "t.tmpl").write_text('{{ define "slack.default.title" }}MINE{{ end }}')
    templates = Templates.load(["*.tmpl"], tmp_path)
    message = slack_message(notification(), SlackConfig(title=BROKEN), templates)
    assert message["blocks"][0]["text"]["text"] == "MINE"


def test_pagerduty_fields_details_and_links_fall_back() -> None:
    config = PagerdutyConfig(
        description=BROKEN,
        source=BROKEN,
        severity=BROKEN,
        details={"firing": BROKEN, "custom": BROKEN, "fine": "{{ .Status }}"},
        links=(PagerdutyLink(href=BROKEN, text="x"),),
    )
    event = pagerduty_event(notification(), config, routing_key="rk")
    payload = event["payload"]
    assert payload["summary"] == "[FIRING:2] DiskFull "  # Alertmanager's subject, space and all
    assert payload["source"] == "Tocsin"  # the client's default, as source is sent
    assert payload["severity"] == "error"
    details = payload["custom_details"]
    assert "Labels:\n - alertname = DiskFull\n" in details["firing"]
    assert details["custom"] == ""
    assert details["fine"] == "firing"
    assert "links" not in event


def test_email_subject_and_bodies_fall_back() -> None:
    config = EmailConfig(
        to="ops@example.org",
        from_="tocsin@example.org",
        headers={"subject": BROKEN, "X-Team": BROKEN},
        text=BROKEN,
        html=BROKEN,
    )
    message = build_email(notification(), config).message
    assert message["subject"] == "[FIRING:2] DiskFull"
    assert message["X-Team"] == ""
    text, html = (part.get_content() for part in message.iter_parts())
    assert "disk full on db0" in text
    assert "<html" in html.lower()


def test_teams_title_falls_back() -> None:
    message = teams_message(notification(), MSTeamsV2Config(title=BROKEN))
    card = message["attachments"][0]["content"]
    assert card["body"][0]["text"] == "[FIRING:2] DiskFull"


# --- it is said: the log and the notification log ------------------------------------------


@pytest.mark.parametrize(
    ("integration", "send"),
    [
        pytest.param(
            "slack",
            lambda n, c: slack.send(n, SlackConfig(api_url=Secret(NOWHERE), title=BROKEN), c),
            id="slack",
        ),
        pytest.param(
            "pagerduty",
            lambda n, c: pagerduty.send(
                n, PagerdutyConfig(routing_key=Secret("rk"), url=NOWHERE, description=BROKEN), c
            ),
            id="pagerduty",
        ),
        pytest.param(
            "msteamsv2",
            lambda n, c: msteams.send(
                n, MSTeamsV2Config(webhook_url=Secret(NOWHERE), title=BROKEN), c
            ),
            id="msteamsv2",
        ),
    ],
)
def test_the_outcome_and_a_warning_say_which_field_fell_back(
    caplog: pytest.LogCaptureFixture, integration: str, send: Send
) -> None:
    n = notification()
    with caplog.at_level(logging.WARNING, logger="tocsin.notify.rendering"):
        outcome = run_send(lambda c: send(n, c))
    # the message was built and sent: only the network (port 1) failed
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert "sent with the default template for" in outcome.message
    assert ERROR in outcome.message
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "'dba'" in text
    assert integration in text
    assert ERROR in text


def test_email_outcome_carries_the_note() -> None:
    config = EmailConfig(
        to="ops@example.org", from_="t@example.org", smarthost="127.0.0.1:1", text=BROKEN
    )
    outcome = asyncio.run(email.send(notification(), config))
    assert outcome.kind is OutcomeKind.RETRYABLE  # refused: the mail was ready
    assert "sent with the default template for text" in outcome.message


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (PagerdutyConfig(routing_key=Secret(BROKEN), url=NOWHERE), "routing_key"),
        (PagerdutyConfig(service_key=Secret(BROKEN)), "service_key"),
    ],
)
def test_where_it_goes_has_no_default_and_stays_permanent(
    config: PagerdutyConfig, field: str
) -> None:
    outcome = run_send(lambda c: pagerduty.send(notification(), config, c))
    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.message.startswith(f"{field}: ")


def test_no_fallback_leaves_the_outcome_alone() -> None:
    renderer = FieldRenderer(
        DEFAULT_TEMPLATES, template_data(notification()), receiver="r", integration="slack"
    )
    assert renderer("{{ .Status }}", "title") == "firing"
    sent = Outcome.sent("HTTP 200")
    assert renderer.noted(sent) is sent
    assert renderer.fallbacks == []


def test_each_field_is_reported_once_and_the_note_is_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    renderer = FieldRenderer(
        DEFAULT_TEMPLATES,
        template_data(notification()),
        receiver="r",
        integration="slack",
        defaults={"title": "{{ .Status }}"},
    )
    long_error = "{{ index .Alerts " + "9" * 400 + " }}"
    with caplog.at_level(logging.WARNING, logger="tocsin.notify.rendering"):
        assert [renderer(long_error, "title") for _ in range(3)] == ["firing"] * 3
        assert renderer(BROKEN, "footer") == ""
    assert renderer.fallbacks == ["title", "footer"]
    assert len(caplog.records) == 2
    noted = renderer.noted(replace(Outcome.sent("HTTP 200"), status_code=200))
    assert noted.message.startswith("HTTP 200; sent with the default template for title, footer")
    assert len(noted.message) < 600
