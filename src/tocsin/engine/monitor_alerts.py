"""Keeping a monitor kind's alerts in the store in step with what its monitors say.

Every check of a kind (heartbeats, probes) says which of its alerts should fire now
(``wanted``); this works out the posts that make the store agree:

- a wanted alert that is not firing is posted, and so is one whose words changed or
  whose end comes within half of ``FIRING_FOR`` (sent again before it runs out);
- a firing alert of the kind that is not wanted (its monitor answers again, or left
  the config, or changed its labels, and so its fingerprint) is resolved, now.

``in_step`` is pure; ``MonitorLoop`` is what the heartbeat and probe monitors share
around it (their loop, their config, posting what it decides).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from sqlalchemy import Engine

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import Alert, PostedAlert
from tocsin.engine.loop import KickedLoop
from tocsin.monitors.alerts import FIRING_FOR, MONITORS_PAGE
from tocsin.store.writer import GroupCommitter
from tocsin.timeutil import Clock

log = logging.getLogger(__name__)

# the longest a monitor's loop sleeps (a reload, a ping, a /run wake it sooner)
REFRESH = timedelta(minutes=1)


def seconds_until(times: Iterable[datetime], now: datetime) -> float:
    """A loop's sleep: until the soonest of ``times`` (none: ``REFRESH``), at most
    ``REFRESH``, at least 50 ms (a time just past does not spin the loop)."""
    wake = min(times, default=now + REFRESH)
    return max(0.05, min(REFRESH, wake - now).total_seconds())


@dataclass(frozen=True)
class Kind:
    label: str  # "heartbeat", "probe": the label naming the monitor
    alertnames: tuple[str, ...]
    config_key: str  # "heartbeats", "probes": its list under tocsin:
    # what its alerts' generatorURL holds (unset: its row on the monitors page)
    link_mark: str = ""

    @property
    def mark(self) -> str:
        return self.link_mark or f"{MONITORS_PAGE}{self.label}-"


def in_step(
    kind: Kind,
    wanted: Sequence[PostedAlert],
    held: Iterable[Alert],
    now: datetime,
) -> tuple[list[PostedAlert], list[str]]:
    """The posts that bring ``held`` (the store's alerts of this kind) in step with
    ``wanted``, and what changed, for the log (not every refresh)."""
    firing = {a.fingerprint: a for a in held if not a.resolved(now)}
    posts: list[PostedAlert] = []
    news: list[str] = []
    keep: set[str] = set()
    for alert in wanted:
        fp = fingerprint(alert.labels)
        keep.add(fp)
        found = firing.get(fp)
        name = f"{alert.labels[kind.label]}: {alert.labels['alertname']}"
        if found is None:
            posts.append(alert)
            news.append(f"{name} fires")
        elif found.annotations != alert.annotations or found.ends_at - now < FIRING_FOR / 2:
            posts.append(alert)
    for fp, found in firing.items():
        if fp not in keep:
            labels, annotations = dict(found.labels), dict(found.annotations)
            ended = PostedAlert(labels, annotations, found.starts_at, now, found.generator_url)
            posts.append(ended)
            news.append(f"{found.labels.get(kind.label, '')}: {found.name} resolved")
    return posts, news


def of_kind(kind: Kind, alerts: Iterable[Alert]) -> list[Alert]:
    """The store's alerts a monitor of ``kind`` raised: its alert names, its label, and
    its link to the console (an alert of that name someone else posts, a blackbox
    exporter's ``ProbeFailing{probe=...}`` say, is not Tocsin's to resolve)."""
    names, label, mark = kind.alertnames, kind.label, kind.mark
    return [
        a
        for a in alerts
        if a.labels.get("alertname") in names and label in a.labels and mark in a.generator_url
    ]


class Named(Protocol):
    @property
    def name(self) -> str: ...


SpecT = TypeVar("SpecT", bound=Named)


class RefreshLoop:
    """A loop whose ``check`` runs when kicked, when the time its last round set in
    ``_sleep`` has passed, and at least every ``REFRESH``: the monitors, the incident
    reminders, the runbook timers and the maintenance announcements."""

    def __init__(self, name: str) -> None:
        self.loop = KickedLoop(name)
        self._sleep = REFRESH.total_seconds()

    def kick(self) -> None:
        self.loop.kick()

    async def run(self) -> None:
        await self.loop.run(self.check, lambda: self._sleep)

    async def check(self) -> None:
        raise NotImplementedError


class MonitorLoop(RefreshLoop, Generic[SpecT]):
    """A monitor kind's loop: its configured monitors, and its alerts kept in step."""

    def __init__(
        self,
        kind: Kind,
        engine: Engine,
        writer: GroupCommitter,
        clock: Clock,
        specs: Callable[[], Sequence[SpecT]],
        alerts: Callable[[], list[Alert]],
        post_alerts: Callable[[list[PostedAlert]], Awaitable[object]],
        states: Sequence[str],
        base_url: str = "",
    ) -> None:
        super().__init__(kind.config_key)
        self.kind = kind
        self.base_url = base_url  # Tocsin's external URL: the alerts link to the console
        self._engine = engine
        self._writer = writer
        self._clock = clock
        self._specs = specs
        self._alerts = alerts  # the store's
        self._post = post_alerts
        # as the last round found them: what /metrics shows, without a database read
        self.counts: dict[str, int] = dict.fromkeys(states, 0)

    def spec(self, name: str) -> SpecT:
        """The configured monitor ``name``; LookupError (naming what there is) if none."""
        found = next((s for s in self._specs() if s.name == name), None)
        if found is None:
            have = ", ".join(s.name for s in self._specs()) or "none"
            key = self.kind.config_key
            raise LookupError(f"no {self.kind.label} {name!r} in tocsin.{key} (configured: {have})")
        return found

    def held(self) -> list[Alert]:
        """The store's alerts, as this replica knows them now. Take them before
        reading the monitors' rows: a state another replica changed after this read
        (a ping, a result) is in the rows read next, or the alert it resolved still
        shows firing here and is left alone. Read the other way round, a round could
        fire again an alert another replica had just resolved."""
        return list(self._alerts())

    async def keep_in_step(
        self, wanted: Sequence[PostedAlert], now: datetime, held: Iterable[Alert]
    ) -> None:
        await keep_in_step(self.kind, wanted, held, self._post, now)


async def keep_in_step(
    kind: Kind,
    wanted: Sequence[PostedAlert],
    alerts: Iterable[Alert],
    post: Callable[[list[PostedAlert]], Awaitable[object]],
    now: datetime,
) -> None:
    """Post what brings the store's alerts of ``kind`` (of ``alerts``) in step with
    ``wanted``, and log what changed."""
    posts, news = in_step(kind, wanted, of_kind(kind, alerts), now)
    if posts:
        await post(posts)
    if news:
        log.info("%s: %s", kind.config_key, "; ".join(news))
