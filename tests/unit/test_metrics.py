"""Tocsin's own metrics: the batch histogram of the on-call worker's lateness counts
exactly as prometheus_client's own histogram would, value by value; and a notification
attempt is counted as Alertmanager counts it (by integration kind, failures by reason)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import wait_until
from tocsin.metrics import BatchHistogram, Metrics, config_hash
from tocsin.notify.outcome import Outcome

BUCKETS = (0.025, 0.1, 1.0, 10.0)
T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
        if not s.name.endswith("_created")
    }


seconds = st.floats(min_value=-5, max_value=100, allow_nan=False, width=32)


@given(st.lists(st.lists(seconds, max_size=30), max_size=5), st.sampled_from(["a", "b"]))
@example([[0.025, 0.1, 1.0, 10.0, -1.0, 1.0]], "a")  # on the bounds: le is inclusive
def test_batches_count_as_values_observed_one_by_one(batches: list[list[float]], kind: str) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    batch = BatchHistogram("late_seconds", "doc", "kind", BUCKETS)
    ours.register(batch)
    single = Histogram("late_seconds", "doc", ["kind"], buckets=BUCKETS, registry=theirs)
    for values in batches:
        batch.observe_sorted(kind, sorted(values))
        for v in values:
            single.labels(kind).observe(v)
    got, want = samples(ours), samples(theirs)
    if not any(batches):  # a label value is shown once something was observed
        assert got == {}
        return
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert abs(got[key] - value) < 1e-6 * max(1.0, abs(value)), key


def test_due_rows_are_observed_by_kind() -> None:
    m = Metrics(lambda: T0)
    m.due_rows_taken(
        T0,
        [
            ("step", T0 - timedelta(seconds=2)),
            ("notify", T0 - timedelta(milliseconds=10)),
            ("step", T0 - timedelta(milliseconds=30)),
        ],
    )
    got = samples(m.registry)
    name = "tocsin_oncall_due_lateness_seconds"
    assert got[(f"{name}_count", (("kind", "step"),))] == 2
    assert got[(f"{name}_bucket", (("kind", "step"), ("le", "0.05")))] == 1
    assert got[(f"{name}_bucket", (("kind", "step"), ("le", "2.5")))] == 2
    assert got[(f"{name}_bucket", (("kind", "notify"), ("le", "0.025")))] == 1
    assert abs(got[(f"{name}_sum", (("kind", "step"),))] - 2.03) < 1e-9


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def test_notifications_are_counted_once_and_attempts_each_time() -> None:
    """As Alertmanager counts: a notification once (at its first attempt) and as failed
    once (when given up, by the last attempt's reason); every attempt is a request."""
    m = Metrics(lambda: T0)
    m.integrations_known([("webhook", "ops"), ("email", "ops")])
    got = samples(m.registry)
    total, failed = "tocsin_notifications_total", "tocsin_notifications_failed_total"
    requests, requests_failed = (
        "tocsin_notification_requests_total",
        "tocsin_notification_requests_failed_total",
    )
    # every series starts at zero, so that rate() sees the first failure
    assert got[key(failed, integration="email", receiver="ops", reason="serverError")] == 0
    assert got[key(total, integration="webhook", receiver="ops")] == 0

    retry, refused = Outcome.retryable("boom", 500), Outcome.permanent("no", 400)
    m.notification_attempt("webhook[1]", "ops", True, retry, 0.2)  # retried...
    m.notification_attempt("webhook[1]", "ops", False, retry, 0.2)
    m.notification_attempt("webhook[1]", "ops", False, Outcome.sent(), 0.3)  # ...sent
    m.notification_attempt("webhook[0]", "ops", True, refused, 0.3)  # refused for good
    m.notification_failed("webhook[0]", "ops", refused)
    m.notification_attempt("email[0]", "ops", True, Outcome.sent(), 1.5)
    got = samples(m.registry)
    hook = {"integration": "webhook", "receiver": "ops"}
    assert got[key(total, **hook)] == 2
    assert got[key(requests, **hook)] == 4
    assert got[key(requests_failed, **hook)] == 3
    assert got[key(failed, **hook, reason="clientError")] == 1
    assert got[key(failed, **hook, reason="serverError")] == 0
    assert got[key(total, integration="email", receiver="ops")] == 1
    assert got[key(requests_failed, integration="email", receiver="ops")] == 0
    latency = "tocsin_notification_latency_seconds_bucket"
    assert got[key(latency, integration="email", le="1.0")] == 0
    assert got[key(latency, integration="email", le="5.0")] == 1


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (Outcome.permanent("bad request", 400), "clientError"),
        (Outcome.retryable("too many", 429), "clientError"),
        (Outcome.retryable("unavailable", 503), "serverError"),
        (Outcome.retryable("connection refused"), "other"),
        (Outcome.permanent("no such integration"), "other"),
    ],
)
def test_a_failure_is_counted_by_its_reason(outcome: Outcome, reason: str) -> None:
    m = Metrics(lambda: T0)
    m.notification_failed("slack[0]", "team", outcome)
    got = samples(m.registry)
    name = "tocsin_notifications_failed_total"
    assert got[key(name, integration="slack", receiver="team", reason=reason)] == 1


def test_lateness_bounds_print_as_prometheus_client_prints_them() -> None:
    """le="1.0", not "1": a query that selects a bucket by its bound finds it."""
    m = Metrics(lambda: T0)
    m.due_rows_taken(T0, [("step", T0 - timedelta(seconds=1))])
    got = samples(m.registry)
    name = "tocsin_oncall_due_lateness_seconds_bucket"
    assert got[key(name, kind="step", le="1.0")] == 1
    assert got[key(name, kind="step", le="300.0")] == 1


def test_an_overdue_gauge_that_cannot_be_read_is_left_out_of_the_scrape() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    metrics = Metrics(lambda: now)

    def away() -> datetime | None:
        raise OSError("database is away")

    metrics.add_overdue_gauge("tocsin_test_away_seconds", "Unreadable.", away)
    metrics.add_overdue_gauge("tocsin_test_late_seconds", "Late.", lambda: now - timedelta(1))
    metrics.add_overdue_gauge("tocsin_test_early_seconds", "Early.", lambda: now + timedelta(1))
    text = generate_latest(metrics.registry).decode()
    values = {
        f.name: f.samples[0].value
        for f in text_string_to_metric_families(text)
        if f.name.startswith("tocsin_test_")
    }
    assert "tocsin_test_away_seconds" not in values
    assert values["tocsin_test_late_seconds"] == 86400.0
    assert values["tocsin_test_early_seconds"] == 0.0  # not due yet: not overdue


def test_an_overdue_gauge_whose_database_does_not_answer_is_left_out() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    metrics = Metrics(lambda: now)
    answer = threading.Event()
    calls: list[int] = []

    def slow() -> datetime | None:
        calls.append(1)
        answer.wait(30)
        return now - timedelta(seconds=5)

    metrics.add_overdue_gauge("tocsin_test_slow_seconds", "Slow.", slow, timeout=0.05)

    def scraped() -> dict[str, float]:
        text = generate_latest(metrics.registry).decode()
        return {
            f.name: f.samples[0].value
            for f in text_string_to_metric_families(text)
            if f.name.startswith("tocsin_test_")
        }

    assert scraped() == {}  # no answer in time: left out, the rest of the scrape is served
    assert scraped() == {}  # still waiting: no second query piles up behind the first
    assert len(calls) == 1
    answer.set()
    late = wait_until(scraped, 30, "the late answer")  # (a loaded machine may be slow)
    assert late == {"tocsin_test_slow_seconds": 5.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # MD5 d41d8cd98f00...: its first six bytes read little-endian, as Alertmanager's
        # md5HashAsMetricValue reads them
        ("", 0x8FD98C1DD4),
        ("a", 0xF1C0B975C10C),  # 0cc175b9c0f1...
        ("route: {receiver: r}\n", 0x26F675E8DFF1),  # f1dfe875f626...
    ],
)
def test_the_config_hash_is_alertmanagers(text: str, expected: int) -> None:
    assert config_hash(text) == float(expected)


def test_a_loaded_config_sets_its_hash_and_the_reload_gauges() -> None:
    metrics = Metrics(lambda: T0)
    metrics.config_loaded("a", T0)
    assert samples(metrics.registry)[("tocsin_config_hash", ())] == float(0xF1C0B975C10C)
    metrics.reload_ok.set(0)  # a reload refused in between
    metrics.config_loaded("", T0 + timedelta(minutes=1))
    found = samples(metrics.registry)
    assert found[("tocsin_config_hash", ())] == float(0x8FD98C1DD4)
    assert found[("tocsin_config_last_reload_successful", ())] == 1.0
    assert (
        found[("tocsin_config_last_reload_success_timestamp_seconds", ())]
        == (T0 + timedelta(minutes=1)).timestamp()
    )


def test_a_gauge_that_cannot_be_read_is_left_out_not_the_scrape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A value read at scrape time that fails (the database gone) drops its own series
    from the scrape; the others, tocsin_loop_failing among them, are still served."""
    metrics = Metrics(lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def gone() -> dict[str, float]:
        raise OSError("database unreachable")

    metrics.add_labelled_gauges("tocsin_broken", "Reads the database.", "kind", gone)
    metrics.add_labelled_gauges("tocsin_fine", "Reads memory.", "kind", lambda: {"a": 1.0})
    names = {name for name, _ in samples(metrics.registry)}
    assert "tocsin_fine" in names
    assert "tocsin_broken" not in names
    assert "tocsin_broken left out of this scrape" in caplog.text
