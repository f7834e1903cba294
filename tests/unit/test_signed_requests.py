"""Signed action links and Slack request signatures: what is accepted and what is not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tocsin.oncall.links import Action, LinkError, SignedAction, make_link, signature, verify
from tocsin.oncall.slack_requests import SlackSignatureError, slack_signature, verify_slack

SECRET = b"s3cret"
T0 = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


def parsed(link: str) -> tuple[SignedAction, str]:
    parts = urlsplit(link)
    _, _, action, group = parts.path.split("/")
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return SignedAction(Action(action), group, q["by"], int(q["exp"])), q["sig"]


def test_a_link_verifies_until_it_expires() -> None:
    link = make_link("http://t:9093", SECRET, Action.ACK, "g123", "alice", T0, timedelta(hours=1))
    assert link.startswith("http://t:9093/act/ack/g123?by=alice&exp=")
    signed, sig = parsed(link)
    verify(SECRET, signed, sig, T0 + timedelta(minutes=59))
    with pytest.raises(LinkError, match="expired"):
        verify(SECRET, signed, sig, T0 + timedelta(hours=1, seconds=1))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: SignedAction(Action.RESOLVE, s.group_id, s.actor, s.expires),  # other action
        lambda s: SignedAction(s.action, "g999", s.actor, s.expires),  # other group
        lambda s: SignedAction(s.action, s.group_id, "mallory", s.expires),  # other person
        lambda s: SignedAction(s.action, s.group_id, s.actor, s.expires + 86400),  # longer
    ],
)
def test_any_change_breaks_the_signature(tamper: Callable[[SignedAction], SignedAction]) -> None:
    signed, sig = parsed(make_link("http://t", SECRET, Action.ACK, "g123", "alice", T0))
    with pytest.raises(LinkError, match="not valid"):
        verify(SECRET, tamper(signed), sig, T0)
    with pytest.raises(LinkError, match="not valid"):
        verify(b"other secret", signed, sig, T0)
    assert signature(SECRET, signed) == sig


@pytest.mark.parametrize("sig", ["é" * 64, "", "not-hex"])
def test_a_mangled_signature_is_refused_not_an_error(sig: str) -> None:
    signed, _ = parsed(make_link("http://t", SECRET, Action.ACK, "g123", "alice", T0))
    with pytest.raises(LinkError, match="not valid"):
        verify(SECRET, signed, sig, T0)


def test_slack_signature() -> None:
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    ts = str(int(T0.timestamp()))
    good = slack_signature("slack-secret", ts, body)
    verify_slack("slack-secret", ts, good, body, T0 + timedelta(seconds=10))
    for secret, stamp, sig, data, now, why in [
        ("wrong", ts, good, body, T0, "does not match"),
        ("slack-secret", ts, good, body + b"x", T0, "does not match"),
        ("slack-secret", ts, good, body, T0 + timedelta(minutes=6), "too old"),
        ("slack-secret", None, good, body, T0, "missing"),
        ("slack-secret", "soon", good, body, T0, "not a number"),
        ("slack-secret", ts, "v0=é", body, T0, "does not match"),  # a 500 before
    ]:
        with pytest.raises(SlackSignatureError, match=why):
            verify_slack(secret, stamp, sig, data, now)
