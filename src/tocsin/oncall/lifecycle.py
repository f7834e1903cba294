"""The on-call state of an alert group: firing, acknowledged, snoozed, resolved.

Every change is a pure function ``(state, input, now) -> Transition | Refused``: the new
state, the actions the engine must take on the group's escalation (start it, stop it,
pause it, resume it, schedule a wake-up row) and one audit entry saying who did what,
when, through which channel and why. Nothing here reads a clock or a database, so the
caller stores the state, the audit entry and the due rows in one transaction.

Rules (PagerDuty's and Grafana OnCall's, where they agree):

* Alerts firing in a new or resolved group start a new escalation, with a new id: rows
  left over from the previous one see an id that is not the group's and do nothing.
  Alerts joining a group that is still open change nothing.
* Acknowledging stops escalation. With an ``ack_timeout`` a wake-up row is scheduled;
  if it comes due while the group is still acknowledged by that same acknowledgement,
  the group goes back to firing and the current step is re-notified. Those the
  escalation paged so far are told who took it (Opsgenie's "acknowledged" notice).
* Resolving (by hand, or automatically when all its alerts resolved) stops escalation
  for good. A group resolved by hand while alerts still fire in it stays resolved as
  long as only those alerts fire (Alertmanager re-sends them every group_interval or
  repeat_interval: the responder has said they are handled); an alert that was not
  firing then (a new one, or one of them firing again after it resolved) re-opens it.
* Snoozing (from firing or acknowledged) pauses escalation until a time. When the
  snooze ends the group fires again and escalation *resumes from the step it was at*:
  that step's targets are notified again and the ladder goes on from there with the
  normal delays. Restarting from the first step (OnCall's "unsilence") would page the
  primary again after the backup had already been reached; skipping to the next step
  would page someone new without the current responder being reminded. This is what
  PagerDuty (the incident re-triggers at its current level) and VictorOps (paging
  resumes on the previously paged policy) do. Snoozing replaces a pending
  acknowledgement timeout, and acknowledging a snoozed group cancels the snooze.

Wake-up rows (:class:`LifecycleDue`) are checked against the state when they come due:
a snooze that was extended or cancelled, or an acknowledgement that was renewed, turns
the old row stale and :func:`on_due` returns ``None``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from tocsin.config.durations import format_duration
from tocsin.timeutil import format_rfc3339, from_micros, to_micros

__all__ = [
    "SYSTEM",
    "Action",
    "AuditEntry",
    "DueKind",
    "GroupState",
    "LifecycleDue",
    "PauseEscalation",
    "Refused",
    "ResumeEscalation",
    "ScheduleDue",
    "StartEscalation",
    "Status",
    "StopEscalation",
    "TellAcknowledged",
    "TellResolved",
    "Transition",
    "Via",
    "acknowledge",
    "alerts_firing",
    "alerts_resolved",
    "escalation_id_for",
    "on_due",
    "pending_acts",
    "resolve",
    "snooze",
    "snooze_problem",
    "unacknowledge",
]

SYSTEM = "tocsin"
"""``who`` for transitions Tocsin makes on its own (auto-resolve, timeouts)."""


class Status(StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Via(StrEnum):
    """The channel a transition came through, for the audit trail."""

    API = "api"
    CLI = "cli"
    SLACK = "slack"
    EMAIL_LINK = "email-link"
    CONSOLE = "console"
    EVENTS_API = "events-api"  # a PagerDuty Events API v2 acknowledge event
    AUTO = "auto"


class DueKind(StrEnum):
    SNOOZE_END = "snooze-end"
    ACK_TIMEOUT = "ack-timeout"


def escalation_id_for(group_key: str, number: int) -> str:
    """Escalation ids are ``<group key>#<n>``: unique per group, reproducible in a
    simulation, and newer ids are visibly newer when reading rows by hand."""
    return f"{group_key}#{number}"


def _opt_time(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def _from_opt(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


class AuditEntry(Struct, frozen=True):
    """One line of a group's history: who did what, when, through which channel."""

    at: datetime
    group_key: str
    who: str
    via: Via
    action: str
    comment: str = ""
    escalation_id: str = ""
    # the runbook step a checklist tick is about (runbooks.checklist.StepRef.detail)
    checklist: Mapping[str, Any] | None = None
    # the runbook timer a person kept (runbooks.timers.Timer.detail)
    timer: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "at": to_micros(self.at),
            "group_key": self.group_key,
            "who": self.who,
            "via": self.via.value,
            "action": self.action,
            "comment": self.comment,
            "escalation_id": self.escalation_id,
        }
        if self.checklist is not None:
            out["checklist"] = dict(self.checklist)
        if self.timer is not None:
            out["timer"] = dict(self.timer)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditEntry:
        return cls(
            at=from_micros(data["at"]),
            group_key=data["group_key"],
            who=data["who"],
            via=Via(data["via"]),
            action=data["action"],
            comment=data["comment"],
            escalation_id=data["escalation_id"],
            checklist=data.get("checklist"),
            timer=data.get("timer"),
        )


class GroupState(Struct, frozen=True):
    """Where one alert group stands. ``escalation_id`` is the current escalation;
    due rows carrying another id are stale. ``ack_deadline`` and ``snoozed_until``
    are the times the pending wake-up row must carry to still count."""

    group_key: str
    status: Status
    escalation_id: str
    escalations: int
    since: datetime
    acknowledged_by: str = ""
    ack_deadline: datetime | None = None
    # snoozed with no end: every alert still firing is silenced or inhibited, and the
    # escalation waits until one fires unmuted again (see ``muted``)
    snoozed_until: datetime | None = None
    # resolved by hand: the fingerprints that were firing then and have not resolved
    # since (those do not re-open the group)
    held: tuple[str, ...] = ()

    @property
    def muted(self) -> bool:
        """Snoozed by silences or inhibition rather than by a person: until an alert
        fires unmuted again (then the escalation resumes) or they all resolve."""
        return self.status is Status.SNOOZED and self.snoozed_until is None

    def to_json(self) -> dict[str, Any]:
        return {
            "group_key": self.group_key,
            "status": self.status.value,
            "escalation_id": self.escalation_id,
            "escalations": self.escalations,
            "since": to_micros(self.since),
            "acknowledged_by": self.acknowledged_by,
            "ack_deadline": _opt_time(self.ack_deadline),
            "snoozed_until": _opt_time(self.snoozed_until),
            "held": list(self.held),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GroupState:
        return cls(
            group_key=data["group_key"],
            status=Status(data["status"]),
            escalation_id=data["escalation_id"],
            escalations=data["escalations"],
            since=from_micros(data["since"]),
            acknowledged_by=data["acknowledged_by"],
            ack_deadline=_from_opt(data["ack_deadline"]),
            snoozed_until=_from_opt(data["snoozed_until"]),
            held=tuple(data.get("held", ())),  # absent from rows stored before it existed
        )


class LifecycleDue(Struct, frozen=True):
    """A wake-up row: the end of a snooze or of an acknowledgement's grace period."""

    kind: DueKind
    group_key: str
    escalation_id: str
    due_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "group_key": self.group_key,
            "escalation_id": self.escalation_id,
            "due_at": to_micros(self.due_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LifecycleDue:
        return cls(
            kind=DueKind(data["kind"]),
            group_key=data["group_key"],
            escalation_id=data["escalation_id"],
            due_at=from_micros(data["due_at"]),
        )


# --- actions the engine takes on the escalation ----------------------------------------


class StartEscalation(Struct, frozen=True):
    """Freeze the group's policy into a new escalation with this id and run it."""

    escalation_id: str


class StopEscalation(Struct, frozen=True):
    """No more steps. ``final`` is False for an acknowledgement (an ack timeout may
    resume the same escalation) and True for a resolution."""

    escalation_id: str
    final: bool


class TellResolved(Struct, frozen=True):
    """Every alert of the group has resolved (not merely been muted): those its
    escalation paged are told, once, whether it resolved by itself or by hand before."""

    escalation_id: str


class TellAcknowledged(Struct, frozen=True):
    """Someone took the group: those its escalation paged so far, but ``by`` (a
    person acknowledging their own page), are told who did, so that nobody else gets
    out of bed for it and a PagerDuty incident a page opened is acknowledged too."""

    escalation_id: str
    by: str


class PauseEscalation(Struct, frozen=True):
    escalation_id: str
    until: datetime | None  # None: while the group's alerts are muted


class ResumeEscalation(Struct, frozen=True):
    """Re-notify the current step's targets and go on with the ladder from there."""

    escalation_id: str
    reason: DueKind


class ScheduleDue(Struct, frozen=True):
    due: LifecycleDue


Action = (
    StartEscalation
    | StopEscalation
    | TellResolved
    | TellAcknowledged
    | PauseEscalation
    | ResumeEscalation
    | ScheduleDue
)


class Transition(Struct, frozen=True):
    """The outcome of a valid input. ``audit`` is ``None`` when nothing changed (an
    alert joining a group that is already open)."""

    state: GroupState
    actions: tuple[Action, ...] = ()
    audit: AuditEntry | None = None


class Refused(Struct, frozen=True):
    """An input that does not apply to the group as it stands, and why; the API turns
    it into a 409 with ``reason`` as the message."""

    group_key: str
    attempted: str
    status: Status
    reason: str

    def __str__(self) -> str:
        return self.reason


# --- transitions -------------------------------------------------------------------------


def alerts_firing(
    state: GroupState | None,
    group_key: str,
    now: datetime,
    firing: Collection[str] = (),
    muted: Collection[str] = (),
) -> Transition:
    """Alerts (these fingerprints; ``muted``: those firing but silenced or inhibited)
    fire in the group: open it (new escalation) unless it is already open, or was
    resolved by hand while only these alerts were firing. A group paused because its
    alerts were all muted resumes its escalation: the problem did not go away."""
    if state is not None and state.muted:
        new = replace(state, status=Status.FIRING, since=now)
        return Transition(
            new,
            (ResumeEscalation(state.escalation_id, DueKind.SNOOZE_END),),
            _audit(
                new,
                now,
                SYSTEM,
                Via.AUTO,
                "unmuted",
                "an alert fires unsilenced again; escalation resumes at the current step",
            ),
        )
    if state is not None and state.status is not Status.RESOLVED:
        return Transition(state)
    if state is not None and state.held and all(f in state.held for f in firing):
        return Transition(_still_held(state, firing, muted))
    number = 1 if state is None else state.escalations + 1
    new = GroupState(
        group_key=group_key,
        status=Status.FIRING,
        escalation_id=escalation_id_for(group_key, number),
        escalations=number,
        since=now,
    )
    action = "opened" if state is None else "re-opened"
    return Transition(
        new,
        (StartEscalation(new.escalation_id),),
        _audit(new, now, SYSTEM, Via.AUTO, action, "alerts firing"),
    )


def acknowledge(
    state: GroupState,
    now: datetime,
    who: str,
    via: Via,
    *,
    ack_timeout: timedelta | None = None,
    comment: str = "",
) -> Transition | Refused:
    """``who`` takes the group: escalation stops (until ``ack_timeout``, if any)."""
    if state.status is Status.RESOLVED:
        return _refuse(state, "acknowledge", "it is resolved; new alerts would re-open it")
    if state.status is Status.ACKNOWLEDGED:
        return _refuse(
            state, "acknowledge", f"it is already acknowledged by {state.acknowledged_by}"
        )
    deadline = None if ack_timeout is None else now + ack_timeout
    new = replace(
        state,
        status=Status.ACKNOWLEDGED,
        since=now,
        acknowledged_by=who,
        ack_deadline=deadline,
        snoozed_until=None,
    )
    actions: list[Action] = [
        StopEscalation(state.escalation_id, final=False),
        TellAcknowledged(state.escalation_id, who),
    ]
    if deadline is not None:
        actions.append(ScheduleDue(_due(new, DueKind.ACK_TIMEOUT, deadline)))
    return Transition(new, tuple(actions), _audit(new, now, who, via, "acknowledged", comment))


def unacknowledge(
    state: GroupState, now: datetime, who: str, via: Via, *, comment: str = ""
) -> Transition | Refused:
    """Take an acknowledgement back (a mistaken one, or a responder who cannot stay on
    it): the group fires again, its current step's targets are paged again and the
    ladder goes on from there, as when the acknowledgement times out."""
    if state.status is not Status.ACKNOWLEDGED:
        return _refuse(state, "unacknowledge", f"it is {state.status.value}, not acknowledged")
    new = replace(state, status=Status.FIRING, since=now, acknowledged_by="", ack_deadline=None)
    said = f"{state.acknowledged_by}'s acknowledgement taken back; the current step is re-notified"
    return Transition(
        new,
        (ResumeEscalation(state.escalation_id, DueKind.ACK_TIMEOUT),),
        _audit(new, now, who, via, "unacknowledged", f"{said}: {comment}" if comment else said),
    )


def resolve(
    state: GroupState,
    now: datetime,
    who: str,
    via: Via,
    *,
    comment: str = "",
    firing: Collection[str] = (),
) -> Transition | Refused:
    """Resolved by hand, while these alerts (fingerprints) still fire: escalation stops
    for good, and only an alert not among them re-opens the group."""
    if state.status is Status.RESOLVED:
        return _refuse(state, "resolve", "it is already resolved")
    held = tuple(dict.fromkeys(firing))
    if held:
        still = f"{len(held)} alert{'s' if len(held) > 1 else ''} still firing"
        why = f"{still}; only a new alert re-opens it"
        comment = f"{comment} ({why})" if comment else why
    return _resolved(state, now, who, via, comment, held)


def alerts_resolved(
    state: GroupState, now: datetime, why: str = "all alerts resolved", muted: Collection[str] = ()
) -> Transition:
    """No alert of the group fires unmuted (``muted``: those firing but silenced or
    inhibited). With none firing at all, the group resolves itself and those it paged
    are told. With some muted, it is not resolved (a silence is not a fix): a firing
    group's escalation pauses until one fires unmuted again, as the same episode
    (its checklist, its timers); an acknowledged or snoozed group stays as it is. If
    someone resolved it already, the alerts they saw firing that have resolved since
    are no longer held: firing again, they are new."""
    if state.status is Status.RESOLVED:
        new = _still_held(state, (), muted)
        if state.held and not new.held:  # what it was resolved by hand with has ended
            return Transition(new, (TellResolved(state.escalation_id),))
        return Transition(new)
    if muted:
        if state.status is not Status.FIRING:
            return Transition(state)
        new = replace(state, status=Status.SNOOZED, since=now, snoozed_until=None)
        note = f"{why}; escalation waits until one fires unmuted"
        return Transition(
            new,
            (PauseEscalation(state.escalation_id, None),),
            _audit(new, now, SYSTEM, Via.AUTO, "muted", note),
        )
    t = _resolved(state, now, SYSTEM, Via.AUTO, why)
    return Transition(t.state, (*t.actions, TellResolved(state.escalation_id)), t.audit)


def pending_acts(kind: str, state: GroupState | None, payload: Mapping[str, Any]) -> bool:
    """Whether a group's pending row of ``kind`` ("step", "notify", "lifecycle";
    ``payload``: the row's) will act when due: while the group is acknowledged, snoozed
    or resolved its escalation waits, so its steps and later pages do nothing then. A
    wake-up that ends the wait acts if it is the one the state awaits (:func:`on_due`):
    not the acknowledgement timeout of an earlier firing, left behind when it resolved.
    A page shows only what will happen."""
    if state is None:
        return False
    if kind == "lifecycle":
        due = LifecycleDue.from_json(payload)
        return on_due(state, due, due.due_at) is not None
    return state.status is Status.FIRING


# The longest snooze: a page put off for longer (a typo's "300d", say) would hide an
# outage for good. Quiet an alert for longer with a silence, which is seen and expires.
MAX_SNOOZE = timedelta(hours=24)


def snooze_problem(duration: timedelta) -> str | None:
    """Why ``duration`` is not a snooze's, or None (every edge asks here)."""
    if duration <= timedelta(0):
        return f"a snooze must last a positive time (e.g. 30m), not {format_duration(duration)}"
    if duration > MAX_SNOOZE:
        return (
            f"a snooze lasts at most {format_duration(MAX_SNOOZE)}, not "
            f"{format_duration(duration)}; for longer, silence the alerts"
        )
    return None


def snooze(
    state: GroupState,
    now: datetime,
    who: str,
    via: Via,
    duration: timedelta | None,
    *,
    comment: str = "",
) -> Transition | Refused:
    """Pause escalation for ``duration``; snoozing a snoozed group moves the end."""
    if state.status is Status.RESOLVED:
        return _refuse(state, "snooze", "it is resolved")
    if duration is None:
        return _refuse(state, "snooze", "a snooze needs a duration (e.g. 30m)")
    problem = snooze_problem(duration)
    if problem is not None:
        return _refuse(state, "snooze", problem)
    until = now + duration
    new = replace(state, status=Status.SNOOZED, since=now, snoozed_until=until, ack_deadline=None)
    actions = (
        PauseEscalation(state.escalation_id, until),
        ScheduleDue(_due(new, DueKind.SNOOZE_END, until)),
    )
    note = f"until {format_rfc3339(until)}" + (f": {comment}" if comment else "")
    return Transition(new, actions, _audit(new, now, who, via, "snoozed", note))


def on_due(state: GroupState, due: LifecycleDue, now: datetime) -> Transition | None:
    """A wake-up row came due: end the snooze or the acknowledgement's grace period.
    ``None`` when the row is stale (another escalation, a renewed ack or snooze, or a
    group that moved on); such rows are simply deleted."""
    if due.escalation_id != state.escalation_id or now < due.due_at:
        return None
    if due.kind is DueKind.SNOOZE_END:
        if state.status is not Status.SNOOZED or state.snoozed_until != due.due_at:
            return None
        action, comment = "snooze ended", "escalation resumes at the current step"
    else:
        if state.status is not Status.ACKNOWLEDGED or state.ack_deadline != due.due_at:
            return None
        action = "acknowledgement timed out"
        comment = f"{state.acknowledged_by} did not resolve it; the current step is re-notified"
    new = replace(
        state,
        status=Status.FIRING,
        since=now,
        acknowledged_by="",
        ack_deadline=None,
        snoozed_until=None,
    )
    return Transition(
        new,
        (ResumeEscalation(state.escalation_id, due.kind),),
        _audit(new, now, SYSTEM, Via.AUTO, action, comment),
    )


def _still_held(state: GroupState, firing: Collection[str], muted: Collection[str]) -> GroupState:
    """The state with only the held alerts that still fire (muted ones too: a silence
    on an alert is not its resolution, and when it ends the alert is the same)."""
    still = tuple(f for f in state.held if f in firing or f in muted)
    return state if still == state.held else replace(state, held=still)


def _resolved(
    state: GroupState, now: datetime, who: str, via: Via, comment: str, held: tuple[str, ...] = ()
) -> Transition:
    new = replace(
        state,
        status=Status.RESOLVED,
        since=now,
        ack_deadline=None,
        snoozed_until=None,
        held=held,
    )
    return Transition(
        new,
        (StopEscalation(state.escalation_id, final=True),),
        _audit(new, now, who, via, "resolved", comment),
    )


def _due(state: GroupState, kind: DueKind, at: datetime) -> LifecycleDue:
    return LifecycleDue(kind, state.group_key, state.escalation_id, at)


def _audit(
    state: GroupState, now: datetime, who: str, via: Via, action: str, comment: str
) -> AuditEntry:
    return AuditEntry(now, state.group_key, who, via, action, comment, state.escalation_id)


def _refuse(state: GroupState, attempted: str, why: str) -> Refused:
    reason = f"cannot {attempted} alert group {state.group_key!r}: {why}"
    return Refused(state.group_key, attempted, state.status, reason)
