"""Tocsin's own metrics in the Prometheus exposition format (``GET /metrics``).

Each runtime has its own registry, so several servers in one test process do not
collide. Gauges of alerts and silences by state are computed at scrape time from the
store rather than kept up to date on every write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tocsin.alerts.model import PostedAlert


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
        for status in ("firing", "resolved"):
            self._received.labels(status)

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
        self.registry.register(_StateGauge(name, doc, counts))


class _StateGauge(Collector):
    def __init__(self, name: str, doc: str, counts: Callable[[], dict[str, int]]) -> None:
        self._name, self._doc, self._counts = name, doc, counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self._name, self._doc, labels=["state"])
        for state, n in sorted(self._counts().items()):
            family.add_metric([state], n)
        yield family
