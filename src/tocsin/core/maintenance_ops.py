"""Writer ops for maintenance windows: each decides with
``tocsin.incidents.maintenance`` at the transaction's own time, and writes the window
together with its silence, so the status page and the muting never disagree: a
window scheduled is silenced from the same commit; one moved, shortened or extended
moves its silence (Alertmanager's update rules: in place where they allow it, else a
new silence and the old one expired); one cancelled or finished early expires it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from tocsin.alerts.labels import NameValidation
from tocsin.alerts.matchers import Matcher
from tocsin.alerts.silences import (
    Silence,
    SilenceError,
    SilenceState,
    decide_set,
    expire,
    validate,
)
from tocsin.incidents.maintenance import (
    CANCELLED,
    COMPLETED,
    Maintenance,
    Plan,
    change,
    edge,
    schedule,
    silence_of,
    told,
)
from tocsin.incidents.model import Refused
from tocsin.notify.outbox import OutboxItem
from tocsin.store import maintenance_rows, outbox_rows, silence_rows
from tocsin.store.index import KeyedIndex
from tocsin.store.writer import Txn
from tocsin.timeutil import Clock

# the announcements of a window's news ("scheduled", "cancelled"...) at a time,
# committed with it (``MaintenanceDesk.announcements``)
Announce = Callable[[Maintenance, str, datetime], list[OutboxItem]]


def _no_one(m: Maintenance, what: str, now: datetime) -> list[OutboxItem]:
    return []


def news(before: Maintenance, after: Maintenance, now: datetime) -> str:
    """What a change of a window tells the people it is announced to."""
    if after.cancelled_at is not None:
        return "cancelled"
    if before.public and not after.public:
        return "withdrawn from the status page"
    if after.state(now) == COMPLETED:
        return "finished"
    if (after.starts_at, after.ends_at) != (before.starts_at, before.ends_at):
        return "rescheduled" if after.starts_at != before.starts_at else "new end"
    return "updated"


@dataclass
class ScheduleMaintenance:
    title: str
    starts_at: datetime
    ends_at: datetime
    by: str
    clock: Clock
    components: Sequence[str]  # the configured ones
    silences: KeyedIndex[Silence]
    name_validation: NameValidation
    description: str = ""
    affects: Sequence[str] = ()
    matchers: Sequence[Matcher] = ()
    public: bool = True
    announce: Announce = _no_one

    def apply(self, txn: Txn) -> Maintenance:
        """The window as stored. Raises Refused naming the field."""
        now = self.clock()
        draft = schedule(
            self.title,
            self.starts_at,
            self.ends_at,
            self.by,
            now,
            self.components,
            self.description,
            self.affects,
            self.matchers,
            self.public,
        )
        wanted = silence_of(draft)
        if wanted is not None:  # refused before anything is written: an op refused
            _validate(wanted, now, self.name_validation)  # writes nothing of its batch
        made = replace(draft, id=maintenance_rows.add(txn.conn, draft, txn.rev))
        made = _silenced(txn, made, now, self.silences, self.name_validation)
        maintenance_rows.save(txn.conn, made, txn.rev)
        if made.public:  # a private window is the responders' own: no one is told
            outbox_rows.enqueue(txn.conn, self.announce(made, "scheduled", now), txn.rev)
        return made


@dataclass
class ChangeMaintenance:
    maintenance_id: int
    plan: Plan
    clock: Clock
    components: Sequence[str]
    silences: KeyedIndex[Silence]
    name_validation: NameValidation
    announce: Announce = _no_one

    def apply(self, txn: Txn) -> tuple[Maintenance, bool]:
        """The window after the change, and whether it changed. Raises LookupError
        for no such window, Refused for a change it cannot take."""
        found = maintenance_rows.get(txn.conn, self.maintenance_id)
        if found is None:
            raise LookupError(f"no maintenance {self.maintenance_id}")
        now = self.clock()
        changed = change(found, self.plan, now, self.components)
        if replace(changed, updated_at=found.updated_at) == found:  # nothing but the time
            return found, False
        rematched = changed.matchers != found.matchers
        changed = _silenced(txn, changed, now, self.silences, self.name_validation, rematched)
        maintenance_rows.save(txn.conn, changed, txn.rev)
        # made private: told once more, that it is off; over already: nothing to tell
        over = found.state(now) in (CANCELLED, COMPLETED)
        if (changed.public or found.public) and not over:
            items = self.announce(changed, news(found, changed, now), now)
            outbox_rows.enqueue(txn.conn, items, txn.rev)
        return changed, True

    def wrote_nothing(self, value: tuple[Maintenance, bool]) -> bool:
        return not value[1]


@dataclass
class TellEdges:
    """Announce the starts and ends of the given windows that are due at the
    transaction's time: each at most once, whichever replica's loop comes first (the
    row is read, and its flags set, in the transaction)."""

    maintenance_ids: Sequence[int]
    clock: Clock
    announce: Announce

    def apply(self, txn: Txn) -> int:
        now = self.clock()
        told_now = 0
        for maintenance_id in self.maintenance_ids:
            found = maintenance_rows.get(txn.conn, maintenance_id)
            what = None if found is None else edge(found, now)
            if found is None or what is None:
                continue
            said = told(found, what, now)
            maintenance_rows.save(txn.conn, said, txn.rev)
            outbox_rows.enqueue(txn.conn, self.announce(said, what, now), txn.rev)
            told_now += 1
        return told_now

    def wrote_nothing(self, value: int) -> bool:
        return value == 0


def _silenced(
    txn: Txn,
    m: Maintenance,
    now: datetime,
    index: KeyedIndex[Silence],
    mode: NameValidation,
    rematched: bool = False,
) -> Maintenance:
    """``m`` with its silence written to match it; the silence's id recorded.
    ``rematched``: its matchers changed, which asks for a silence of them afresh."""
    view = txn.overlay(index)
    prev = view.get(m.silence_id) if m.silence_id else None
    wanted = silence_of(m)
    over = m.state(now) in (CANCELLED, COMPLETED)
    if wanted is None or over:
        if wanted is None and not over:
            m = replace(m, silence_id="")  # matchers taken away: no silence of its own
        if prev is not None and prev.state(now) is not SilenceState.EXPIRED:
            done = expire(prev, now)
            silence_rows.save(txn.conn, [done], txn.rev)
            view.set(done.id, done)
        return m
    if prev is not None and prev.state(now) is SilenceState.EXPIRED:
        if not rematched:
            # expired before its window ended: by someone, on purpose (to let the
            # alerts through); another change of the window does not bring it back
            return m
        prev = None
    if prev is None:  # never made, or expired long ago and forgotten: a new one
        wanted = replace(wanted, id="")
    elif prev.state(now) is SilenceState.ACTIVE and wanted.starts_at <= now:
        # a running window's silence started when it was made (Alertmanager moves a
        # start in the past to the present): keep that start, so that a new end
        # updates it in place rather than replacing it
        wanted = replace(wanted, starts_at=prev.starts_at)
    _validate(wanted, now, mode)
    outcome = decide_set(prev, replace(wanted, updated_at=now), now)
    changed = [outcome.stored] + ([outcome.expired] if outcome.expired else [])
    silence_rows.save(txn.conn, changed, txn.rev)
    for s in changed:
        view.set(s.id, s)
    return replace(m, silence_id=outcome.stored.id)


def _validate(wanted: Silence, now: datetime, mode: NameValidation) -> None:
    try:
        validate(wanted, now, mode)
    except SilenceError as exc:  # its message starts with the field: "matchers[0].name: ..."
        field, _, message = str(exc).partition(": ")
        raise Refused(field, message) from None
