"""A post-mortem's first draft, written from what the incident already holds.

Nobody should retype a timeline at the end of an incident: the draft carries its
facts (severity, times, duration, roles, linked alert groups, summary) and its whole
timeline, and leaves headed blanks for what only people can write (blameless: what
happened and why, not who). The team edits it and stores it back, which is what
meets the severity's ``postmortem_within``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tocsin.incidents.model import Entry, Incident
from tocsin.timeutil import format_rfc3339

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


def draft(incident: Incident, timeline: Sequence[Entry], now: datetime) -> str:
    """The post-mortem's first draft, in Markdown."""
    end = incident.resolved_at or now
    lasted = duration_text(end - incident.opened_at)
    lines = [
        f"# Post-mortem: {incident.title} (incident #{incident.id})",
        "",
        f"- **Severity:** {incident.severity}",
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
        lines.append(f"- **Alert groups:** {', '.join(incident.groups)}")
    lines += ["", "## Summary", "", incident.summary or "_One paragraph: what broke, for whom._"]
    for heading, hint in QUESTIONS:
        lines += ["", f"## {heading}", "", hint or "_..._"]
    lines += ["", "## Timeline (UTC)", "", "| When | Who | What |", "|---|---|---|"]
    for e in timeline:
        mark = " (status page)" if e.public else ""
        when = e.at.strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"| {when} | {_cell(e.by)} | {_cell(e.text)}{mark} |")
    return "\n".join(lines) + "\n"


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
