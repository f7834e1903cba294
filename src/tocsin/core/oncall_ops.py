"""Writer ops of on-call: each reads the group's row, decides with the pure functions of
``tocsin.oncall`` and writes the new state, its due rows, outbox items and audit lines in
the same transaction — so a crash loses either the whole step or none of it, and a
replica that claimed a due row holds it (``SKIP LOCKED``) until it committed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from tocsin.config.escalation import EscalationPolicy
from tocsin.notify.outbox import OutboxItem
from tocsin.oncall.escalation import (
    Escalation,
    NotificationPlan,
    NotifyDue,
    StepDue,
    StepOutcome,
    WhoIsOnCall,
    expand_notifications,
    fire_step,
    notify_stale_reason,
    resume,
    start_escalation,
)
from tocsin.oncall.lifecycle import (
    GroupState,
    LifecycleDue,
    Refused,
    ResumeEscalation,
    ScheduleDue,
    StartEscalation,
    Transition,
    Via,
    acknowledge,
    alerts_firing,
    alerts_resolved,
    on_due,
    resolve,
    snooze,
)
from tocsin.store import oncall_rows, outbox_rows
from tocsin.store.oncall_rows import DueRow, OncallGroupRow
from tocsin.store.writer import Txn


class OncallRefused(ValueError):
    """A human action that does not apply (ack of a resolved group...): the reason."""


class OncallContext(Protocol):
    """What the ops need of the configuration and the alert store, as of now."""

    def policy(self, name: str) -> EscalationPolicy | None: ...

    def who_is_on_call(self, txn: Txn) -> WhoIsOnCall: ...

    def plan(self) -> NotificationPlan: ...

    def page_items(
        self, row: OncallGroupRow, due: NotifyDue, now: datetime
    ) -> list[OutboxItem]: ...


@dataclass
class _Work:
    """One group's changes inside one op, written out at the end."""

    row: OncallGroupRow
    now: datetime
    ctx: OncallContext
    txn: Txn
    due: list[DueRow] = field(default_factory=list)
    audit: list[Any] = field(default_factory=list)
    items: list[OutboxItem] = field(default_factory=list)

    @property
    def lifecycle(self) -> GroupState:
        return GroupState.from_json(self.row.state["lifecycle"])

    @property
    def escalation(self) -> Escalation | None:
        data = self.row.state.get("escalation")
        return None if data is None else Escalation.from_json(data)

    def set(self, key: str, value: Any) -> None:
        self.row = OncallGroupRow(
            self.row.group_id,
            self.row.route_id,
            self.row.group_key,
            self.row.receiver,
            {**self.row.state, key: value},
            self.now,
        )

    def add_due(self, kind: str, due_at: datetime, payload: dict[str, Any]) -> None:
        self.due.append(DueRow(str(uuid.uuid4()), self.row.group_id, kind, due_at, payload))

    def take(self, outcome: StepOutcome) -> None:
        self.set("escalation", outcome.escalation.to_json())
        self.audit.extend(outcome.audit)
        for notify in expand_notifications(outcome.pages, self.ctx.plan()):
            self.add_due("notify", notify.due_at, notify.to_json())
        if outcome.next_due is not None:
            self.add_due("step", outcome.next_due.due_at, outcome.next_due.to_json())

    def apply(self, t: Transition) -> None:
        self.set("lifecycle", t.state.to_json())
        if t.audit is not None:
            self.audit.append(t.audit)
        for action in t.actions:
            if isinstance(action, StartEscalation):
                policy = self.ctx.policy(self.row.state["policy"])
                if policy is None:
                    continue  # the policy left the config: nothing to escalate with
                self.take(
                    start_escalation(action.escalation_id, self.row.group_id, policy, self.now)
                )
            elif isinstance(action, ResumeEscalation):
                escalation = self.escalation
                if escalation is not None:
                    who = self.ctx.who_is_on_call(self.txn)
                    self.take(resume(escalation, t.state, self.now, who))
            elif isinstance(action, ScheduleDue):
                self.add_due("lifecycle", action.due.due_at, action.due.to_json())
            # Stop and Pause need no row: due rows check the group's status when they fire

    def write(self) -> None:
        conn = self.txn.conn
        oncall_rows.save_group(conn, self.row, self.txn.rev)
        oncall_rows.add_due(conn, self.due)
        oncall_rows.add_audit(conn, self.row.group_id, self.audit)
        outbox_rows.enqueue(conn, self.items, self.txn.rev)


@dataclass(frozen=True)
class Observation:
    """What a flush of a group with an escalation policy saw."""

    group_id: str
    route_id: str
    group_key: str
    receiver: str
    policy: str
    labels: dict[str, str]
    firing: list[str]  # fingerprints of the unmuted firing alerts


@dataclass
class Observe:
    observations: Sequence[Observation]
    now: datetime
    ctx: OncallContext

    def apply(self, txn: Txn) -> int:
        enqueued = 0
        for o in self.observations:
            row = oncall_rows.get_group(txn.conn, o.group_id)
            state = None if row is None else GroupState.from_json(row.state["lifecycle"])
            if not o.firing and state is None:
                continue
            if row is None:
                row = OncallGroupRow(o.group_id, o.route_id, o.group_key, o.receiver, {}, self.now)
            work = _Work(row, self.now, self.ctx, txn)
            work.set("policy", o.policy)
            work.set("labels", o.labels)
            if o.firing:
                work.set("alerts", o.firing)
                work.apply(alerts_firing(state, o.group_id, self.now))
            else:
                assert state is not None
                work.apply(alerts_resolved(state, self.now))
            work.write()
            enqueued += len(work.items)
        return enqueued


@dataclass
class HumanAction:
    """Acknowledge, resolve or snooze, by someone, through some channel."""

    group_id: str
    action: str  # "ack" | "resolve" | "snooze"
    who: str
    via: Via
    now: datetime
    ctx: OncallContext
    comment: str = ""
    duration: timedelta | None = None

    def apply(self, txn: Txn) -> dict[str, Any]:
        row = oncall_rows.get_group(txn.conn, self.group_id)
        if row is None:
            raise LookupError(f"no on-call alert group {self.group_id!r}")
        work = _Work(row, self.now, self.ctx, txn)
        state = work.lifecycle
        result: Transition | Refused
        if self.action == "ack":
            escalation = work.escalation
            timeout = None if escalation is None else escalation.policy_snapshot.ack_timeout
            result = acknowledge(
                state, self.now, self.who, self.via, ack_timeout=timeout, comment=self.comment
            )
        elif self.action == "resolve":
            result = resolve(state, self.now, self.who, self.via, comment=self.comment)
        elif self.action == "snooze":
            result = snooze(
                state, self.now, self.who, self.via, self.duration, comment=self.comment
            )
        else:
            raise OncallRefused(f"unknown action {self.action!r}: ack, resolve or snooze")
        if isinstance(result, Refused):
            raise OncallRefused(str(result))
        work.apply(result)
        work.write()
        return work.row.state


@dataclass
class ProcessDue:
    """Claim the due rows and act on each: fire a step, send a notification, end a
    snooze or an acknowledgement's grace period. Stale rows are marked done and do
    nothing (the pure functions say which are stale)."""

    now: datetime
    lease: timedelta
    limit: int
    ctx: OncallContext
    on_claimed: Callable[[int], None] = lambda n: None

    def apply(self, txn: Txn) -> int:
        claimed = oncall_rows.claim_due(txn.conn, self.now, self.now + self.lease, self.limit)
        txn.after_commit.append(lambda: self.on_claimed(len(claimed)))
        items = 0
        for due in claimed:
            row = oncall_rows.get_group(txn.conn, due.group_id)
            oncall_rows.finish_due(txn.conn, due.id)
            if row is None:
                continue
            work = _Work(row, self.now, self.ctx, txn)
            self._act(work, due)
            work.write()
            items += len(work.items)
        return items

    def _act(self, work: _Work, due: DueRow) -> None:
        state = work.lifecycle
        if due.kind == "step":
            escalation = work.escalation
            if escalation is not None:
                step = StepDue.from_json(due.payload)
                who = self.ctx.who_is_on_call(work.txn)
                work.take(fire_step(escalation, state, step, self.now, who))
        elif due.kind == "notify":
            notify = NotifyDue.from_json(due.payload)
            if notify_stale_reason(notify, state, self.now) is None:
                work.items.extend(self.ctx.page_items(work.row, notify, self.now))
        elif due.kind == "lifecycle":
            t = on_due(state, LifecycleDue.from_json(due.payload), self.now)
            if t is not None:
                work.apply(t)
