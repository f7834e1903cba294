"""Planned maintenance windows, pure: the window, its state at a given time, the
rules of scheduling and changing one, and the silence that keeps its alerts quiet.

A runbook's "for planned maintenance, silence the service for two hours" and "announce
it at least 48 hours in advance, with the expected downtime" are one act here: the
maintenance is shown on the status page from the moment it is scheduled (upcoming, then
in progress with its components under maintenance, then completed), and its matchers
become an ordinary silence over exactly its window, which changes with it and is
expired when it is cancelled or finished early. The states are Statuspage's
(``scheduled``, ``in_progress``, ``completed``); ``cancelled`` is kept for the record
and shown nowhere public.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tocsin.alerts.matchers import Matcher
from tocsin.alerts.silences import Silence
from tocsin.incidents.model import OPERATIONAL, Refused

SCHEDULED = "scheduled"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
CANCELLED = "cancelled"
STATES = (SCHEDULED, IN_PROGRESS, COMPLETED, CANCELLED)

UNDER_MAINTENANCE = "under_maintenance"  # a component's word while its window runs


@dataclass(frozen=True)
class Maintenance:
    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    description: str = ""
    components: tuple[str, ...] = ()
    matchers: tuple[Matcher, ...] = ()
    public: bool = True
    silence_id: str = ""  # the silence over the window ("" without matchers)
    cancelled_at: datetime | None = None
    # its start and its end announced (``edge``): at most once each, by whichever
    # replica's loop comes first, or by the change that ended it
    told_start: bool = False
    told_end: bool = False
    updated_at: datetime | None = None  # its last change (None: as scheduled)

    def state(self, now: datetime) -> str:
        if self.cancelled_at is not None:
            return CANCELLED
        if now < self.starts_at:
            return SCHEDULED
        if now < self.ends_at:
            return IN_PROGRESS
        return COMPLETED

    def notice(self) -> timedelta:
        """How long before its start it was announced."""
        return max(self.starts_at - self.created_at, timedelta(0))


@dataclass(frozen=True)
class Plan:
    """What a change sets; None leaves a field as it is."""

    title: str | None = None
    description: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    components: Sequence[str] | None = None
    public: bool | None = None
    # end this much later than it ends when the change is made (two responders who
    # each extend by 30 minutes at once extend it by an hour, as each asked)
    extend_by: timedelta | None = None
    # the alerts it silences, in their place (none: the status page only)
    matchers: Sequence[Matcher] | None = None
    # "cancelled": called off (before or during its window); "completed": finished
    # early, now (during its window)
    state: str | None = None


def schedule(
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    by: str,
    now: datetime,
    known_components: Sequence[str],
    description: str = "",
    components: Sequence[str] = (),
    matchers: Sequence[Matcher] = (),
    public: bool = True,
) -> Maintenance:
    """A new maintenance (id 0 until stored); raises Refused naming the field."""
    draft = Maintenance(
        0,
        title,
        starts_at,
        ends_at,
        by,
        now,
        description,
        tuple(components),
        tuple(matchers),
        public,
        # begun already ("I forgot to schedule it"): its scheduling says it has started
        told_start=starts_at <= now,
    )
    _check(draft, now, known_components)
    return draft


def change(
    found: Maintenance, plan: Plan, now: datetime, known_components: Sequence[str]
) -> Maintenance:
    """The maintenance after ``plan``; raises Refused naming the field.

    A window that is over (completed or cancelled) is history and changes no more. One
    in progress keeps its start (it has started: moving it would rewrite what the status
    page already said) but may end later or sooner, and is finished early by
    ``state: completed``, which ends it now."""
    state = found.state(now)
    if state in (COMPLETED, CANCELLED):
        if plan == Plan(public=False):  # taken off the page (a word published by mistake)
            return replace(found, public=False, updated_at=now)
        raise Refused("state", f"this maintenance is {state}: it changes no more")
    if plan.ends_at is not None and plan.extend_by is not None:
        raise Refused("extendBy", "give endsAt or extendBy, not both")
    ends_at = found.ends_at if plan.ends_at is None else plan.ends_at
    try:
        ends_at += plan.extend_by or timedelta(0)
    except OverflowError:
        raise Refused("extendBy", "ends beyond any date") from None
    changed = replace(
        found,
        title=found.title if plan.title is None else plan.title,
        description=found.description if plan.description is None else plan.description,
        starts_at=found.starts_at if plan.starts_at is None else plan.starts_at,
        ends_at=ends_at,
        components=found.components if plan.components is None else tuple(plan.components),
        matchers=found.matchers if plan.matchers is None else tuple(plan.matchers),
        public=found.public if plan.public is None else plan.public,
        updated_at=now,
    )
    if state == IN_PROGRESS and changed.starts_at != found.starts_at:
        raise Refused("startsAt", "it has started: its start cannot move")
    # what else the change says is checked however it ends: a cancellation carries no
    # unchecked title or component onto the page
    _check(changed, now, known_components, moved=changed.ends_at != found.ends_at)
    if changed.starts_at <= now:
        # moved to now, or made public while running: the change's own announcement
        # says it has begun; the loop must not say it again
        changed = replace(changed, told_start=True)
    # the change that ends it announces its end: the loop has nothing left to say
    if plan.state == CANCELLED:
        return replace(changed, cancelled_at=now, told_start=True, told_end=True)
    if plan.state == COMPLETED:
        if state != IN_PROGRESS:
            raise Refused("state", "only a maintenance in progress can be finished early")
        return replace(changed, ends_at=now, told_start=True, told_end=True)
    if plan.state is not None:
        raise Refused("state", f"{plan.state!r}: one of {CANCELLED}, {COMPLETED}")
    return changed


# what a title may not hold (a line break, NUL, which PostgreSQL refuses, ...)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check(
    m: Maintenance, now: datetime, known_components: Sequence[str], moved: bool = True
) -> None:
    if not m.title.strip() or _CONTROL.search(m.title):
        raise Refused("title", "a title, on one line")
    if _CONTROL.search(m.description.replace("\n", "").replace("\t", "")):
        raise Refused("description", "text, without control characters")
    if m.ends_at <= m.starts_at:
        raise Refused("endsAt", "must be after startsAt")
    if moved and m.ends_at <= now:
        raise Refused("endsAt", "is in the past: a maintenance window must end later")
    for i, component in enumerate(m.components):
        if component not in known_components:
            known = ", ".join(known_components) or "none: tocsin.incidents.components"
            raise Refused(f"components[{i}]", f"no such component {component!r} (known: {known})")
    if not m.created_by.strip():
        raise Refused("createdBy", "who schedules it")


def silence_of(m: Maintenance) -> Silence | None:
    """The silence that mutes the maintenance's alerts over its window (None without
    matchers); its id is the one already made, so storing it updates that one."""
    if not m.matchers:
        return None
    return Silence(
        id=m.silence_id,
        matchers=m.matchers,
        starts_at=m.starts_at,
        ends_at=m.ends_at,
        updated_at=m.created_at,
        created_by=m.created_by,
        comment=f"maintenance #{m.id}: {m.title}",
    )


def shown(found: Sequence[Maintenance], now: datetime, keep: timedelta) -> list[Maintenance]:
    """What the status page lists: public windows not cancelled, upcoming or running,
    and those completed within ``keep``; soonest first."""
    listed = [m for m in found if m.public and m.cancelled_at is None and m.ends_at > now - keep]
    return sorted(listed, key=lambda m: (m.starts_at, m.id))


def under_maintenance(found: Sequence[Maintenance], now: datetime) -> set[str]:
    """The components of the public windows running at ``now``."""
    return {c for m in found if m.public and m.state(now) == IN_PROGRESS for c in m.components}


def page_word(incidents_word: str, under: bool) -> str:
    """A component's (or the page's) word: what its incidents say, unless they say it
    is operational and a maintenance window runs on it."""
    return UNDER_MAINTENANCE if under and incidents_word == OPERATIONAL else incidents_word


STARTED = "started"
ENDED = "completed"


def edge(m: Maintenance, now: datetime) -> str | None:
    """What of a public window falls to be announced at ``now``: its start, or its end
    (only the end when both have passed unannounced: a window announced as started
    after it ended would say something false)."""
    if not m.public or m.cancelled_at is not None or m.told_end:
        return None
    if now >= m.ends_at:
        return ENDED
    if now >= m.starts_at and not m.told_start:
        return STARTED
    return None


def told(m: Maintenance, what: str, now: datetime) -> Maintenance:
    """``m`` once ``what`` (its start or end) is announced: a change of its own, so
    Statuspage's ``updated_at`` moves with its state."""
    return replace(m, told_start=True, told_end=m.told_end or what == ENDED, updated_at=now)


def next_edge(m: Maintenance) -> datetime | None:
    """When the next of its announcements falls due (None: nothing left to tell)."""
    if not m.public or m.cancelled_at is not None or m.told_end:
        return None
    return m.ends_at if m.told_start else m.starts_at
