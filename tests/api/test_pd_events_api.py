"""``POST /v2/enqueue`` (PagerDuty Events API v2) over a real database (SQLite and
PostgreSQL): triggers fire alerts that routes, silences and escalation see, re-triggers
and resolves act on the alert their dedup_key names, an acknowledge stops the
escalation of the group that holds it, and bad events store nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock, app_client, first_group
from tests.e2e.conftest import wait_until
from tocsin.alerts.model import PostedAlert
from tocsin.alerts.pd_events import OPEN_END, decode, triggered
from tocsin.runtime import Runtime

KEY = "0123456789abcdef0123456789abcdef"

CONFIG = f"""\
global:
  smtp_smarthost: 127.0.0.1:9            # nothing listens: pages are decided, not mailed
  smtp_from: tocsin@example.org
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  routes:
    - receiver: pager
      matchers: ['severity="critical"']
receivers:
  - name: default
  - name: pager
    escalation_policy: critical
people:
  - name: alice
    email: alice@example.org
escalation_policies:
  - name: critical
    steps:
      - delay: 0s
        targets: [{{person: alice}}]
      - delay: 15m
        targets: [{{person: alice}}]
tocsin:
  event_integrations:
    - name: monitoring
      routing_key: {KEY}
      labels: {{team: storage}}
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """The config the shared ``runtime`` and ``client`` fixtures run."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    return path


def send(client: TestClient, action: str = "trigger", **fields: Any) -> dict[str, Any]:
    payload = {"summary": "Disk 95% full on db1", "source": "db1", "severity": "critical"}
    payload.update(fields.pop("payload", {}))
    body: dict[str, Any] = {"routing_key": KEY, "event_action": action, **fields}
    if action == "trigger":
        body["payload"] = payload
    r = client.post("/v2/enqueue", json=body)
    assert r.status_code == 202, r.text
    answer: dict[str, Any] = r.json()
    return answer


def held(runtime: Runtime, dedup_key: str) -> list[Any]:
    """Every stored alert of the identity, firing or resolved, oldest start first."""
    alerts = runtime.store.all_alerts()
    mine = [a for a in alerts if a.labels.get("dedup_key") == dedup_key]
    return sorted(mine, key=lambda a: (a.starts_at, a.labels.get("severity", "")))


def test_a_trigger_fires_an_alert_until_it_is_resolved(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    answer = send(client, dedup_key="disk-db1")
    assert answer == {"status": "success", "message": "Event processed", "dedup_key": "disk-db1"}
    (alert,) = client.get("/api/v2/alerts").json()
    assert alert["labels"] == {
        "alertname": "monitoring",
        "severity": "critical",
        "source": "db1",
        "team": "storage",
        "integration": "monitoring",
        "dedup_key": "disk-db1",
    }
    assert alert["annotations"] == {"summary": "Disk 95% full on db1"}
    assert alert["status"]["state"] == "active"
    assert alert["endsAt"].startswith("9999-12-31")
    assert held(runtime, "disk-db1")[0].starts_at == clock.now
    # long past Alertmanager's resolve_timeout it still fires
    clock.now += timedelta(days=3)
    assert [a["labels"]["dedup_key"] for a in client.get("/api/v2/alerts").json()] == ["disk-db1"]

    clock.now += timedelta(minutes=1)
    assert send(client, "resolve", dedup_key="disk-db1") == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-db1",
    }
    assert client.get("/api/v2/alerts").json() == []
    # a second resolve is accepted too, and says it changed nothing
    assert "nothing to resolve" in send(client, "resolve", dedup_key="disk-db1")["message"]
    (stored,) = held(runtime, "disk-db1")
    assert stored.ends_at == clock.now


def test_a_retrigger_updates_the_one_alert(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    send(client, dedup_key="k")
    first = held(runtime, "k")[0]
    clock.now += timedelta(minutes=5)
    send(client, dedup_key="k", payload={"summary": "Disk 99% full on db1"})
    (alert,) = held(runtime, "k")
    assert alert.fingerprint == first.fingerprint
    assert alert.starts_at == first.starts_at  # the earliest start stays
    assert alert.annotations["summary"] == "Disk 99% full on db1"
    assert alert.ends_at == OPEN_END


def test_a_retrigger_with_new_labels_resolves_the_old_alert(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    send(client, dedup_key="k", payload={"severity": "warning"})
    clock.now += timedelta(minutes=5)
    send(client, dedup_key="k", payload={"severity": "critical"})
    old, new = held(runtime, "k")
    assert (old.labels["severity"], old.ends_at) == ("warning", clock.now)
    assert (new.labels["severity"], new.ends_at) == ("critical", OPEN_END)
    firing = client.get("/api/v2/alerts").json()
    assert [a["labels"]["severity"] for a in firing] == ["critical"]


def test_a_trigger_after_a_resolve_starts_a_new_alert(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    send(client, dedup_key="k")
    clock.now += timedelta(minutes=1)
    send(client, "resolve", dedup_key="k")
    clock.now += timedelta(minutes=1)
    send(client, dedup_key="k")
    (alert,) = held(runtime, "k")
    assert (alert.starts_at, alert.ends_at) == (clock.now, OPEN_END)


def test_a_trigger_without_dedup_key_answers_the_one_it_made(client: TestClient) -> None:
    made = send(client)["dedup_key"]
    assert len(made) == 32
    send(client, "resolve", dedup_key=made)
    assert client.get("/api/v2/alerts").json() == []


def test_events_for_unknown_alerts_change_nothing(runtime: Runtime, client: TestClient) -> None:
    send(client, dedup_key="k")
    before = held(runtime, "k")
    resolved = send(client, "resolve", dedup_key="other")
    acked = send(client, "acknowledge", dedup_key="other")
    assert held(runtime, "k") == before
    assert held(runtime, "other") == []
    # accepted as PagerDuty accepts them, but the answer says they changed nothing
    assert resolved["message"] == (
        "Event processed; nothing to resolve: no firing alert has this dedup_key"
    )
    assert acked["message"].startswith("Event processed; nothing to acknowledge: ")


def test_an_acknowledge_with_no_page_to_take_says_why(client: TestClient) -> None:
    """A firing alert no escalating group holds (routed to a receiver without a
    policy here; a group in its group_wait is the same): the acknowledge is accepted,
    and the answer says it did nothing and when it would."""
    send(client, dedup_key="w", payload={"severity": "warning"})
    acked = send(client, "acknowledge", dedup_key="w")
    assert acked["message"].startswith(
        "Event processed; nothing to acknowledge: the alert of this dedup_key fires, "
        "but no alert group awaiting acknowledgement holds it"
    )
    assert "send acknowledge again once paged" in acked["message"]


def test_an_acknowledge_event_acknowledges_the_escalating_group(client: TestClient) -> None:
    send(client, dedup_key="k")
    group = first_group(client)
    assert group["status"] == "firing"
    assert send(client, "acknowledge", dedup_key="k")["message"] == "Event processed"
    gid = group["id"]
    state = client.get(f"/api/v1/groups/{gid}").json()
    assert state["status"] == "acknowledged"
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    acks = [
        (a["actor"], a["channel"], a["comment"]) for a in audit if a["action"] == "acknowledged"
    ]
    assert acks == [("monitoring", "events-api", "acknowledge event, dedup_key k")]
    # once more: already acknowledged, still accepted (as PagerDuty does), no new line
    again_ack = send(client, "acknowledge", dedup_key="k")
    assert again_ack["message"].startswith("Event processed; nothing to acknowledge")
    again = client.get(f"/api/v1/groups/{gid}/audit").json()
    assert len([a for a in again if a["action"] == "acknowledged"]) == 1


def test_a_group_resolved_by_hand_resolves_its_event_alerts_and_a_trigger_reopens_it(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    """As resolving a PagerDuty incident resolves its alerts: a tool that only ever
    triggers (one dedup_key) pages again when the problem comes back, instead of its
    alert firing for good in a group that stays resolved."""
    send(client, dedup_key="hr1")
    gid = first_group(client)["id"]
    resolved = client.post(f"/api/v1/groups/{gid}/resolve", json={"by": "ann"})
    assert resolved.status_code == 200, resolved.text
    assert [a.resolved(clock.now) for a in held(runtime, "hr1")] == [True]
    assert client.get("/api/v2/alerts").json() == []
    # the group's next flush sees its alert resolved (no longer held as resolved by
    # hand); the problem comes back later
    clock.now += timedelta(minutes=10)
    runtime.dispatcher.loop.kick()

    def lifecycle() -> dict[str, Any]:
        page = runtime.group_page(gid)
        assert page is not None
        found: dict[str, Any] = page.row.state["lifecycle"]
        return found

    wait_until(lambda: not lifecycle().get("held"), 10, "the flush")
    send(client, dedup_key="hr1")
    wait_until(
        lambda: client.get(f"/api/v1/groups/{gid}").json()["status"] == "firing", 10, "re-opened"
    )
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    assert [a["action"] for a in audit if a["action"] in ("opened", "re-opened")] == [
        "opened",
        "re-opened",
    ]


def test_an_alert_without_escalation_is_not_acknowledged(client: TestClient) -> None:
    send(client, dedup_key="w", payload={"severity": "warning"})  # routed to "default"
    send(client, "acknowledge", dedup_key="w")
    assert client.get("/api/v1/groups").json() == []
    assert [a["labels"]["dedup_key"] for a in client.get("/api/v2/alerts").json()] == ["w"]


def test_silences_match_event_labels(client: TestClient, clock: Clock) -> None:
    silence = {
        "matchers": [{"name": "team", "value": "storage", "isRegex": False}],
        "startsAt": clock.now.isoformat(),
        "endsAt": (clock.now + timedelta(hours=1)).isoformat(),
        "createdBy": "alice",
        "comment": "maintenance",
    }
    assert client.post("/api/v2/silences", json=silence).status_code == 200
    send(client, dedup_key="k")
    (alert,) = client.get("/api/v2/alerts").json()
    assert alert["status"]["state"] == "suppressed"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"routing_key": "f" * 32, "event_action": "trigger", "payload": {}},
            "routing_key: not the routing key of any of tocsin.event_integrations",
        ),
        ({"routing_key": KEY, "event_action": "resolve"}, "dedup_key: required for resolve"),
        (
            {"routing_key": KEY, "event_action": "trigger", "payload": {"summary": "s"}},
            "payload.source: required, a non-empty string",
        ),
    ],
)
def test_a_refused_event_stores_nothing(
    runtime: Runtime, client: TestClient, body: Any, error: str
) -> None:
    if body["routing_key"] != KEY:  # a valid event, but for no configured integration
        body["payload"] = {"summary": "s", "source": "db1", "severity": "info"}
    r = client.post("/v2/enqueue", json=body)
    assert r.status_code == 400
    assert r.json()["status"] == "invalid event"
    assert error in r.json()["errors"]
    assert runtime.store.all_alerts() == []


def test_a_body_over_the_limit_is_refused(db_url: str, tmp_path: Path, clock: Clock) -> None:
    with app_client(CONFIG, db_url, tmp_path, clock, max_body_bytes=200) as client:
        body: dict[str, Any] = {"routing_key": KEY, "event_action": "trigger", "dedup_key": "k"}
        body["payload"] = {"summary": "x" * 300, "source": "s", "severity": "info"}
        r = client.post("/v2/enqueue", json=body)
        assert r.status_code == 400
        assert r.json()["errors"] == ["body: exceeds the limit of 200 bytes"]


def test_events_are_counted(client: TestClient) -> None:
    send(client, dedup_key="k")
    send(client, "resolve", dedup_key="k")
    client.post("/v2/enqueue", json={"routing_key": KEY, "event_action": "nope"})
    text = client.get("/metrics").text
    assert 'tocsin_events_received_total{action="trigger",integration="monitoring"} 1.0' in text
    assert 'tocsin_events_received_total{action="resolve",integration="monitoring"} 1.0' in text
    assert "tocsin_events_invalid_total 1.0" in text


def test_the_routing_key_is_not_shown_by_the_status_endpoint(client: TestClient) -> None:
    shown = client.get("/api/v2/status").json()["config"]["original"]
    assert KEY not in shown
    assert "      # routing_key: <secret>\n" in shown  # (Tocsin's own section: commented out)


def test_a_resolve_ends_the_alert_even_if_its_trigger_was_stamped_later(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    # a trigger written by a replica whose clock is a minute ahead of this one's
    clock.now += timedelta(minutes=1)
    send(client, dedup_key="k")
    clock.now -= timedelta(minutes=2)
    send(client, "resolve", dedup_key="k")
    (alert,) = held(runtime, "k")
    assert alert.ends_at == clock.now  # not the stored trigger's year 9999
    assert alert.starts_at <= alert.ends_at
    assert client.get("/api/v2/alerts").json() == []


def test_concurrent_events_of_one_dedup_key_see_each_other(runtime: Runtime, clock: Clock) -> None:
    def fired(severity: str) -> PostedAlert:
        body = {
            "routing_key": KEY,
            "event_action": "trigger",
            "dedup_key": "k",
            "payload": {"summary": "s", "source": "db1", "severity": severity},
        }
        return triggered(decode(orjson.dumps(body)), "monitoring", {}, clock.now)

    async def together() -> None:
        await asyncio.gather(
            runtime.store.apply_event("monitoring", "k", fired("warning")),
            runtime.store.apply_event("monitoring", "k", fired("critical")),
            runtime.store.apply_event("monitoring", "k", None),
        )

    asyncio.run(together())
    assert {(a.labels["severity"], a.ends_at) for a in held(runtime, "k")} == {
        ("warning", clock.now),  # resolved by the critical trigger
        ("critical", clock.now),  # resolved by the resolve
    }
