"""An escalation's ladder in columns of its group's row (migration 0011), on SQLite and
PostgreSQL: the migration carries existing groups over and back unchanged, and the
engine's step path, which reads and writes only those columns, decides exactly what the
general path (the whole JSON state) decides, row for row."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, select, text

from tests.storage.test_alert_store import Clock
from tests.storage.test_oncall_replicas import T0, runtime
from tocsin.config.escalation import EscalationPolicy, EscalationStep, EscalationTarget
from tocsin.core import oncall_ops
from tocsin.core.oncall_ops import HumanAction, Observation, Observe
from tocsin.oncall.escalation import Escalation, StepDue
from tocsin.oncall.lifecycle import GroupState, Status, Via
from tocsin.runtime import Runtime
from tocsin.store import db, oncall_rows
from tocsin.store.tables import outbox
from tocsin.timeutil import to_micros

M = timedelta(minutes=1)


# --- the migration ----------------------------------------------------------------------


def _alembic(conn: Any) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db._MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def _old_state(group_id: str, fired: bool) -> dict[str, Any]:
    """A group's state as the code before migration 0011 stored it: the escalation,
    its frozen policy included, inside the JSON."""
    policy = EscalationPolicy(
        name="ladder",
        steps=(
            EscalationStep(delay=timedelta(0), targets=(EscalationTarget(person="alice"),)),
            EscalationStep(delay=5 * M, targets=(EscalationTarget(schedule="primary"),)),
        ),
        repeat=1,
        ack_timeout=30 * M,
    )
    nxt = StepDue(f"{group_id}#1", 1 if fired else 0, 0, T0 + (5 * M if fired else 0 * M))
    escalation = Escalation(f"{group_id}#1", group_id, policy, T0, 0, 0, fired, nxt)
    lifecycle = GroupState(group_id, Status.FIRING, f"{group_id}#1", 1, T0)
    return {
        "policy": "ladder",
        "labels": {"alertname": "Down"},
        "alerts": ["fp1"],
        "lifecycle": lifecycle.to_json(),
        "escalation": escalation.to_json(),
    }


def test_migration_0011_moves_ladders_into_columns_and_back(db_url: str) -> None:
    engine = create_engine(db.normalize_url(db_url))
    states = {
        "g1": _old_state("g1", fired=True),
        "g2": _old_state("g2", fired=False),
        "g3": {"policy": "ladder", "labels": {}, "alerts": []},  # never escalated
    }
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "0010")
            for group_id, state in states.items():
                conn.execute(
                    text(
                        "INSERT INTO oncall_groups (group_id, route_id, group_key, receiver, "
                        "state, updated_at, rev) VALUES (:g, 'r', :k, 'pager', :s, 1, 1)"
                    ),
                    {"g": group_id, "k": f"{{}}:{group_id}", "s": orjson.dumps(state).decode()},
                )
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "0011")
            assert {g: r.state for g, r in oncall_rows.get_groups(conn, states).items()} == states
            # (read by hand: the store's ladder read wants 0012's opened_at)
            ladder = conn.execute(
                text(
                    "SELECT status, esc_id, esc_step, esc_fired, esc_next_step, esc_next_due "
                    "FROM oncall_groups WHERE group_id = 'g1'"
                )
            ).one()
            assert tuple(ladder) == ("firing", "g1#1", 0, True, 1, to_micros(T0 + 5 * M))
            # two groups under one policy: one stored snapshot
            assert conn.execute(text("SELECT count(*) FROM oncall_policies")).scalar() == 1
            stored = conn.execute(text("SELECT state FROM oncall_groups WHERE group_id = 'g1'"))
            assert "escalation" not in orjson.loads(stored.scalar_one())
        with engine.begin() as conn:
            command.downgrade(_alembic(conn), "0010")
            rows = conn.execute(text("SELECT group_id, state FROM oncall_groups")).all()
            assert {g: orjson.loads(s) for g, s in rows} == states
    finally:
        engine.dispose()


def test_migration_0012_keeps_every_audit_trail_findable(db_url: str) -> None:
    """Lines written before 0012, of a group and of a schedule (no group row), are
    found by ``audit_of`` after it, in order; the group keeps its opening time."""
    engine = create_engine(db.normalize_url(db_url))
    insert_line = text(
        "INSERT INTO audit (group_id, at, actor, channel, action, comment, detail) "
        "VALUES (:g, :at, 'tocsin', 'auto', :action, '', '{}')"
    )
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "0011")
            conn.execute(
                text(
                    "INSERT INTO oncall_groups (group_id, route_id, group_key, receiver, "
                    "state, updated_at, rev) VALUES ('g1', 'r', 'k', 'pager', '{}', 900, 1)"
                )
            )
            for group_id, at, action in [
                ("g1", 500, "escalation started"),
                ("schedule:primary", 600, "override"),
                ("g1", 700, "escalated"),
            ]:
                conn.execute(insert_line, {"g": group_id, "at": at, "action": action})
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "0012")
            trail = [(a["action"], to_micros(a["at"])) for a in oncall_rows.audit_of(conn, "g1")]
            assert trail == [("escalation started", 500), ("escalated", 700)]
            assert [a["action"] for a in oncall_rows.audit_of(conn, "schedule:primary")] == [
                "override"
            ]
            opened = conn.execute(text("SELECT opened_at FROM oncall_groups")).scalar_one()
            assert opened == 500  # its first line, not its last write
            # a line from a replica older than 0012 (no opened_at: the default) is found
            conn.execute(insert_line, {"g": "g1", "at": 800, "action": "acknowledged"})
            actions = [a["action"] for a in oncall_rows.audit_of(conn, "g1")]
            assert actions == ["escalation started", "escalated", "acknowledged"]
            command.downgrade(_alembic(conn), "0011")
    finally:
        engine.dispose()


def test_migration_0013_leaves_each_awaited_step_to_its_ladder(db_url: str) -> None:
    """Step rows go; a ladder keeps the step it awaits when that step had a row, and
    stops awaiting one that had none (taken already: it waited for nothing); other due
    rows stay. Downgrading writes a step row back for each awaited step."""
    engine = create_engine(db.normalize_url(db_url))
    due = to_micros(T0 + 5 * M)
    group = text(
        "INSERT INTO oncall_groups (group_id, route_id, group_key, receiver, state, "
        "updated_at, rev, status, escalation_id, esc_id, esc_policy, esc_started, "
        "esc_next_step, esc_next_round, esc_next_due) "
        "VALUES (:g, 'r', :k, 'pager', '{}', 1, 1, :status, :e, :f, 'p', 0, 1, 0, :due)"
    )
    row = text(
        "INSERT INTO oncall_due (id, group_id, kind, due_at, payload, lease_until, done) "
        "VALUES (:id, :g, :kind, :due, :payload, 0, false)"
    )
    step = {"escalation_id": "g1#1", "step_index": 1, "round": 0, "due_at": due}
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "0012")
            for group_id, status in [("g1", "firing"), ("g2", "acknowledged")]:
                esc = f"{group_id}#1"  # (each parameter once: PostgreSQL types each)
                values = {"g": group_id, "k": group_id, "e": esc, "f": esc, "due": due}
                conn.execute(group, {**values, "status": status})
            for id_, group_id, kind, payload in [
                ("s1", "g1", "step", step),
                ("n1", "g1", "notify", {"n": 1}),
            ]:
                conn.execute(
                    row,
                    {
                        "id": id_,
                        "g": group_id,
                        "kind": kind,
                        "due": due,
                        "payload": orjson.dumps(payload).decode(),
                    },
                )
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "0013")
            kinds = conn.execute(text("SELECT id, kind FROM oncall_due")).all()
            assert [tuple(k) for k in kinds] == [("n1", "notify")]
            ladders = oncall_rows.get_ladders(conn, ["g1", "g2"])
            assert (ladders["g1"].next_step, ladders["g1"].next_due) == (1, due)
            assert (ladders["g2"].next_step, ladders["g2"].next_due) == (None, None)
            pending = oncall_rows.pending_due(conn, "g1")
            assert [(r.kind, r.payload) for r in pending] == [("notify", {"n": 1}), ("step", step)]
        with engine.begin() as conn:
            command.downgrade(_alembic(conn), "0012")
            back = conn.execute(
                text("SELECT group_id, due_at, payload FROM oncall_due WHERE kind = 'step'")
            ).all()
            assert [(g, d, orjson.loads(p)) for g, d, p in back] == [("g1", due, step)]
    finally:
        engine.dispose()


def test_migration_0014_gives_ladders_a_lease_and_takes_it_back(db_url: str) -> None:
    """Upgrading adds the lease, 0 (no ladder is put off). Downgrading moves the due
    time of a step put off to its lease, as an older replica puts it off, and leaves
    the other ladders as they are."""
    engine = create_engine(db.normalize_url(db_url))
    due, lease = to_micros(T0), to_micros(T0 + M / 2)
    group = text(
        "INSERT INTO oncall_groups (group_id, route_id, group_key, receiver, state, "
        "updated_at, rev, status, escalation_id, esc_id, esc_policy, esc_started, "
        "esc_next_step, esc_next_round, esc_next_due) "
        "VALUES (:g, 'r', :k, 'pager', '{}', 1, 1, 'firing', :e, :f, 'p', 0, 1, 0, :due)"
    )
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "0013")
            for group_id in ("g1", "g2"):
                esc = f"{group_id}#1"
                conn.execute(group, {"g": group_id, "k": group_id, "e": esc, "f": esc, "due": due})
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "0014")
            leases = conn.execute(text("SELECT esc_lease FROM oncall_groups")).scalars().all()
            assert leases == [0, 0]
            conn.execute(
                text("UPDATE oncall_groups SET esc_lease = :l WHERE group_id = 'g1'"), {"l": lease}
            )
            assert [r.group_id for r in oncall_rows.take_due(conn, T0, 10)] == ["g2"]
        with engine.begin() as conn:
            command.downgrade(_alembic(conn), "0013")
            found = conn.execute(
                text("SELECT group_id, esc_next_due FROM oncall_groups ORDER BY group_id")
            ).all()
            assert [tuple(r) for r in found] == [("g1", lease), ("g2", due)]
            columns = conn.execute(text("SELECT * FROM oncall_groups")).keys()
            assert "esc_lease" not in columns
        with engine.begin() as conn:  # and up again, as it started
            command.upgrade(_alembic(conn), "head")
    finally:
        engine.dispose()


# --- the step path against the general path -----------------------------------------------


# A ladder whose steps page a person at once and again two minutes later (a stored
# notification row), a receiver, and people without rules.
CONFIG = """\
global:
  slack_api_url: http://127.0.0.1:9/slack
  smtp_smarthost: 127.0.0.1:9
  smtp_from: tocsin@example.org
route:
  receiver: pager
receivers:
  - name: pager
    escalation_policy: ladder
  - name: hook
    webhook_configs: [{url: "http://127.0.0.1:9/hook"}]
people:
  - name: alice
    email: alice@example.org
    slack_user: alice
    notification_rules:
      high: [{channel: slack}, {channel: email, after: 2m}]
  - {name: bob, email: bob@example.org}
  - {name: carol, email: carol@example.org}
escalation_policies:
  - name: ladder
    repeat: 1
    steps:
      - {delay: 0s, targets: [{person: alice}, {receiver: hook}]}
      - {delay: 5m, targets: [{person: bob}]}
      - {delay: 5m, targets: [{person: carol}]}
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    # what happens between the engine's rounds, given the runtime and the clock
    events: tuple[Callable[[Runtime, Clock], None], ...]


def _open(*groups: str) -> Callable[[Runtime, Clock], None]:
    def run(rt: Runtime, clock: Clock) -> None:
        seen = [
            Observation(g, "route", f"{{}}:{g}", "pager", "ladder", {}, ["fp1"]) for g in groups
        ]
        rt.writer.run_sync(Observe(seen, clock(), rt.oncall))

    return run


def _resolve_alerts(group: str) -> Callable[[Runtime, Clock], None]:
    def run(rt: Runtime, clock: Clock) -> None:
        seen = Observation(group, "route", f"{{}}:{group}", "pager", "ladder", {}, [])
        rt.writer.run_sync(Observe([seen], clock(), rt.oncall))

    return run


def _human(group: str, action: str, **extra: Any) -> Callable[[Runtime, Clock], None]:
    def run(rt: Runtime, clock: Clock) -> None:
        rt.writer.run_sync(
            HumanAction(group, action, "alice", Via.API, clock(), rt.oncall, **extra)
        )

    return run


def _wait(minutes: float) -> Callable[[Runtime, Clock], None]:
    def run(rt: Runtime, clock: Clock) -> None:
        clock.now += minutes * M

    return run


def _rounds(n: int = 2) -> Callable[[Runtime, Clock], None]:
    def run(rt: Runtime, clock: Clock) -> None:
        for _ in range(n):
            asyncio.run(rt.oncall.step())

    return run


STORM = tuple(f"g{i}" for i in range(1, 7))

SCENARIOS = [
    # each step fires once, at its time, and pages its targets; the ladder moves on
    Scenario("ladder", (_open("g1", "g2"), _rounds(), _wait(5), _rounds(), _wait(5), _rounds())),
    # groups that escalate together: after the first of a batch, each step is written
    # from its class's first (oncall_ops._Class); one group acknowledged, one snoozed,
    # one re-opened midway, so a batch mixes steps that fire with stale ones
    Scenario(
        "storm",
        (
            _open(*STORM),
            _rounds(),
            _wait(2),
            _rounds(),
            _human("g2", "ack"),
            _human("g3", "snooze", duration=4 * M),
            _resolve_alerts("g4"),
            _open("g4"),
            _wait(3),
            _rounds(),
            _wait(5),
            _rounds(),
            _wait(5),
            _rounds(),
            _wait(10),
            _rounds(),
        ),
    ),
    # an acknowledged group's pending step is stale: it pages nobody
    Scenario("ack stops it", (_open("g1"), _rounds(), _human("g1", "ack"), _wait(5), _rounds())),
    # a resolved and re-opened group has a new escalation; the old one's step is stale
    Scenario(
        "superseded",
        (_open("g1"), _rounds(), _resolve_alerts("g1"), _open("g1"), _wait(5), _rounds()),
    ),
    # the end of a snooze resumes the ladder (a wake-up row and a step row of one group)
    Scenario(
        "snooze ends",
        (
            _open("g1"),
            _rounds(),
            _human("g1", "snooze", duration=3 * M),
            _wait(5),
            _rounds(),
            _wait(5),
            _rounds(),
        ),
    ),
]


def _outcome(rt: Runtime, groups: tuple[str, ...]) -> dict[str, Any]:
    """Everything the engine wrote: the groups' states and audit trails (without row
    ids), their pending rows, the outbox items' receivers and keys."""
    with rt.engine.connect() as conn:
        states = {g: r.state for g, r in oncall_rows.get_groups(conn, groups).items()}
        audit = {g: oncall_rows.audit_of(conn, g) for g in groups}
        pending = {
            g: [(r.kind, r.due_at, r.payload) for r in oncall_rows.pending_due(conn, g)]
            for g in groups
        }
        items = sorted(
            (r.receiver, r.idempotency_key)
            for r in conn.execute(select(outbox.c.receiver, outbox.c.idempotency_key))
        )
    return {"states": states, "audit": audit, "pending": pending, "items": items}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_the_step_path_decides_as_the_general_path(
    db_url: str, tmp_path: Path, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = []
    taken_alone: list[int] = []
    real_take = oncall_ops._Steps.take

    def counting(self: oncall_ops._Steps, taken: Any) -> list[Any]:
        rest: list[Any] = real_take(self, taken)
        taken_alone.append(len(taken) - len(rest))
        return rest

    classed: list[str] = []  # steps written from their class's first
    real_rows = oncall_ops._Class.rows

    def class_rows(self: oncall_ops._Class, members: Any, due: Any, audit: Any) -> None:
        classed.extend(lad.group_id for lad in members)
        real_rows(self, members, due, audit)

    for fast in (True, False):
        if fast:
            monkeypatch.setattr(oncall_ops._Steps, "take", counting)
            monkeypatch.setattr(oncall_ops._Class, "rows", class_rows)
        else:  # every row through the general path, on the same database emptied
            monkeypatch.setattr(oncall_ops._Steps, "take", lambda self, taken: list(taken))
            _empty(db_url)
        clock = Clock(T0)
        rt = runtime(db_url, tmp_path, clock, CONFIG)
        try:
            for event in scenario.events:
                event(rt, clock)
            outcomes.append(_outcome(rt, STORM))
        finally:
            rt.close()
    assert sum(taken_alone) > 0  # the step path did fire steps
    if scenario.name in ("ladder", "storm"):  # and wrote some from their class's first
        assert classed
    assert outcomes[0]["audit"]["g1"]  # something happened
    assert outcomes[0] == outcomes[1]


def _empty(url: str) -> None:
    """Empty the tables the engine writes, for the second run."""
    engine = create_engine(db.normalize_url(url))
    try:
        with engine.begin() as conn:
            for table in ("oncall_groups", "oncall_due", "audit", "outbox", "oncall_policies"):
                conn.execute(text(f"DELETE FROM {table}"))
    finally:
        engine.dispose()
