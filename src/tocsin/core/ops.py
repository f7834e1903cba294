"""Writer ops: each decides with the pure domain functions, then writes its rows.

They run on the group-commit thread (``tocsin.store.writer``) and see the batch's
overlays, so two changes to one alert in one batch see each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tocsin.alerts import model
from tocsin.alerts.model import Alert, PostedAlert
from tocsin.alerts.silences import Silence, SilenceNotFound, decide_set, expire
from tocsin.store import alert_rows, silence_rows
from tocsin.store.index import KeyedIndex
from tocsin.store.writer import Txn
from tocsin.timeutil import to_micros


@dataclass
class PutAlerts:
    posted: list[PostedAlert]
    now: datetime
    resolve_timeout: timedelta
    index: KeyedIndex[Alert]

    def apply(self, txn: Txn) -> list[Alert]:
        view = txn.overlay(self.index)
        stored: dict[str, Alert] = {}
        for p in self.posted:
            new = model.with_defaults(p, self.now, self.resolve_timeout)
            old = stored.get(new.fingerprint) or view.get(new.fingerprint)
            stored[new.fingerprint] = model.put(old, new, self.now)
        rows = list(stored.values())
        alert_rows.save(txn.conn, rows, txn.rev)
        for a in rows:
            view.set(a.fingerprint, a)
        return rows


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
    """Forget alerts resolved, and silences expired, longer than ``retention`` ago."""

    now: datetime
    retention: timedelta
    alerts: KeyedIndex[Alert]
    silences: KeyedIndex[Silence]

    def apply(self, txn: Txn) -> tuple[int, int]:
        cutoff = self.now - self.retention
        micros = to_micros(cutoff)
        n_alerts = alert_rows.delete_resolved_before(txn.conn, micros)
        n_silences = silence_rows.delete_expired_before(txn.conn, micros)
        alerts = txn.overlay(self.alerts)
        for a in self.alerts.values():
            if a.ends_at < cutoff:
                alerts.set(a.fingerprint, None)
        silences = txn.overlay(self.silences)
        for s in self.silences.values():
            if s.ends_at < cutoff:
                silences.set(s.id, None)
        return n_alerts, n_silences
