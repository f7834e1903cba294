"""Silences: state, validation and Alertmanager's update-in-place rules.

Pure functions with ``now`` passed in, mirroring Alertmanager's ``silence`` package:
a silence is pending before startsAt, active until endsAt and expired after it; an
update keeps the same id only when the matchers are unchanged and the times change as
``canUpdate`` allows, otherwise the old silence is expired and a new one created;
deleting a silence expires it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from tocsin.alerts.labels import LabelSet, NameValidation, label_name_error
from tocsin.alerts.matchers import Matcher, matches_all


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    updated_at: datetime
    created_by: str
    comment: str

    def state(self, now: datetime) -> SilenceState:
        if now < self.starts_at:
            return SilenceState.PENDING
        if now > self.ends_at:
            return SilenceState.EXPIRED
        return SilenceState.ACTIVE

    def mutes(self, labels: LabelSet, now: datetime) -> bool:
        return self.state(now) is SilenceState.ACTIVE and matches_all(self.matchers, labels)


class SilenceError(ValueError):
    """A silence request that cannot be accepted; the message names the field."""


class SilenceNotFound(LookupError):
    pass


def validate(sil: Silence, now: datetime, mode: NameValidation = NameValidation.LEGACY) -> None:
    """Raise SilenceError naming the field when ``sil`` may not be stored."""
    problems: list[str] = []
    if not sil.matchers:
        problems.append("matchers: at least one matcher is required")
    for i, m in enumerate(sil.matchers):
        error = label_name_error(m.name, mode)
        if error is not None:
            problems.append(f"matchers[{i}].name: {error}")
    if sil.matchers and all(m.matches("") for m in sil.matchers):
        problems.append("matchers: at least one matcher must not match the empty string")
    if sil.ends_at <= sil.starts_at:
        problems.append("endsAt: start time must be before end time")
    elif sil.ends_at < now:
        problems.append("endsAt: end time can't be in the past")
    if problems:
        raise SilenceError("; ".join(problems))


def can_update(prev: Silence, new: Silence, now: datetime) -> bool:
    """Whether ``new`` may replace ``prev`` in place (same id): Alertmanager's canUpdate."""
    if prev.matchers != new.matchers:
        return False
    state = prev.state(now)
    if state is SilenceState.ACTIVE:
        return _same_start(prev, new) and not new.ends_at < now
    if state is SilenceState.PENDING:
        return not new.starts_at < now
    return False


def _same_start(prev: Silence, new: Silence) -> bool:
    """``new`` keeps ``prev``'s start, as the API shows it: in milliseconds (a silence
    starts at the microsecond of its creation; ``amtool silence update`` sends back the
    start it read, and must not be told it moved the start of an active silence)."""
    shown = prev.starts_at.replace(microsecond=prev.starts_at.microsecond // 1000 * 1000)
    return new.starts_at in (prev.starts_at, shown)


def expire(sil: Silence, now: datetime) -> Silence:
    """Expire a silence: an active one ends now; a pending one starts and ends now."""
    state = sil.state(now)
    if state is SilenceState.EXPIRED:
        raise SilenceError(f"silence {sil.id} already expired")
    if state is SilenceState.ACTIVE:
        return replace(sil, ends_at=now, updated_at=now)
    return replace(sil, starts_at=now, ends_at=now, updated_at=now)


@dataclass(frozen=True, slots=True)
class SetOutcome:
    """What storing a silence request does: the silence to write and one to expire."""

    stored: Silence
    expired: Silence | None


def decide_set(prev: Silence | None, new: Silence, now: datetime) -> SetOutcome:
    """Alertmanager's ``Silences.Set`` as a decision.

    ``new.id`` is the id the client sent ("" for a new silence); ``prev`` is the stored
    silence with that id (the caller raises SilenceNotFound when an id is unknown).
    """
    if prev is not None and can_update(prev, new, now):
        # the start as stored when the client sent it back as shown
        starts_at = prev.starts_at if _same_start(prev, new) else new.starts_at
        return SetOutcome(replace(new, starts_at=starts_at, updated_at=now), None)
    expired = None
    if prev is not None and prev.state(now) is not SilenceState.EXPIRED:
        expired = expire(prev, now)
    starts_at = max(new.starts_at, now)
    stored = replace(new, id=str(uuid.uuid4()), starts_at=starts_at, updated_at=now)
    return SetOutcome(stored, expired)


def sort_key(sil: Silence, now: datetime) -> tuple[int, float]:
    """API v2 order: active by soonest end, then pending by soonest start, then expired
    by most recent end."""
    state = sil.state(now)
    if state is SilenceState.ACTIVE:
        return (0, sil.ends_at.timestamp())
    if state is SilenceState.PENDING:
        return (1, sil.starts_at.timestamp())
    return (2, -sil.ends_at.timestamp())
