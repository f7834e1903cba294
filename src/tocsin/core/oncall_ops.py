"""Writer ops of on-call: each reads the group's row, decides with the pure functions of
``tocsin.oncall`` and writes the new state, its due rows, outbox items and audit lines in
the same transaction — so a crash loses either the whole step or none of it, and no
other replica takes what this one took: every writer transaction begins with the
revision counter's row lock, which serializes them (see ``oncall_rows.take_due``)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypeVar

from tocsin.config.escalation import EscalationPolicy
from tocsin.notify.outbox import OutboxItem
from tocsin.oncall.escalation import (
    Escalation,
    NotificationPlan,
    NotifyDue,
    Page,
    Recipient,
    StepDue,
    StepMemo,
    StepOutcome,
    WhoIsOnCall,
    expand_notifications,
    fire_step,
    notify_stale_reason,
    page_escalation,
    policy_from_json,
    resume,
    start_escalation,
)
from tocsin.oncall.lifecycle import (
    SYSTEM,
    AuditEntry,
    GroupState,
    LifecycleDue,
    Refused,
    ResumeEscalation,
    ScheduleDue,
    StartEscalation,
    Status,
    TellAcknowledged,
    TellResolved,
    Transition,
    Via,
    acknowledge,
    alerts_firing,
    alerts_resolved,
    on_due,
    resolve,
    snooze,
    unacknowledge,
)
from tocsin.store import oncall_rows, outbox_rows
from tocsin.store.oncall_rows import DueRow, OncallGroupRow, due_id
from tocsin.store.writer import Txn
from tocsin.timeutil import Clock, from_micros, to_micros

log = logging.getLogger(__name__)
_R = TypeVar("_R")


class OncallRefused(ValueError):
    """A human action that does not apply (ack of a resolved group...): the reason."""


class Paging(NamedTuple):
    """One page's outbox items; or none, and why the page was withheld (written to the
    group's trail)."""

    items: list[OutboxItem]
    withheld: str = ""


class OncallContext(Protocol):
    """What the ops need of the configuration and the alert store, as of now."""

    def policy(self, name: str) -> EscalationPolicy | None: ...

    def who_is_on_call(self, txn: Txn) -> WhoIsOnCall: ...

    def reachable(self, kind: Recipient, name: str) -> bool:
        """Whether the configuration names this person or receiver (a policy frozen
        before a reload may name one it removed)."""
        ...

    def plan(self) -> NotificationPlan: ...

    def page_items(
        self, row: Callable[[], OncallGroupRow], due: NotifyDue, now: datetime
    ) -> Paging:
        """The outbox items of one page; ``row()`` reads the group's row (only a page
        that builds a notification needs it)."""
        ...

    def resolved_items(
        self,
        row: OncallGroupRow,
        paged: Sequence[tuple[str, str]],
        escalation_id: str,
        now: datetime,
    ) -> list[OutboxItem]:
        """The outbox items telling where the escalation's pages went (``paged``:
        receiver and integration each) that the group resolved; none while an alert
        of it still fires."""
        ...

    def acknowledged_items(
        self,
        row: OncallGroupRow,
        paged: Sequence[tuple[str, str]],
        told: TellAcknowledged,
        now: datetime,
    ) -> list[OutboxItem]:
        """The outbox items telling where the escalation's pages went so far who
        acknowledged the group (not the one who did; only where ``tells_of_acks``)."""
        ...


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
    told: list[str] = field(default_factory=list)  # escalations whose resolution it tells
    changed: bool = False  # whether the row itself must be written
    escalated: bool = False  # whether its escalation changed (a step moved its ladder on)
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
        if key in self.row.state and self.row.state[key] == value:
            # unchanged (the flush of a group whose alerts are the same): no write, and
            # the group's "changed" time stays when it last changed
            return
        self.changed = True
        self._row(self.row.receiver, {**self.row.state, key: value})

    def set_receiver(self, name: str) -> None:
        """The route's receiver was renamed by a reload (the group keeps its id, see
        ``_known_ids``): the group shows the name in force."""
        if name != self.row.receiver:
            self.changed = True
            self._row(name, self.row.state)

    def _row(self, receiver: str, state: dict[str, Any]) -> None:
        r = self.row
        self.row = OncallGroupRow(r.group_id, r.route_id, r.group_key, receiver, state, self.now)

    def add_due(self, kind: str, due_at: datetime, payload: dict[str, Any]) -> None:
        self.due.append(_due_row(self.row.group_id, kind, due_at, payload))

    def take(self, outcome: StepOutcome) -> None:
        if outcome.escalation is not self.escalation:  # a stale row changes nothing
            self.escalated = True
            self.set("escalation", outcome.escalation.to_json())
            self._escalation = (self.row.state["escalation"], outcome.escalation)
        self.audit.extend(outcome.audit)
        plan = self.ctx.plan() if outcome.pages else None
        _outcome_rows(
            self.row.group_id, outcome, plan, self.now, self.send_now, self.notifies, self.due
        )

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
                    self.take(resume(escalation, t.state, self.now, who, self.ctx.reachable))
            elif isinstance(action, ScheduleDue):
                self.add_due("lifecycle", action.due.due_at, action.due.to_json())
            elif isinstance(action, TellResolved):
                esc_id = action.escalation_id
                paged = oncall_rows.paged(self.txn.conn, esc_id)
                told = self.ctx.resolved_items(self.row, paged, esc_id, self.now)
                if told:  # once: the op that writes these forgets where the pages went
                    self.items += told
                    self.told.append(esc_id)
            elif isinstance(action, TellAcknowledged):
                paged = oncall_rows.paged(self.txn.conn, action.escalation_id)
                self.items += self.ctx.acknowledged_items(self.row, paged, action, self.now)
            # Stop and Pause need no row: due rows check the group's status when they fire


@dataclass
class _Batch:
    """The groups one op works on: read with one query, each table written once."""

    txn: Txn
    now: datetime
    ctx: OncallContext
    rows: dict[str, OncallGroupRow]  # as stored when the op began
    # the groups that have a row that cannot be read (see oncall_rows.get_groups): the
    # op fails them alone
    broken: set[str] = field(default_factory=set)
    works: dict[str, _Work] = field(default_factory=dict)
    send_now: bool = False  # the works' ``send_now``
    _who: WhoIsOnCall | None = None

    @classmethod
    def read(
        cls,
        txn: Txn,
        now: datetime,
        ctx: OncallContext,
        ids: Iterable[str],
        keep_broken: bool = False,
    ) -> _Batch:
        """The groups of ``ids``; a group whose escalation cannot be read is left out
        (in ``broken``), or with ``keep_broken`` kept without its escalation (writing
        the group then drops the escalation)."""
        batch = cls(txn, now, ctx, {})
        batch.include(ids, keep_broken)
        return batch

    def include(self, ids: Iterable[str], keep_broken: bool = False) -> None:
        """Read the groups of ``ids`` too (as :meth:`read`)."""
        broken: set[str] = set()
        rows = oncall_rows.get_groups(self.txn.conn, set(ids), broken)
        for group_id in sorted(broken):
            log.error("on-call group %s: its frozen escalation policy is not stored", group_id)
            if not keep_broken:
                del rows[group_id]
        self.rows.update(rows)
        self.broken |= broken

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
        # an UPDATE writes the state only; a new row, or a renamed receiver, takes the upsert
        updated: list[OncallGroupRow] = []
        upserted: list[OncallGroupRow] = []
        for w in works:
            if w.changed:
                old = self.rows.get(w.row.group_id)
                same = old is not None and old.receiver == w.row.receiver
                (updated if same else upserted).append(w.row)
        oncall_rows.update_groups(conn, updated, self.txn.rev)
        oncall_rows.save_groups(conn, upserted, self.txn.rev)
        oncall_rows.forget_paged(conn, [e for w in works for e in w.told])
        return _write_rows(
            self.txn,
            [d for w in works for d in w.due],
            [(w.row.group_id, e) for w in works for e in w.audit],
            [i for w in works for i in w.items],
        )


class _Standing(NamedTuple):
    """A group's status and current escalation, read from its ladder columns."""

    status: Status
    escalation_id: str


@dataclass
class _StepWork:
    """What firing one group's step writes, kept apart until the group's pages are
    built (a group that fails there writes none of it)."""

    due: DueRow
    standing: _Standing
    ladder: tuple[Any, ...] | None = None  # the ladder columns' new values
    rows: list[DueRow] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    send: list[NotifyDue] = field(default_factory=list)  # due at once
    items: list[OutboxItem] = field(default_factory=list)


class _Steps:
    """The escalation steps of a batch that are their group's only row in it (a storm's
    are): decided on the group's ladder columns, without reading, parsing or rewriting
    its JSON state, and each table written once for all of them. The JSON (alerts,
    labels) is read only for the groups whose page builds a notification.

    A step that fires as its escalation awaits it belongs to a class (policy, step,
    round: :func:`_class_key`): the class's first step is decided (``_fire``), and the
    others are written from that outcome with their own ids (:class:`_Class`). Any other
    step (stale, early) is decided on its own."""

    def __init__(self, txn: Txn, now: datetime, ctx: OncallContext) -> None:
        self.txn, self.now, self.ctx = txn, now, ctx
        self.ladders: dict[str, oncall_rows.Ladder] = {}
        self.works: dict[str, _StepWork] = {}  # steps decided one by one
        self.single: list[tuple[DueRow, oncall_rows.Ladder]] = []  # in no class
        # the steps of each class; once its first fired, the class's outcome and the rest
        self.classed: dict[tuple[str, int, int], list[tuple[DueRow, oncall_rows.Ladder]]] = {}
        self.fired: list[tuple[_Class, list[tuple[DueRow, oncall_rows.Ladder]]]] = []
        self.class_items: list[OutboxItem] = []
        self.class_audit: list[tuple[str, AuditEntry]] = []  # their pages withheld
        self.dropped: set[str] = set()  # groups of classed steps that failed

    def take(self, taken: Sequence[DueRow]) -> list[DueRow]:
        """Keep the rows this path handles; returns the others, in order."""
        per_group = Counter(d.group_id for d in taken)
        alone = [d for d in taken if d.kind == "step" and per_group[d.group_id] == 1]
        if not alone:
            return list(taken)
        # a step taken from its ladder came with it; a stored step row (written by a
        # replica older than migration 0013) has its ladder read
        self.ladders = {d.group_id: d.ladder for d in alone if d.ladder is not None}
        unread = [d.group_id for d in alone if d.ladder is None]
        if unread:
            self.ladders.update(oncall_rows.get_ladders(self.txn.conn, unread))
        now = to_micros(self.now)
        kept: set[str] = set()
        for due in alone:
            ladder = self.ladders.get(due.group_id)
            # a group without a lifecycle or an escalation takes the general path
            if ladder is not None and ladder.status and ladder.esc_id is not None:
                kept.add(due.group_id)
                key = _class_key(ladder, due.payload, now)
                if key is not None:
                    self.classed.setdefault(key, []).append((due, ladder))
                else:
                    self.single.append((due, ladder))
        return [d for d in taken if d.group_id not in kept]

    def fire(self, make_who: Callable[[], WhoIsOnCall]) -> list[DueRow]:
        """Fire every step, then build the pages due at once; returns the rows of the
        groups that failed (their changes dropped). ``make_who`` is the op's: the
        schedule overrides are read once per op, whichever path asks."""
        if not self.single and not self.classed:
            return []
        keys = {lad.policy for lad in self.ladders.values() if lad.policy is not None}
        snapshots = oncall_rows.policy_snapshots(self.txn.conn, keys)
        policies = {k: policy_from_json(v) for k, v in snapshots.items()}
        who: WhoIsOnCall = _memoized(make_who)
        plan: NotificationPlan = _memoized(self.ctx.plan)
        memo: StepMemo = {}
        failed: list[DueRow] = []

        def fire_one(due: DueRow, lad: oncall_rows.Ladder) -> StepOutcome | None:
            work = self.works[due.group_id] = _step_work(due, lad)
            try:
                return self._fire(work, lad, policies, who, plan, memo)
            except Exception:
                log.exception("on-call row %s of group %s failed", due.id, due.group_id)
                failed.append(self.works.pop(due.group_id).due)
                return None

        for due, lad in self.single:
            fire_one(due, lad)
        for members in self.classed.values():
            for i, (due, lad) in enumerate(members):  # the first that fires decides
                outcome = fire_one(due, lad)
                if outcome is not None:
                    found = _Class.of(self.works[due.group_id], outcome, plan, self.now)
                    self.fired.append((found, members[i + 1 :]))
                    break
        return failed + self._send()

    def _fire(
        self,
        work: _StepWork,
        lad: oncall_rows.Ladder,
        policies: dict[str, EscalationPolicy],
        who: WhoIsOnCall,
        plan: NotificationPlan,
        memo: StepMemo,
    ) -> StepOutcome:
        # what take() checked (esc_id) and what the row holds with it
        assert lad.esc_id is not None
        assert lad.policy is not None
        assert lad.started is not None
        awaited = None
        if lad.next_step is not None and lad.next_round is not None and lad.next_due is not None:
            awaited = StepDue(lad.esc_id, lad.next_step, lad.next_round, from_micros(lad.next_due))
        escalation = Escalation(
            lad.esc_id,
            lad.group_id,
            policies[lad.policy],
            from_micros(lad.started),
            lad.step,
            lad.round,
            lad.fired,
            awaited,
        )
        step = StepDue.from_json(work.due.payload)
        outcome = fire_step(
            escalation, work.standing, step, self.now, who, memo, self.ctx.reachable
        )
        group_id, now = lad.group_id, self.now
        fired = outcome.escalation
        if fired is not escalation:  # a stale row changes nothing
            nxt = fired.next_due
            work.ladder = (
                fired.step_index,
                fired.round,
                fired.fired,
                None if nxt is None else nxt.step_index,
                None if nxt is None else nxt.round,
                None if nxt is None else to_micros(nxt.due_at),
            )
        work.audit.extend(outcome.audit)
        _outcome_rows(group_id, outcome, plan, now, True, work.send, work.rows)
        return outcome

    def _send(self) -> list[DueRow]:
        """Build the pages due at once; the groups' JSON rows are read (once, together)
        only if a page needs one."""
        sending = [g for g, w in self.works.items() if w.send]
        sending += [lad.group_id for c, members in self.fired if c.send for _, lad in members]
        rows: dict[str, OncallGroupRow] | None = None

        def row_of(group_id: str) -> Callable[[], OncallGroupRow]:
            def read() -> OncallGroupRow:
                nonlocal rows
                if rows is None:
                    rows = oncall_rows.get_groups(self.txn.conn, sending)
                return rows[group_id]

            return read

        failed: list[DueRow] = []
        for group_id in [g for g, w in self.works.items() if w.send]:
            work = self.works[group_id]
            try:
                for notify in work.send:
                    if notify_stale_reason(notify, work.standing, self.now) is None:
                        paging = self.ctx.page_items(row_of(group_id), notify, self.now)
                        work.items.extend(paging.items)
                        work.audit.extend(_withheld(notify, paging, self.now))
            except Exception:
                log.exception("on-call row %s of group %s failed", work.due.id, group_id)
                failed.append(self.works.pop(group_id).due)
        for found, members in self.fired:
            for due, lad in members if found.send else ():
                made: list[OutboxItem] = []
                withheld: list[tuple[str, AuditEntry]] = []
                try:  # (due at once, of a firing group's current escalation: not stale)
                    for notify in found.sending(lad):
                        paging = self.ctx.page_items(row_of(lad.group_id), notify, self.now)
                        made += paging.items
                        withheld += [(lad.group_id, e) for e in _withheld(notify, paging, self.now)]
                except Exception:
                    log.exception("on-call row %s of group %s failed", due.id, lad.group_id)
                    failed.append(due)
                    self.dropped.add(lad.group_id)
                    continue
                self.class_items.extend(made)
                self.class_audit.extend(withheld)
        return failed

    def moved(self) -> set[str]:
        """The groups whose ladder :meth:`write` moves on (their steps fired)."""
        out = {w.due.group_id for w in self.works.values() if w.ladder is not None}
        for found, members in self.fired:
            if found.ladder is not None:
                out.update(lad.group_id for _, lad in members if lad.group_id not in self.dropped)
        return out

    def write(self) -> int:
        """Write every group's changes; returns the number of outbox items."""
        conn, works, dropped = self.txn.conn, self.works.values(), self.dropped
        ladders: dict[tuple[Any, ...], list[oncall_rows.Ladder]] = {}
        for w in works:
            if w.ladder is not None:
                ladders.setdefault(w.ladder, []).append(self.ladders[w.due.group_id])
        due_values: list[oncall_rows.DueValues] = []
        audit_values: list[oncall_rows.AuditValues] = []
        for found, members in self.fired:
            kept = [lad for _, lad in members if lad.group_id not in dropped]
            if found.ladder is not None and kept:
                ladders.setdefault(found.ladder, []).extend(kept)
            found.rows(kept, due_values, audit_values)
        oncall_rows.update_ladders(conn, ladders, to_micros(self.now), self.txn.rev)
        written = _write_rows(
            self.txn,
            [r for w in works for r in w.rows],
            [(w.due.group_id, e) for w in works for e in w.audit],
            [i for w in works for i in w.items] + self.class_items,
            due_values,
            audit_values,
        )
        # after the class's own lines (``audit_values``): a page comes after its step
        oncall_rows.add_audits(conn, self.class_audit)
        return written


def _step_work(due: DueRow, lad: oncall_rows.Ladder) -> _StepWork:
    return _StepWork(due, _Standing(Status(lad.status), lad.escalation_id or ""))


def _class_key(
    lad: oncall_rows.Ladder, payload: dict[str, Any], now: int
) -> tuple[str, int, int] | None:
    """The class of a step row that fires as its escalation awaits it (the row the
    ladder names, of the group's current escalation, firing, due): its policy, step and
    round; None for any other row (stale, early, malformed), which ``fire_step`` must
    judge (a malformed row fails there, alone). These are the conditions under which
    ``fire_step`` returns ``_fire``'s outcome, checked on the row's plain values."""
    step, round_, due = lad.next_step, lad.next_round, lad.next_due
    if (
        lad.status == "firing"
        and lad.policy is not None
        and step is not None
        and round_ is not None
        and due is not None
        and payload.get("escalation_id") == lad.esc_id == lad.escalation_id
        and payload.get("step_index") == step
        and payload.get("round") == round_
        and payload.get("due_at") == due
        and due <= now
    ):
        return (lad.policy, step, round_)
    return None


@dataclass(frozen=True)
class _Class:
    """What firing one step of one round of one frozen policy writes at one time, for
    any escalation: the first escalation's outcome, whose only escalation-specific
    values are its id and its group's (a storm fires thousands of these per batch).
    ``rows`` and ``sending`` make another escalation's from it with those two
    replaced, the rows straight in the statements' form: what ``_Steps._fire`` and
    ``_outcome_rows`` would make (tests/storage/test_oncall_ladder.py holds the two
    to the same result)."""

    ladder: tuple[Any, ...] | None
    audit: tuple[dict[str, Any], ...]  # the lines' JSON (AuditEntry.to_json)
    # the first escalation's notifications, expanded by the plan; those stored as rows
    # with their due rows' id prefix and due time in microseconds
    send: tuple[NotifyDue, ...]
    stored: tuple[tuple[NotifyDue, str, int], ...]

    @classmethod
    def of(
        cls, work: _StepWork, outcome: StepOutcome, plan: NotificationPlan, now: datetime
    ) -> _Class:
        notifies = expand_notifications(outcome.pages, plan) if outcome.pages else ()
        return cls(
            work.ladder,
            tuple(e.to_json() for e in outcome.audit),
            tuple(n for n in notifies if n.due_at <= now),
            tuple(
                (n, oncall_rows.due_id_prefix(n.due_at), to_micros(n.due_at))
                for n in notifies
                if n.due_at > now
            ),
        )

    def rows(
        self,
        members: Sequence[oncall_rows.Ladder],
        due: list[oncall_rows.DueValues],
        audit: list[oncall_rows.AuditValues],
    ) -> None:
        """Append the due rows and audit lines of the escalations of ``members``."""
        audit_values, due_values, due_id_from = (
            oncall_rows.audit_values,
            oncall_rows.due_values,
            oncall_rows.due_id_from,
        )
        for line in self.audit:
            audit.extend(
                audit_values(
                    g.group_id,
                    g.opened_at,
                    {**line, "group_key": g.group_id, "escalation_id": g.esc_id},
                )
                for g in members
            )
        for n, prefix, due_at in self.stored:
            due.extend(
                due_values(
                    due_id_from(prefix),
                    g.group_id,
                    "notify",
                    due_at,
                    _notify_of(n, g).to_json(),
                )
                for g in members
            )

    def sending(self, member: oncall_rows.Ladder) -> list[NotifyDue]:
        """The notifications due at once of the escalation of ``member``."""
        return [_notify_of(n, member) for n in self.send]


def _notify_of(n: NotifyDue, member: oncall_rows.Ladder) -> NotifyDue:
    """``n`` for the escalation of ``member``."""
    p = n.page
    assert member.esc_id is not None
    page = Page(
        member.esc_id,
        member.group_id,
        p.recipient,
        p.name,
        p.urgency,
        p.step_index,
        p.round,
        p.at,
        p.reason,
    )
    return NotifyDue(page, n.channel, n.due_at)


def _due_row(group_id: str, kind: str, due_at: datetime, payload: dict[str, Any]) -> DueRow:
    return DueRow(due_id(due_at), group_id, kind, due_at, payload)


def _outcome_rows(
    group_id: str,
    outcome: StepOutcome,
    plan: NotificationPlan | None,
    now: datetime,
    send_now: bool,
    send: list[NotifyDue],
    rows: list[DueRow],
) -> None:
    """The rows a fired step stores (``rows``: its notifications), except those due at
    once when ``send_now``: they go to ``send``, to be sent in this transaction and
    never stored (see :class:`ProcessDue`). Its next step is no row: the escalation
    awaits it (``Escalation.next_due``), and the ladder columns written with the
    escalation are what the worker takes it from."""
    if outcome.pages:
        for notify in expand_notifications(outcome.pages, plan):
            if send_now and notify.due_at <= now:
                send.append(notify)
            else:
                rows.append(_due_row(group_id, "notify", notify.due_at, notify.to_json()))


def _withheld(notify: NotifyDue, paging: Paging, now: datetime) -> list[AuditEntry]:
    """The trail's line for a page withheld (none for a page sent)."""
    if not paging.withheld:
        return []
    page = notify.page
    why = f"{page.name}: {paging.withheld}"
    return [AuditEntry(now, page.group_key, SYSTEM, Via.AUTO, "not paged", why, page.escalation_id)]


def _write_rows(
    txn: Txn,
    due: list[DueRow],
    audit: list[tuple[str, AuditEntry]],
    items: list[OutboxItem],
    due_values: Sequence[oncall_rows.DueValues] = (),
    audit_values: Sequence[oncall_rows.AuditValues] = (),
) -> int:
    """The rows both paths of an op write: due rows, audit lines, outbox items (each
    table in one statement), and where its pages went; returns the number of outbox
    items."""
    oncall_rows.add_due(txn.conn, due, due_values)
    oncall_rows.add_audits(txn.conn, audit, audit_values)
    outbox_rows.enqueue(txn.conn, items, txn.rev)
    paged = {
        (esc_id, i.receiver, i.integration)
        for i in items
        if (esc_id := page_escalation(i.idempotency_key)) is not None
    }
    oncall_rows.add_paged(txn.conn, paged)
    return len(items)


def _memoized(make: Callable[[], Callable[..., _R]]) -> Callable[..., _R]:
    """The function ``make()`` returns, made only if called, answering each distinct
    arguments once: a batch's steps ask who is on call in a schedule, and what a
    person's rules plan for a page, with the same arguments (one time, the batch's)."""
    made: list[Callable[..., _R]] = []
    answers: dict[tuple[Any, ...], _R] = {}

    def call(*args: Any) -> _R:
        if args in answers:
            return answers[args]
        if not made:
            made.append(make())
        found = answers[args] = made[0](*args)
        return found

    return call


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
    muted: Sequence[str] = ()  # fingerprints of the firing alerts silenced or inhibited


@dataclass
class Observe:
    observations: Sequence[Observation]
    now: datetime
    ctx: OncallContext

    def apply(self, txn: Txn) -> int:
        ids = (o.group_id for o in self.observations)
        batch = _Batch.read(txn, self.now, self.ctx, ids, keep_broken=True)
        observations = _known_ids(batch, self.observations)
        for o in observations:
            work = batch.work(o.group_id)
            state = None if work is None else work.lifecycle
            # A group whose escalation cannot be read (logged) that is still firing is
            # left as it is: its failing step keeps it on the overdue gauge. Resolving
            # it drops that escalation; firing again after that starts a new one.
            broken = o.group_id in batch.broken
            if broken and o.firing and state is not None and state.status is not Status.RESOLVED:
                continue
            if not o.firing and state is None:
                continue
            if work is None:
                row = OncallGroupRow(o.group_id, o.route_id, o.group_key, o.receiver, {}, self.now)
                work = batch.new(row)
            work.set_receiver(o.receiver)
            work.set("policy", o.policy)
            work.set("labels", o.labels)
            if o.firing:
                work.set("alerts", o.firing)
                work.apply(alerts_firing(state, o.group_id, self.now, o.firing, o.muted))
            else:
                assert state is not None
                # a responder reading the trail must not think a silenced problem is gone
                if o.muted:
                    why = "every alert still firing is silenced or inhibited"
                else:
                    why = "all alerts resolved"
                work.apply(alerts_resolved(state, self.now, why, o.muted))
        return batch.write()


def _known_ids(batch: _Batch, observations: Sequence[Observation]) -> list[Observation]:
    """The observations, each with the id its group has already (its row read into
    ``batch``).

    The id is computed from the route's id, which holds the route's position among its
    siblings (Alertmanager's ``Route.ID``): a reload that adds or removes a route above
    it changes it, and would start a second group that pages from the first step again
    for a problem already paged, acknowledged or resolved by hand. The group key and
    the receiver stay, and they make it the same group, as they make it the same for
    Alertmanager's notification log. So an observation whose computed id has no row, or
    a row of another receiver (a sibling route with the same matchers may have that id
    now), takes the row of its key and receiver if there is one; failing that, a row of
    another receiver at its id is its own, its receiver renamed by a reload."""
    out = list(observations)
    unsure = [
        n
        for n, o in enumerate(out)
        if (row := batch.rows.get(o.group_id)) is None or row.receiver != o.receiver
    ]
    if not unsure:  # the usual flush: every group where its id says
        return out
    found = oncall_rows.groups_of_keys(batch.txn.conn, {out[n].group_key for n in unsure})
    moved: set[str] = set()
    for n in unsure:
        o = out[n]
        same = [gid for gid, receiver in found.get(o.group_key, ()) if receiver == o.receiver]
        if same and o.group_id not in same:
            out[n] = replace(o, group_id=same[0])
            moved.add(same[0])
    batch.include(moved - batch.rows.keys(), keep_broken=True)
    return out


@dataclass
class HumanAction:
    """Acknowledge (or take it back), resolve or snooze, by someone, through some
    channel."""

    group_id: str
    action: str  # "ack" | "unack" | "resolve" | "snooze"
    who: str
    via: Via
    now: datetime
    ctx: OncallContext
    comment: str = ""
    duration: timedelta | None = None
    episode: str | None = None  # the escalation a page's link was for: only that one
    # Read again inside the transaction (``now`` is then the earliest it may say): an
    # acknowledgement that waited for another replica's step to commit happened after
    # that step's page, and its audit line must not say it came first.
    clock: Clock | None = None

    def apply(self, txn: Txn) -> dict[str, Any]:
        if self.clock is not None:
            self.now = max(self.now, self.clock())
        # A person may acknowledge or resolve a group whose escalation cannot be read
        # (it cannot page anyone anyway): the action drops that escalation. A snooze is
        # refused: when it ended, nothing would page again.
        batch = _Batch.read(txn, self.now, self.ctx, [self.group_id], keep_broken=True)
        work = batch.work(self.group_id)
        if work is None:
            raise LookupError(f"no on-call alert group {self.group_id!r}")
        if self.group_id in batch.broken and self.action == "snooze":
            raise OncallRefused(
                f"group {self.group_id}: its escalation cannot be read (its frozen policy "
                "is not stored), so a snooze would never page again: acknowledge or resolve it"
            )
        state = work.lifecycle
        if self.episode is not None and state.escalation_id != self.episode:
            raise OncallRefused(
                f"group {self.group_id}: this page was for an earlier firing of the group, "
                "which has since resolved and fired again: open the group to act on it now"
            )
        result: Transition | Refused
        if self.action == "ack":
            escalation = work.escalation
            timeout = None if escalation is None else escalation.policy_snapshot.ack_timeout
            result = acknowledge(
                state, self.now, self.who, self.via, ack_timeout=timeout, comment=self.comment
            )
        elif self.action == "unack":
            result = unacknowledge(state, self.now, self.who, self.via, comment=self.comment)
        elif self.action == "resolve":
            firing = work.row.state.get("alerts") or ()
            result = resolve(
                state, self.now, self.who, self.via, comment=self.comment, firing=firing
            )
        elif self.action == "snooze":
            result = snooze(
                state, self.now, self.who, self.via, self.duration, comment=self.comment
            )
        else:
            raise OncallRefused(f"unknown action {self.action!r}: ack, unack, resolve or snooze")
        if isinstance(result, Refused):
            raise OncallRefused(str(result))
        work.apply(result)
        batch.write()
        return work.row.state


@dataclass
class ProcessDue:
    """Take the due rows and act on each: fire a step, send a notification, end a
    snooze or an acknowledgement's grace period. Stale rows are taken (deleted; a stale
    step's ladder stops awaiting it) and do nothing (the pure functions say which
    are stale).

    A whole batch costs a handful of statements: one SELECT takes the due steps with
    their ladders, one DELETE the other due rows (nothing outside this transaction sees
    them gone, or the ladders moved on, before it commits, so no lease), one SELECT
    reads the groups of the rows that need their whole state, and each table is
    written once at the end. A
    notification that a step makes due at once is sent in the step's own transaction
    (and never stored), as it would be if it were taken right away. The steps that are
    their group's only row in the batch (a storm's) go through :class:`_Steps`, which
    reads and writes only the groups' ladder columns; the other rows read the groups'
    whole state. Both decide with the same pure functions.
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
    # after the commit: when the rows were taken, and the rows (for the lateness metric)
    on_taken: Callable[[datetime, Sequence[DueRow]], None] = lambda now, rows: None
    _took_any: bool = field(default=False, init=False, repr=False)
    # after a batch that took fewer rows than its limit (nothing more is due now): the
    # soonest due time from now on (rows this batch made included: a next step without
    # delay is due at once), or None; the engine sleeps until then
    next_due: datetime | None = field(default=None, init=False, repr=False)

    def apply(self, txn: Txn) -> int:
        started = time.perf_counter()
        now = self.clock()
        taken = oncall_rows.take_due(txn.conn, now, self.limit)
        self._took_any = bool(taken)
        txn.after_commit.append(lambda: self.on_claimed(len(taken)))
        if taken:
            txn.after_commit.append(lambda: self.on_taken(now, taken))
        txn.after_commit.append(lambda: self.on_committed(time.perf_counter() - started))
        steps = _Steps(txn, now, self.ctx)
        rest = steps.take(taken)
        batch = _Batch.read(txn, now, self.ctx, (d.group_id for d in rest))
        batch.send_now = True
        failed = self._act_on_all(batch, rest) + steps.fire(batch.who)
        written = batch.write() + steps.write()
        # a step taken from its ladder that did not move it on (a stale one) is done:
        # the ladder stops awaiting it. A group whose escalation changed in this op was
        # written with what it awaits now, whatever the order its rows were taken in;
        # failed ones are put off below.
        moved = steps.moved().union(g for g, w in batch.works.items() if w.escalated)
        moved.update(d.group_id for d in failed)
        oncall_rows.consume_steps(
            txn.conn, [d for d in taken if d.ladder is not None and d.group_id not in moved]
        )
        # last: a failed step's lease is on the ladder as the writes above left it
        oncall_rows.release_due(txn.conn, failed, now + self.retry)
        if len(taken) < self.limit:
            self.next_due = oncall_rows.next_due_from(txn.conn, now)
        return written

    def wrote_nothing(self, value: int) -> bool:
        # Nothing was due: no row or step was taken, and nothing else runs without one.
        return not self._took_any

    def _act_on_all(self, batch: _Batch, taken: Sequence[DueRow]) -> list[DueRow]:
        """Act on the rows in order; returns the rows to put back: all the rows of a
        group whose handling failed (its changes are dropped, the other groups' kept)."""
        failed = set(batch.broken)
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
                work.take(
                    fire_step(
                        escalation, state, step, work.now, batch.who(), None, self.ctx.reachable
                    )
                )
        elif due.kind == "notify":
            self._page(work, NotifyDue.from_json(due.payload))
        elif due.kind == "lifecycle":
            t = on_due(state, LifecycleDue.from_json(due.payload), work.now)
            if t is not None:
                work.apply(t)

    def _page(self, work: _Work, notify: NotifyDue) -> None:
        if notify_stale_reason(notify, work.lifecycle, work.now) is None:
            paging = self.ctx.page_items(lambda: work.row, notify, work.now)
            work.items.extend(paging.items)
            work.audit.extend(_withheld(notify, paging, work.now))

    def _send_due_pages(self, work: _Work) -> None:
        """Send the notifications this row just made due, in this transaction: taken
        later, they would wait behind every other row due before them. (They are not
        stored at all: a row would be written only to be taken in this transaction.
        If the group's handling fails, its changes are dropped, these with them.)"""
        for notify in work.notifies:
            self._page(work, notify)
        work.notifies.clear()
