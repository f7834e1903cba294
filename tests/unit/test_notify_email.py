"""Email: message construction (headers, parts, IDs) and settings errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.alerts.model import Alert
from tocsin.config.receivers import EmailConfig, EmailThreading
from tocsin.notify.channels import email
from tocsin.notify.channels.email import build_email
from tocsin.notify.message import Notification
from tocsin.notify.outcome import OutcomeKind

NOW = datetime(2024, 6, 1, 8, 30, tzinfo=UTC)


def notification(key: str = "n-1") -> Notification:
    a = Alert(
        fingerprint="f",
        labels={"alertname": "QueueBacklog", "queue": "orders"},
        annotations={"summary": "backlog 10k"},
        starts_at=NOW - timedelta(minutes=2),
        ends_at=NOW + timedelta(minutes=3),
        generator_url="http://prom/q",
        updated_at=NOW,
        timeout=True,
    )
    return Notification(
        "mail", "{}:{}", {"alertname": "QueueBacklog"}, (a,), NOW, "https://t", idempotency_key=key
    )


CONFIG = EmailConfig(to="Ops <ops@example.org>, dba@example.org", from_="tocsin@example.org")


def test_headers_parts_and_envelope() -> None:
    envelope = build_email(notification(), CONFIG)
    msg = envelope.message
    assert envelope.sender == "tocsin@example.org"
    assert envelope.recipients == ("ops@example.org", "dba@example.org")
    assert msg["Subject"] == "[FIRING:1] QueueBacklog (orders)"
    assert msg["To"] == "Ops <ops@example.org>, dba@example.org"
    assert msg["From"] == "tocsin@example.org"
    assert msg["Date"] == "Sat, 01 Jun 2024 08:30:00 +0000"
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert "Summary: backlog 10k\n" in plain.get_content()  # first, not among the annotations
    assert "<title>[FIRING:1] QueueBacklog (orders)</title>" in html.get_content()


def test_message_id_follows_the_idempotency_key() -> None:
    first = build_email(notification("k"), CONFIG).message["Message-ID"]
    again = build_email(notification("k"), CONFIG).message["Message-ID"]
    other = build_email(notification("k2"), CONFIG).message["Message-ID"]
    assert first == again != other
    assert first.endswith("@example.org>")


def test_custom_headers_are_templates_and_cannot_inject() -> None:
    config = EmailConfig(
        to="a@example.org",
        from_="t@example.org",
        headers={"subject": "Alert: {{ .CommonLabels.queue }}", "X-Team": "db\r\nBcc: evil@x"},
        text="only {{ .Status }}",
        html="",
    )
    msg = build_email(notification(), config).message
    assert msg["Subject"] == "Alert: orders"
    assert msg["X-Team"] == "db Bcc: evil@x"
    assert msg["Bcc"] is None
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().strip() == "only firing"


def test_threading_headers() -> None:
    config = EmailConfig(
        to="a@example.org",
        from_="t@example.org",
        threading=EmailThreading(enabled=True, thread_by_date="daily"),
    )
    msg = build_email(notification(), config).message
    assert msg["References"] == msg["In-Reply-To"]
    assert msg["References"].endswith("-2024-06-01@example.org>")


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (
            EmailConfig(to="a@example.org", from_="x@e.org, y@e.org", smarthost="127.0.0.1:1"),
            "exactly one from",
        ),
        (EmailConfig(to="", from_="x@e.org", smarthost="127.0.0.1:1"), "no recipient"),
        (EmailConfig(to="a@example.org", from_="x@e.org", smarthost=""), "no smarthost"),
        # where it goes has no default to fall back to (a broken text does: it is sent)
        (
            EmailConfig(to="{{ .Nope.X }}", from_="x@e.org", smarthost="127.0.0.1:1"),
            "to:",
        ),
    ],
)
def test_unusable_settings_are_permanent_without_connecting(
    config: EmailConfig, fragment: str
) -> None:
    outcome = asyncio.run(email.send(notification(), config))
    assert outcome.kind is OutcomeKind.PERMANENT
    assert fragment in outcome.message


def test_a_link_from_an_annotation_leads_nowhere_unsafe() -> None:
    """Annotation values come from scraped targets: a javascript: link in one does not
    reach the on-call's mail live (Go's html/template shows #ZgotmplZ); a web link
    does."""
    config = EmailConfig(
        to="a@example.org",
        from_="t@example.org",
        html='<a href="{{ .CommonAnnotations.link }}">open</a> '
        '<a href="{{ .CommonAnnotations.graph }}">graph</a>',
    )
    note = notification()
    (a,) = note.alerts
    a = Alert(
        a.fingerprint,
        a.labels,
        {"link": "javascript:alert(1)", "graph": "https://g.example/d?x=1&y=2"},
        a.starts_at,
        a.ends_at,
        a.generator_url,
        a.updated_at,
        a.timeout,
    )
    note = Notification(
        "mail", "{}:{}", note.group_labels, (a,), NOW, "https://t", idempotency_key="k"
    )
    _, html = build_email(note, config).message.iter_parts()
    assert html.get_content().strip() == (
        '<a href="#ZgotmplZ">open</a> <a href="https://g.example/d?x=1&amp;y=2">graph</a>'
    )
