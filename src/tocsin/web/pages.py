"""What each console page shows, built from the domain's own objects: pure functions of
their inputs and ``now``, so the routes in ``console`` only fetch and render."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from tocsin.alerts.model import Alert
from tocsin.alerts.silences import Silence, SilenceState, sort_key
from tocsin.core.alert_store import AlertView, ViewGroup
from tocsin.notify.payload import quote_meta
from tocsin.oncall.lifecycle import Status
from tocsin.oncall.schedules import Override, Shift, uncovered
from tocsin.store.oncall_rows import OncallGroupRow
from tocsin.timeutil import from_micros
from tocsin.web.forms import matchers_text

# Annotations a responder reads first, in this order; the others follow by name.
_FIRST_ANNOTATIONS = ("summary", "description", "message")


@dataclass(frozen=True)
class RunbookRef:
    name: str
    url: str


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    name: str
    labels: list[tuple[str, str]]  # those the group's labels do not already say
    annotations: list[tuple[str, str]]
    state: str
    silenced_by: tuple[str, ...]
    inhibited_by: tuple[str, ...]
    runbook: RunbookRef | None
    silence_url: str


@dataclass(frozen=True)
class AlertGroupBox:
    receiver: str
    labels: list[tuple[str, str]]
    alerts: list[AlertRow]
    hidden: int = 0  # the group's alerts not shown, all of them at more_url
    more_url: str = ""


# A storm's group holds thousands of alerts: its box shows the oldest this many and
# links to the rest, so the page stays small enough to load (it refreshes every 30 s)
# and the other groups are not pushed off the screen.
BOX_ALERTS = 25
# ... and the most severe this many groups, with a line saying how many more: a storm
# routed with group_by ['...'] is 10,000 groups of one alert (the page was 19.5 MB and
# took 4.7 s to build).
PAGE_GROUPS = 200
# The boxes, most severe first (an alert's ``severity`` label; other values last): a
# pager's critical groups are not under a big group of warnings that sorts before them.
_SEVERITY_RANK = {"critical": 0, "page": 0, "error": 1, "high": 1, "warning": 2, "info": 3}


def silence_url(labels: Mapping[str, str]) -> str:
    """The new-silence form, filled in with one equality matcher per label."""
    return "/ui/silences/new?" + urlencode({"matchers": matchers_text(labels)})


# How many different summaries the top of a group's page says (a storm's group of
# hundreds says its first few and how many alerts in all).
WRONG_SHOWN = 3


def what_is_wrong(alerts: Sequence[Alert]) -> list[tuple[str, int]]:
    """What a group's alerts say is wrong, for the top of its page: each different
    summary (else description, else alert name), the longest-firing first, with how
    many alerts say it, at most ``WRONG_SHOWN`` of them (a responder on a phone read the
    summary three screens down, below the forms and the checklist)."""
    said: Counter[str] = Counter()
    for a in sorted(alerts, key=lambda a: a.starts_at):
        text = (
            a.annotations.get("summary")
            or a.annotations.get("description")
            or a.labels.get("alertname", "")
        )
        said[text.strip()] += 1
    return list(said.items())[:WRONG_SHOWN]


def group_silence_url(group_id: str, labels: Sequence[tuple[str, str]]) -> str | None:
    """The new-silence form for a whole group: its group labels' matchers (every
    alert of the group has them), its id as the comment; None for a group with no
    labels (``group_by: []``), which a silence by its labels would not single out."""
    if not labels:
        return None
    query = {"matchers": matchers_text(dict(labels)), "comment": f"alert group {group_id}"}
    return "/ui/silences/new?" + urlencode(query)


def annotations_in_order(annotations: Mapping[str, str]) -> list[tuple[str, str]]:
    first = [(k, annotations[k]) for k in _FIRST_ANNOTATIONS if annotations.get(k)]
    rest = sorted((k, v) for k, v in annotations.items() if k not in _FIRST_ANNOTATIONS and v)
    return first + rest


def alert_groups(
    groups: Sequence[ViewGroup],
    runbook: Callable[[Alert], RunbookRef | None],
    cap: int | None = BOX_ALERTS,
    query: Mapping[str, str] | None = None,
    group_cap: int | None = PAGE_GROUPS,
) -> list[AlertGroupBox]:
    """The alerts page: one box per aggregation group, the most severe first (the first
    ``group_cap``; None: all), its alerts oldest first, at most ``cap`` of them (None:
    all); the others are at its ``more_url``, the page's ``query`` narrowed to the
    group."""
    boxes = []
    ordered = sorted(groups, key=_worst)  # stable: the groups' own order within a rank
    for g in ordered[:group_cap]:
        rows = alert_rows(g.alerts, runbook, g.labels, cap)
        hidden = len(g.alerts) - len(rows)
        more = ""
        if hidden:
            only = {"filter": matchers_text(g.labels), "receiver": quote_meta(g.receiver)}
            more = "/ui/alerts?" + urlencode({**(query or {}), **only, "all": "true"})
        boxes.append(AlertGroupBox(g.receiver, sorted(g.labels.items()), rows, hidden, more))
    return boxes


def _worst(group: ViewGroup) -> int:
    ranks = (_SEVERITY_RANK.get(v.alert.labels.get("severity", ""), 4) for v in group.alerts)
    return min(ranks, default=4)


def alert_rows(
    views: Iterable[AlertView],
    runbook: Callable[[Alert], RunbookRef | None],
    group: Mapping[str, str] | None = None,
    cap: int | None = None,
) -> list[AlertRow]:
    """Alerts oldest first, each once, the first ``cap`` (None: all); labels the
    ``group`` already shows left out."""
    ordered = sorted(views, key=lambda v: (v.alert.starts_at, v.alert.fingerprint))
    return [_alert_row(v, group or {}, runbook(v.alert)) for v in ordered[:cap]]


def _alert_row(view: AlertView, group: Mapping[str, str], runbook: RunbookRef | None) -> AlertRow:
    a = view.alert
    return AlertRow(
        alert=a,
        name=a.labels.get("alertname", ""),
        labels=sorted((k, v) for k, v in a.labels.items() if k != "alertname" and k not in group),
        annotations=annotations_in_order(a.annotations),
        state=view.status.state.value,
        silenced_by=view.status.silenced_by,
        inhibited_by=view.status.inhibited_by,
        runbook=runbook,
        silence_url=silence_url(a.labels),
    )


@dataclass(frozen=True)
class SilenceRow:
    silence: Silence
    state: str
    matchers: str
    muting: int  # firing alerts it silences now


def silences(
    found: Iterable[Silence], views: Iterable[AlertView], now: datetime
) -> dict[str, list[SilenceRow]]:
    """The silences page: active, pending and expired, each as Alertmanager orders them,
    with how many firing alerts each one mutes now."""
    muting = Counter(sid for v in views for sid in v.status.silenced_by)
    out: dict[str, list[SilenceRow]] = {s.value: [] for s in SilenceState}
    for s in sorted(found, key=lambda s: sort_key(s, now)):
        state = s.state(now).value
        out[state].append(SilenceRow(s, state, matchers_text(list(s.matchers)), muting[s.id]))
    return out


@dataclass(frozen=True)
class GroupRow:
    id: str
    receiver: str
    policy: str
    status: str
    labels: list[tuple[str, str]]
    alerts: int
    acknowledged_by: str
    since: datetime | None
    snoozed_until: datetime | None
    ack_deadline: datetime | None
    step: int | None
    round: int | None
    updated_at: datetime

    @property
    def open(self) -> bool:
        return self.status != Status.RESOLVED.value


def group_row(row: OncallGroupRow) -> GroupRow:
    life: Mapping[str, Any] = row.state.get("lifecycle") or {}
    escalation: Mapping[str, Any] = row.state.get("escalation") or {}
    return GroupRow(
        id=row.group_id,
        receiver=row.receiver,
        policy=str(row.state.get("policy") or ""),
        status=str(life.get("status") or ""),
        labels=sorted((row.state.get("labels") or {}).items()),
        alerts=len(row.state.get("alerts") or []),
        acknowledged_by=str(life.get("acknowledged_by") or ""),
        since=_time(life.get("since")),
        snoozed_until=_time(life.get("snoozed_until")),
        ack_deadline=_time(life.get("ack_deadline")),
        step=escalation.get("step_index"),
        round=escalation.get("round"),
        updated_at=row.updated_at,
    )


_STATUS_ORDER = {s.value: i for i, s in enumerate(Status)}


def group_rows(rows: Iterable[OncallGroupRow]) -> list[GroupRow]:
    """The on-call groups page: those that need someone first (firing, then
    acknowledged, snoozed, resolved), the most recently changed first within each."""
    out = [group_row(r) for r in rows]
    out.sort(key=lambda g: -g.updated_at.timestamp())
    out.sort(key=lambda g: _STATUS_ORDER.get(g.status, len(_STATUS_ORDER)))
    return out


def _time(micros: Any) -> datetime | None:
    return None if micros is None else from_micros(int(micros))


@dataclass(frozen=True)
class ShiftRow:
    """A row of a schedule's next days: a shift, or a gap (``person`` None: nobody is
    on call, and a page to the schedule then reaches nobody)."""

    person: str | None
    start: datetime
    end: datetime
    layer: str = ""
    source: str = ""


@dataclass(frozen=True)
class ScheduleBox:
    name: str
    zone: str  # the schedule's time zone: its rota is written in it, and shown in it
    now: list[Shift]
    nobody_until: datetime | None  # nobody is on call now, until then (None: someone is)
    upcoming: list[ShiftRow]  # shifts and gaps that start later, by start
    overrides: list[Override]  # those not over yet
    until: datetime  # the end of the window looked at: a shift ending there may go on

    def open_ended(self, row: Shift | ShiftRow) -> bool:
        return row.end >= self.until


def schedule_box(
    name: str,
    zone: str,
    timeline: Sequence[Shift],
    overrides: Sequence[Override],
    now: datetime,
    until: datetime,
) -> ScheduleBox:
    """Who holds a schedule now, and the shifts and gaps that start later, up to
    ``until`` (a shift or gap running now is shown once, as now's)."""
    current = [s for s in timeline if s.start <= now < s.end]
    gaps = uncovered(((s.start, s.end) for s in timeline), now, until)
    nobody_until = gaps[0][1] if gaps and gaps[0][0] <= now else None
    later = [ShiftRow(s.person, s.start, s.end, s.layer, s.source) for s in timeline]
    later += [ShiftRow(None, low, high) for low, high in gaps]
    upcoming = sorted((r for r in later if r.start > now), key=lambda r: r.start)
    return ScheduleBox(name, zone, current, nobody_until, upcoming, list(overrides), until)


# the audit columns the group page shows already, or nobody reading it needs (the
# comment of a checklist tick or a kept timer names its step or timer)
_AUDIT_SHOWN = frozenset(
    {"at", "who", "via", "action", "comment", "group_key", "checklist", "timer"}
)


def audit_detail(detail: Mapping[str, Any]) -> str:
    """What an audit line's stored entry says beyond its columns (the escalation it
    belongs to, say), as ``key: value`` pairs a person can read."""
    extra = sorted(
        (k, v) for k, v in detail.items() if k not in _AUDIT_SHOWN and v not in ("", None)
    )
    return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in extra)
