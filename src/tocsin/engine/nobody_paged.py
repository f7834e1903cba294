"""The loop that says when a page reached nobody: each round reads the firing groups
whose escalation ended with no page built (``oncall_rows.unheard``) and keeps their
``TocsinNobodyPaged`` alerts (``oncall.unheard``) in step with the store, as the
monitors keep theirs (``monitor_alerts.keep_in_step``): a group acknowledged, snoozed,
resolved, silenced or paging someone again has its alert resolved.

Read from the database, not told by the step that found nobody: the fact is committed
with the step, so a crash between the two loses nothing. The on-call engine kicks the
loop after a round that fired steps; it also runs every ``REFRESH``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from tocsin.alerts.model import Alert, PostedAlert
from tocsin.alerts.mutes import Muter
from tocsin.engine.monitor_alerts import Kind, RefreshLoop, keep_in_step
from tocsin.oncall.unheard import NOBODY_PAGED, nobody_paged_alert
from tocsin.runbooks.timer_alerts import GROUP_PAGE
from tocsin.store.oncall_rows import OncallGroupRow
from tocsin.timeutil import Clock

KIND = Kind("group", (NOBODY_PAGED,), "escalations", GROUP_PAGE)
# the audit actions of a step fired (``escalation.fire_step``): the last one says why
# nobody was found
_STEP_ACTIONS = ("escalated", "re-notified")

Unheard = Callable[[], Sequence[tuple[OncallGroupRow, Sequence[dict[str, Any]]]]]


class NobodyPaged(RefreshLoop):
    def __init__(
        self,
        clock: Clock,
        unheard: Unheard,
        alert: Callable[[str], Alert | None],
        silencer: Callable[[datetime], Muter],
        alerts: Callable[[], list[Alert]],
        post_alerts: Callable[[list[PostedAlert]], Awaitable[object]],
        base_url: str = "",
    ) -> None:
        super().__init__("nobody paged")
        self._clock = clock
        self._unheard = unheard  # the groups and their audit lines: reads the database
        self._alert = alert
        self._silencer = silencer
        self._alerts = alerts
        self._post = post_alerts
        self._base_url = base_url
        self.groups = 0  # groups that woke nobody at the last round, for /metrics

    async def check(self) -> None:
        # the store's alerts before the groups (as MonitorLoop.held): a group taken on
        # another replica meanwhile must not fire its alert again here
        held = list(self._alerts())
        found = await asyncio.to_thread(self._unheard)
        now = self._clock()
        silencer = self._silencer(now)
        wanted: list[PostedAlert] = []
        for row, audit in found:
            firing = [
                a
                for fp in row.state.get("alerts", [])
                if (a := self._alert(fp)) is not None and not a.resolved(now)
            ]
            # Not for a group whose alerts all are Tocsin's own about reaching nobody
            # (routed to a policy that reaches nobody, each would make another), nor
            # for one silenced since: no page is owed for it.
            if not firing or all(a.name == NOBODY_PAGED for a in firing):
                continue
            if all(silencer.muted_by(a.fingerprint, a.labels) for a in firing):
                continue
            step = next((x for x in reversed(audit) if x["action"] in _STEP_ACTIONS), None)
            said = str(step["comment"]) if step else "its escalation ended: its page says why"
            since = step["at"] if step else row.updated_at
            labels = row.state.get("labels") or {}
            wanted.append(
                nobody_paged_alert(
                    row.group_id, row.receiver, labels, said, since, now, self._base_url
                )
            )
        self.groups = len(wanted)
        await keep_in_step(KIND, wanted, held, self._post, now)
