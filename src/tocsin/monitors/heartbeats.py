"""Heartbeats (dead man's switches): a job pings Tocsin, and its silence is the alert.

A heartbeat is configured with a ``period`` (how often its job pings) and a ``grace``
(how late a ping may be). Where it stands at ``now``, from its last ping:

- ``new``: it never pinged, and less than period + grace has passed since Tocsin first
  knew it (``armed_at``): a job that never runs is caught too, from then;
- ``up``: it pinged within its period;
- ``late``: the period passed without a ping, and the grace has not;
- ``down``: period and grace passed without a ping: ``HeartbeatMissing`` fires, from
  the moment the grace ran out;
- ``failed``: its last ping reported a failure (``tocsin heartbeat run`` of a command
  that exited non-zero, or ``/fail``): ``HeartbeatFailed`` fires, from that ping;
- ``started``: its job said it started (``/start``; ``tocsin heartbeat run`` does) and
  has not pinged since: it must within its grace, or it is ``down`` (hung), and its
  run time is measured.

A ping that is not a failure resolves either alert. They are ordinary alerts
(``monitors.alerts``): a maintenance window is a silence on ``heartbeat="NAME"``.

Everything here is pure: ``now`` is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tocsin.alerts.model import PostedAlert
from tocsin.config.durations import format_duration
from tocsin.config.model import Heartbeat
from tocsin.monitors.alerts import FIRING_FOR, console_link, monitor_alert, monitor_labels
from tocsin.timeutil import format_rfc3339

MISSING = "HeartbeatMissing"
FAILED = "HeartbeatFailed"
ALERTNAMES = (MISSING, FAILED)
# After Tocsin's own downtime, the most a job is given to ping again beyond its grace
# (a daily job must not go unwatched for a day because Tocsin restarted).
RESUME_MOST = timedelta(hours=1)
# How long a ping's message is kept (the tail of a failed job's output, say).
MESSAGE_MAX = 1000

Kind = Literal["ok", "fail"]
State = Literal["new", "up", "late", "started", "down", "failed"]
STATES: tuple[State, ...] = ("new", "up", "late", "started", "down", "failed")


@dataclass(frozen=True, slots=True)
class Beat:
    """What is stored of a heartbeat: when Tocsin first knew it, and its last ping."""

    name: str
    armed_at: datetime
    last_ping_at: datetime | None = None
    last_kind: Kind | None = None
    message: str = ""
    pings: int = 0
    started_at: datetime | None = None  # its job's last start, until it pings
    last_duration: float | None = None  # seconds from a start to the ping that ended it


@dataclass(frozen=True, slots=True)
class Status:
    state: State
    late_at: datetime  # when a ping is due (the period ends)
    down_at: datetime  # when the grace ends too (or a started job's grace, if sooner)
    hung: bool = False  # down because its started job has not finished


def message_of(said: str, output: str) -> str:
    """A ping's message: what Tocsin says of it ("exit status 3"), then as much of the
    end of the job's output as fits in ``MESSAGE_MAX`` (its start is what is cut, at a
    line's start where the tail holds several: "put\nline 159" reads as noise)."""
    output = output.strip()
    room = MESSAGE_MAX - len(said) - 1 if said else MESSAGE_MAX
    if len(output) > room > 0:
        tail = output[-room:]
        cut = tail.find("\n")
        output = tail[cut + 1 :] if 0 <= cut < len(tail) - 1 else tail
    if not said:
        return output
    return f"{said}\n{output}" if output and room > 0 else said[:MESSAGE_MAX]


def status(
    spec: Heartbeat, beat: Beat, now: datetime, watching_since: datetime | None = None
) -> Status:
    """Where ``beat`` stands at ``now``. ``watching_since``: when this Tocsin started
    taking pings. A job whose last word (its ping, its start, or its arming) came
    before then may have pinged while Tocsin was down, and been refused: from then, it
    has its grace, or its period (at most ``RESUME_MOST``) if longer, to ping again, so
    a restart after an outage blames no job for it."""
    since = beat.last_ping_at or beat.armed_at
    late_at = since + spec.period
    down_at = late_at + spec.allowance
    hung_at = None if beat.started_at is None else beat.started_at + spec.allowance
    if watching_since is not None:
        resumed = watching_since + max(spec.allowance, min(spec.period, RESUME_MOST))
        if since < watching_since:
            down_at = max(down_at, resumed)
        started = beat.started_at
        if hung_at is not None and started is not None and started < watching_since:
            hung_at = max(hung_at, resumed)
    if hung_at is not None and hung_at < down_at:
        down_at = hung_at
    state: State
    if beat.last_kind == "fail":
        state = "failed"
    elif now >= down_at:
        state = "down"
    elif beat.started_at is not None:
        state = "started"
    elif now >= late_at:
        state = "late"
    else:
        state = "up" if beat.last_ping_at is not None else "new"
    return Status(state, late_at, down_at, state == "down" and down_at == hung_at)


def labels_of(spec: Heartbeat, alertname: str) -> dict[str, str]:
    return monitor_labels("heartbeat", spec.name, spec.labels, alertname)


def firing_alert(
    spec: Heartbeat, beat: Beat, st: Status, now: datetime, base: str = ""
) -> PostedAlert | None:
    """The alert a ``down`` or ``failed`` heartbeat raises (None: it raises none);
    ``base``: Tocsin's external URL, for its link to the console."""
    if st.state == "down" and st.hung:
        assert beat.started_at is not None
        summary = (
            f"Heartbeat {spec.name} started {format_rfc3339(beat.started_at)} and has "
            f"not finished within its grace of {format_duration(spec.allowance)}"
        )
        said = f"last ping said: {beat.message}" if beat.message else ""
        return _alert(spec, MISSING, summary, said, st.down_at, now + FIRING_FOR, base)
    if st.state == "down":
        # the same words at every check: nothing about the alert changes while it fires
        since = (
            f"since {format_rfc3339(beat.last_ping_at)}"
            if beat.last_ping_at
            else f"ever (known since {format_rfc3339(beat.armed_at)})"
        )
        summary = (
            f"No ping from heartbeat {spec.name} {since}: it pings every "
            f"{format_duration(spec.period)}, grace {format_duration(spec.allowance)}"
        )
        said = f"last ping said: {beat.message}" if beat.message else ""
        return _alert(spec, MISSING, summary, said, st.down_at, now + FIRING_FOR, base)
    if st.state == "failed":
        assert beat.last_ping_at is not None  # a failure is a ping
        summary = f"Heartbeat {spec.name} reported a failure"
        return _alert(
            spec, FAILED, summary, beat.message, beat.last_ping_at, now + FIRING_FOR, base
        )
    return None


def _alert(
    spec: Heartbeat,
    alertname: str,
    summary: str,
    message: str,
    start: datetime,
    end: datetime,
    base: str,
) -> PostedAlert:
    labels = labels_of(spec, alertname)
    link = console_link(base, "heartbeat", spec.name)
    return monitor_alert(labels, spec.annotations, summary, message, start, end, link)


def next_check(
    specs: list[tuple[Heartbeat, Beat]],
    now: datetime,
    most: timedelta,
    watching_since: datetime | None = None,
) -> datetime:
    """When the state of one of them changes next without a ping (``now + most`` at the
    latest, when a firing alert is sent again)."""
    times = [now + most]
    for spec, beat in specs:
        st = status(spec, beat, now, watching_since)
        times += [t for t in (st.late_at, st.down_at) if t > now]
    return min(times)
