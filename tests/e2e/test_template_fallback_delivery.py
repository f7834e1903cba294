"""A notification whose configured template fails is delivered all the same, to a real
receiver on 127.0.0.1, with the default for that field; its outcome says so."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.harness.receivers import HTTPReceiver, Reply, SMTPServer
from tocsin.alerts.model import Alert
from tocsin.config.decode import Secret
from tocsin.config.receivers import EmailConfig, PagerdutyConfig, SlackConfig
from tocsin.notify.channels import email, pagerduty, slack
from tocsin.notify.channels.http import ClientPool
from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome, OutcomeKind

pytestmark = pytest.mark.e2e

# Alertmanager fails this template at send time (a Time method on the whole data)...
BROKEN = '[{{ .Status }}] {{ .StartsAt.Format "15:04" }}'
# ... and this one renders: the SRE's template, on an alert
WORKS = '{{ range .Alerts }}{{ .StartsAt.Format "15:04" }} {{ end }}'


def notification() -> Notification:
    now = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
    alert = Alert(
        fingerprint="fp",
        labels={"alertname": "DiskFull", "instance": "db1"},
        annotations={"summary": "disk full"},
        starts_at=now - timedelta(minutes=3),
        ends_at=now + timedelta(minutes=5),
        generator_url="http://prom/g",
        updated_at=now,
        timeout=True,
    )
    return Notification("dba", "{}:{}", {"alertname": "DiskFull"}, (alert,), now, "https://t")


@pytest.fixture
def receiver() -> Iterator[HTTPReceiver]:
    with HTTPReceiver() as r:
        yield r


def test_slack_is_posted_with_the_default_title(receiver: HTTPReceiver) -> None:
    config = SlackConfig(api_url=Secret(receiver.url("/slack")), title=BROKEN, text=WORKS)

    async def send() -> Outcome:
        async with ClientPool(timeout=10.0) as pool:
            return await slack.send(notification(), config, pool.client_for(None))

    outcome = asyncio.run(send())
    assert outcome.kind is OutcomeKind.SENT
    assert outcome.message.startswith("HTTP 200: ok; sent with the default template for title")
    (request,) = receiver.wait_for(1, "/slack")
    blocks = request.json()["blocks"]
    assert blocks[0]["text"]["text"] == "[FIRING:1] DiskFull (db1)"
    assert blocks[1]["text"]["text"] == "09:57"


def test_pagerduty_event_is_sent_with_the_default_summary(receiver: HTTPReceiver) -> None:
    receiver.reply("/pd", Reply.json({"status": "success"}, status=202))
    config = PagerdutyConfig(routing_key=Secret("rk"), url=receiver.url("/pd"), description=BROKEN)

    async def send() -> Outcome:
        async with ClientPool(timeout=10.0) as pool:
            return await pagerduty.send(notification(), config, pool.client_for(None))

    outcome = asyncio.run(send())
    assert outcome.kind is OutcomeKind.SENT
    assert "sent with the default template for description" in outcome.message
    (request,) = receiver.wait_for(1, "/pd")
    assert request.json()["payload"]["summary"] == "[FIRING:1] DiskFull (db1)"


def test_email_is_delivered_with_the_default_subject() -> None:
    with SMTPServer() as server:
        config = EmailConfig(
            to="ops@example.org",
            from_="tocsin@example.org",
            smarthost=server.smarthost,
            headers={"Subject": BROKEN},
        )
        outcome = asyncio.run(email.send(notification(), config))
        assert outcome.kind is OutcomeKind.SENT, outcome
        assert "sent with the default template for headers.Subject" in outcome.message
        (mail,) = server.wait_for(1)
        assert mail.message["Subject"] == "[FIRING:1] DiskFull (db1)"
