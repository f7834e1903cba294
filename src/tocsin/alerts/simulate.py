"""A deterministic, fake-clock run of the alert pipeline: posts and silences in,
notifications out.

It answers "a day of alerts through this configuration produces exactly these
notifications at exactly these times" in milliseconds, by composing the same pure
pieces the engine uses: the alert model's defaults and merge, the routing tree, the
grouping transitions, inhibition and silences, and the notification decision with its
log. It is also the reference driver for the engine: it keeps the due time of every
group only from the :class:`~tocsin.alerts.grouping.ScheduleFlush` and
:class:`~tocsin.alerts.grouping.DeleteGroup` actions, as the engine's due-time rows will.

Simultaneity is resolved one way, always: at an instant, posts are applied first (in
the order given), then the groups due at that instant are flushed in routing-tree order
and then by group key, and every flush settles as delivered at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tocsin.alerts.grouping import (
    DeleteGroup,
    GroupAction,
    GroupState,
    NotifyBatch,
    ScheduleFlush,
    Transition,
    on_alert,
    on_flush_due,
    on_flush_settled,
)
from tocsin.alerts.inhibit import Inhibitor, rules_from_config
from tocsin.alerts.labels import LabelSet
from tocsin.alerts.model import Alert, PostedAlert, put, with_defaults
from tocsin.alerts.mutes import Muter, SilenceMuter
from tocsin.alerts.notify_decision import (
    Integration,
    LogEntry,
    LogKey,
    Reason,
    integrations_of,
    plan_flush,
)
from tocsin.alerts.routing import RouteNode, build_route_tree, group_key, match
from tocsin.alerts.silences import Silence
from tocsin.config import Config

__all__ = ["Notification", "Post", "SimulationResult", "prometheus_posts", "simulate"]

GroupId = tuple[str, str]  # (route id, group key)


@dataclass(frozen=True, slots=True)
class Post:
    """One alert as a client posts it to ``/api/v2/alerts`` at ``at``."""

    at: datetime
    labels: Mapping[str, str]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notification:
    """A message that reached an integration: alerts by fingerprint, sorted."""

    at: datetime
    receiver: str
    integration: str
    group_key: str
    firing: tuple[str, ...]
    resolved: tuple[str, ...]
    reason: Reason


@dataclass(frozen=True, slots=True)
class SimulationResult:
    notifications: tuple[Notification, ...]
    groups: Mapping[GroupId, GroupState]  # the groups still alive at the end
    log: Mapping[LogKey, LogEntry]
    alerts: Mapping[str, Alert]  # the alert store at the end


def prometheus_posts(
    labels: Mapping[str, str],
    fires_at: datetime,
    resolves_at: datetime | None,
    *,
    until: datetime,
    resend: timedelta = timedelta(minutes=1),
    resolved_for: timedelta = timedelta(minutes=15),
) -> list[Post]:
    """The posts Prometheus makes for one alert rule instance.

    While firing it re-sends every ``resend`` with ``startsAt`` the firing time and
    ``endsAt`` four resends ahead; when the condition clears it sends ``endsAt`` = the
    resolve time and keeps re-sending that resolved alert every ``resend`` for
    ``resolved_for`` (Prometheus' resolved retention, 15 minutes).
    """
    posts: list[Post] = []
    t = fires_at
    while t <= until and (resolves_at is None or t < resolves_at):
        posts.append(Post(t, dict(labels), starts_at=fires_at, ends_at=t + 4 * resend))
        t += resend
    if resolves_at is not None:
        t = resolves_at
        while t <= min(until, resolves_at + resolved_for):
            posts.append(Post(t, dict(labels), starts_at=fires_at, ends_at=resolves_at))
            t += resend
    return posts


def simulate(
    config: Config,
    posts: Iterable[Post],
    until: datetime,
    *,
    silences: Sequence[Silence] = (),
) -> SimulationResult:
    """Run ``posts`` (any order; stable by time) through ``config`` up to ``until``.

    ``silences`` are active between their own start and end times.
    """
    return _Run(config, silences).run(sorted(posts, key=lambda p: p.at), until)


class _InhibitMuter:
    def __init__(self, inhibitor: Inhibitor) -> None:
        self._inhibitor = inhibitor

    def muted_by(self, fingerprint: str, labels: LabelSet) -> list[str]:
        return self._inhibitor.inhibited_by(fingerprint, labels)


class _Run:
    """The mutable bookkeeping of one simulation; every decision is delegated."""

    def __init__(self, config: Config, silences: Sequence[Silence]) -> None:
        self.config = config
        self.silences = silences
        self.root = build_route_tree(config)
        self.order = {node.id(): index for index, node in enumerate(self.root.walk())}
        self.nodes: dict[str, RouteNode] = {node.id(): node for node in self.root.walk()}
        self.rules = rules_from_config(config)
        self.intervals = config.named_time_intervals()
        self.integrations: dict[str, tuple[Integration, ...]] = {
            r.name: integrations_of(r) for r in config.receivers
        }
        self.store: dict[str, Alert] = {}
        self.groups: dict[GroupId, GroupState] = {}
        self.due: dict[GroupId, datetime] = {}
        self.log: dict[LogKey, LogEntry] = {}
        self.sent: list[Notification] = []

    def run(self, posts: Sequence[Post], until: datetime) -> SimulationResult:
        i = 0
        while True:
            next_post = posts[i].at if i < len(posts) else None
            next_due = min(self.due.values(), default=None)
            if next_post is not None and (next_due is None or next_post <= next_due):
                if next_post > until:
                    break
                while i < len(posts) and posts[i].at == next_post:
                    self._post(posts[i])
                    i += 1
            elif next_due is not None and next_due <= until:
                for gid in sorted(
                    (g for g, at in self.due.items() if at == next_due),
                    key=lambda g: (self.order[g[0]], g[1]),
                ):
                    self._flush(gid, next_due)
            else:
                break
        return SimulationResult(tuple(self.sent), dict(self.groups), dict(self.log), self.store)

    def _post(self, post: Post) -> None:
        now = post.at
        posted = PostedAlert(
            labels=dict(post.labels),
            annotations=dict(post.annotations),
            starts_at=post.starts_at,
            ends_at=post.ends_at,
            generator_url="",
        )
        new = with_defaults(posted, now, self.config.global_.resolve_timeout)
        alert = put(self.store.get(new.fingerprint), new, now)
        self.store[alert.fingerprint] = alert
        for node in match(self.root, alert.labels):
            gid = (node.id(), group_key(node, alert.labels))
            self._apply(gid, on_alert(self.groups.get(gid), alert, now, node))

    def _flush(self, gid: GroupId, now: datetime) -> None:
        node = self.nodes[gid[0]]
        state = self.groups.get(gid)
        if state is None:  # cannot happen while due rows follow the actions; be safe
            self.due.pop(gid, None)
            return
        transition = on_flush_due(state, now, node)
        self._apply(gid, transition)
        for action in transition.actions:
            if isinstance(action, NotifyBatch):
                self._notify(action, node, now)
                settled = on_flush_settled(self.groups[gid], action.batch, delivered=True)
                self._apply(gid, settled)

    def _notify(self, action: NotifyBatch, node: RouteNode, now: datetime) -> None:
        batch = action.batch
        inhibitor = Inhibitor(
            self.rules, ((a.fingerprint, a.labels, a.ends_at) for a in self.store.values()), now
        )
        muters: list[Muter] = [_InhibitMuter(inhibitor), SilenceMuter(self.silences, now)]
        plan = plan_flush(
            batch,
            route=node,
            integrations=self.integrations.get(batch.receiver, ()),
            intervals=self.intervals,
            muters=muters,
            log=self.log,
            now=now,
        )
        for decision in plan.notifications:
            self.sent.append(
                Notification(
                    at=now,
                    receiver=decision.integration.receiver,
                    integration=decision.integration.name,
                    group_key=batch.group_key,
                    firing=tuple(sorted(decision.firing)),
                    resolved=tuple(sorted(decision.resolved)),
                    reason=decision.reason,
                )
            )
        for entry in plan.log_entries:
            self.log[entry.key] = entry

    def _apply(self, gid: GroupId, transition: Transition) -> None:
        """Keep state and due times exactly as an engine would from the actions."""
        if transition.state is None:
            self.groups.pop(gid, None)
        else:
            self.groups[gid] = transition.state
        for action in transition.actions:
            _due_row(self.due, action)


def _due_row(due: dict[GroupId, datetime], action: GroupAction) -> None:
    if isinstance(action, ScheduleFlush):
        due[(action.route_id, action.group_key)] = action.due_at
    elif isinstance(action, DeleteGroup):
        due.pop((action.route_id, action.group_key), None)
