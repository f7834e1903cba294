"""On call: people, schedules (layers, rotations, restrictions, overrides) and their
iCalendar feeds, as pure values and functions; the clock is always an argument.

>>> from datetime import UTC, date, datetime, time
>>> from zoneinfo import ZoneInfo
>>> primary = Schedule("primary", ZoneInfo("Europe/Berlin"), (
...     Layer("weekly", ("alice", "bob"), date(2026, 1, 5), "weekly", time(9)),))
>>> on_call(primary, [], datetime(2026, 1, 13, 12, tzinfo=UTC))
['bob']
"""

from tocsin.oncall.ical import person_ics, schedule_ics, shift_uid
from tocsin.oncall.people import (
    NotificationRule,
    Person,
    PlannedNotification,
    notification_plan,
)
from tocsin.oncall.schedules import (
    Layer,
    Override,
    Restriction,
    Schedule,
    Shift,
    local_instant,
    on_call,
    shifts,
)

__all__ = [
    "Layer",
    "NotificationRule",
    "Override",
    "Person",
    "PlannedNotification",
    "Restriction",
    "Schedule",
    "Shift",
    "local_instant",
    "notification_plan",
    "on_call",
    "person_ics",
    "schedule_ics",
    "shift_uid",
    "shifts",
]
