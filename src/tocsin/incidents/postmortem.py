"""A post-mortem's first draft, written from what the incident already holds.

Nobody should retype a timeline at the end of an incident: the draft carries its
facts (severity, and the peak it reached, times, duration, roles, linked alert groups
named by their labels, the last thing the status page said) and its whole timeline,
and leaves headed blanks for what only people can write (blameless: what happened and
why, not who). The team edits it and stores it back, which is what meets the
severity's ``postmortem_within``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from tocsin.incidents.model import (
    GROUP_PREFIX,
    Entry,
    Incident,
    LinkedGroup,
    Rules,
    entry_group,
    severity_change,
    severity_rank,
)
from tocsin.timeutil import format_rfc3339

SUMMARY_HINT = "_One paragraph: what broke, for whom._"
UNTIL = "\u2013"  # the en dash of a span of time, as "21:05\u201321:08" is typeset

QUESTIONS = (
    ("What happened", "What users saw, and for how long."),
    ("Root cause", "Why it happened: the chain of causes, not who."),
    ("Detection", "How we found out: which alert, how long after it began."),
    ("What went well", ""),
    ("What went wrong", ""),
    ("Action items", "- [ ] Owner: what, by when"),
)


def duration_text(span: timedelta) -> str:
    if span < timedelta(minutes=1):  # "0m" would say it took no time at all
        return f"{max(0, int(span.total_seconds()))}s"
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"]
    return " ".join(parts)


def draft(
    incident: Incident,
    timeline: Sequence[Entry],
    now: datetime,
    rules: Rules,
    groups: Mapping[str, LinkedGroup] | None = None,
) -> str:
    """The post-mortem's first draft, in Markdown. ``timeline`` is the incident's
    story (its own lines and its groups', in time order); ``groups`` names the alert
    groups it links or linked (those missing are shown by id alone)."""
    named = groups or {}
    end = incident.resolved_at or now
    lasted = duration_text(end - incident.opened_at)
    lines = [
        f"# Post-mortem: {incident.title} (incident #{incident.id})",
        "",
        f"- **Severity:** {incident.severity}{peak_text(incident, timeline, end, rules)}",
        f"- **Declared:** {format_rfc3339(incident.opened_at)} by {incident.opened_by}",
        (
            f"- **Resolved:** {format_rfc3339(incident.resolved_at)} (after {lasted})"
            if incident.resolved_at
            else f"- **Status:** {incident.status} (open for {lasted} so far)"
        ),
    ]
    lines += key_times(incident, timeline, end)
    lines += [f"- **{role.capitalize()}:** {person}" for role, person in incident.roles.items()]
    if incident.groups:
        shown = (named.get(g, LinkedGroup(g)).name for g in incident.groups)
        lines.append(f"- **Alert groups:** {', '.join(shown)}")
    said = latest_words(incident, timeline)
    # the words are the public's, a starting point: the hint stays until rewritten
    lines += ["", "## Summary", "", *([said, ""] if said else []), SUMMARY_HINT]
    for heading, hint in QUESTIONS:
        lines += ["", f"## {heading}", "", hint or "_..._"]
    lines += ["", "## Timeline (UTC)", "", "| When | Who | What |", "|---|---|---|"]
    for e in timeline:
        mark = " (status page)" if e.public and incident.public else ""
        when = e.at.strftime("%Y-%m-%d %H:%M:%S")
        text = _named(e, named).text
        lines.append(f"| {when} | {_cell(e.by)} | {_cell(text)}{mark} |")
    return "\n".join(lines) + "\n"


def latest_words(incident: Incident, timeline: Sequence[Entry]) -> str:
    """What the draft's summary starts from: the last status-page update, which says
    where the incident ended up, unless the summary was changed after it (then the
    summary is the newer word); the summary when no update was posted."""
    updates = [e for e in timeline if e.kind == "update" and e.public]
    if not updates:
        return incident.summary
    last = updates[-1]
    edited = [e.at for e in timeline if e.kind == "summary"]
    if incident.summary and edited and max(edited) > last.at:
        return incident.summary
    return last.text


def _named(entry: Entry, groups: Mapping[str, LinkedGroup]) -> Entry:
    """A line about an alert group with the group's labels after its id ("alert group
    8a8ae33d4e37 (alertname=HighErrorRate): opened"), so the reader knows which alerts
    it held without looking the id up."""
    found = groups.get(entry_group(entry))
    prefix = f"{GROUP_PREFIX}{found.id}" if found is not None else ""
    if found is None or not found.labels or not entry.text.startswith(prefix):
        return entry
    return replace(entry, text=f"{GROUP_PREFIX}{found.name}{entry.text[len(prefix) :]}")


def severity_spans(
    incident: Incident, timeline: Sequence[Entry], end: datetime
) -> list[tuple[str, datetime, datetime]]:
    """Each severity the incident held, from when to when, in order, read from its
    severity changes (the first held is the first change's "from"). Only the time up
    to ``end`` (its resolution, or now) counts: a regrade after the resolution is a
    judgement of the whole, not a stretch of it, and holds no time here."""
    changes = [(e.at, found) for e in timeline if (found := severity_change(e)) is not None]
    current = changes[0][1][0] if changes else incident.severity
    since = incident.opened_at
    spans = []
    for at, (_, to) in changes:
        spans.append((current, since, at))
        current, since = to, at
    spans.append((current, since, end))
    return [(s, start, min(until, end)) for s, start, until in spans if start < min(until, end)]


def peak_text(incident: Incident, timeline: Sequence[Entry], end: datetime, rules: Rules) -> str:
    """`` (peak SEV1, 21:05\u201321:08)`` when the incident was more severe than it ended
    (the configured order: the first is the most severe; each time it held that
    severity); "" when its severity now is the highest it reached."""
    spans = severity_spans(incident, timeline, end)
    if not spans:
        return ""
    peak = min(spans, key=lambda s: severity_rank(s[0], rules))[0]
    if severity_rank(peak, rules) >= severity_rank(incident.severity, rules):
        return ""
    day = incident.opened_at.date()
    held = [f"{_clock(a, day)}{UNTIL}{_clock(b, a.date())}" for s, a, b in spans if s == peak]
    return f" (peak {peak}, {', '.join(held)})"


def _clock(at: datetime, day: date) -> str:
    """``21:05`` (UTC, as the timeline), with the date when it is not ``day``'s."""
    return at.strftime("%H:%M" if at.date() == day else "%Y-%m-%d %H:%M")


def since_written(incident: Incident, story: Sequence[Entry]) -> list[Entry] | None:
    """For a stored post-mortem owed again (the incident reopened since it was
    written): the lines of the story after it was last written, which it does not
    tell; None when it is not owed again."""
    if not incident.postmortem or incident.postmortem_at is not None:
        return None
    # by place, not time: lines written in the same second follow it in the story too
    written = [n for n, e in enumerate(story) if e.kind == "postmortem"]
    return list(story[written[-1] + 1 :]) if written else list(story)


def _cell(text: str) -> str:
    """Text a Markdown table cell holds whole (a "|" would end the cell)."""
    return text.replace("|", "\\|").replace("\n", " ")


def key_times(incident: Incident, timeline: Sequence[Entry], end: datetime) -> list[str]:
    """How long the response took, from its linked alert groups' lines: from the first
    group's opening (when Tocsin first paged) to its first acknowledgement, to the
    declaration, and to the resolution. Nothing without a group's opening."""
    opened = [e.at for e in timeline if e.kind == "group" and e.action in ("opened", "re-opened")]
    if not opened:
        return []
    first = min(opened)
    acks = [e.at for e in timeline if e.kind == "group" and e.action == "acknowledged"]
    out = []
    if acks:
        out.append(f"- **Time to acknowledge:** {duration_text(min(acks) - first)}")
    if incident.opened_at >= first:  # (declared first, then a group linked: no such time)
        out.append(f"- **Time to declare:** {duration_text(incident.opened_at - first)}")
    if incident.resolved_at:
        out.append(f"- **Time to resolve:** {duration_text(end - first)} (from the first page)")
    return out
