"""Probes, pure: how a request is judged, how a run of results makes a probe down and
up again, the alert it raises; what check-config says of their config; and how a
monitor kind's alerts are kept in step with the store (``engine.monitor_alerts``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import Alert, PostedAlert
from tocsin.config import ConfigError
from tocsin.config.loader import load_config
from tocsin.config.model import Probe
from tocsin.engine.monitor_alerts import Kind, in_step, of_kind
from tocsin.engine.probes import connect
from tocsin.monitors.alerts import FIRING_FOR
from tocsin.monitors.probes import (
    CERT_EXPIRING,
    FAILING,
    ProbeRow,
    Result,
    after,
    cert_alert,
    connected,
    due_at,
    firing_alert,
    judge,
    shown_url,
    spec_key,
    state,
)

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
S = timedelta(seconds=1)
API = Probe("api", "http://127.0.0.1:8000/health", interval=30 * S, failures=3)


@pytest.mark.parametrize(
    ("spec", "status", "body", "error", "ok", "why"),
    [
        (API, 200, b"", "", True, ""),
        (API, 204, b"", "", True, ""),
        (API, 301, b"", "", False, "status 301, expected 2xx"),
        (API, 503, b"down", "", False, "status 503, expected 2xx"),
        (API, None, b"", "timed out after 10s waiting for the answer", False, "timed out"),
        (API, None, b"", "", False, "no answer"),
        # the statuses it lists, and only those
        (Probe("a", "http://x/", expect_status=(200, 401)), 401, b"", "", True, ""),
        (
            Probe("a", "http://x/", expect_status=(200,)),
            204,
            b"",
            "",
            False,
            "status 204, expected 200",
        ),
        # a body that must say something
        (Probe("a", "http://x/", body_contains="healthy"), 200, b"all healthy", "", True, ""),
        (
            Probe("a", "http://x/", body_contains="healthy"),
            200,
            b"degraded",
            "",
            False,
            "body does not contain 'healthy'",
        ),
    ],
)
def test_how_a_request_is_judged(
    spec: Probe, status: int | None, body: bytes, error: str, ok: bool, why: str
) -> None:
    r = judge(spec, T0, 0.01, status, body, error)
    assert (r.ok, r.status) == (ok, status)
    assert r.error.startswith(why)


def ran(row: ProbeRow, *oks: bool) -> ProbeRow:
    """``row`` after requests every interval from T0 that passed or failed."""
    for i, ok in enumerate(oks):
        at = T0 + i * API.interval
        row = after(API, row, Result(at, ok, 200 if ok else 503, "" if ok else "503", 0.01))
    return row


FRESH = ProbeRow("api", T0)


@pytest.mark.parametrize(
    ("oks", "expected_state", "failures", "down_at"),
    [
        ((), "unknown", 0, None),
        ((True,), "up", 0, None),
        ((False,), "failing", 1, None),
        ((False, False), "failing", 2, None),
        # the third failure in a row makes it down, from that request
        ((False, False, False), "down", 3, 2),
        ((False, False, False, False), "down", 4, 2),  # down since the third, still
        # a success ends the run
        ((False, False, False, True), "up", 0, None),
        ((False, False, True, False, False), "failing", 2, None),
        ((True, False, False, False), "down", 3, 3),
    ],
)
def test_a_run_of_failures_makes_it_down(
    oks: tuple[bool, ...], expected_state: str, failures: int, down_at: int | None
) -> None:
    row = ran(FRESH, *oks)
    assert (state(row), row.failures) == (expected_state, failures)
    assert row.down_since == (None if down_at is None else T0 + down_at * API.interval)
    if oks:  # the next request one interval after the last one started
        assert row.next_due == T0 + len(oks) * API.interval
        assert row.runs == len(oks)


def test_the_alert_a_down_probe_raises() -> None:
    assert firing_alert(API, ran(FRESH, True, False, False), T0 + 5 * S) is None
    row = ran(FRESH, True, False, False, False)
    now = T0 + 100 * S
    fired = firing_alert(API, row, now)
    assert fired is not None
    assert fired.labels == {"alertname": FAILING, "probe": "api", "severity": "critical"}
    assert (fired.starts_at, fired.ends_at) == (T0 + 3 * API.interval, now + FIRING_FOR)
    assert fired.annotations["summary"] == (
        "GET http://127.0.0.1:8000/health is down: 3 requests in a row failed "
        "(probe api, every 30s)"
    )
    # a link to its row on the console (how Tocsin knows the alerts it raised)
    assert fired.generator_url == "/ui/monitors#probe-api"
    linked = firing_alert(API, row, now, "https://tocsin.example")
    assert linked is not None
    assert linked.generator_url == "https://tocsin.example/ui/monitors#probe-api"
    assert fired.annotations["description"] == "503; last success: 2026-12-04T03:00:00.000Z"
    # the same words at the next failure: nothing about the alert changes while down
    later = firing_alert(API, ran(FRESH, True, False, False, False, False), now)
    assert later is not None
    assert later.annotations == fired.annotations


HEAD = "route:\n  receiver: x\nreceivers:\n  - name: x\ntocsin:\n  probes:\n"


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ("    - name: p\n      url: http://127.0.0.1/health\n", None),
        ("    - name: p\n", "7: tocsin.probes[0].url: missing url"),
        ("    - name: p\n      url: ftp://x/\n", "8: tocsin.probes[0].url: unsupported scheme"),
        (
            "    - name: p\n      url: http://x/\n      method: PUT\n",
            "9: tocsin.probes[0].method: must be one of GET, HEAD, POST",
        ),
        (
            "    - name: p\n      url: http://x/\n      interval: 5s\n      timeout: 10s\n",
            "10: tocsin.probes[0].timeout: must not exceed interval (5s)",
        ),
        (
            "    - name: p\n      url: http://x/\n      failures: 0\n",
            "9: tocsin.probes[0].failures: must be at least 1",
        ),
        (
            "    - name: p\n      url: http://x/\n      expect_status: [200, 700]\n",
            "9: tocsin.probes[0].expect_status[1]: an HTTP status is 100 to 599",
        ),
        (
            "    - name: p\n      url: http://x/\n      labels: {probe: y}\n",
            "9: tocsin.probes[0].labels.probe: set by Tocsin itself",
        ),
        (
            "    - name: p\n      url: http://x/\n    - name: p\n      url: http://y/\n",
            "9: tocsin.probes[1].name: duplicate name 'p'",
        ),
        ("    - name: p\n      url: http://x/\n      every: 1m\n", "9: tocsin.probes[0].every: "),
        (
            "    - name: p\n      url: http://x/\n      cert_expiry: -1d\n",
            "9: tocsin.probes[0].cert_expiry: ",
        ),
        (
            "    - name: p\n      url: http://x/\n      method: HEAD\n      body_contains: ok\n",
            "10: tocsin.probes[0].body_contains: an answer to HEAD has no body",
        ),
        ("    - name: p\n      url: tcp://db:5432\n", None),  # a connection accepted passes
        (
            "    - name: p\n      url: tcp://db\n",
            "8: tocsin.probes[0].url: a tcp URL is tcp://HOST:PORT",
        ),
        ("    - name: p\n      url: tcp://db:5432/x\n", "8: tocsin.probes[0].url: a tcp URL is"),
        ("    - name: p\n      url: tcp://db:99999\n", "8: tocsin.probes[0].url: invalid URL"),
        ("    - name: p\n      url: tcp://db:0\n", "8: tocsin.probes[0].url: a tcp URL is"),
        (
            "    - name: p\n      url: 'tcp://:pw@db:5432'\n",
            "8: tocsin.probes[0].url: a tcp URL is",
        ),
        ("    - name: p\n      url: tcp://a..b:5432\n", "8: tocsin.probes[0].url: not a host name"),
        (
            "    - name: p\n      url: tcp://db:5432\n      body_contains: ok\n",
            "9: tocsin.probes[0].body_contains: a tcp:// probe only connects",
        ),
        (
            "    - name: p\n      url: tcp://db:5432\n      method: POST\n",
            "9: tocsin.probes[0].method: a tcp:// probe only connects",
        ),
    ],
)
def test_check_config_names_file_line_and_key(
    tmp_path: Path, entries: str, problem: str | None
) -> None:
    path = tmp_path / "am.yml"
    path.write_text(HEAD + entries)
    if problem is None:
        (loaded,) = load_config(path).tocsin.probes
        assert (loaded.method, loaded.interval, loaded.timeout, loaded.failures) == (
            "GET",
            30 * S,
            10 * S,
            3,
        )
        return
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert f"{path}:{problem}" in str(raised.value), str(raised.value)


KIND = Kind("probe", (FAILING,), "probes")
NOW = T0 + timedelta(hours=1)


def posted(name: str, summary: str = "down", start: datetime = T0) -> PostedAlert:
    labels = {"alertname": FAILING, "probe": name, "severity": "critical"}
    return PostedAlert(labels, {"summary": summary}, start, NOW + FIRING_FOR, "")


def held(p: PostedAlert, ends_at: datetime = NOW + FIRING_FOR, link: str = "") -> Alert:
    labels = dict(p.labels)
    start = p.starts_at or T0
    link = link or f"http://t/ui/monitors#probe-{labels.get('probe', '')}"
    return Alert(fingerprint(labels), labels, dict(p.annotations), start, ends_at, link, T0, False)


@pytest.mark.parametrize(
    ("wanted", "store", "posts", "news"),
    [
        # nothing wanted, nothing held
        ([], [], [], []),
        # wanted, not firing: posted
        ([posted("a")], [], ["a fires"], ["a: ProbeFailing fires"]),
        # wanted and firing with the same words, its end far off: nothing to do
        ([posted("a")], [held(posted("a"))], [], []),
        # ...its end within half of FIRING_FOR: sent again, quietly
        (
            [posted("a")],
            [held(posted("a"), NOW + FIRING_FOR / 3)],
            ["a fires"],
            [],
        ),
        # ...its words changed: sent again
        ([posted("a", "other")], [held(posted("a"))], ["a fires"], []),
        # firing, not wanted (answers again, or left the config): resolved now
        ([], [held(posted("a"))], ["a resolved"], ["a: ProbeFailing resolved"]),
        # resolved already: left alone
        ([], [held(posted("a"), NOW - S)], [], []),
        # one fires, another resolves
        (
            [posted("b")],
            [held(posted("a"))],
            ["b fires", "a resolved"],
            ["b: ProbeFailing fires", "a: ProbeFailing resolved"],
        ),
    ],
)
def test_a_kind_s_alerts_kept_in_step(
    wanted: list[PostedAlert], store: list[Alert], posts: list[str], news: list[str]
) -> None:
    got, said = in_step(KIND, wanted, store, NOW)
    shown = [f"{p.labels['probe']} {'resolved' if p.ends_at == NOW else 'fires'}" for p in got]
    assert (shown, said) == (posts, news)
    for p in got:  # a resolution keeps the alert's start and words
        if p.ends_at == NOW:
            (was,) = [a for a in store if a.labels == p.labels]
            assert (p.starts_at, p.annotations) == (was.starts_at, was.annotations)


def test_a_kind_s_alerts_are_those_tocsin_raised() -> None:
    mine = held(posted("a"))
    other_name = held(PostedAlert({"alertname": "X", "probe": "a"}, {}, T0, None, ""))
    no_label = held(PostedAlert({"alertname": FAILING}, {}, T0, None, ""))
    # a blackbox exporter's alert of the same name and label, posted by Prometheus
    blackbox = held(posted("https://shop.example"), link="http://prometheus:9090/graph?g0")
    assert of_kind(KIND, [mine, other_name, no_label, blackbox]) == [mine]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8000/health", "http://127.0.0.1:8000/health"),
        ("https://user:hunter2@api.example/x?token=abc", "https://api.example/x?…"),
        ("http://[::1]:9000/h", "http://[::1]:9000/h"),
    ],
)
def test_a_url_is_shown_without_its_secrets(url: str, shown: str) -> None:
    assert shown_url(url) == shown
    fired = firing_alert(Probe("p", url), ran(ProbeRow("p", T0), False, False, False), T0 + 200 * S)
    assert fired is not None
    assert "hunter2" not in fired.annotations["summary"]
    assert "token" not in fired.annotations["summary"]


def test_a_shortened_interval_is_due_sooner_and_another_probe_starts_afresh() -> None:
    row = ran(FRESH, True)  # next due at T0 + 30s
    assert due_at(row, API.interval) == T0 + 30 * S
    assert due_at(row, 10 * S) == T0 + 10 * S  # the interval shortened since
    assert due_at(row, timedelta(hours=1)) == T0 + 30 * S  # lengthened: as stored
    assert due_at(FRESH, 10 * S) == T0  # never requested
    same = spec_key(Probe("x", API.url, failures=3))
    assert spec_key(API) == same  # the name, interval, labels: the same results
    for other in (
        Probe("api", API.url + "/deep"),
        Probe("api", API.url, method="HEAD"),
        Probe("api", API.url, failures=5),
        Probe("api", API.url, expect_status=(200,)),
        Probe("api", API.url, body_contains="ok"),
    ):
        assert spec_key(other) != same


def seen(expires: datetime | None) -> ProbeRow:
    """A probe whose last request saw a certificate expiring at ``expires``."""
    return ProbeRow("tls", T0, last=Result(T0, True, 200, "", 0.01, expires))


TLS = Probe("tls", "https://api.example/health", cert_expiry=timedelta(days=14))
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("spec", "row", "now", "starts"),
    [
        (TLS, seen(None), T0, None),  # no certificate seen (http, or not verified)
        (TLS, ProbeRow("tls", T0), T0, None),  # never requested
        (TLS, seen(T0 + 30 * DAY), T0, None),  # far from its end
        (TLS, seen(T0 + 14 * DAY + S), T0, None),  # a second outside the window
        # inside: from the moment it entered the window, the same at every check
        (TLS, seen(T0 + 14 * DAY), T0, T0),
        (TLS, seen(T0 + 3 * DAY), T0 + DAY, T0 - 11 * DAY),
        (TLS, seen(T0 - DAY), T0, T0 - 15 * DAY),  # expired (seen before it did)
        # cert_expiry 0s: no warning
        (Probe("tls", TLS.url, cert_expiry=timedelta(0)), seen(T0 + DAY), T0, None),
    ],
)
def test_a_certificate_near_its_end(
    spec: Probe, row: ProbeRow, now: datetime, starts: datetime | None
) -> None:
    fired = cert_alert(spec, row, now)
    if starts is None:
        assert fired is None
        return
    assert fired is not None
    assert fired.starts_at == starts
    assert fired.labels == {"alertname": CERT_EXPIRING, "probe": "tls", "severity": "warning"}
    assert fired.annotations["summary"].startswith(
        "The TLS certificate of https://api.example/health expires "
    )


def test_a_tcp_probe_connects() -> None:
    """tcp://HOST:PORT: a connection accepted passes; the alert says what it tried."""
    spec = Probe(name="db", url="tcp://db.internal:5432", failures=1)
    assert (spec.tcp, spec.verb) == (True, "CONNECT")
    assert Probe(name="db", url="TCP://db.internal:5432").tcp  # a scheme has no case
    ok = connected(T0, 0.002, "")
    assert (ok.ok, ok.status, ok.error) == (True, None, "")
    refused = connected(T0, 0.001, "Connection refused")
    row = after(spec, ProbeRow("db", T0), refused)
    alert = firing_alert(spec, row, T0)
    assert alert is not None
    assert alert.annotations["summary"].startswith("CONNECT tcp://db.internal:5432 is down")
    assert alert.annotations["description"].startswith("Connection refused; last success: never")


def test_a_host_name_idna_cannot_encode_is_a_failed_connection() -> None:
    """Not a crash of the probe's task (which would leave it unknown, never alerting)."""
    spec = Probe(name="db", url=f"tcp://{'a' * 64}.example:5432", timeout=S)
    said = asyncio.run(connect(spec))
    assert said.startswith("bad host name: ")
