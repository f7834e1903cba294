"""The maintenance desk: what the API, the CLI and the console do with planned
maintenance windows. Every change is one writer op (``core.maintenance_ops``),
committed with its silence before it is answered; reads go to the database, so every
replica shows the same windows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Engine

from tocsin.alerts.labels import NameValidation
from tocsin.alerts.matchers import Matcher
from tocsin.alerts.silences import Silence
from tocsin.config.model import IncidentSettings
from tocsin.config.receivers import Receiver
from tocsin.core.incidents import announced
from tocsin.core.maintenance_ops import ChangeMaintenance, ScheduleMaintenance, TellEdges
from tocsin.incidents.announce import maintenance_notice
from tocsin.incidents.maintenance import Maintenance, Plan
from tocsin.notify.outbox import OutboxItem
from tocsin.store import maintenance_rows
from tocsin.store.index import KeyedIndex
from tocsin.store.writer import GroupCommitter
from tocsin.timeutil import Clock

LIST_LIMIT = 500


class MaintenanceDesk:
    def __init__(
        self,
        engine: Engine,
        writer: GroupCommitter,
        clock: Clock,
        settings: Callable[[], IncidentSettings],
        silences: KeyedIndex[Silence],
        name_validation: NameValidation,
        on_change: Callable[[], None] = lambda: None,
        receiver: Callable[[str], Receiver | None] = lambda name: None,
        base_url: str = "",
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._clock = clock
        self.settings = settings
        self._silences = silences
        self._name_validation = name_validation
        self._on_change = on_change  # wakes the delivery worker: the announcements
        self._receiver = receiver
        self._base_url = base_url

    async def schedule(
        self,
        title: str,
        starts_at: datetime,
        ends_at: datetime,
        by: str,
        description: str = "",
        components: Sequence[str] = (),
        matchers: Sequence[Matcher] = (),
        public: bool = True,
    ) -> Maintenance:
        """Schedule a window (and its silence). Raises Refused naming the field."""
        op = ScheduleMaintenance(
            title,
            starts_at,
            ends_at,
            by,
            self._clock,
            self.settings().components,
            self._silences,
            self._name_validation,
            description,
            components,
            matchers,
            public,
            self.announcements,
        )
        made: Maintenance = await self._writer.run(op)
        self._on_change()
        return made

    async def change(self, maintenance_id: int, plan: Plan) -> Maintenance:
        """Change, cancel or finish a window. Raises LookupError or Refused."""
        op = ChangeMaintenance(
            maintenance_id,
            plan,
            self._clock,
            self.settings().components,
            self._silences,
            self._name_validation,
            self.announcements,
        )
        changed, _ = await self._writer.run(op)
        self._on_change()
        return changed

    def announcements(self, m: Maintenance, what: str, now: datetime) -> list[OutboxItem]:
        """The outbox items telling ``tocsin.incidents.announce``'s receivers the news
        of a public window."""
        note = partial(maintenance_notice, m, what, base_url=self._base_url, now=now)
        return announced(
            self.settings().announce,
            self._receiver,
            lambda name, key: note(receiver=name, key=key),
            now,
        )

    def untold(self) -> list[Maintenance]:
        """The public windows whose start or end is still to be announced."""
        with self._engine.connect() as conn:
            return maintenance_rows.untold(conn, LIST_LIMIT)

    async def tell_edges(self, maintenance_ids: Sequence[int]) -> int:
        """Announce the starts and ends now due of these windows; how many."""
        told: int = await self._writer.run(
            TellEdges(maintenance_ids, self._clock, self.announcements)
        )
        if told:
            self._on_change()
        return told

    def get(self, maintenance_id: int) -> Maintenance | None:
        with self._engine.connect() as conn:
            return maintenance_rows.get(conn, maintenance_id)

    def listing(self, past: bool = False) -> list[Maintenance]:
        """The windows not over yet, soonest first; with ``past``, every one, the most
        recently scheduled first."""
        with self._engine.connect() as conn:
            if past:
                return maintenance_rows.newest(conn, LIST_LIMIT)
            return maintenance_rows.ending_after(conn, self._clock(), LIST_LIMIT)

    def short_notice(self, m: Maintenance) -> timedelta | None:
        """The notice ``m`` was given, when less than ``tocsin.incidents.
        maintenance_notice`` asks ("announce at least 48 hours in advance"). None for a
        private window: it is announced to nobody, so no notice is owed."""
        wanted = self.settings().maintenance_notice
        return m.notice() if m.public and m.notice() < wanted else None
