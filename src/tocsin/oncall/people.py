"""People who can be on call, and how each wants to be reached.

A person's notification rules say, per urgency, which channel to try and how long after
the page: "Slack at once, e-mail after 2 minutes" for high urgency, "e-mail" for low.
:func:`notification_plan` turns them into due times for one page, so the engine stores
them as due-time rows (time is data) instead of sleeping; acknowledging the page is
what cancels the rest, and that stays with the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

__all__ = [
    "CHANNELS",
    "URGENCIES",
    "Channel",
    "NotificationRule",
    "Person",
    "PlannedNotification",
    "Urgency",
    "notification_plan",
]

# how a person is paged; a webhook or PagerDuty is a receiver, an escalation target itself
Channel = Literal["slack", "email"]
Urgency = Literal["high", "low"]
CHANNELS: tuple[Channel, ...] = ("slack", "email")
URGENCIES: tuple[Urgency, ...] = ("high", "low")


@dataclass(frozen=True, slots=True)
class NotificationRule:
    """Notify on ``channel`` once ``after`` has passed since the page."""

    channel: Channel
    after: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class Person:
    """Someone on call; ``name`` is the id that schedules and overrides refer to."""

    name: str
    full_name: str = ""
    email: str = ""
    slack_user: str = ""
    time_zone: tzinfo = UTC
    notification_rules: Mapping[Urgency, tuple[NotificationRule, ...]] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return self.full_name or self.name


@dataclass(frozen=True, slots=True)
class PlannedNotification:
    """Send on ``channel`` at ``due`` unless the page is acknowledged first."""

    due: datetime
    channel: Channel


def notification_plan(
    person: Person, urgency: Urgency, paged_at: datetime
) -> list[PlannedNotification]:
    """When each of ``person``'s rules for ``urgency`` fires for a page at ``paged_at``,
    earliest first (rules due at the same time keep their written order).

    A person without rules for that urgency gets nothing planned here; falling back to
    a default channel is the escalation policy's decision, not this one's.
    """
    if paged_at.tzinfo is None:
        raise ValueError("paged_at must be a timezone-aware datetime")
    paged_at = paged_at.astimezone(UTC)
    plan = [
        PlannedNotification(paged_at + rule.after, rule.channel)
        for rule in person.notification_rules.get(urgency, ())
    ]
    plan.sort(key=lambda p: p.due)
    return plan
