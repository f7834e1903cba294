"""Tocsin's own metrics in the Prometheus exposition format (``GET /metrics``).

Each runtime has its own registry, so several servers in one test process do not
collide. Gauges of alerts and silences by state are computed at scrape time from the
store rather than kept up to date on every write. The notification metrics follow
Alertmanager's (``alertmanager_notifications_total``, ``..._failed_total``,
``alertmanager_notification_latency_seconds``), so its dashboards and alert rules carry
over with the prefix changed.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import platform
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from tocsin import __version__
from tocsin.alerts.model import PostedAlert
from tocsin.notify.outcome import Outcome, OutcomeKind
from tocsin.outage import Outage

log = logging.getLogger(__name__)

# Alertmanager's buckets for its notification latency (seconds), and two below a second.
_SEND_BUCKETS = (0.1, 0.5, 1, 5, 10, 15, 20)
_BY_RECEIVER = ["integration", "receiver"]
# Alertmanager's reasons for a failed notification (those that are not its own timeouts).
_REASONS = ("clientError", "serverError", "other")


def _kind_of(integration: str) -> str:
    """An outbox item's integration (``webhook[0]``, ``Integration.name``) by its kind."""
    return integration.partition("[")[0]


def _reason(outcome: Outcome) -> str:
    code = outcome.status_code
    if code is not None and 400 <= code < 500:
        return "clientError"
    if code is not None and 500 <= code < 600:
        return "serverError"
    return "other"


# How late due rows are taken: on time is within the worker's 20 ms floor; the issue's
# bar for a storm is one second; beyond a minute something is wrong.
_LATENESS_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


def config_hash(text: str) -> float:
    """Alertmanager's ``alertmanager_config_hash`` of a configuration file's text: the
    first 48 bits of its MD5, little-endian, as a float (a float64 holds them exactly),
    so one file has one value on every replica, Tocsin's or Alertmanager's."""
    digest = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()
    return float(int.from_bytes(digest[:6], "little"))


class Metrics:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        self._received = Counter(
            "tocsin_alerts_received_total",
            "Alerts received through the API, by status.",
            ["status"],
            registry=self.registry,
        )
        self._invalid = Counter(
            "tocsin_alerts_invalid_total",
            "Alerts refused by validation.",
            registry=self.registry,
        )
        self.events_received = Counter(
            "tocsin_events_received_total",
            "PagerDuty Events API v2 events accepted, by integration and event action.",
            ["integration", "action"],
            registry=self.registry,
        )
        self.events_invalid = Counter(
            "tocsin_events_invalid_total",
            "PagerDuty Events API v2 events refused (invalid, or an unknown routing key).",
            registry=self.registry,
        )
        self.commit_batch = Histogram(
            "tocsin_commit_batch_ops",
            "Writes committed together in one group-commit transaction.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=self.registry,
        )
        self.reload_ok = Gauge(
            "tocsin_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            registry=self.registry,
        )
        self.reload_time = Gauge(
            "tocsin_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            registry=self.registry,
        )
        # As every Prometheus server's X_build_info: dashboards and alerts tell apart
        # replicas running different releases (an upgrade half done) by its labels.
        Gauge(
            "tocsin_build_info",
            "A metric with a constant '1' value labelled by version and Python version.",
            ["version", "pythonversion"],
            registry=self.registry,
        ).labels(__version__, platform.python_version()).set(1)
        self._config_hash = Gauge(
            "tocsin_config_hash",
            "Hash of the currently loaded configuration file (as Alertmanager's "
            "alertmanager_config_hash): replicas that differ run different configurations.",
            registry=self.registry,
        )
        # As Alertmanager's: a notification is counted once, at its first attempt, and
        # as failed once, when it is given up; every attempt is a request.
        self._notifications = Counter(
            "tocsin_notifications_total",
            "Notifications sent or tried, by integration and receiver (once each).",
            _BY_RECEIVER,
            registry=self.registry,
        )
        self._notifications_failed = Counter(
            "tocsin_notifications_failed_total",
            "Notifications given up (a permanent error, or retries exhausted), by the "
            "last attempt's reason: clientError (4xx), serverError (5xx) or other.",
            [*_BY_RECEIVER, "reason"],
            registry=self.registry,
        )
        self._requests = Counter(
            "tocsin_notification_requests_total",
            "Notification attempts (a retried notification makes several).",
            _BY_RECEIVER,
            registry=self.registry,
        )
        self._requests_failed = Counter(
            "tocsin_notification_requests_failed_total",
            "Notification attempts that failed, retried or not.",
            _BY_RECEIVER,
            registry=self.registry,
        )
        self._notification_latency = Histogram(
            "tocsin_notification_latency_seconds",
            "How long a notification attempt took, by integration.",
            ["integration"],
            buckets=_SEND_BUCKETS,
            registry=self.registry,
        )
        self.oncall_lateness = BatchHistogram(
            "tocsin_oncall_due_lateness_seconds",
            "How late the on-call worker took its due rows (escalation steps, pages, "
            "ends of snoozes and grace periods), by kind: taken minus due time.",
            "kind",
            _LATENESS_BUCKETS,
        )
        self.registry.register(self.oncall_lateness)
        for status in ("firing", "resolved"):
            self._received.labels(status)

    def config_loaded(self, text: str, at: datetime) -> None:
        """A configuration (the file's ``text``) was loaded at ``at`` and is in force."""
        self.reload_ok.set(1)
        self.reload_time.set(at.timestamp())
        self._config_hash.set(config_hash(text))

    def integrations_known(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Start the series of these ``(integration kind, receiver)`` at zero (on every
        config load): a counter that first appears at 1 shows no increase to
        ``rate()``, and the first failure would go unseen."""
        for kind, receiver in pairs:
            self._notifications.labels(kind, receiver)
            self._requests.labels(kind, receiver)
            self._requests_failed.labels(kind, receiver)
            self._notification_latency.labels(kind)
            for reason in _REASONS:
                self._notifications_failed.labels(kind, receiver, reason)

    def notification_attempt(
        self, integration: str, receiver: str, first: bool, outcome: Outcome, seconds: float
    ) -> None:
        """One send of an outbox item (``first``: its first attempt); ``integration`` as
        the item names it (``webhook[0]``), counted by its kind (``webhook``)."""
        kind = _kind_of(integration)
        if first:
            self._notifications.labels(kind, receiver).inc()
        self._requests.labels(kind, receiver).inc()
        self._notification_latency.labels(kind).observe(seconds)
        if outcome.kind is not OutcomeKind.SENT:
            self._requests_failed.labels(kind, receiver).inc()

    def notification_failed(self, integration: str, receiver: str, last: Outcome) -> None:
        """An outbox item was given up, after ``last``."""
        kind = _kind_of(integration)
        self._notifications_failed.labels(kind, receiver, _reason(last)).inc()

    def due_rows_taken(self, now: datetime, rows: Iterable[tuple[str, datetime]]) -> None:
        """The on-call worker took due rows (``(kind, due time)``) at ``now``."""
        late: dict[str, list[float]] = {}
        for kind, due_at in rows:
            late.setdefault(kind, []).append((now - due_at).total_seconds())
        for kind, seconds in late.items():
            seconds.sort()
            self.oncall_lateness.observe_sorted(kind, seconds)

    def alerts_received(self, alerts: Iterable[PostedAlert], invalid: int) -> None:
        now = self._clock()
        firing = resolved = 0
        for a in alerts:
            if a.ends_at is None or a.ends_at > now:
                firing += 1
            else:
                resolved += 1
        if firing:
            self._received.labels("firing").inc(firing)
        if resolved:
            self._received.labels("resolved").inc(resolved)
        if invalid:
            self._invalid.inc(invalid)

    def add_state_gauges(self, name: str, doc: str, counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_LabelledGauge(name, doc, "state", counts))

    def add_labelled_gauges(
        self, name: str, doc: str, label: str, values: Callable[[], dict[str, float]]
    ) -> None:
        """One series per key of ``values()`` (read at scrape time), labelled ``label``."""
        self.registry.register(_LabelledGauge(name, doc, label, values))

    def add_labelled_counters(
        self, name: str, doc: str, label: str, values: Callable[[], dict[str, float]]
    ) -> None:
        """:meth:`add_labelled_gauges` for counts that only grow (``name``_total)."""
        self.registry.register(_LabelledGauge(name, doc, label, values, CounterMetricFamily))

    def add_gauge(self, name: str, doc: str, value: Callable[[], float]) -> None:
        """A gauge read from ``value`` at each scrape."""
        Gauge(name, doc, registry=self.registry).set_function(value)

    def add_overdue_gauge(
        self, name: str, doc: str, oldest: Callable[[], datetime | None], timeout: float = 2.0
    ) -> None:
        self.registry.register(_OverdueGauge(name, doc, oldest, self._clock, timeout))


class _OverdueGauge(Collector):
    """Seconds since the oldest pending row came due, read from the database at scrape
    time: a worker that has stopped (or fallen behind) shows as a number that grows,
    whichever replica is scraped. 0 when nothing pending is due yet.

    A database that fails or does not answer within ``timeout`` leaves the gauge out,
    not the scrape: the query runs on a thread of its own, and while one is still
    running no other starts."""

    def __init__(
        self,
        name: str,
        doc: str,
        oldest: Callable[[], datetime | None],
        clock: Callable[[], datetime],
        timeout: float = 2.0,
    ) -> None:
        self._name, self._doc, self._oldest, self._clock = name, doc, oldest, clock
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tocsin-scrape")
        self._running: Future[datetime | None] | None = None
        # a database gone is logged once (then a line now and then), not a traceback
        # at every scrape of every replica
        self._outage = Outage(log, f"reading {name}")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self._running is None or self._running.done():
            self._running = self._pool.submit(self._oldest)
        try:
            oldest = self._running.result(self._timeout)
        except FutureTimeout:
            silent = TimeoutError(f"the database did not answer within {self._timeout}s")
            self._outage.failed(silent)
            return
        except Exception as exc:
            self._outage.failed(exc)
            return
        self._outage.succeeded()
        late = 0.0 if oldest is None else (self._clock() - oldest).total_seconds()
        yield GaugeMetricFamily(self._name, self._doc, value=max(0.0, late))


class _LabelledGauge(Collector):
    def __init__(
        self,
        name: str,
        doc: str,
        label: str,
        values: Callable[[], Mapping[str, float]],
        family: type[GaugeMetricFamily | CounterMetricFamily] = GaugeMetricFamily,
    ) -> None:
        self._name, self._doc, self._label, self._values = name, doc, label, values
        self._family = family

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        try:
            values = self._values()
        except Exception:
            # one series out of the scrape, not the scrape: /metrics is what says
            # what is wrong (tocsin_loop_failing) when something is
            log.exception("%s left out of this scrape", self._name)
            return
        family = self._family(self._name, self._doc, labels=[self._label])
        for key, n in sorted(values.items()):
            family.add_metric([key], n)
        yield family


class BatchHistogram(Collector):
    """A histogram with one label, observed a sorted batch at a time: a storm's batch of
    thousands of due rows costs a few bisections, not one ``observe`` per row."""

    def __init__(self, name: str, doc: str, label: str, buckets: Sequence[float]) -> None:
        self._name, self._doc, self._label = name, doc, label
        self._bounds = tuple(buckets)
        # the bounds as prometheus_client prints its own histograms' (le="1.0", not "1";
        # its Go-style exponent form starts at 1e16, far beyond any bound here)
        self._les = [repr(float(b)) for b in self._bounds]
        self._lock = threading.Lock()  # observed on the writer's thread, read by scrapes
        self._series: dict[str, tuple[list[int], list[float]]] = {}  # counts, [sum]

    def observe_sorted(self, value: str, ascending: Sequence[float]) -> None:
        """Observe ``ascending`` (sorted, smallest first) under label value ``value``."""
        if not ascending:
            return
        below = [bisect.bisect_right(ascending, bound) for bound in self._bounds]
        total = sum(ascending)
        with self._lock:
            counts, summed = self._series.setdefault(value, ([0] * (len(self._bounds) + 1), [0.0]))
            for i, n in enumerate(below):
                counts[i] += n
            counts[-1] += len(ascending)
            summed[0] += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self._name, self._doc, labels=[self._label])
        with self._lock:
            series = {k: (list(c), s[0]) for k, (c, s) in self._series.items()}
        for value, (counts, summed) in sorted(series.items()):
            buckets = [(le, float(n)) for le, n in zip(self._les, counts, strict=False)]
            buckets.append(("+Inf", float(counts[-1])))
            family.add_metric([value], buckets, summed)
        yield family
