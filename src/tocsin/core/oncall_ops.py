"""Writer ops of on-call: each reads the group's row, decides with the pure functions of
``tocsin.oncall`` and writes the new state, its due rows, outbox items and audit lines in
the same transaction — so a crash loses either the whole step or none of it, and a
replica that claimed a due row holds it (``SKIP LOCKED``) until it committed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
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
from tocsin.store.oncall_rows import DueRow, OncallGroupRow, due_id
from tocsin.store.writer import Txn
from tocsin.timeutil import Clock

log = logging.getLogger(__name__)


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
    """One group's changes inside one op, written out with the op's other groups."""

    row: OncallGroupRow
    now: datetime
    ctx: OncallContext
    txn: Txn
    due: list[DueRow] = field(default_factory=list)
    audit: list[Any] = field(default_factory=list)
    items: list[OutboxItem] = field(default_factory=list)
    changed: bool = False  # whether the row itself must be written
    # whether notifications due at once are sent by this op (ProcessDue) rather than
    # stored as rows, and those not sent yet
    send_now: bool = False
    notifies: list[NotifyDue] = field(default_factory=list)
    # the parsed state, with the JSON it came from (parsed again only once that changed)
    _lifecycle: tuple[Any, GroupState] | None = None
    _escalation: tuple[Any, Escalation] | None = None

    @property
    def lifecycle(self) -> GroupState:
        data = self.row.state["lifecycle"]
        if self._lifecycle is None or self._lifecycle[0] is not data:
            self._lifecycle = (data, GroupState.from_json(data))
        return self._lifecycle[1]

    @property
    def escalation(self) -> Escalation | None:
        data = self.row.state.get("escalation")
        if data is None:
            return None
        if self._escalation is None or self._escalation[0] is not data:
            self._escalation = (data, Escalation.from_json(data))
        return self._escalation[1]

    def set(self, key: str, value: Any) -> None:
        self.changed = True
        self.row = OncallGroupRow(
            self.row.group_id,
            self.row.route_id,
            self.row.group_key,
            self.row.receiver,
            {**self.row.state, key: value},
            self.now,
        )

    def add_due(self, kind: str, due_at: datetime, payload: dict[str, Any]) -> None:
        self.due.append(DueRow(due_id(due_at), self.row.group_id, kind, due_at, payload))

    def take(self, outcome: StepOutcome) -> None:
        if outcome.escalation is not self.escalation:  # a stale row changes nothing
            self.set("escalation", outcome.escalation.to_json())
            self._escalation = (self.row.state["escalation"], outcome.escalation)
        self.audit.extend(outcome.audit)
        if outcome.pages:
            for notify in expand_notifications(outcome.pages, self.ctx.plan()):
                if self.send_now and notify.due_at <= self.now:
                    self.notifies.append(notify)  # never stored: see ProcessDue
                else:
                    self.add_due("notify", notify.due_at, notify.to_json())
        if outcome.next_due is not None:
            self.add_due("step", outcome.next_due.due_at, outcome.next_due.to_json())

    def apply(self, t: Transition) -> None:
        self.set("lifecycle", t.state.to_json())
        self._lifecycle = (self.row.state["lifecycle"], t.state)
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


@dataclass
class _Batch:
    """The groups one op works on: read with one query, each table written once."""

    txn: Txn
    now: datetime
    ctx: OncallContext
    rows: dict[str, OncallGroupRow]  # as stored when the op began
    works: dict[str, _Work] = field(default_factory=dict)
    send_now: bool = False  # the works' ``send_now``
    _who: WhoIsOnCall | None = None

    @classmethod
    def read(cls, txn: Txn, now: datetime, ctx: OncallContext, ids: Iterable[str]) -> _Batch:
        return cls(txn, now, ctx, oncall_rows.get_groups(txn.conn, set(ids)))

    def work(self, group_id: str) -> _Work | None:
        """The group's work so far in this op (a later row of the same group sees what
        an earlier one changed), or None if the group has no row."""
        found = self.works.get(group_id)
        if found is None:
            row = self.rows.get(group_id)
            if row is None:
                return None
            found = _Work(row, self.now, self.ctx, self.txn, send_now=self.send_now)
            self.works[group_id] = found
        return found

    def new(self, row: OncallGroupRow) -> _Work:
        """Work on a group that has no row yet."""
        work = _Work(row, self.now, self.ctx, self.txn, send_now=self.send_now)
        self.works[row.group_id] = work
        return work

    def who(self) -> WhoIsOnCall:
        """Who is on call, with the overrides read once per op (and only if needed)."""
        if self._who is None:
            self._who = self.ctx.who_is_on_call(self.txn)
        return self._who

    def drop(self, group_id: str) -> None:
        """Forget the group's changes in this op (it failed on one of them)."""
        self.works.pop(group_id, None)

    def write(self) -> int:
        """Write every group's changes; returns the number of outbox items."""
        conn, works = self.txn.conn, self.works.values()
        changed = [w.row for w in works if w.changed]
        oncall_rows.update_groups(
            conn, [g for g in changed if g.group_id in self.rows], self.txn.rev
        )
        oncall_rows.save_groups(
            conn, [g for g in changed if g.group_id not in self.rows], self.txn.rev
        )
        oncall_rows.add_due(conn, [d for w in works for d in w.due])
        oncall_rows.add_audits(conn, [(w.row.group_id, e) for w in works for e in w.audit])
        items = [i for w in works for i in w.items]
        outbox_rows.enqueue(conn, items, self.txn.rev)
        return len(items)


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
        batch = _Batch.read(txn, self.now, self.ctx, (o.group_id for o in self.observations))
        for o in self.observations:
            work = batch.work(o.group_id)
            state = None if work is None else work.lifecycle
            if not o.firing and state is None:
                continue
            if work is None:
                row = OncallGroupRow(o.group_id, o.route_id, o.group_key, o.receiver, {}, self.now)
                work = batch.new(row)
            work.set("policy", o.policy)
            work.set("labels", o.labels)
            if o.firing:
                work.set("alerts", o.firing)
                work.apply(alerts_firing(state, o.group_id, self.now))
            else:
                assert state is not None
                work.apply(alerts_resolved(state, self.now))
        return batch.write()


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
        batch = _Batch.read(txn, self.now, self.ctx, [self.group_id])
        work = batch.work(self.group_id)
        if work is None:
            raise LookupError(f"no on-call alert group {self.group_id!r}")
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
        batch.write()
        return work.row.state


@dataclass
class ProcessDue:
    """Take the due rows and act on each: fire a step, send a notification, end a
    snooze or an acknowledgement's grace period. Stale rows are taken (deleted) and do
    nothing (the pure functions say which are stale).

    A whole batch costs a handful of statements: one DELETE takes the rows (nothing
    outside this transaction sees them gone before it commits, so no lease),
    one SELECT reads their groups, and each table is written once at the end. A
    notification that a step makes due at once is sent in the step's own transaction
    (and never stored), as it would be if it were taken right away.
    """

    clock: Clock  # read inside the transaction: the audit trail's time is the fire time
    limit: int
    ctx: OncallContext
    on_claimed: Callable[[int], None] = lambda n: None
    # after the commit: seconds from the start of this op to the end of the commit (the
    # engine keeps a batch's transaction short: the writer is shared with ingestion)
    on_committed: Callable[[float], None] = lambda seconds: None
    # how long a row whose handling failed waits before it is tried again
    retry: timedelta = timedelta(seconds=30)
    _took_any: bool = field(default=False, init=False, repr=False)

    def apply(self, txn: Txn) -> int:
        started = time.perf_counter()
        now = self.clock()
        taken = oncall_rows.take_due(txn.conn, now, self.limit)
        self._took_any = bool(taken)
        txn.after_commit.append(lambda: self.on_claimed(len(taken)))
        txn.after_commit.append(lambda: self.on_committed(time.perf_counter() - started))
        batch = _Batch.read(txn, now, self.ctx, (d.group_id for d in taken))
        batch.send_now = True
        failed = self._act_on_all(batch, taken)
        oncall_rows.release_due(txn.conn, failed, now + self.retry)
        return batch.write()

    def wrote_nothing(self, value: int) -> bool:
        # Nothing was due: the DELETE took no row, and nothing else runs without one.
        return not self._took_any

    def _act_on_all(self, batch: _Batch, taken: Sequence[DueRow]) -> list[DueRow]:
        """Act on the rows in order; returns the rows to put back: all the rows of a
        group whose handling failed (its changes are dropped, the other groups' kept)."""
        failed: set[str] = set()
        for due in taken:
            work = None if due.group_id in failed else batch.work(due.group_id)
            if work is None:
                continue
            try:
                self._act(batch, work, due)
                self._send_due_pages(work)
            except Exception:
                log.exception("on-call row %s of group %s failed", due.id, due.group_id)
                failed.add(due.group_id)
                batch.drop(due.group_id)
        return [d for d in taken if d.group_id in failed]

    def _act(self, batch: _Batch, work: _Work, due: DueRow) -> None:
        state = work.lifecycle
        if due.kind == "step":
            escalation = work.escalation
            if escalation is not None:
                step = StepDue.from_json(due.payload)
                work.take(fire_step(escalation, state, step, work.now, batch.who()))
        elif due.kind == "notify":
            self._page(work, NotifyDue.from_json(due.payload))
        elif due.kind == "lifecycle":
            t = on_due(state, LifecycleDue.from_json(due.payload), work.now)
            if t is not None:
                work.apply(t)

    def _page(self, work: _Work, notify: NotifyDue) -> None:
        if notify_stale_reason(notify, work.lifecycle, work.now) is None:
            work.items.extend(self.ctx.page_items(work.row, notify, work.now))

    def _send_due_pages(self, work: _Work) -> None:
        """Send the notifications this row just made due, in this transaction: taken
        later, they would wait behind every other row due before them. (They are not
        stored at all: a row would be written only to be taken in this transaction.
        If the group's handling fails, its changes are dropped, these with them.)"""
        for notify in work.notifies:
            self._page(work, notify)
        work.notifies.clear()
