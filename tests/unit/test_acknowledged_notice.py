"""The notice that someone took a group, as each channel renders it: the status its
templates see is "acknowledged", so the default subject says who ("[ACKNOWLEDGED by
bob]"), the e-mail says nobody else need act, and Teams colours it as a warning; a
page and a resolution render as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from msgspec.structs import replace

from tocsin.alerts.model import Alert
from tocsin.config.receivers import EmailConfig, MSTeamsV2Config
from tocsin.notify.channels.email import build_email
from tocsin.notify.channels.msteams import teams_message
from tocsin.notify.message import Notification

NOW = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)


def notification(resolved: bool = False, acknowledged_by: str = "") -> Notification:
    a = Alert(
        fingerprint="f",
        labels={"alertname": "DiskFull", "host": "db1"},
        annotations={"summary": "95% used"},
        starts_at=NOW - timedelta(minutes=9),
        ends_at=NOW - timedelta(minutes=1) if resolved else NOW + timedelta(minutes=5),
        generator_url="",
        updated_at=NOW,
        timeout=False,
    )
    n = Notification("pager", "{}:{}", {"alertname": "DiskFull"}, (a,), NOW, "https://t")
    return replace(n, acknowledged_by=acknowledged_by)


# (case, notification, subject, what the plain text says of who took it, Teams colour)
ROWS = [
    ("a page", notification(), "[FIRING:1] DiskFull (db1)", None, "Attention"),
    ("a resolution", notification(resolved=True), "[RESOLVED] DiskFull (db1)", None, "Good"),
    (
        "an acknowledgement notice",
        notification(acknowledged_by="bob"),
        "[ACKNOWLEDGED by bob] DiskFull (db1)",
        "bob acknowledged this group and is on it: no need to act unless asked.",
        "Warning",
    ),
]


@pytest.mark.parametrize(
    ("note", "subject", "said", "colour"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_each_channel_says_who_took_it(
    note: Notification, subject: str, said: str | None, colour: str
) -> None:
    msg = build_email(note, EmailConfig(to="ops@example.org", from_="t@example.org")).message
    assert msg["Subject"] == subject
    plain, html = msg.iter_parts()
    text = plain.get_content()
    assert ("is on it" in text) == (said is not None)
    assert said is None or said in text
    assert ("Acknowledged by bob" in html.get_content()) == (said is not None)
    card = teams_message(note, MSTeamsV2Config())["attachments"][0]["content"]
    assert card["body"][0]["color"] == colour
