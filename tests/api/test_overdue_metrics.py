"""The gauges that show a stopped worker (``tocsin_oncall_due_overdue_seconds``,
``tocsin_outbox_overdue_seconds``), read from the database at scrape time, on both
databases. The runtime here runs no loops: nothing due is ever taken, as when a worker
has stopped."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Clock
from tests.storage.test_delivery import item
from tocsin.core.outbox_ops import Enqueue
from tocsin.runtime import Runtime
from tocsin.store import oncall_rows
from tocsin.store.oncall_rows import DueRow, due_id

GAUGES = ("tocsin_oncall_due_overdue_seconds", "tocsin_outbox_overdue_seconds")


def scrape(rt: Runtime) -> dict[str, float]:
    text = generate_latest(rt.metrics.registry).decode()
    return {
        f.name: f.samples[0].value for f in text_string_to_metric_families(text) if f.name in GAUGES
    }


def test_overdue_gauges_grow_while_nothing_takes_what_is_due(
    runtime: Runtime, clock: Clock
) -> None:
    assert scrape(runtime) == dict.fromkeys(GAUGES, 0.0)  # nothing pending

    due = clock.now + timedelta(seconds=30)
    with runtime.engine.begin() as conn:
        oncall_rows.add_due(conn, [DueRow(due_id(due), "g1", "step", due, {})])
    asyncio.run(runtime.writer.run(Enqueue([item("team", 1, clock.now + timedelta(seconds=10))])))
    assert scrape(runtime) == dict.fromkeys(GAUGES, 0.0)  # pending, but not due yet

    clock.now += timedelta(seconds=100)
    assert scrape(runtime) == {
        "tocsin_oncall_due_overdue_seconds": 70.0,
        "tocsin_outbox_overdue_seconds": 90.0,
    }
