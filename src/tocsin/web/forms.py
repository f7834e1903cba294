"""The console's forms: reading a posted form, and turning the silence form into a
:class:`Silence` and the override form into an :class:`Override`, with one message per
bad field (a form another site's page posts is refused before: ``api.site_guard``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from tocsin.alerts.matchers import Matcher, MatcherError, MatchType, parse_matchers
from tocsin.alerts.silences import Silence
from tocsin.config.durations import parse_duration
from tocsin.oncall.schedules import Override, local_instant
from tocsin.timeutil import TimeFormatError, parse_rfc3339

# How long a silence lasts when the form names neither an end nor a duration: the
# Alertmanager UI's default.
DEFAULT_SILENCE = timedelta(hours=2)
MAX_FORM_BYTES = 64 * 1024


class FormError(ValueError):
    """The fields of a form that are wrong, each with why."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


def parse_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; a repeated field keeps its last
    value, blank values are kept (a cleared field is a cleared field)."""
    found = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[-1].strip() for k, v in found.items()}


def matchers_text(matchers: Mapping[str, str] | list[Matcher]) -> str:
    """Matchers as the form shows them: ``a="1", b=~"x"`` (a label set gives equality
    matchers, one per label, as a silence started from an alert does)."""
    if isinstance(matchers, list):
        return ", ".join(str(m) for m in matchers)
    return ", ".join(
        str(Matcher(name, MatchType.EQUAL, value)) for name, value in sorted(matchers.items())
    )


@dataclass
class SilenceForm:
    """What the silence form holds, as typed (shown again when it is refused)."""

    id: str = ""
    matchers: str = ""
    starts: str = ""
    duration: str = ""
    ends: str = ""
    created_by: str = ""
    comment: str = ""
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> SilenceForm:
        return cls(
            id=fields.get("id", ""),
            matchers=fields.get("matchers", ""),
            starts=fields.get("starts", ""),
            duration=fields.get("duration", ""),
            ends=fields.get("ends", ""),
            created_by=fields.get("created_by", ""),
            comment=fields.get("comment", ""),
        )

    def silence(self, now: datetime) -> Silence:
        """The silence this form asks for; FormError names every bad field."""
        problems: dict[str, str] = {}
        matchers: list[Matcher] = []
        try:
            # one matcher per line is as good as commas
            matchers = parse_matchers(self.matchers.replace("\r\n", ",").replace("\n", ","))
        except MatcherError as exc:
            problems["matchers"] = str(exc)
        if not matchers and "matchers" not in problems:
            problems["matchers"] = 'at least one matcher is required, e.g. alertname="X"'
        starts = self._time("starts", problems) or now
        ends = self._time("ends", problems)
        if ends is None and "ends" not in problems:
            try:
                length = parse_duration(self.duration) if self.duration else DEFAULT_SILENCE
            except ValueError as exc:
                problems["duration"] = str(exc)
            else:
                if length <= timedelta(0):
                    problems["duration"] = "must be longer than 0s"
                else:
                    ends = starts + length
        if ends is not None and ends <= starts:
            problems["ends"] = "must be after the start"
        if not self.created_by:
            problems["created_by"] = "required: who is silencing"
        if not self.comment:
            problems["comment"] = "required: why (a ticket, an incident, a maintenance)"
        if problems:
            raise FormError(problems)
        assert ends is not None
        return Silence(self.id, tuple(matchers), starts, ends, now, self.created_by, self.comment)

    def _time(self, key: str, problems: dict[str, str]) -> datetime | None:
        text = getattr(self, key)
        if not text:
            return None
        try:
            return parse_rfc3339(text)
        except TimeFormatError as exc:
            problems[key] = f"{exc} (RFC 3339, e.g. 2026-12-05T09:00:00Z)"
            return None


def wall_clock(text: str, zone: str) -> datetime:
    """A time typed in ``zone`` (a browser's ``datetime-local``: ``2026-12-10T09:00``,
    seconds optional, a space for the T), read as the schedule's rota reads its wall
    clock (``local_instant``: a skipped hour is the jump itself, a repeated one its
    first time), or RFC 3339 with its own offset; ValueError saying what is expected."""
    text = text.strip()
    try:
        found = datetime.fromisoformat(text)
        if found.tzinfo is not None:
            return found.astimezone(UTC)
        seconds = found.hour * 3600 + found.minute * 60 + found.second
        return local_instant(found.date(), seconds, ZoneInfo(zone))
    except (ValueError, OverflowError):  # (year 1 or 9999 cannot be moved to UTC)
        raise ValueError(
            f"not a time: {text!r} (YYYY-MM-DD HH:MM in {zone}, or RFC 3339)"
        ) from None


@dataclass
class OverrideForm:
    """The console's "cover a shift" form, as typed (shown again when refused): its
    times are wall-clock times in the schedule's own zone, as its rota is written."""

    person: str = ""
    replaces: str = ""
    start: str = ""
    end: str = ""
    by: str = ""
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> OverrideForm:
        def typed(key: str) -> str:
            return fields.get(key, "").strip()

        return cls(typed("person"), typed("replaces"), typed("start"), typed("end"), typed("by"))

    def override(self, override_id: str, schedule: str, zone: str, now: datetime) -> Override:
        """The override this form asks for; FormError names every bad field (the rules
        that need the rota, ``override_problem``, are checked after)."""
        problems: dict[str, str] = {}
        if not self.person:
            problems["person"] = "required: who covers"
        times: dict[str, datetime] = {}
        for key in ("start", "end"):
            text = getattr(self, key)
            if not text:
                problems[key] = "required"
                continue
            try:
                times[key] = wall_clock(text, zone)
            except ValueError as exc:
                problems[key] = str(exc)
        if not self.by:
            problems["by"] = "required: who is making this change"
        if problems:
            raise FormError(problems)
        return Override(
            override_id,
            schedule,
            self.person,
            times["start"],
            times["end"],
            now,
            self.replaces or None,
        )
