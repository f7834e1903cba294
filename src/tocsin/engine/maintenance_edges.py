"""The loop that announces a public maintenance window's start and end (the
scheduling, a change, a cancellation or an early finish are announced by the change
itself): at the next window's start or end, at every change, and at least every
``REFRESH``. Several replicas may run it: the writer op reads each window's flags in
its transaction, so each start and end is announced once."""

from __future__ import annotations

import asyncio

from tocsin.core.maintenances import MaintenanceDesk
from tocsin.engine.monitor_alerts import RefreshLoop, seconds_until
from tocsin.incidents.maintenance import edge, next_edge
from tocsin.timeutil import Clock


class MaintenanceEdges(RefreshLoop):
    def __init__(self, desk: MaintenanceDesk, clock: Clock) -> None:
        super().__init__("maintenance announcements")
        self._desk = desk
        self._clock = clock

    async def check(self) -> None:
        untold = await asyncio.to_thread(self._desk.untold)
        now = self._clock()
        due = [m.id for m in untold if edge(m, now) is not None]
        if due:
            await self._desk.tell_edges(due)
            # read again: what this replica, or another first, has told since
            untold = await asyncio.to_thread(self._desk.untold)
        later = [t for t in map(next_edge, untold) if t is not None and t > now]
        self._sleep = seconds_until(later, now)
