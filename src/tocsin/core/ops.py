"""Writer ops: each decides with the pure domain functions, then writes its rows.

They run on the group-commit thread (``tocsin.store.writer``) and see the batch's
overlays, so two changes to one alert in one batch see each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from msgspec.structs import replace

from tocsin.alerts import model, pd_events
from tocsin.alerts.model import Alert
from tocsin.alerts.silences import Silence, SilenceNotFound, decide_set, expire
from tocsin.store import alert_rows, group_rows, oncall_rows, silence_rows
from tocsin.store.index import KeyedIndex, Overlay, SecondaryIndex
from tocsin.store.writer import Outcome, Txn
from tocsin.timeutil import to_micros


@dataclass
class PutAlerts:
    """Store received alerts, merged with what is held (Alertmanager's store).

    ``received`` already has Alertmanager's defaults (``model.with_defaults``), which
    need no stored state: the caller applies them on its own thread, so that the one
    writer thread, the bottleneck under an alert storm, only merges and writes.
    """

    received: list[Alert]
    now: datetime
    index: KeyedIndex[Alert]

    def apply(self, txn: Txn) -> list[Alert]:
        ((stored, error),) = self.apply_many(txn, [self])
        if error is not None:
            raise error
        return cast(list[Alert], stored)

    @classmethod
    def apply_many(cls, txn: Txn, ops: Sequence[PutAlerts]) -> list[Outcome]:
        """The puts of many requests with one statement: each decides against the
        overlay, so it sees the puts before it; the rows of all that were not refused
        are saved together (the last version of an alert put twice wins)."""
        outcomes: list[Outcome] = []
        rows: dict[str, tuple[Any, ...]] = {}
        for op in ops:
            view = txn.overlay(op.index)
            try:
                stored = op.decide(view)
                encoded = [alert_rows.to_row(a, txn.rev) for a in stored]
            except Exception as exc:  # refused before staging anything
                outcomes.append((None, exc))
                continue
            for a, row in zip(stored, encoded, strict=True):
                view.set(a.fingerprint, a)
                rows[a.fingerprint] = row
            outcomes.append((stored, None))
        alert_rows.save_rows(txn.conn, list(rows.values()))
        return outcomes

    def decide(self, view: Overlay[Alert]) -> list[Alert]:
        """The versions to store: the received alerts merged with what is held."""
        stored: dict[str, Alert] = {}
        for new in self.received:
            old = stored.get(new.fingerprint) or view.get(new.fingerprint)
            stored[new.fingerprint] = model.put(old, new, self.now)
        return list(stored.values())


@dataclass
class ApplyEvent:
    """A PagerDuty Events API trigger or resolve (``tocsin.alerts.pd_events``), decided
    in the transaction against the alerts held for its identity (integration and
    dedup_key), so two events of one identity in one batch see each other.

    A trigger fires ``fired`` and resolves the identity's other firing alerts (its
    labels changed); a resolve (``fired`` None) resolves them all."""

    integration: str
    dedup_key: str
    fired: Alert | None
    now: datetime
    index: KeyedIndex[Alert]
    by_event: SecondaryIndex[Alert]

    def apply(self, txn: Txn) -> list[Alert]:
        view = txn.overlay(self.index)
        # An end is stored as decided, not merged: a merge keeps the version written
        # last by its updated_at, and another replica's clock (or this one's, stepped
        # back) could make that the stored trigger, whose end is the year 9999.
        ended = [
            replace(
                old,
                starts_at=min(old.starts_at, self.now),
                ends_at=self.now,
                updated_at=max(old.updated_at, self.now),
                timeout=False,
            )
            for old in self._held(view)
            if self.fired is None or old.fingerprint != self.fired.fingerprint
        ]
        for alert in ended:
            view.set(alert.fingerprint, alert)
        alert_rows.save_rows(txn.conn, [alert_rows.to_row(a, txn.rev) for a in ended])
        if self.fired is None:
            return ended
        return [*ended, *PutAlerts([self.fired], self.now, self.index).apply(txn)]

    def wrote_nothing(self, value: list[Alert]) -> bool:
        return not value

    def _held(self, view: Overlay[Alert]) -> list[Alert]:
        """The identity's firing alerts, as this batch sees them: those the committed
        index knows by identity, and those this batch staged."""
        identity = (self.integration, self.dedup_key)
        found = set(self.by_event.get(identity))
        found.update(
            fp
            for fp, a in view.changes.items()
            if a is not None and pd_events.is_of(a.labels, *identity)
        )
        held: list[Alert] = []
        for fp in sorted(found):
            alert = view.get(fp)
            if alert is None:
                self.by_event.discard(identity, fp)  # forgotten since (garbage collected)
            elif pd_events.is_of(alert.labels, *identity) and not alert.resolved(self.now):
                held.append(alert)
        return held


class HandResolution(Protocol):
    """An op resolving an alert group by hand; its value is the group's state, and
    ``now``, once applied, the time it resolved it at."""

    now: datetime

    def apply(self, txn: Txn) -> dict[str, Any]: ...


@dataclass
class EndingEvents:
    """A group resolved by hand (``resolution``) ends, in the same transaction, the
    alerts PagerDuty events fired in it, as resolving a PagerDuty incident resolves its
    alerts: they fire until a resolve event, which a tool that only triggers never
    sends, and the next trigger of the dedup_key then fires anew and re-opens the
    group. Both or neither: a crash between would leave them firing for good."""

    resolution: HandResolution
    index: KeyedIndex[Alert]
    by_event: SecondaryIndex[Alert]

    def apply(self, txn: Txn) -> dict[str, Any]:
        state = self.resolution.apply(txn)
        now = self.resolution.now  # read in this transaction: the alerts end with it
        view = txn.overlay(self.index)
        for fp in state.get("alerts") or ():
            alert = view.get(fp)
            if alert is None or alert.resolved(now) or alert.ends_at != pd_events.OPEN_END:
                continue
            found = pd_events.identity_of(alert.labels)
            if found is not None:
                ApplyEvent(*found, None, now, self.index, self.by_event).apply(txn)
        return state


@dataclass
class SetSilence:
    silence: Silence  # id "" for a new silence
    now: datetime
    index: KeyedIndex[Silence]

    def apply(self, txn: Txn) -> str:
        view = txn.overlay(self.index)
        prev = None
        if self.silence.id:
            prev = view.get(self.silence.id)
            if prev is None:
                raise SilenceNotFound(f"silence {self.silence.id} not found")
        outcome = decide_set(prev, self.silence, self.now)
        changed = [outcome.stored] + ([outcome.expired] if outcome.expired else [])
        silence_rows.save(txn.conn, changed, txn.rev)
        for s in changed:
            view.set(s.id, s)
        return outcome.stored.id


@dataclass
class ExpireSilence:
    id: str
    now: datetime
    index: KeyedIndex[Silence]

    def apply(self, txn: Txn) -> Silence:
        view = txn.overlay(self.index)
        prev = view.get(self.id)
        if prev is None:
            raise SilenceNotFound(f"silence {self.id} not found")
        done = expire(prev, self.now)
        silence_rows.save(txn.conn, [done], txn.rev)
        view.set(done.id, done)
        return done


@dataclass
class CollectGarbage:
    """Forget alerts resolved, silences expired, and notification log entries written,
    longer than ``retention`` ago (Alertmanager's ``--data.retention`` for all three)."""

    now: datetime
    retention: timedelta
    alerts: KeyedIndex[Alert]
    silences: KeyedIndex[Silence]

    def apply(self, txn: Txn) -> tuple[int, int]:
        cutoff = self.now - self.retention
        micros = to_micros(cutoff)
        n_alerts = alert_rows.delete_resolved_before(txn.conn, micros)
        n_silences = silence_rows.delete_expired_before(txn.conn, micros)
        group_rows.forget_log_before(txn.conn, cutoff)
        oncall_rows.forget_paged_before(txn.conn, cutoff)
        alerts = txn.overlay(self.alerts)
        for a in self.alerts.values():
            if a.ends_at < cutoff:
                alerts.set(a.fingerprint, None)
        silences = txn.overlay(self.silences)
        for s in self.silences.values():
            if s.ends_at < cutoff:
                silences.set(s.id, None)
        return n_alerts, n_silences
