"""``on_alerts`` (one update per group per dispatcher round) must be exactly the same as
applying ``on_alert`` to each alert in turn; it only avoids copying the group's alert
map once per alert, which would make an alert storm into one group quadratic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.grouping import GroupAction, GroupState, on_alert, on_alerts
from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import Alert
from tocsin.alerts.routing import build_route_tree
from tocsin.config import parse_config

ROUTE = build_route_tree(
    parse_config(
        "route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 30s\n"
        "receivers:\n  - name: r\n"
    )
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def alert(n: int, start: int, received: int) -> Alert:
    labels = {"alertname": "A", "n": str(n)}
    at = T0 + timedelta(seconds=received)
    return Alert(
        fingerprint(labels),
        labels,
        {},
        T0 + timedelta(seconds=start),
        at + timedelta(minutes=5),
        "",
        at,
        True,
    )


batches = st.lists(
    st.tuples(st.integers(0, 5), st.integers(-120, 60), st.integers(0, 60)), min_size=1, max_size=8
)


@given(batches, st.booleans())
def test_batch_equals_one_by_one(items: list[tuple[int, int, int]], existing: bool) -> None:
    alerts = [(alert(n, s, r), T0 + timedelta(seconds=r)) for n, s, r in items]
    state: GroupState | None = None
    if existing:
        seed = on_alert(None, alert(99, 0, 0), T0, ROUTE).state
        state = seed
    one_by_one = state
    actions: list[GroupAction] = []
    for a, at in alerts:
        t = on_alert(one_by_one, a, at, ROUTE)
        one_by_one = t.state
        actions.extend(t.actions)
    batched = on_alerts(state, alerts, ROUTE)
    assert batched.state == one_by_one
    # a flush is (re)scheduled by the batch exactly when one-by-one scheduled one
    assert bool(batched.actions) == bool(actions)
