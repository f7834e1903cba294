"""The Alertmanager API v2 as Tocsin serves it, over a real database (SQLite and
PostgreSQL): shapes amtool validates, filters, silences, status and reload."""

from __future__ import annotations

import asyncio
import logging
import platform
import re
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.api.conftest import CONFIG, Clock, app_client, app_runtime, runtime_of
from tests.e2e.conftest import wait_until
from tests.harness.tcp_proxy import TCPProxy
from tests.storage.test_delivery import item
from tocsin.alerts.labels import fingerprint
from tocsin.core.outbox_ops import Enqueue
from tocsin.runtime import Runtime
from tocsin.store import writer as writer_module
from tocsin.timeutil import format_rfc3339

CRIT = {"alertname": "ServiceDown", "severity": "critical", "service": "api"}
WARN = {"alertname": "HighLatency", "severity": "warning", "service": "api"}
WARN_OTHER = {"alertname": "HighLatency", "severity": "warning", "service": "web"}
INFO = {"alertname": "Info", "severity": "info"}


def post(client: TestClient, *label_sets: dict[str, str]) -> None:
    body = [{"labels": ls, "annotations": {"summary": ls["alertname"]}} for ls in label_sets]
    r = client.post("/api/v2/alerts", json=body)
    assert r.status_code == 200, r.text


def names(alerts: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{a['labels']['alertname']}/{a['labels'].get('service', '')}" for a in alerts)


def test_posted_alert_has_the_gettable_shape(client: TestClient, clock: Clock) -> None:
    post(client, CRIT)
    (a,) = client.get("/api/v2/alerts").json()
    assert a["fingerprint"] == fingerprint(CRIT)
    assert a["labels"] == CRIT
    assert a["annotations"] == {"summary": "ServiceDown"}
    assert a["startsAt"] == format_rfc3339(clock.now)
    assert a["endsAt"] == format_rfc3339(clock.now + timedelta(minutes=5))
    assert a["updatedAt"] == format_rfc3339(clock.now)
    assert a["receivers"] == [{"name": "pager"}]
    assert a["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
    assert "generatorURL" not in a  # omitempty, as in Alertmanager


def test_inhibition_marks_the_target_suppressed(client: TestClient) -> None:
    post(client, CRIT, WARN, WARN_OTHER)
    by_name = {names([a])[0]: a for a in client.get("/api/v2/alerts").json()}
    assert by_name["HighLatency/api"]["status"]["inhibitedBy"] == [fingerprint(CRIT)]
    assert by_name["HighLatency/api"]["status"]["state"] == "suppressed"
    assert by_name["HighLatency/web"]["status"]["state"] == "active"  # other service


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["HighLatency/api", "HighLatency/web", "Info/", "ServiceDown/api"]),
        ({"inhibited": "false"}, ["HighLatency/web", "Info/", "ServiceDown/api"]),
        ({"silenced": "false"}, ["HighLatency/api", "HighLatency/web", "ServiceDown/api"]),
        ({"active": "false"}, ["HighLatency/api", "Info/"]),
        ({"filter": 'severity="warning"'}, ["HighLatency/api", "HighLatency/web"]),
        ({"filter": ["severity=~warn.*", 'service!="api"']}, ["HighLatency/web"]),
        ({"receiver": "pager"}, ["ServiceDown/api"]),
        ({"receiver": "sla"}, []),  # receiver regex is anchored
        ({"receiver": "sla.*"}, ["HighLatency/api", "HighLatency/web"]),
    ],
)
def test_alert_filters(client: TestClient, params: dict[str, Any], expected: list[str]) -> None:
    post(client, CRIT, WARN, WARN_OTHER, INFO)
    silence(client, 'alertname="Info"')
    r = client.get("/api/v2/alerts", params=params)
    assert r.status_code == 200
    assert names(r.json()) == expected


def test_bad_filter_is_a_400_naming_it(client: TestClient) -> None:
    r = client.get("/api/v2/alerts", params={"filter": "severity=~("})
    assert r.status_code == 400
    assert "filter" in r.json()
    for path in ("/api/v2/alerts", "/api/v2/alerts/groups"):
        r = client.get(path, params={"receiver": "(p)\\1"})
        assert r.status_code == 400
        assert r.json().startswith("receiver: invalid regular expression")


def test_a_catastrophic_regex_silence_cannot_stall_the_server(client: TestClient) -> None:
    # A nested quantifier that makes a backtracking engine take exponential time on a
    # long non-matching pod name: with RE2 (as Go's regexp) it answers at once, so the
    # alert is stored and listed, and the silence applies where it matches.
    body = silence_body(client, "pod", "([a-z0-9-]+)+-canary", isRegex=True)
    r = client.post("/api/v2/silences", json=body)
    assert r.status_code == 200, r.text
    sid = r.json()["silenceID"]
    long_pod = "checkout-api-7f9c8d6b5-xkq2p-worker-queue-" * 200 + "x"
    post(client, {**CRIT, "pod": long_pod}, {**WARN, "pod": "checkout-api-7f9c-canary"})
    states = {
        a["labels"]["pod"]: a["status"]["silencedBy"] for a in client.get("/api/v2/alerts").json()
    }
    assert states == {long_pod: [], "checkout-api-7f9c-canary": [sid]}
    r = client.get("/api/v2/alerts", params={"filter": 'pod=~"([a-z0-9-]+)+-canary"'})
    assert [a["labels"]["pod"] for a in r.json()] == ["checkout-api-7f9c-canary"]


def test_mixed_batch_stores_the_valid_and_names_the_invalid(client: TestClient) -> None:
    body = [
        {"labels": {"alertname": "Good"}},
        {"labels": {"1bad": "x"}},
        {
            "labels": {"alertname": "Late"},
            "startsAt": "2026-01-02T00:00:00Z",
            "endsAt": "2026-01-01T00:00:00Z",
        },
        {"labels": {"alertname": "Good2"}, "startsAt": "not a time"},
        {"labels": {"alertname": 5}},
    ]
    r = client.post("/api/v2/alerts", json=body)
    assert r.status_code == 400
    message = r.json()
    for expected in (
        "alert[1].labels",
        "alert[2].endsAt",
        "alert[3].startsAt",
        "alert[4].labels.alertname",
    ):
        assert expected in message
    assert names(client.get("/api/v2/alerts").json()) == ["Good/"]


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"labels": {}}', 400, "JSON array"),
        (b"[" + b'{"labels": {"a": "b"}},' * 4000 + b"{}]", 413, "exceeds the limit"),
    ],
)
def test_bad_bodies(client: TestClient, body: bytes, status: int, text: str) -> None:
    r = client.post("/api/v2/alerts", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert text in r.json()
    assert client.get("/api/v2/alerts").json() == []


def test_resolved_alerts_are_not_listed(client: TestClient, clock: Clock) -> None:
    post(client, CRIT)
    clock.now += timedelta(seconds=10)
    resolve = [{"labels": CRIT, "endsAt": format_rfc3339(clock.now)}]
    assert client.post("/api/v2/alerts", json=resolve).status_code == 200
    assert client.get("/api/v2/alerts").json() == []


def test_alerts_time_out_after_resolve_timeout(client: TestClient, clock: Clock) -> None:
    post(client, CRIT)
    clock.now += timedelta(minutes=5)
    assert client.get("/api/v2/alerts").json() == []


def test_groups(client: TestClient) -> None:
    post(client, CRIT, WARN, WARN_OTHER)
    groups = client.get("/api/v2/alerts/groups").json()
    summary = sorted(
        (g["receiver"]["name"], tuple(sorted(g["labels"].items())), len(g["alerts"]))
        for g in groups
    )
    assert summary == [
        ("pager", (("alertname", "ServiceDown"), ("service", "api")), 1),
        ("slack", (("alertname", "HighLatency"),), 2),
    ]


def silence_body(
    client: TestClient, name: str, value: str, minutes: int = 60, **extra: Any
) -> dict[str, Any]:
    """A valid silence of ``name=value`` (``name=~value`` with ``isRegex=True``) from
    the server's now, with ``extra`` keys replacing or adding fields."""
    now = client_now(client)
    regex = bool(extra.pop("isRegex", False))
    return {
        "matchers": [{"name": name, "value": value, "isRegex": regex}],
        "startsAt": format_rfc3339(now),
        "endsAt": format_rfc3339(now + timedelta(minutes=minutes)),
        "createdBy": "test",
        "comment": "maintenance",
        **extra,
    }


def silence(client: TestClient, matchers: str, minutes: int = 60, **extra: Any) -> str:
    name, _, value = matchers.partition("=")
    body = silence_body(client, name, value.strip('"'), minutes, **extra)
    r = client.post("/api/v2/silences", json=body)
    assert r.status_code == 200, r.text
    sid: str = r.json()["silenceID"]
    return sid


def client_now(client: TestClient) -> datetime:
    return runtime_of(client).clock()


def test_silence_crud(client: TestClient, clock: Clock) -> None:
    sid = silence(client, 'alertname="ServiceDown"')
    got = client.get(f"/api/v2/silence/{sid}").json()
    assert got["id"] == sid
    assert got["status"] == {"state": "active"}
    assert got["matchers"] == [
        {"name": "alertname", "value": "ServiceDown", "isRegex": False, "isEqual": True}
    ]
    assert set(got) == {
        "id",
        "status",
        "updatedAt",
        "comment",
        "createdBy",
        "endsAt",
        "matchers",
        "startsAt",
    }
    post(client, CRIT)
    (a,) = client.get("/api/v2/alerts").json()
    assert a["status"]["silencedBy"] == [sid]
    assert client.delete(f"/api/v2/silence/{sid}").status_code == 200
    clock.now += timedelta(seconds=1)
    assert client.get(f"/api/v2/silence/{sid}").json()["status"] == {"state": "expired"}
    (a,) = client.get("/api/v2/alerts").json()
    assert a["status"]["state"] == "active"
    # expiring an expired silence again is not an error (Alertmanager 0.25 answers 200)
    assert client.delete(f"/api/v2/silence/{sid}").status_code == 200


def test_silence_not_found(client: TestClient) -> None:
    assert client.get("/api/v2/silence/nope").status_code == 404
    assert client.delete("/api/v2/silence/nope").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"matchers": []}, "matchers"),
        ({"matchers": [{"name": "a", "value": "(", "isRegex": True}]}, "matchers[0].value"),
        ({"matchers": [{"name": "a", "value": ".*", "isRegex": True}]}, "matchers"),
        ({"endsAt": "2020-01-01T00:00:00Z"}, "endsAt"),
        ({"startsAt": "soon"}, "startsAt"),
        ({"matchers": [{"name": "1a", "value": "x", "isRegex": False}]}, "matchers[0].name"),
        # a pattern Go's regexp refuses (Alertmanager refuses it too)
        ({"matchers": [{"name": "a", "value": "(x)\\1", "isRegex": True}]}, "matchers[0].value"),
        ({"createdBy": None}, "createdBy"),  # Alertmanager: "createdBy in body is required"
        ({"comment": None}, "comment"),
        ({"comment": 7}, "comment"),
    ],
)
def test_invalid_silences_are_refused(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    body = silence_body(client, "a", "b", **change)
    r = client.post("/api/v2/silences", json=body)
    assert r.status_code == 400
    assert field in r.json()
    assert client.get("/api/v2/silences").json() == []


def test_silence_update_keeps_id_and_unknown_id_is_404(client: TestClient) -> None:
    sid = silence(client, 'alertname="A"', 60)
    assert silence(client, 'alertname="A"', 120, id=sid) == sid
    body = silence_body(client, "a", "b", id="does-not-exist")
    assert client.post("/api/v2/silences", json=body).status_code == 404


def test_status_receivers_and_openapi(client: TestClient, db_url: str) -> None:
    status = client.get("/api/v2/status").json()
    assert status["config"]["original"] == CONFIG
    # a process alone on its SQLite file is no cluster; on PostgreSQL, replicas are
    alone = "disabled" if db_url.startswith("sqlite") else "ready"
    assert status["cluster"]["status"] == alone
    assert set(status["versionInfo"]) == {
        "branch",
        "buildDate",
        "buildUser",
        "goVersion",
        "revision",
        "version",
    }
    receivers = client.get("/api/v2/receivers").json()
    assert receivers == [{"name": "default"}, {"name": "pager"}, {"name": "slack"}]
    spec = client.get("/openapi.json").json()
    assert "/api/v2/alerts" in spec["paths"]
    assert "requestBody" in spec["paths"]["/api/v2/alerts"]["post"]


def test_the_docs_page_loads_everything_from_tocsin(client: TestClient) -> None:
    """/docs names no other host: its script and style are served here."""
    page = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(assets) == [
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    assert "url: '/openapi.json'" in page
    for path in assets:
        assert client.get(path).status_code == 200, path
    assert client.get("/redoc").status_code == 404  # FastAPI's ReDoc page needs a CDN


def test_not_ready_while_the_database_refuses_commits(client: TestClient, runtime: Runtime) -> None:
    """A replica that cannot store alerts says so on /-/ready (503, naming the error),
    so that a load balancer sends Prometheus elsewhere; it is ready again once a commit
    succeeds. (The alerts table is renamed away: the database refuses the insert.)"""

    def rename(old: str, new: str) -> None:
        with runtime.engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))

    body = [{"labels": CRIT}]
    answers = TestClient(client.app, raise_server_exceptions=False)  # as a server would
    rename("alerts", "alerts_away")
    try:
        # a statement the database refuses is a server error, not the database being
        # out of reach (which a 503 would tell a load balancer)
        assert answers.post("/api/v2/alerts", json=body).status_code == 500
        found = client.get("/-/ready")
        assert found.status_code == 503
        assert found.text.startswith("not ready: ")
        assert "alerts" in found.text
    finally:
        rename("alerts_away", "alerts")
    post(client, CRIT)
    assert (client.get("/-/ready").status_code, client.get("/-/ready").text) == (200, "OK")


# PostgreSQL only: SQLite is a file, with no network to cut
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_database_out_of_reach_is_a_503_naming_it_logged_now_and_then(
    db_url: str, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL behind a proxy the test cuts, as a network outage does: each request
    that needs it is answered 503 with the reason (Prometheus re-sends; a load balancer
    may try another replica), not a bare 500, and logged once for the lot, not with a
    traceback each; once it is back, alerts are taken again."""
    url = make_url(db_url)
    with TCPProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        with app_client(CONFIG, proxied, tmp_path, clock) as client:
            answers = TestClient(client.app, raise_server_exceptions=False)  # as a server
            body = [{"labels": CRIT}]
            assert answers.post("/api/v2/alerts", json=body).status_code == 200
            proxy.cut()
            with caplog.at_level(logging.WARNING, logger="tocsin.api.unavailable"):
                for _ in range(3):
                    refused = answers.post("/api/v2/alerts", json=body)
                    assert refused.status_code == 503, refused.text
                    assert refused.json() == "database unavailable: try again shortly"
                    assert refused.headers["retry-after"] == "5"
                listed = answers.get("/api/v1/groups")  # a route of the API reading it
                assert listed.status_code == 503, listed.text
            said = [r.getMessage() for r in caplog.records if r.name == "tocsin.api.unavailable"]
            assert len(said) == 1, said
            assert said[0].startswith("POST /api/v2/alerts answered 503: database unavailable: ")
            proxy.restore()
            wait_until(
                lambda: answers.post("/api/v2/alerts", json=body).status_code == 200,
                30,
                "alerts taken again",
            )


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_commit_held_up_by_another_replica_says_so(
    db_url: str,
    tmp_path: Path,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another replica's transaction holds the revision counter's lock (its network
    hung mid-transaction): this replica's commits wait, fail nothing, and would look
    healthy. Its readiness says a commit is waiting, the metric how long, and the log
    (once); once the lock goes, the alert posted meanwhile is stored, the log says the
    wait ended and it is ready again. Sessions are ended by the server after a minute
    idle in a transaction."""
    monkeypatch.setattr(writer_module, "STALLED", 0.2)  # (30 s in earnest)
    caplog.set_level(logging.WARNING, "tocsin.store.writer")
    with app_runtime(CONFIG, db_url, tmp_path, clock) as (client, rt):
        engine = rt.engine
        with engine.connect() as conn:
            shown = conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar()
            assert shown == "1min"
        other = engine.connect()
        held = other.begin()
        other.execute(text("UPDATE revisions SET rev = rev + 1 WHERE id = 1"))
        posting = threading.Thread(target=post, args=(client, CRIT))
        posting.start()
        try:

            def not_ready() -> Any:
                found = client.get("/-/ready")
                return found if found.status_code == 503 else None

            ready = wait_until(not_ready, 30, "readiness to say a commit waits")
            assert ready.text.startswith("not ready: a database commit has been waiting for ")
            assert "(a lock another replica holds, or a network that stopped answering)" in (
                ready.text
            )
            metrics = client.get("/metrics").text
            age = re.search(r"^tocsin_database_commit_age_seconds (\S+)$", metrics, re.M)
            assert age is not None
            assert float(age.group(1)) > 0
            assert client.get("/api/v2/alerts").json() == []  # not stored yet
            assert client.get("/-/ready").status_code == 503
        finally:
            held.rollback()
            other.close()
            posting.join(30)
        assert [a["labels"] for a in client.get("/api/v2/alerts").json()] == [CRIT]
        assert client.get("/-/ready").text == "OK"
    said = [r.getMessage() for r in caplog.records if r.name == "tocsin.store.writer"]
    assert len(said) == 2, said  # once while it waited, however often asked, and its end
    assert said[0].startswith("a database commit has been waiting for ")
    assert said[1].startswith("the database commit that waited ended after ")


def test_health_ready_metrics(client: TestClient) -> None:
    assert client.get("/-/healthy").text == "OK"
    assert client.get("/-/ready").text == "OK"
    post(client, CRIT)
    metrics = client.get("/metrics").text
    assert 'tocsin_alerts_received_total{status="firing"} 1.0' in metrics
    assert 'tocsin_alerts{state="active"} 1.0' in metrics
    for loop in ("dispatch", "delivery", "on-call", "heartbeats", "probes", "retention", "follow"):
        assert f'tocsin_loop_failing{{loop="{loop}"}} 0.0' in metrics
        assert f'tocsin_loop_failures_total{{loop="{loop}"}} 0.0' in metrics
    # the release each replica runs, as /api/v2/status says it
    version = client.get("/api/v2/status").json()["versionInfo"]["version"]
    python = platform.python_version()
    assert f'tocsin_build_info{{pythonversion="{python}",version="{version}"}} 1.0' in metrics


def test_a_send_to_a_receiver_the_config_lacks_is_no_failed_request(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """A notification for a receiver a reload removed is retried (for a rolling reload),
    but no request was made: not counted as a failed request of that receiver, whose
    failing-receiver rules would fire; a configured receiver's failure is."""
    with app_runtime(CONFIG, db_url, tmp_path, clock) as (client, rt):
        items = [item("gone", 1, clock.now), item("pager", 2, clock.now)]
        asyncio.run(rt.writer.run(Enqueue(items)))
        rt.delivery.loop.kick()

        def tried(receiver: str) -> bool:
            found = client.get("/api/v1/notifications", params={"receiver": receiver}).json()
            return bool(found) and found[0]["attempts"] > 0

        wait_until(lambda: tried("gone") and tried("pager"), 30, "both tried")
        failed = [
            line
            for line in client.get("/metrics").text.splitlines()
            if line.startswith("tocsin_notification_requests_failed_total{")
        ]
        assert any('receiver="pager"' in line for line in failed), failed
        assert not any('receiver="gone"' in line for line in failed), failed


def test_retention_loop_forgets_by_the_clock_it_was_given(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """The retention loop's first round is due a minute after the start, then every
    ``gc_interval``, by the runtime's clock (here a fake one moved two hours on)."""
    started = clock.now
    with app_runtime(CONFIG, db_url, tmp_path, clock, retention=timedelta(hours=1)) as (
        client,
        rt,
    ):
        old = {
            "labels": {"alertname": "Old"},
            "startsAt": format_rfc3339(started - timedelta(minutes=30)),
            "endsAt": format_rfc3339(started),
        }
        assert client.post("/api/v2/alerts", json=[old]).status_code == 200
        clock.now = started + timedelta(hours=2)  # resolved 2 h ago: past the retention
        rt.retention.kick()
        wait_until(lambda: not rt.store.alerts.values(), 30, "the old alert forgotten")
        metrics = client.get("/metrics").text
        assert 'tocsin_loop_failures_total{loop="retention"} 0.0' in metrics


def test_reload_swaps_config_and_refuses_a_bad_one(
    client: TestClient, config_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    post(client, CRIT)
    config_path.write_text(CONFIG.replace("receiver: pager", "receiver: slack", 1))
    assert client.post("/-/reload").status_code == 200
    (a,) = client.get("/api/v2/alerts").json()
    assert a["receivers"] == [{"name": "slack"}]
    config_path.write_text(CONFIG + "bogus_key: 1\n")
    r = client.post("/-/reload")
    assert r.status_code == 500
    assert "bogus_key" in r.text
    refused = [r.getMessage() for r in caplog.records if "reload refused" in r.getMessage()]
    assert len(refused) == 1  # in the server's log too
    assert "bogus_key" in refused[0]
    status = client.get("/api/v2/status").json()
    assert "bogus_key" not in status["config"]["original"]
    assert "tocsin_config_last_reload_successful 0.0" in client.get("/metrics").text
    assert len(client.get("/api/v2/alerts").json()) == 1  # no alert dropped by reloads
