"""HTTP channels against a real receiver on 127.0.0.1: payloads, auth, failure modes.

Every test drives a real socket: the receiver records what arrived and answers as
scripted (status, Retry-After, garbage, a hang). Outcomes are asserted each time.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.harness.procs import free_port
from tests.harness.receivers import HTTPReceiver, Reply, self_signed_cert
from tocsin import __version__
from tocsin.alerts.model import Alert
from tocsin.config.common import Authorization, BasicAuth, HTTPClientConfig, HTTPHeader, TLSConfig
from tocsin.config.decode import Secret
from tocsin.config.receivers import (
    PAGERDUTY_DEFAULT_DETAILS,
    MSTeamsConfig,
    MSTeamsV2Config,
    PagerdutyConfig,
    Receiver,
    SlackConfig,
    WebhookConfig,
)
from tocsin.notify.channels import msteams, pagerduty, slack, webhook
from tocsin.notify.channels.http import MAX_BODY, ClientPool, HTTPAnswer, HTTPClient, post_json
from tocsin.notify.channels.pagerduty import dedup_key
from tocsin.notify.channels.registry import integrations
from tocsin.notify.message import Notification
from tocsin.notify.outcome import Outcome, OutcomeKind
from tocsin.notify.payload import webhook_payload

pytestmark = pytest.mark.e2e

T = TypeVar("T")
GROUP_KEY = '{}/{team="db"}:{alertname="ReplicationLag"}'


def run(factory: Callable[[HTTPClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with ClientPool(timeout=10.0) as pool:
            return await factory(pool.client_for(None))

    return asyncio.run(main())


def notification(resolved: bool = False, count: int = 2) -> Notification:
    now = datetime.now(UTC)
    alerts = tuple(
        Alert(
            fingerprint=f"{i:016x}",
            labels={"alertname": "ReplicationLag", "team": "db", "instance": f"pg{i}"},
            annotations={"summary": f"lag on pg{i}"},
            starts_at=now - timedelta(minutes=10),
            ends_at=now - timedelta(seconds=5) if resolved else now + timedelta(minutes=5),
            generator_url=f"http://prom:9090/graph?g0.expr=lag&i={i}",
            updated_at=now,
            timeout=not resolved,
        )
        for i in range(count)
    )
    return Notification(
        receiver="dba",
        group_key=GROUP_KEY,
        group_labels={"alertname": "ReplicationLag"},
        alerts=alerts,
        now=now,
        external_url="https://tocsin.example",
        idempotency_key="n-42",
        extra={alerts[0].fingerprint: {"runbook_url": "https://runbooks.example/lag"}},
    )


@pytest.fixture
def receiver() -> Iterator[HTTPReceiver]:
    with HTTPReceiver() as r:
        yield r


# --- webhook ----------------------------------------------------------------------------


def test_webhook_posts_the_v4_payload(receiver: HTTPReceiver) -> None:
    n = notification()
    outcome = run(lambda c: webhook.send(n, WebhookConfig(url=Secret(receiver.url("/hook"))), c))
    assert outcome.kind is OutcomeKind.SENT
    assert outcome.status_code == 200
    (request,) = receiver.wait_for(1, "/hook")
    assert request.method == "POST"
    assert request.header("Content-Type") == "application/json"
    assert request.header("User-Agent") == f"Tocsin/{__version__}"
    # a re-send carries the same key: a receiver can drop the duplicate
    assert request.header("Idempotency-Key") == f'"{hashlib.sha256(b"n-42").hexdigest()}"'
    assert request.json() == webhook_payload(n)
    assert list(request.json()) == [
        "receiver",
        "status",
        "alerts",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "version",
        "groupKey",
        "truncatedAlerts",
    ]
    assert b"\\u0026i=0" in request.body  # Go's escaping of '&'


def test_webhook_max_alerts_and_url_file(receiver: HTTPReceiver, tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    url_file.write_text(receiver.url("/from-file") + "\n")
    config = WebhookConfig(url_file=str(url_file), max_alerts=1)
    outcome = run(lambda c: webhook.send(notification(count=3), config, c))
    assert outcome.ok
    body = receiver.wait_for(1, "/from-file")[0].json()
    assert len(body["alerts"]) == 1
    assert body["truncatedAlerts"] == 2


def test_webhook_missing_url_file_is_permanent(tmp_path: Path) -> None:
    config = WebhookConfig(url_file=str(tmp_path / "absent"))
    outcome = run(lambda c: webhook.send(notification(), config, c))
    assert outcome.kind is OutcomeKind.PERMANENT
    assert "url_file" in outcome.message


@pytest.mark.parametrize(
    ("http_config", "header"),
    [
        (HTTPClientConfig(basic_auth=BasicAuth(username="u", password=Secret("p"))), "Basic dTpw"),
        (HTTPClientConfig(authorization=Authorization(credentials=Secret("tok"))), "Bearer tok"),
        (
            HTTPClientConfig(authorization=Authorization(type="Token", credentials=Secret("t"))),
            "Token t",
        ),
        (HTTPClientConfig(bearer_token=Secret("old")), "Bearer old"),
    ],
)
def test_webhook_auth(receiver: HTTPReceiver, http_config: HTTPClientConfig, header: str) -> None:
    config = WebhookConfig(url=Secret(receiver.url("/auth")), http_config=http_config)
    assert run(lambda c: webhook.send(notification(), config, c)).ok
    assert receiver.wait_for(1, "/auth")[0].header("Authorization") == header


def test_webhook_extra_headers_and_credentials_file(receiver: HTTPReceiver, tmp_path: Path) -> None:
    secret = tmp_path / "cred"
    secret.write_text("from-file\n")
    http_config = HTTPClientConfig(
        authorization=Authorization(credentials_file=str(secret)),
        http_headers={"X-Env": HTTPHeader(values=("prod",))},
    )
    config = WebhookConfig(url=Secret(receiver.url("/h")), http_config=http_config)
    assert run(lambda c: webhook.send(notification(), config, c)).ok
    request = receiver.wait_for(1, "/h")[0]
    assert request.header("Authorization") == "Bearer from-file"
    assert request.header("X-Env") == "prod"


def test_redirects_follow_http_config(receiver: HTTPReceiver) -> None:
    receiver.reply("/old", Reply(302, b"", {"Location": "/new"}))
    followed = WebhookConfig(url=Secret(receiver.url("/old")))
    assert run(lambda c: webhook.send(notification(), followed, c)).ok
    assert receiver.wait_for(1, "/new")
    kept = WebhookConfig(
        url=Secret(receiver.url("/old")), http_config=HTTPClientConfig(follow_redirects=False)
    )
    outcome = run(lambda c: webhook.send(notification(), kept, c))
    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.status_code == 302


# --- failure modes ------------------------------------------------------------------------

HTTP_DATE_IN_60S = "HTTP_DATE_IN_60S"


@pytest.mark.parametrize(
    ("reply", "kind", "status", "retry_after"),
    [
        (Reply(500, b"boom"), OutcomeKind.RETRYABLE, 500, None),
        (Reply(502, b""), OutcomeKind.RETRYABLE, 502, None),
        (Reply(429, b"slow down", {"Retry-After": "17"}), OutcomeKind.RETRYABLE, 429, 17.0),
        (Reply(503, b"", {"Retry-After": HTTP_DATE_IN_60S}), OutcomeKind.RETRYABLE, 503, 60.0),
        (Reply(408, b""), OutcomeKind.RETRYABLE, 408, None),
        (Reply(400, b"bad payload"), OutcomeKind.PERMANENT, 400, None),
        (Reply(404, b""), OutcomeKind.PERMANENT, 404, None),
        (Reply(200, b"\x00\x01 not json at all"), OutcomeKind.SENT, 200, None),
        (Reply.garbage(), OutcomeKind.RETRYABLE, None, None),
    ],
)
def test_webhook_outcomes(
    receiver: HTTPReceiver,
    reply: Reply,
    kind: OutcomeKind,
    status: int | None,
    retry_after: float | None,
) -> None:
    if reply.headers.get("Retry-After") == HTTP_DATE_IN_60S:
        when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=61)
        reply = Reply(reply.status, reply.body, {"Retry-After": format_datetime(when, usegmt=True)})
    receiver.reply("/x", reply)
    outcome = run(
        lambda c: webhook.send(notification(), WebhookConfig(url=Secret(receiver.url("/x"))), c)
    )
    assert outcome.kind is kind
    assert outcome.status_code == status
    if retry_after is None:
        assert outcome.retry_after is None
    else:
        assert outcome.retry_after is not None
        assert retry_after - 2 <= outcome.retry_after <= retry_after + 1
    assert len(receiver.requests("/x")) == 1
    if status and status >= 400 and reply.body:
        assert reply.body.decode() in outcome.message


def test_connection_refused_is_retryable() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    outcome = run(lambda c: webhook.send(notification(), WebhookConfig(url=Secret(url)), c))
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert "ConnectError" in outcome.message
    assert url not in outcome.message  # URLs may hold secrets


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("ftp://hooks.example/x?token=s3cret", "UnsupportedProtocol"),
        ("http://?token=s3cret", "InvalidURL"),
        ("http://[::1/?token=s3cret", "InvalidURL"),
        ("not a url?token=s3cret", "InvalidURL"),
    ],
)
def test_an_unusable_url_is_permanent(url: str, name: str) -> None:
    outcome = run(lambda c: webhook.send(notification(), WebhookConfig(url=Secret(url)), c))
    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.message.startswith(name)
    assert "s3cret" not in outcome.message


def test_a_redirect_loop_is_permanent(receiver: HTTPReceiver) -> None:
    loop = "/loop?token=s3cret"
    receiver.reply(loop, Reply(307, b"", {"Location": loop}))
    config = WebhookConfig(url=Secret(receiver.url(loop)))
    outcome = run(lambda c: webhook.send(notification(), config, c))
    assert outcome.kind is OutcomeKind.PERMANENT
    assert "TooManyRedirects" in outcome.message
    assert "s3cret" not in outcome.message


def test_a_reset_connection_is_retryable() -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def reset_one() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # linger 0: RST instead of FIN

    thread = threading.Thread(target=reset_one, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/reset"
        outcome = run(lambda c: webhook.send(notification(), WebhookConfig(url=Secret(url)), c))
    finally:
        thread.join(10)
        listener.close()
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert url not in outcome.message


def test_the_body_read_is_capped(receiver: HTTPReceiver) -> None:
    receiver.reply("/big", Reply(400, b"x" * (MAX_BODY * 3)))
    config = WebhookConfig(url=Secret(receiver.url("/big")))

    async def scenario(client: HTTPClient) -> HTTPAnswer | Outcome:
        return await post_json(client, receiver.url("/big"), b"{}", http_config=None)

    answer = run(scenario)
    assert isinstance(answer, HTTPAnswer)
    assert answer.status == 400
    assert len(answer.body) == MAX_BODY
    assert run(lambda c: webhook.send(notification(), config, c)).kind is OutcomeKind.PERMANENT


def test_proxy_url_and_no_proxy(receiver: HTTPReceiver) -> None:
    # The receiver plays the proxy: a proxied request names the whole URL on its
    # request line, with Proxy-Authorization from the proxy URL's user information.
    proxy = receiver.url("/").replace("http://", "http://puser:ppass@")
    proxied = HTTPClientConfig(proxy_url=proxy, no_proxy="localhost,10.0.0.0/8")
    dead_proxy = HTTPClientConfig(proxy_url=f"http://127.0.0.1:{free_port()}", no_proxy="127.0.0.1")

    async def scenario(url: str) -> tuple[Outcome, Outcome]:
        async with ClientPool(timeout=10) as pool:
            via_proxy = await webhook.send(
                notification(),
                WebhookConfig(url=Secret("http://hooks.invalid/p"), http_config=proxied),
                pool.client_for(proxied),
            )
            direct = await webhook.send(
                notification(),
                WebhookConfig(url=Secret(url), http_config=dead_proxy),
                pool.client_for(dead_proxy),
            )
            return via_proxy, direct

    via_proxy, direct = asyncio.run(scenario(receiver.url("/direct")))
    assert via_proxy.ok, via_proxy
    (request,) = receiver.wait_for(1, "http://hooks.invalid/p")
    assert request.header("Proxy-Authorization") == "Basic cHVzZXI6cHBhc3M="
    assert direct.ok, direct  # 127.0.0.1 is in no_proxy: the dead proxy is not used
    assert len(receiver.requests("/direct")) == 1


def test_the_pool_timeout_applies_without_an_integration_timeout(receiver: HTTPReceiver) -> None:
    receiver.reply("/hang", Reply.hanging())

    async def scenario() -> Outcome:
        async with ClientPool(timeout=0.3) as pool:
            config = WebhookConfig(url=Secret(receiver.url("/hang")))
            return await webhook.send(notification(), config, pool.client_for(None))

    outcome = asyncio.run(scenario())
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.message == "timed out waiting for the receiver"


def test_a_hanging_receiver_times_out_per_config(receiver: HTTPReceiver) -> None:
    receiver.reply("/hang", Reply.hanging())
    config = WebhookConfig(url=Secret(receiver.url("/hang")), timeout=timedelta(milliseconds=300))
    outcome = run(lambda c: webhook.send(notification(), config, c))
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert "timed out after 0.3s" in outcome.message


def test_a_slow_receiver_does_not_block_another(receiver: HTTPReceiver) -> None:
    receiver.reply("/slow", Reply.hanging())
    slow_config = WebhookConfig(url=Secret(receiver.url("/slow")))
    fast_config = WebhookConfig(url=Secret(receiver.url("/fast")))

    async def scenario(client: HTTPClient) -> tuple[Outcome, Outcome]:
        slow = asyncio.create_task(webhook.send(notification(), slow_config, client))
        await asyncio.to_thread(receiver.wait_hanging, 1)
        fast = await asyncio.wait_for(webhook.send(notification(), fast_config, client), 10)
        # The fast delivery completed while the slow one is still held by the receiver.
        assert not slow.done()
        receiver.release()
        return fast, await asyncio.wait_for(slow, 10)

    fast, slow = run(scenario)
    assert fast.ok
    assert slow.ok
    assert len(receiver.requests("/fast")) == 1
    assert len(receiver.requests("/slow")) == 1


# --- TLS ------------------------------------------------------------------------------------


def test_tls_config_ca_file_and_insecure_skip_verify(tmp_path: Path) -> None:
    made = self_signed_cert(tmp_path)
    if made is None:
        pytest.skip("openssl is not installed: no certificate for the HTTPS receiver")
    cert, key = made
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def scenario(url: str) -> list[Outcome]:
        async with ClientPool(timeout=10) as pool:
            outcomes = []
            for tls in (
                TLSConfig(ca_file=str(cert)),
                TLSConfig(),
                TLSConfig(insecure_skip_verify=True),
            ):
                http_config = HTTPClientConfig(tls_config=tls)
                client = pool.client_for(http_config)
                config = WebhookConfig(url=Secret(url), http_config=http_config)
                outcomes.append(await webhook.send(notification(), config, client))
            return outcomes

    with HTTPReceiver(tls=server_tls) as r:
        trusted, untrusted, skipped = asyncio.run(scenario(r.url("/tls")))
        assert trusted.ok
        assert skipped.ok
        assert untrusted.kind is OutcomeKind.RETRYABLE
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.message
        assert len(r.requests("/tls")) == 2


# --- Slack ----------------------------------------------------------------------------------


def test_slack_incoming_webhook(receiver: HTTPReceiver) -> None:
    receiver.reply("/services/T/B/X", Reply.text("ok"))
    config = SlackConfig(api_url=Secret(receiver.url("/services/T/B/X")), channel="#db")
    outcome = run(lambda c: slack.send(notification(), config, c))
    assert outcome.kind is OutcomeKind.SENT
    body = receiver.wait_for(1, "/services/T/B/X")[0].json()
    assert body["channel"] == "#db"
    assert body["username"] == "Tocsin"
    # what a phone's notification shows: the first alert's summary first
    assert body["text"].startswith("lag on pg0 · [FIRING:2] ReplicationLag")
    assert body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[FIRING:2] ReplicationLag (db)", "emoji": True},
    }
    sections = [b for b in body["blocks"] if b["type"] == "section"]
    assert len(sections) == 2
    assert "lag on pg0" in sections[0]["text"]["text"]
    assert "<https://runbooks.example/lag|Runbook>" in sections[0]["text"]["text"]
    assert sections[0]["accessory"]["url"] == "http://prom:9090/graph?g0.expr=lag&i=0"
    actions = next(b for b in body["blocks"] if b["type"] == "actions")
    assert actions["elements"][0]["url"] == "https://tocsin.example/ui/alerts"


def test_slack_incoming_webhook_error_text(receiver: HTTPReceiver) -> None:
    receiver.reply("/hook", Reply.text("invalid_payload", status=400))
    config = SlackConfig(api_url=Secret(receiver.url("/hook")))
    outcome = run(lambda c: slack.send(notification(), config, c))
    assert outcome.kind is OutcomeKind.PERMANENT
    assert "invalid_payload" in outcome.message


@pytest.mark.parametrize(
    ("reply", "kind", "retry_after"),
    [
        (Reply.json({"ok": True, "channel": "C1", "ts": "1.1"}), OutcomeKind.SENT, None),
        (Reply.json({"ok": False, "error": "channel_not_found"}), OutcomeKind.PERMANENT, None),
        (
            Reply.json({"ok": False, "error": "ratelimited"}, headers={"Retry-After": "4"}),
            OutcomeKind.RETRYABLE,
            4.0,
        ),
        (
            Reply.json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "9"}),
            OutcomeKind.RETRYABLE,
            9.0,
        ),
    ],
)
def test_slack_chat_post_message_with_app_token(
    receiver: HTTPReceiver, reply: Reply, kind: OutcomeKind, retry_after: float | None
) -> None:
    receiver.reply("/api/chat.postMessage", reply)
    config = SlackConfig(
        app_token=Secret("xoxb-123"),
        app_url=receiver.url("/api/chat.postMessage"),
        channel="C0123",
    )
    outcome = run(lambda c: slack.send(notification(), config, c))
    assert outcome.kind is kind
    assert outcome.retry_after == retry_after
    request = receiver.wait_for(1, "/api/chat.postMessage")[0]
    assert request.header("Authorization") == "Bearer xoxb-123"
    assert request.json()["channel"] == "C0123"


def test_slack_chat_post_message_with_http_config_bearer(receiver: HTTPReceiver) -> None:
    receiver.reply("/api/chat.postMessage", Reply.json({"ok": True}))
    config = SlackConfig(
        api_url=Secret(receiver.url("/api/chat.postMessage")),
        channel="#db",
        http_config=HTTPClientConfig(authorization=Authorization(credentials=Secret("xoxb-9"))),
    )
    assert run(lambda c: slack.send(notification(), config, c)).ok
    assert receiver.wait_for(1)[0].header("Authorization") == "Bearer xoxb-9"


# --- Microsoft Teams ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["msteams", "msteamsv2"])
def test_teams_adaptive_card(receiver: HTTPReceiver, kind: str) -> None:
    receiver.reply("/workflow", Reply(202, b""))
    url = Secret(receiver.url("/workflow"))
    config: MSTeamsConfig | MSTeamsV2Config = (
        MSTeamsConfig(webhook_url=url) if kind == "msteams" else MSTeamsV2Config(webhook_url=url)
    )
    outcome = run(lambda c: msteams.send(notification(), config, c))
    assert outcome.kind is OutcomeKind.SENT
    assert outcome.status_code == 202
    body = receiver.wait_for(1, "/workflow")[0].json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.2"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    title, text = card["body"]
    assert title["text"] == "[FIRING:2] ReplicationLag (db)"
    assert title["color"] == "Attention"
    assert "**ReplicationLag**: lag on pg1" in text["text"]
    assert "[Runbook](https://runbooks.example/lag)" in text["text"]
    assert card["actions"][0]["url"] == "https://tocsin.example"
    assert ("summary" in body) is (kind == "msteams")


def test_teams_resolved_is_green(receiver: HTTPReceiver) -> None:
    config = MSTeamsV2Config(webhook_url=Secret(receiver.url("/w")))
    assert run(lambda c: msteams.send(notification(resolved=True), config, c)).ok
    card = receiver.wait_for(1, "/w")[0].json()["attachments"][0]["content"]
    assert card["body"][0]["color"] == "Good"


# --- PagerDuty ------------------------------------------------------------------------------


def pd_config(url: str, **kw: Any) -> PagerdutyConfig:
    return PagerdutyConfig(
        routing_key=Secret("R0UT1NG"), url=url, details=dict(PAGERDUTY_DEFAULT_DETAILS), **kw
    )


def test_pagerduty_trigger_then_resolve(receiver: HTTPReceiver) -> None:
    accepted = {"status": "success", "message": "Event processed", "dedup_key": "x"}
    receiver.reply("/v2/enqueue", Reply.json(accepted, 202))
    config = pd_config(receiver.url("/v2/enqueue"))
    first = run(lambda c: pagerduty.send(notification(), config, c))
    second = run(lambda c: pagerduty.send(notification(resolved=True), config, c))
    assert first.kind is second.kind is OutcomeKind.SENT
    trigger, resolve = (r.json() for r in receiver.wait_for(2, "/v2/enqueue"))
    assert trigger["routing_key"] == "R0UT1NG"
    assert trigger["event_action"] == "trigger"
    assert resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == dedup_key(GROUP_KEY)
    payload = trigger["payload"]
    assert payload["summary"] == "[FIRING:2] ReplicationLag (db)"
    assert payload["severity"] == "error"
    assert payload["source"] == "Tocsin"
    assert payload["custom_details"]["num_firing"] == "2"
    assert "Runbook: https://runbooks.example/lag" in payload["custom_details"]["firing"]
    assert trigger["links"] == [
        {"href": "https://runbooks.example/lag", "text": "Runbook: ReplicationLag"}
    ]
    assert trigger["client"] == "Tocsin"
    assert trigger["client_url"] == "https://tocsin.example/ui/alerts"


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (
            Reply.json(
                {"status": "invalid event", "message": "Event object is invalid", "errors": ["x"]},
                400,
            ),
            OutcomeKind.PERMANENT,
        ),
        (Reply.json({"status": "throttled"}, 429, {"Retry-After": "30"}), OutcomeKind.RETRYABLE),
        (Reply(500, b""), OutcomeKind.RETRYABLE),
        (Reply(403, b""), OutcomeKind.PERMANENT),  # v2: only 429 and 5xx are retried
    ],
)
def test_pagerduty_errors(receiver: HTTPReceiver, reply: Reply, kind: OutcomeKind) -> None:
    receiver.reply("/v2/enqueue", reply)
    outcome = run(
        lambda c: pagerduty.send(notification(), pd_config(receiver.url("/v2/enqueue")), c)
    )
    assert outcome.kind is kind
    if reply.status == 400:
        assert "Event object is invalid" in outcome.message
    if reply.status == 429:
        assert outcome.retry_after == 30.0


def test_pagerduty_v1_service_key(receiver: HTTPReceiver) -> None:
    receiver.reply("/v1", Reply(403, b"rate limited"))
    config = PagerdutyConfig(service_key=Secret("SVC"))
    outcome = run(lambda c: pagerduty.send(notification(), config, c, v1_url=receiver.url("/v1")))
    assert outcome.kind is OutcomeKind.RETRYABLE  # v1 retries 403
    body = receiver.wait_for(1, "/v1")[0].json()
    assert body["service_key"] == "SVC"
    assert body["event_type"] == "trigger"
    assert body["incident_key"] == dedup_key(GROUP_KEY)


# --- fan-out through the registry ----------------------------------------------------------


def test_registry_fans_out_to_every_integration(receiver: HTTPReceiver) -> None:
    receiver.reply("/slack", Reply.text("ok"))
    receiver.reply("/pd", Reply.json({"status": "success"}, 202))
    config = Receiver(
        name="dba",
        webhook_configs=(
            WebhookConfig(url=Secret(receiver.url("/hook-all"))),
            WebhookConfig(url=Secret(receiver.url("/hook-firing")), send_resolved=False),
        ),
        slack_configs=(SlackConfig(api_url=Secret(receiver.url("/slack")), send_resolved=True),),
        pagerduty_configs=(pd_config(receiver.url("/pd")),),
    )
    n = notification(count=2)
    mixed = n.with_alerts((n.alerts[0], notification(resolved=True).alerts[1]))

    async def scenario() -> list[tuple[str, int, Outcome]]:
        async with ClientPool(timeout=10) as pool:
            found = integrations(config, clients=pool)
            outcomes = await asyncio.gather(*(i.send(mixed) for i in found))
            return [(i.name, i.index, o) for i, o in zip(found, outcomes, strict=True)]

    results = asyncio.run(scenario())
    assert [(name, index) for name, index, _ in results] == [
        ("pagerduty", 0),
        ("slack", 0),
        ("webhook", 0),
        ("webhook", 1),
    ]
    assert all(o.ok for _, _, o in results), results
    assert len(receiver.wait_for(1, "/hook-all")[0].json()["alerts"]) == 2
    firing_only = receiver.wait_for(1, "/hook-firing")[0].json()
    assert [a["status"] for a in firing_only["alerts"]] == ["firing"]
