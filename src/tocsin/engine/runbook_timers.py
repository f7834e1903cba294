"""The runbook-timer loop: the timers of alert groups' runbooks that ran out with
nobody keeping them raise ``RunbookTimerOverdue`` (``runbooks.timer_alerts``), kept in
step with the store as the monitors' alerts are (``monitor_alerts.keep_in_step``): a
timer kept, closed, or re-opened with its group, has its alert resolved.

Each round asks the runtime for the timers of the groups that may have some running
(open, or resolved within ``LOOKBACK``: post-incident work runs from the resolution);
it wakes when the next running timer falls due, and at least every ``REFRESH``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from tocsin.alerts.model import Alert, PostedAlert
from tocsin.engine.monitor_alerts import Kind, RefreshLoop, keep_in_step, seconds_until
from tocsin.runbooks.timer_alerts import GROUP_PAGE, OVERDUE, overdue_alert
from tocsin.runbooks.timers import Timer
from tocsin.store.oncall_rows import OncallGroupRow
from tocsin.timeutil import Clock

KIND = Kind("group", (OVERDUE,), "runbook timers", GROUP_PAGE)
# How long after its resolution a group's timers are still looked at: the longest
# post-incident promise of the shared runbooks is a week ("Long-term (within 1 week)").
LOOKBACK = timedelta(days=8)

GroupTimers = Callable[[datetime], Sequence[tuple[OncallGroupRow, Sequence[Timer]]]]


class RunbookTimerAlerts(RefreshLoop):
    def __init__(
        self,
        clock: Clock,
        timers: GroupTimers,
        alerts: Callable[[], list[Alert]],
        post_alerts: Callable[[list[PostedAlert]], Awaitable[object]],
        base_url: str = "",
    ) -> None:
        super().__init__("runbook timers")
        self._clock = clock
        self._timers = timers  # reads the database: run on a thread
        self._alerts = alerts
        self._post = post_alerts
        self._base_url = base_url

    async def check(self) -> None:
        # the store's alerts before the timers (as MonitorLoop.held): a timer kept on
        # another replica meanwhile must not fire again here
        held = list(self._alerts())
        now = self._clock()
        found = await asyncio.to_thread(self._timers, now)
        wanted: list[PostedAlert] = []
        upcoming: list[datetime] = []
        for row, timers in found:
            labels = row.state.get("labels") or {}
            for t in timers:
                made = overdue_alert(row.group_id, labels, t, now, self._base_url)
                wanted += [made] if made else []
                if t.state == "running" and t.keepable and t.due_at is not None:
                    upcoming.append(t.due_at)
        await keep_in_step(KIND, wanted, held, self._post, now)
        self._sleep = seconds_until(upcoming, now)
