"""Alerts in, notifications out, through a real Tocsin process and a real HTTP receiver:
the Alertmanager v4 webhook payload, grouping, resolved notifications, retries of a
failing receiver, and a kill -9 between deciding and sending that loses nothing."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import alert, post_alerts, wait_until
from tests.e2e.test_cli import run_cli
from tests.harness.procs import TocsinServer
from tests.harness.receivers import HTTPReceiver, Reply
from tocsin.timeutil import format_rfc3339 as rfc3339
from tocsin.timeutil import parse_rfc3339

pytestmark = pytest.mark.e2e


def config(url: str, send_resolved: bool = True) -> str:
    return f"""\
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
        send_resolved: {str(send_resolved).lower()}
"""


@pytest.fixture
def receiver() -> Any:
    with HTTPReceiver() as r:
        yield r


def start(tmp_path: Path, receiver: HTTPReceiver, *extra: str) -> TocsinServer:
    path = tmp_path / "alertmanager.yml"
    path.write_text(config(receiver.url("/hook")))
    return TocsinServer(tmp_path, config=path, extra_args=extra)


def test_webhook_gets_the_v4_payload_then_the_resolve(
    tmp_path: Path, receiver: HTTPReceiver
) -> None:
    with start(tmp_path, receiver) as tocsin:
        labels = {"alertname": "HighErrorRate", "service": "api", "severity": "critical"}
        a1 = alert(labels)
        a2 = alert({**labels, "service": "web"})
        assert post_alerts(tocsin.url, [a1, a2]).status_code == 200
        (first,) = receiver.wait_for(1, "/hook", timeout=30)
        body = first.json()
        assert set(body) == {
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
        }
        assert body["version"] == "4"
        assert body["status"] == "firing"
        assert body["receiver"] == "hook"
        assert body["groupLabels"] == {"alertname": "HighErrorRate"}
        assert body["commonLabels"] == {"alertname": "HighErrorRate", "severity": "critical"}
        assert body["groupKey"] == '{}:{alertname="HighErrorRate"}'
        assert sorted(a["labels"]["service"] for a in body["alerts"]) == ["api", "web"]
        fps = {a["labels"]["service"]: a["fingerprint"] for a in body["alerts"]}
        listed = {
            a["labels"]["service"]: a["fingerprint"]
            for a in httpx.get(f"{tocsin.url}/api/v2/alerts").json()
        }
        assert fps == listed

        # resolve one: the next flush says so, with the other still firing
        from datetime import UTC, datetime

        resolved = {**a1, "endsAt": rfc3339(datetime.now(UTC))}
        assert post_alerts(tocsin.url, [resolved]).status_code == 200
        second = receiver.wait_for(2, "/hook", timeout=30)[1].json()
        status = {a["labels"]["service"]: a["status"] for a in second["alerts"]}
        assert status == {"api": "resolved", "web": "firing"}
        assert second["status"] == "firing"

        # an attempt is recorded after its send (up to the delivery worker's
        # record_linger later): the log says "pending" until then
        def both_recorded() -> list[Any] | None:
            log: list[Any] = httpx.get(f"{tocsin.url}/api/v1/notifications").json()
            return log if all(n["status"] != "pending" for n in log) else None

        log = wait_until(both_recorded, what="both attempts to be recorded")
        assert [n["status"] for n in log] == ["sent", "sent"]
        assert all(n["log"][0]["outcome"] == "sent" for n in log)


def test_a_failing_receiver_is_retried_until_it_answers(
    tmp_path: Path, receiver: HTTPReceiver
) -> None:
    receiver.reply(
        "/hook",
        Reply.text("boom", status=500),
        Reply.text("slow down", status=429, headers={"Retry-After": "1"}),
        Reply(),
    )
    with start(tmp_path, receiver) as tocsin:
        assert post_alerts(tocsin.url, [alert({"alertname": "Flaky"})]).status_code == 200
        receiver.wait_for(3, "/hook", timeout=60)

        def sent() -> list[Any] | None:
            log = httpx.get(f"{tocsin.url}/api/v1/notifications").json()
            return log if log and log[0]["status"] == "sent" else None

        (note,) = wait_until(sent, what="the notification to be sent")
        assert [a["outcome"] for a in note["log"]] == ["retryable", "retryable", "sent"]
        assert [a["status_code"] for a in note["log"]] == [500, 429, 200]
        # all three requests carry the same payload: one notification, retried
        bodies = [r.json() for r in receiver.requests("/hook")]
        assert bodies[0] == bodies[1] == bodies[2]
        # and /metrics counts as Alertmanager's metrics do: one notification, not
        # failed; three requests, two of them failed
        metrics = httpx.get(f"{tocsin.url}/metrics").text
        hook = {"integration": "webhook", "receiver": "hook"}
        assert _sample(metrics, "tocsin_notifications_total", **hook) == 1
        assert _sample(metrics, "tocsin_notifications_failed_total", **hook) == 0
        assert _sample(metrics, "tocsin_notification_requests_total", **hook) == 3
        assert _sample(metrics, "tocsin_notification_requests_failed_total", **hook) == 2
        assert (
            _sample(metrics, "tocsin_notification_latency_seconds_count", integration="webhook")
            == 3
        )


def _sample(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total, found = 0.0, False
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == name and labels.items() <= s.labels.items():
                total, found = total + s.value, True
    assert found, f"no {name} {labels} in /metrics"
    return total


def test_kill_9_while_sending_loses_nothing(tmp_path: Path, receiver: HTTPReceiver) -> None:
    receiver.reply("/hook", Reply.hanging(), Reply())
    server = start(tmp_path, receiver, "--delivery-lease", "3")
    with server as tocsin:
        assert post_alerts(tocsin.url, [alert({"alertname": "Crash"})]).status_code == 200
        receiver.wait_hanging(1, timeout=30)  # decided, committed, and being sent
        tocsin.kill()
    receiver.release()
    # the hanging request was cut off by the crash; after a restart the lease expires
    # and the same notification goes out again
    with start(tmp_path, receiver, "--delivery-lease", "3") as again:
        requests = receiver.wait_for(2, "/hook", timeout=60)
        first, second = requests[0].json(), requests[1].json()
        assert first["groupKey"] == second["groupKey"]
        assert [a["fingerprint"] for a in first["alerts"]] == [
            a["fingerprint"] for a in second["alerts"]
        ]
        log = wait_until(
            lambda: [
                n
                for n in httpx.get(f"{again.url}/api/v1/notifications").json()
                if n["status"] == "sent"
            ],
            what="the notification to be recorded as sent",
        )
        assert len(log) == 1  # one notification (not a second decision), delivered
        # the attempt the kill cut short is in its log, before the one that sent it
        assert [a["outcome"] for a in log[0]["log"]] == ["retryable", "sent"]
        assert "with no attempt recorded" in log[0]["log"][0]["message"]
    assert signal.SIGKILL  # the crash above was a real SIGKILL (see TocsinServer.kill)


def test_failing_receiver_raises_an_alert_and_falls_back(
    tmp_path: Path, receiver: HTTPReceiver
) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(f"""\
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  routes:
    - receiver: ops
      matchers: ['alertname="TocsinNotificationsFailing"']
receivers:
  - name: pager
    webhook_configs:
      - url: {receiver.url("/pager")}
  - name: ops
    webhook_configs:
      - url: {receiver.url("/ops")}
  - name: email-fallback
    webhook_configs:
      - url: {receiver.url("/fallback")}
tocsin:
  failing_after: 2
  fallbacks:
    pager: email-fallback
""")
    receiver.reply(
        "/pager", Reply.text("bad gateway", status=502), Reply.text("no such key", status=400)
    )
    with TocsinServer(tmp_path, config=path) as tocsin:
        assert post_alerts(tocsin.url, [alert({"alertname": "ServiceDown"})]).status_code == 200
        # 502 (retryable) then 400 (permanent): the notification goes to the fallback
        (fell_back,) = receiver.wait_for(1, "/fallback", timeout=60)
        assert fell_back.json()["receiver"] == "email-fallback"
        assert [a["labels"]["alertname"] for a in fell_back.json()["alerts"]] == ["ServiceDown"]
        # two failures in a row: Tocsin's own alert, routed like any other
        ops = receiver.wait_for(1, "/ops", timeout=60)[0].json()
        (own,) = ops["alerts"]
        assert own["labels"]["alertname"] == "TocsinNotificationsFailing"
        assert own["labels"]["receiver"] == "pager"
        assert own["labels"]["integration"] == "webhook[0]"
        assert "no such key" in own["annotations"]["description"]
        # it started at the first failure, before the answer that raised it
        started, ends = parse_rfc3339(own["startsAt"]), parse_rfc3339(own["endsAt"])
        assert started is not None
        assert ends is not None
        assert started < ends - timedelta(minutes=14)
        assert started <= datetime.now(UTC)
        # given up after a 400: one failed notification, by the last attempt's reason
        metrics = httpx.get(f"{tocsin.url}/metrics").text
        pager = {"integration": "webhook", "receiver": "pager"}
        assert (
            _sample(metrics, "tocsin_notifications_failed_total", **pager, reason="clientError")
            == 1
        )
        assert (
            _sample(metrics, "tocsin_notifications_failed_total", **pager, reason="serverError")
            == 0
        )
        assert _sample(metrics, "tocsin_notification_requests_failed_total", **pager) == 2


def test_the_notification_log_tells_a_storm_s_groups_apart(
    tmp_path: Path, receiver: HTTPReceiver
) -> None:
    """``tocsin notifications list`` names each notification's group by its labels (two
    groups of one alertname would otherwise read the same) and counts its alerts."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(config(receiver.url("/hook")).replace("[alertname]", "[alertname, service]"))
    with TocsinServer(tmp_path, config=path) as tocsin:
        alerts = [alert({"alertname": "Down", "service": s, "pod": p}) for s in "ab" for p in "12"]
        assert post_alerts(tocsin.url, alerts).status_code == 200
        wait_until(lambda: len(receiver.requests("/hook")) == 2, 30, "both groups notified")
        wait_until(
            lambda: all(n["status"] == "sent" for n in notifications(tocsin.url)), 30, "the log"
        )
        listed = run_cli("notifications", "list", url=tocsin.url).stdout.splitlines()
        # a page at a time (the two were decided in one flush: the same time, told
        # apart by their ids), by status, by group
        both = orjson.loads(run_cli("notifications", "list", "--json", url=tocsin.url).stdout)
        paged = run_cli("notifications", "list", "--limit", "1", url=tocsin.url)
        assert len(paged.stdout.splitlines()) == 2  # the header and one
        assert paged.stderr.strip() == f"more: --before {both[0]['id']}"
        older = ("notifications", "list", "--before", both[0]["id"], "--json")
        (second,) = orjson.loads(run_cli(*older, url=tocsin.url).stdout)
        assert second["id"] == both[1]["id"]
        by_group = ("notifications", "list", "--group", second["groupKey"], "--json")
        assert [n["id"] for n in orjson.loads(run_cli(*by_group, url=tocsin.url).stdout)] == [
            second["id"]
        ]
        failed = ("notifications", "list", "--status", "failed", "--json")
        assert orjson.loads(run_cli(*failed, url=tocsin.url).stdout) == []
        bogus = run_cli("notifications", "list", "--status", "lost", url=tocsin.url, check=False)
        assert bogus.returncode == 2
        bad = httpx.get(f"{tocsin.url}/api/v1/notifications", params={"before": "nosuch"})
        assert (bad.status_code, bad.json()) == (400, "before: no notification 'nosuch'")
    header = listed[0].split()
    assert header[5:7] == ["GROUP", "ALERTS"]
    rows = sorted(line.split()[5:7] for line in listed[1:])
    assert rows == [["alertname=Down,service=a", "2"], ["alertname=Down,service=b", "2"]]


def notifications(url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{url}/api/v1/notifications").json()
    return found
