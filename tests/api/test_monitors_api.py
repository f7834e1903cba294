"""Monitors over a real database (SQLite and PostgreSQL). Heartbeats: pings committed
and listed, a missed or failed heartbeat's alert raised in the store and resolved by
the next ping, bad pings refused and nothing stored. Probes: a real HTTP server on
127.0.0.1 that answers, then fails, then answers again. And the console's page."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock, app_client, app_runtime
from tests.e2e.conftest import wait_until
from tests.harness.receivers import HTTPReceiver, Reply, self_signed_cert
from tocsin.runtime import Runtime
from tocsin.timeutil import format_rfc3339, parse_rfc3339

CONFIG = """\
route:
  receiver: default
  group_wait: 0s
receivers:
  - name: default
tocsin:
  heartbeats:
    - name: nightly-backup
      period: 24h
      grace: 1h
      labels: {team: infra}
      annotations: {runbook_url: "https://runbooks.example/backup"}
    - name: digest
      period: 5m
      grace: 0s
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """The conftest's runtime and client, over this config."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    return path


def metric(client: TestClient, series: str) -> float | None:
    """The value of one series in /metrics, or None when it is not there."""
    for line in client.get("/metrics").text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    return None


def beats(client: TestClient) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in client.get("/api/v1/heartbeats").json()}


def firing(client: TestClient) -> dict[str, dict[str, Any]]:
    """The firing monitor alerts, by heartbeat or probe and alert name."""
    alerts = client.get("/api/v2/alerts").json()
    return {
        f"{a['labels'].get('heartbeat') or a['labels']['probe']}/{a['labels']['alertname']}": a
        for a in alerts
    }


def check(runtime: Runtime) -> None:
    """Wake the monitor (its sleep follows the real clock, not the test's)."""
    runtime.heartbeats.kick()


def test_a_missed_heartbeat_fires_and_a_ping_resolves_it(
    client: TestClient, runtime: Runtime, clock: Clock
) -> None:
    armed = clock.now
    wait_until(lambda: beats(client)["digest"]["armedAt"] == format_rfc3339(armed), 10, "arming")
    assert {n: h["state"] for n, h in beats(client).items()} == {
        "nightly-backup": "new",
        "digest": "new",
    }
    clock.now += timedelta(minutes=6)  # digest: 5m, no grace; the backup has a day
    check(runtime)
    wait_until(lambda: "digest/HeartbeatMissing" in firing(client), 10, "the alert")
    got = firing(client)
    assert list(got) == ["digest/HeartbeatMissing"]
    alert = got["digest/HeartbeatMissing"]
    assert alert["startsAt"] == format_rfc3339(armed + timedelta(minutes=5))
    assert alert["labels"] == {
        "alertname": "HeartbeatMissing",
        "heartbeat": "digest",
        "severity": "critical",
    }
    assert beats(client)["digest"]["state"] == "down"
    assert beats(client)["nightly-backup"]["state"] == "new"
    metrics = client.get("/metrics").text
    assert 'tocsin_heartbeats{state="down"} 1.0' in metrics
    assert 'tocsin_heartbeats{state="new"} 1.0' in metrics

    # its ping: committed and answered with the new state; the alert resolves
    clock.now += timedelta(seconds=30)
    r = client.post("/api/v1/heartbeats/digest", content=b"sent 120 digests")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["state"], body["lastPingAt"], body["message"], body["pings"]) == (
        "up",
        format_rfc3339(clock.now),
        "sent 120 digests",
        1,
    )
    assert body["lateAt"] == format_rfc3339(clock.now + timedelta(minutes=5))
    wait_until(lambda: not firing(client), 10, "the alert to resolve")
    gauge = 'tocsin_heartbeat_last_ping_timestamp_seconds{heartbeat="digest"}'
    # compared as numbers: the exposition writes 1.79661333e+09 for ...330 (Go's
    # shortest form), so a formatted string would fail one run in ten
    wait_until(lambda: metric(client, gauge) == clock.now.timestamp(), 10, "the ping's gauge")
    # resolved, not forgotten: it is in the store with its end
    (ended,) = [a for a in runtime.store.all_alerts() if a.labels["heartbeat"] == "digest"]
    assert ended.ends_at == clock.now


def test_a_failed_ping_fires_at_once_with_its_message(
    client: TestClient, runtime: Runtime, clock: Clock
) -> None:
    r = client.post("/api/v1/heartbeats/nightly-backup/fail", content=b"exit 2\ndisk full\n")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["lastPing"]) == ("failed", "fail")
    wait_until(lambda: "nightly-backup/HeartbeatFailed" in firing(client), 10, "the alert")
    alert = firing(client)["nightly-backup/HeartbeatFailed"]
    assert alert["labels"]["team"] == "infra"
    assert alert["annotations"] == {
        "summary": "Heartbeat nightly-backup reported a failure",
        "description": "exit 2\ndisk full",
        "runbook_url": "https://runbooks.example/backup",
    }
    assert alert["startsAt"] == format_rfc3339(clock.now)
    # failed it stays, past its period, until a good run
    clock.now += timedelta(days=2)
    check(runtime)
    assert beats(client)["nightly-backup"]["state"] == "failed"
    both = {"nightly-backup/HeartbeatFailed", "digest/HeartbeatMissing"}
    wait_until(lambda: set(firing(client)) == both, 10, "the digest's alert too")
    assert client.post("/api/v1/heartbeats/nightly-backup").status_code == 200
    wait_until(lambda: list(firing(client)) == ["digest/HeartbeatMissing"], 10, "the resolve")


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "says"),
    [
        ("nope", {}, b"", 404, "no heartbeat 'nope' in tocsin.heartbeats (configured: "),
        ("nope/fail", {}, b"", 404, "no heartbeat 'nope'"),
        # another site's page must not keep a dead job looking alive
        ("digest", {"origin": "https://evil.example"}, b"", 403, ""),
        ("digest", {"sec-fetch-site": "cross-site"}, b"", 403, ""),
        ("digest", {}, b"x" * (64 * 1024 + 1), 413, "body: larger than the server takes"),
        ("digest/7x", {}, b"", 400, "outcome: '7x' is none of fail, start, an exit status"),
        ("digest/256", {}, b"", 400, "outcome: '256'"),
    ],
)
def test_bad_pings_are_refused_and_store_nothing(
    client: TestClient, path: str, headers: dict[str, str], body: bytes, status: int, says: str
) -> None:
    r = client.post(f"/ping/{path}", content=body, headers=headers)
    assert r.status_code == status
    assert r.json().startswith(says)
    assert [h["pings"] for h in beats(client).values()] == [0, 0]
    assert client.get("/api/v1/heartbeats/nope").status_code == 404


def test_a_started_job_is_timed_and_a_hung_one_fires(
    client: TestClient, runtime: Runtime, clock: Clock
) -> None:
    started = clock.now
    assert client.post("/ping/nightly-backup/start").status_code == 200
    shown = beats(client)["nightly-backup"]
    assert (shown["state"], shown["startedAt"], shown["pings"]) == (
        "started",
        format_rfc3339(started),
        0,
    )
    # it finishes within its grace: timed, and no longer running
    clock.now += timedelta(minutes=42)
    assert client.get("/ping/nightly-backup").status_code == 200
    done = beats(client)["nightly-backup"]
    assert (done["state"], done["startedAt"], done["lastDuration"]) == ("up", None, 42 * 60.0)
    # the next run starts and hangs: past its grace (an hour), HeartbeatMissing, hung
    clock.now += timedelta(hours=20)
    hung_start = clock.now
    assert client.post("/api/v1/heartbeats/nightly-backup/start").status_code == 200
    clock.now += timedelta(hours=1, minutes=1)
    check(runtime)
    alert = wait_until(
        lambda: firing(client).get("nightly-backup/HeartbeatMissing"), 10, "the hung job"
    )
    assert alert["startsAt"] == format_rfc3339(hung_start + timedelta(hours=1))
    assert "has not finished within its grace of 1h" in alert["annotations"]["summary"]
    assert "hung: started" in client.get("/ui/monitors").text


@pytest.mark.parametrize(
    ("method", "path", "last", "message"),
    [
        ("GET", "/ping/digest", "ok", ""),  # curl -fsS URL, as in a crontab
        ("HEAD", "/ping/digest", "ok", ""),
        ("POST", "/ping/digest/fail", "fail", ""),
        ("POST", "/ping/digest/0", "ok", ""),
        ("GET", "/ping/digest/3", "fail", "exit status 3"),
        # a trailing slash pings too (redirected, curl -fsS would ping nothing, and say 0)
        ("GET", "/ping/digest/", "ok", ""),
        ("POST", "/ping/digest/fail/", "fail", ""),
    ],
)
def test_the_short_ping_urls(
    client: TestClient, method: str, path: str, last: str, message: str
) -> None:
    r = client.request(method, path, follow_redirects=False)
    assert r.status_code == 200
    found = beats(client)["digest"]
    assert (found["lastPing"], found["message"], found["pings"]) == (last, message, 1)


def test_a_whole_log_posted_keeps_its_tail(client: TestClient) -> None:
    log = "".join(f"line {i}\n" for i in range(5000)).encode()  # 44 KB: the tail is kept
    r = client.post("/ping/nightly-backup/fail", content=log)
    assert r.status_code == 200
    message = beats(client)["nightly-backup"]["message"]
    assert len(message) > 990  # all but the part of a line
    assert message.startswith("line ")  # from a line's start
    assert message.endswith("line 4999")


def test_the_console_lists_monitors(client: TestClient, clock: Clock) -> None:
    client.post("/api/v1/heartbeats/nightly-backup/fail", content=b"disk full")
    page = client.get("/ui/monitors").text
    assert 'id="heartbeat-nightly-backup" data-heartbeat="nightly-backup">' in page
    assert '<span class="state failed">failed</span>' in page
    assert "disk full" in page
    assert '<span class="state new">new</span>' in page  # digest never pinged
    assert '<a href="/ui/monitors" class="here">Monitors</a>' in page
    assert 'id="no-probes"' in page


PROBES = """\
route:
  receiver: default
  group_wait: 0s
receivers:
  - name: default
tocsin:
  probes:
    - name: api
      url: {url}
      interval: 1h                     # each request here is asked for (/run)
      timeout: 1s
      failures: 2
      body_contains: healthy
      headers: {{X-Probe: tocsin}}
      http_config: {{basic_auth: {{username: probe, password: s3cret}}}}
      labels: {{team: web}}
"""


def probes(client: TestClient) -> dict[str, Any]:
    (found,) = client.get("/api/v1/probes").json()
    return dict(found)


def run_probe(client: TestClient, runs: int) -> dict[str, Any]:
    """Ask for a request now; the probe once it has made ``runs`` in all."""
    assert client.post("/api/v1/probes/api/run").status_code == 202
    return wait_until(lambda: (p := probes(client))["runs"] >= runs and p, 10, f"run {runs}")


def test_a_probe_goes_down_and_up_with_its_server(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    with HTTPReceiver() as server:
        server.reply("/health", Reply.text("all healthy"))
        config = PROBES.format(url=server.url("/health"))
        with app_client(config, db_url, tmp_path, clock) as client:
            # a new probe is requested at once
            first = wait_until(lambda: (p := probes(client))["runs"] == 1 and p, 10, "run 1")
            assert (first["state"], first["lastStatus"], first["lastOk"]) == ("up", 200, True)
            (sent,) = server.requests("/health")
            assert (sent.method, sent.header("x-probe")) == ("GET", "tocsin")
            assert sent.header("authorization") == "Basic cHJvYmU6czNjcmV0"

            # it fails: failing, then down after 2 in a row, and ProbeFailing fires
            server.reply("/health", Reply.text("degraded", 503))
            failing = run_probe(client, 2)
            assert (failing["state"], failing["failuresInARow"]) == ("failing", 1)
            assert failing["lastError"] == "status 503, expected 2xx"
            clock.now += timedelta(seconds=30)
            down = run_probe(client, 3)
            assert (down["state"], down["downSince"]) == ("down", down["lastAt"])
            alert = wait_until(lambda: firing(client).get("api/ProbeFailing"), 10, "the alert")
            assert alert["labels"] == {
                "alertname": "ProbeFailing",
                "probe": "api",
                "severity": "critical",
                "team": "web",
            }
            assert alert["startsAt"] == down["downSince"]
            assert alert["generatorURL"].endswith("/ui/monitors#probe-api")
            wait_until(
                lambda: 'tocsin_probe_success{probe="api"} 0.0' in client.get("/metrics").text,
                10,
                "the probe's gauge",
            )
            assert alert["annotations"]["description"].startswith("status 503, expected 2xx")

            # 200 without the words it must say is a failure too; no answer in time too
            server.reply("/health", Reply.text("starting"))
            assert run_probe(client, 4)["lastError"] == "body does not contain 'healthy'"
            server.reply("/health", Reply.hanging())
            hung = run_probe(client, 5)
            assert hung["lastError"] == "timed out after 1s waiting for the answer"
            assert hung["state"] == "down"
            server.release()

            # it answers again: up, and the alert resolves
            server.reply("/health", Reply.text("all healthy"))
            up = run_probe(client, 6)
            assert (up["state"], up["failuresInARow"], up["downSince"]) == ("up", 0, None)
            wait_until(lambda: not firing(client), 10, "the alert to resolve")
            assert client.get("/api/v1/probes/api").json() == probes(client)
            page = client.get("/ui/monitors").text
            assert 'id="probe-api" data-probe="api">' in page
            assert '<span class="state up">up</span>' in page


def test_a_probe_that_cannot_connect(db_url: str, tmp_path: Path, clock: Clock) -> None:
    with HTTPReceiver() as server:
        url = server.url("/health")  # a port nothing listens on, once it stops
    with app_client(PROBES.format(url=url), db_url, tmp_path, clock) as client:
        first = wait_until(lambda: (p := probes(client))["runs"] == 1 and p, 10, "run 1")
        assert first["state"] == "failing"
        assert "Connect" in first["lastError"]
        assert client.post("/api/v1/probes/nope/run").status_code == 404
        metrics = client.get("/metrics").text
        assert 'tocsin_probes{state="failing"} 1.0' in metrics


def test_a_heartbeat_removed_from_the_config_has_its_alert_resolved(
    client: TestClient, runtime: Runtime, config_path: Path, clock: Clock
) -> None:
    client.post("/ping/nightly-backup/fail", content=b"disk full")
    wait_until(lambda: "nightly-backup/HeartbeatFailed" in firing(client), 10, "the alert")
    # relabelled: the alert of the old labels resolves, one of the new labels fires
    config_path.write_text(CONFIG.replace("{team: infra}", "{team: storage}"))
    assert client.post("/-/reload").status_code == 200
    wait_until(
        lambda: (
            (a := firing(client).get("nightly-backup/HeartbeatFailed"))
            and a["labels"]["team"] == "storage"
        ),
        10,
        "the new labels",
    )
    alerts = client.get("/api/v2/alerts", params={"filter": "heartbeat=nightly-backup"}).json()
    assert [a["labels"]["team"] for a in alerts] == ["storage"]
    # removed: its alert resolves at the reload, not a day later
    without = (
        CONFIG[: CONFIG.index("    - name: nightly-backup")]
        + CONFIG[CONFIG.index("    - name: digest") :]
    )
    config_path.write_text(without)
    assert client.post("/-/reload").status_code == 200
    wait_until(lambda: "nightly-backup/HeartbeatFailed" not in firing(client), 10, "resolve")
    assert [h["name"] for h in client.get("/api/v1/heartbeats").json()] == ["digest"]


def test_two_replicas_request_a_probe_once(db_url: str, tmp_path: Path, clock: Clock) -> None:
    """Two Tocsins on one database: a round of a probe is one request, by whichever
    replica claims it; the other, woken for the same round, finds it leased (SQLite
    shares the file as PostgreSQL shares the server)."""
    with HTTPReceiver() as server:
        server.reply("/health", Reply.text("all healthy"))
        config = PROBES.format(url=server.url("/health"))
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        url = db_url if not db_url.startswith("sqlite") else f"sqlite:///{tmp_path / 'shared.db'}"
        with (
            app_client(config, url, tmp_path / "a", clock) as a,
            app_client(config, url, tmp_path / "b", clock) as b,
        ):
            # both start with the probe due: one request
            wait_until(lambda: probes(a)["runs"] == 1, 10, "the first round")
            assert len(server.requests("/health")) == 1
            # a request in flight, both replicas asked to run it: the second finds it leased
            server.reply("/health", Reply.hanging())
            assert a.post("/api/v1/probes/api/run").status_code == 202
            server.wait_hanging(1)
            assert b.post("/api/v1/probes/api/run").status_code == 202
            with pytest.raises(AssertionError, match="timed out"):
                server.wait_hanging(2, timeout=1.0)
            server.release()
            wait_until(_runs_reach(b, 2), 10, "the second round")
            assert len(server.requests("/health")) == 2
            assert probes(a) == probes(b)


def _runs_reach(client: TestClient, runs: int) -> Callable[[], bool]:
    return lambda: bool(probes(client)["runs"] == runs)


def test_a_slow_probe_holds_up_no_other(db_url: str, tmp_path: Path, clock: Clock) -> None:
    with HTTPReceiver() as server:
        server.reply("/slow", Reply.hanging())
        server.reply("/fast", Reply.text("all healthy"))
        # the slow one waits as long as it takes (30s timeout): released by the test
        config = PROBES.format(url=server.url("/slow")).replace("timeout: 1s", "timeout: 30s")
        config = config.replace(
            "      labels: {team: web}\n",
            "      labels: {team: web}\n"
            f"    - name: fast\n      url: {server.url('/fast')}\n      interval: 1h\n",
        )
        with app_client(config, db_url, tmp_path, clock) as client:
            server.wait_hanging(1)

            def fast() -> dict[str, Any]:
                found: dict[str, Any] = client.get("/api/v1/probes/fast").json()
                return found

            wait_until(lambda: fast()["runs"] == 1, 10, "the fast probe's first result")
            assert client.post("/api/v1/probes/fast/run").status_code == 202
            wait_until(lambda: fast()["runs"] == 2, 10, "its second, the slow one still out")
            assert probes_named(client, "api")["runs"] == 0
            server.release()
            wait_until(lambda: probes_named(client, "api")["runs"] == 1, 10, "the slow one")


def probes_named(client: TestClient, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/api/v1/probes/{name}").json()
    return found


def test_a_certificate_near_its_end_raises_a_warning(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    made = self_signed_cert(tmp_path)
    if made is None:
        pytest.fail("openssl is missing (Debian's openssl package)")
    cert, key = made  # valid for one day
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    with HTTPReceiver(tls=tls) as server:
        server.reply("/health", Reply.text("all healthy"))
        config = (
            "route:\n  receiver: default\nreceivers:\n  - name: default\ntocsin:\n  probes:\n"
            f"    - name: tls\n      url: {server.url('/health')}\n      interval: 1h\n"
            f"      http_config: {{tls_config: {{ca_file: {cert}}}}}\n"
            "      cert_expiry: 2d\n"  # a day left, inside two: the warning fires
            "    - name: relaxed\n"
            f"      url: {server.url('/health')}\n      interval: 1h\n"
            f"      http_config: {{tls_config: {{ca_file: {cert}}}}}\n"
            "      cert_expiry: 12h\n"  # outside twelve hours: nothing yet
        )
        with app_client(config, db_url, tmp_path, clock) as client:
            wait_until(
                lambda: all(p["runs"] == 1 for p in client.get("/api/v1/probes").json()),
                10,
                "both probes' first requests",
            )
            found = {p["name"]: p for p in client.get("/api/v1/probes").json()}
            assert found["tls"]["state"] == "up"
            expires = parse_rfc3339(found["tls"]["certExpiresAt"])
            assert expires is not None
            assert timedelta(hours=23) < expires - clock.now <= timedelta(days=1, minutes=5)
            alert = wait_until(
                lambda: firing(client).get("tls/ProbeCertificateExpiring"), 10, "the warning"
            )
            assert alert["labels"]["severity"] == "warning"
            assert alert["startsAt"] == format_rfc3339(expires - timedelta(days=2))
            assert "expires " + format_rfc3339(expires) in alert["annotations"]["summary"]
            assert "relaxed/ProbeCertificateExpiring" not in firing(client)
            metrics = client.get("/metrics").text
            assert 'tocsin_probe_ssl_earliest_cert_expiry{probe="tls"}' in metrics


def test_a_restart_after_an_outage_blames_no_job_and_keeps_what_a_replica_raised(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    """The digest (every 5 minutes, no grace) pinged, then Tocsin was down an hour: the
    replica started after it gives the job its period from the start, instead of paging
    at once for pings it may have refused. A replica that was watching all along still
    raises the alert, and the new one leaves it firing."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    url = db_url if not db_url.startswith("sqlite") else f"sqlite:///{tmp_path / 'shared.db'}"
    with app_runtime(CONFIG, url, tmp_path / "a", clock) as (first, runtime):
        assert first.post("/ping/digest").status_code == 200
        # it went down once, and came back: its resolved alert stays in the store
        clock.now += timedelta(minutes=6)
        check(runtime)
        wait_until(lambda: "digest/HeartbeatMissing" in firing(first), 10, "the alert")
        assert first.post("/ping/digest").status_code == 200
        wait_until(lambda: not firing(first), 10, "resolved")
    clock.now += timedelta(hours=1)
    with app_runtime(CONFIG, url, tmp_path / "a", clock) as (restarted, runtime):
        found = beats(restarted)["digest"]
        assert found["state"] == "late"
        assert not firing(restarted)
        # the job pings within its period: nothing was ever raised
        clock.now += timedelta(minutes=2)
        assert restarted.post("/ping/digest").status_code == 200
        assert beats(restarted)["digest"]["state"] == "up"
        # it stops: down a period after its last ping, as ever
        clock.now += timedelta(minutes=6)
        check(runtime)
        wait_until(lambda: "digest/HeartbeatMissing" in firing(restarted), 10, "the alert")
        # another replica starts now: its grace from the start would call the job
        # late, but the alert the first raised stays firing
        with app_runtime(CONFIG, url, tmp_path / "b", clock) as (other, rt):
            assert beats(other)["digest"]["state"] == "late"
            assert other.portal is not None
            other.portal.call(rt.heartbeats.check)  # a whole round, on its loop
            assert "digest/HeartbeatMissing" in firing(other)
            assert beats(restarted)["digest"]["state"] == "down"
