"""The timers a runbook promises, run for one incident (an alert group's episode).

A runbook's SLAs ("Response Time: < 5 minutes" under "Critical Alerts", "Acknowledge
alert: 5 minutes", "Schedule postmortem: 48 hours", "Post-incident review within 3
business days") become timers of the group its procedures are linked from:

- which apply: a promise written inside one alert's section (or its sub-sections, or
  its row of a table of alerts) is that alert's timer and no other's ("Post in
  #incidents within 2 minutes" under `## BleedC` is not BleedA's); of the rest, the
  runbook-wide ones, an SLA whose context names a class of alerts ("Critical Alerts",
  "Business Alerts") applies to procedures of that category or, when none names their
  category, severity; one about the incident itself (response, acknowledgement,
  escalation, communication, the post-incident review) applies to every procedure of
  its runbook; the rest (key rotation, data retention, announcing maintenance in
  advance) to no incident.
- when each starts: at the group's opening, or, for the post-incident work, at its
  resolution.
- what ends it: a person's first answer (an acknowledgement, or a resolution by hand
  before one) meets or misses a timer that speaks of acknowledging or responding;
  alerts that resolve by themselves answer nothing. The others (update the status
  page, schedule the post-mortem) are met, or missed, when a person says they kept
  them: a "timer kept" line of the audit trail, the newest line about a timer winning
  as for checklist steps. One nobody kept falls due, and a timer started at the
  opening stops counting once the group is resolved.

Everything here is pure: the episode comes from the group's audit trail, ``now`` is an
argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from tocsin.runbooks.checklist import OPENINGS, latest_opening
from tocsin.runbooks.fields import collapse
from tocsin.runbooks.model import AlertProcedure, Duration, Lines, Runbook, Sla
from tocsin.runbooks.vocabulary import SEVERITY_WORDS

# "Business Alerts", "P1 incidents": a context that names a class of alerts
_CLASS_OF = re.compile(r"\s*(.+?)\s+(?:alerts?|alarms?|incidents?|pages?)\s*", re.IGNORECASE)
_INCIDENT = re.compile(
    r"incident|respon|post-?mortem|review|retro|timeline|communicat|escalat|acknowledg"
    r"|status\s+page|on-?call",
    re.IGNORECASE,
)
_AFTER = re.compile(r"post-?mortem|post-?incident|review|retro|lessons", re.IGNORECASE)
# "Escalation: Automatic if not acknowledged" ends on acknowledgement (it says so);
# "Manual escalation to email after 2 hours" does not: nothing but the end stops it
_ENDS_ON_ACK = re.compile(r"acknowledg|\back\b|respon", re.IGNORECASE)

Start = Literal["opened", "resolved"]
State = Literal["met", "missed", "running", "overdue", "waiting", "closed"]

KEPT = "timer kept"
UNKEPT = "timer unkept"
# A linked incident's audit lines in the group's trail (``core.incident_ops``): they keep
# the timers that promise them, with no one having to say so.
STATUS_PAGE_UPDATED = "status page updated"
POSTMORTEM_WRITTEN = "post-mortem written"
_STATUS_PAGE = re.compile(r"status\s*page", re.IGNORECASE)


def incident_comment(incident_id: int, text: str) -> str:
    """Such a line's comment: which incident, then what it said (``_by_incident`` and
    the incident's own view read the incident back from it)."""
    return f"incident #{incident_id}: {text}"


@dataclass(frozen=True, slots=True)
class Kept:
    """A person's word that they kept (or, ``kept`` false, had not kept) a timer."""

    kept: bool
    who: str
    at: datetime


TimerKey = tuple[str, str]
"""A timer as the audit trail names it: its runbook and its label. A reworded SLA is
another promise, which nobody has kept yet."""


@dataclass(frozen=True, slots=True)
class Episode:
    """One opening of an alert group and what followed it."""

    opened: datetime | None = None
    acknowledged: datetime | None = None
    resolved: datetime | None = None
    resolved_by_hand: bool = False  # by a person, not because its alerts resolved
    kept: Mapping[TimerKey, Kept] = field(default_factory=dict)  # the newest word on each
    # a linked incident's first status-page update and first post-mortem since it opened
    status_page_updated: Kept | None = None
    postmortem_written: Kept | None = None


def episode(audit: Iterable[Mapping[str, Any]]) -> Episode:
    """The latest opening in an audit trail (``oncall_rows.audit_of``'s dicts, oldest
    first), its first acknowledgement, its resolution and the timers people kept."""
    audit = list(audit)
    start = latest_opening(audit)
    found = Episode()
    kept: dict[TimerKey, Kept] = {}
    for line in audit[start:]:
        action, at = line["action"], line["at"]
        if action in OPENINGS:
            found, kept = Episode(opened=at), {}
        elif action == "acknowledged" and found.acknowledged is None:
            found = replace(found, acknowledged=at)
        elif action == "resolved" and found.resolved is None:
            found = replace(found, resolved=at, resolved_by_hand=line.get("channel") != "auto")
        elif action in (KEPT, UNKEPT):
            said = (line.get("detail") or {}).get("timer") or {}
            if isinstance(said.get("runbook"), str) and isinstance(said.get("text"), str):
                kept[said["runbook"], said["text"]] = Kept(action == KEPT, line["actor"], at)
        elif action == STATUS_PAGE_UPDATED and found.status_page_updated is None:
            found = replace(found, status_page_updated=_by_incident(line))
        elif action == POSTMORTEM_WRITTEN and found.postmortem_written is None:
            found = replace(found, postmortem_written=_by_incident(line))
    return replace(found, kept=kept) if kept else found


def _by_incident(line: Mapping[str, Any]) -> Kept:
    """A linked incident's line as a kept timer's word: by whom, on which incident."""
    incident = str(line.get("comment", "")).split(":", 1)[0]
    return Kept(True, f"{line['actor']} ({incident})" if incident else line["actor"], line["at"])


@dataclass(frozen=True, slots=True)
class Timer:
    runbook: str
    text: str  # the SLA as the runbook words it
    lines: Lines
    start: Start
    ends_on_ack: bool
    due_at: datetime | None  # None until its start happened
    met_at: datetime | None
    state: State
    kept_by: str | None = None  # who said they kept it (timers not ended by an answer)

    @property
    def ref(self) -> str:
        """How a person names it: ``RUNBOOK:LINE``, where the runbook states it."""
        return f"{self.runbook}:{self.lines[0]}"

    @property
    def keepable(self) -> bool:
        """Whether a person says when it was kept; an answer to the page keeps the rest."""
        return not self.ends_on_ack

    def detail(self) -> dict[str, Any]:
        """What an audit line about this timer stores beside its columns."""
        return {"runbook": self.runbook, "line": self.lines[0], "text": self.text}


Fit = Literal["alert", "category", "severity", "incident"]


def fit(sla: Sla, procedure: AlertProcedure) -> Fit | None:
    """How ``sla`` is a timer of incidents of ``procedure`` (see the module doc): for
    its category, its severity, or any incident; None: it is not."""
    if sla.kind == "advance-notice":
        return None
    classes = _classes(sla.context or "")
    if not classes:
        return "incident" if _INCIDENT.search(f"{sla.context or ''} {sla.action}") else None
    if procedure.category and procedure.category.lower() in classes:
        return "category"
    if procedure.severity and procedure.severity.lower() in classes:
        return "severity"
    return None


def owners(book: Runbook) -> list[AlertProcedure | None]:
    """For each of ``book.slas``, the alert whose section (or table row) holds it, the
    innermost when sections nest; None for a runbook-wide promise. One sweep down the
    lines: sections nest or follow one another, so the open ones are a stack."""
    alerts = sorted(book.alerts, key=lambda a: (a.lines[0], -a.lines[1]))
    order = sorted(range(len(book.slas)), key=lambda n: book.slas[n].lines)
    found: list[AlertProcedure | None] = [None] * len(book.slas)
    open_: list[AlertProcedure] = []
    i = 0
    for n in order:
        first, last = book.slas[n].lines
        while i < len(alerts) and alerts[i].lines[0] <= first:
            while open_ and open_[-1].lines[1] < alerts[i].lines[0]:
                open_.pop()
            open_.append(alerts[i])
            i += 1
        while open_ and open_[-1].lines[1] < first:
            open_.pop()
        holder = next((a for a in reversed(open_) if last <= a.lines[1]), None)
        found[n] = holder
    return found


def fit_in(sla: Sla, owner: AlertProcedure | None, procedure: AlertProcedure) -> Fit | None:
    """``fit`` for an SLA of a runbook whose alert ``owner`` states it (see ``owners``):
    an alert's own promise is its timer alone; a runbook-wide one fits as ``fit`` says."""
    if owner is None:
        return fit(sla, procedure)
    if sla.kind == "advance-notice":
        return None
    mine = owner.lines == procedure.lines and owner.section == procedure.section
    return "alert" if mine else None


def classes_promised(book: Runbook) -> set[str]:
    """The alert classes ``book``'s promises are written for ("Critical Alerts" ->
    critical; "SEV1 Alerts" -> sev1): an alert's own severity label chooses among
    them (``core.checklists.as_fired``)."""
    return {c for sla in book.slas if sla.context for c in _classes(sla.context)}


def _classes(context: str) -> set[str]:
    """The alert classes a context names: its severity words ("Critical Alerts"), or
    the X of "X Alerts" (a category: "Business Alerts")."""
    found = {re.sub(r"[\s-]", "", w).lower() for w in SEVERITY_WORDS.findall(context)}
    named = _CLASS_OF.fullmatch(context)
    if named and collapse(named.group(1)).lower() not in _EVERY:
        found.add(collapse(named.group(1)).lower())
    return found


# "Every incident", "All alerts": no class, every incident's (read as a class named
# "every", such a promise applied to no alert at all)
_EVERY = frozenset({"every", "all", "any", "each"})


def after(start: datetime, duration: Duration) -> datetime:
    """``start`` plus ``duration``; business days skip Saturdays and Sundays."""
    if not duration.business:
        return start + timedelta(seconds=duration.seconds)
    at, days = start, round(duration.amount)
    while days > 0:
        at += timedelta(days=1)
        if at.weekday() < 5:
            days -= 1
    return at


def timer(runbook: str, sla: Sla, ep: Episode, now: datetime) -> Timer:
    start: Start = "resolved" if _AFTER.search(f"{sla.action} {sla.context or ''}") else "opened"
    ends_on_ack = start == "opened" and _ENDS_ON_ACK.search(sla.action) is not None
    began = ep.opened if start == "opened" else ep.resolved
    due = None if began is None else after(began, sla.duration)
    label = _label(sla.text)
    said = None if ends_on_ack else ep.kept.get((runbook, label)) or _kept_by_incident(sla, ep)
    kept = said if said is not None and said.kept else None
    met: datetime | None = None
    state: State
    if kept is not None:  # before its start, too: a post-mortem booked mid-incident
        met = kept.at
        state = "met" if due is None or met <= due else "missed"
    elif due is None:
        state = "waiting"
    elif ends_on_ack and (responded := _responded(ep)) is not None:
        met = responded
        state = "met" if met <= due else "missed"
    elif ends_on_ack and ep.resolved is not None:
        # its alerts resolved before anyone responded: not met by anyone
        state = "closed" if ep.resolved <= due else "missed"
    elif start == "opened" and ep.resolved is not None:
        # ended with the incident; one that ran out first, and that nobody said they
        # kept (a status page updated, say), stays overdue
        state = "closed" if ep.resolved <= due else "overdue"
    else:
        state = "running" if now < due else "overdue"
    who = kept.who if kept is not None else None
    return Timer(runbook, label, sla.lines, start, ends_on_ack, due, met, state, who)


def _kept_by_incident(sla: Sla, ep: Episode) -> Kept | None:
    """What a linked incident did that keeps this promise: its status page updated, its
    post-mortem written (a person's own word on the timer comes first)."""
    # the promise's own words, not its section's ("Post-Incident Actions" holds
    # "Long-term: implement preventive measures", which a post-mortem does not keep)
    if _STATUS_PAGE.search(sla.action):
        return ep.status_page_updated
    if _AFTER.search(sla.action):
        return ep.postmortem_written
    return None


def _label(text: str) -> str:
    """The SLA's words as a timer's label: "Immediate (within 1 hour):" loses its colon,
    "and update the status page within 15 minutes" its "and"."""
    label = re.sub(r"^(?:and|then|also|or)\s+", "", text.strip(), flags=re.IGNORECASE)
    label = label.rstrip(":;,. ")
    return label[:1].upper() + label[1:]


def _responded(ep: Episode) -> datetime | None:
    """When a person first answered: acknowledged, or resolved by hand before that."""
    answers = [ep.acknowledged, ep.resolved if ep.resolved_by_hand else None]
    return min((t for t in answers if t is not None), default=None)


def timers(
    books: Mapping[str, Runbook],
    procedures: Sequence[tuple[str, AlertProcedure]],
    ep: Episode,
    now: datetime,
) -> list[Timer]:
    """The timers of an episode whose alerts link to ``procedures`` (runbook name,
    procedure), each SLA once, in the runbooks' order."""
    out: list[Timer] = []
    seen: set[tuple[str, Lines]] = set()
    owned: dict[str, list[AlertProcedure | None]] = {}
    for name, procedure in procedures:
        book = books.get(name)
        if book is None:
            continue
        if name not in owned:
            owned[name] = owners(book)
        fits = [
            (sla, fit_in(sla, owner, procedure))
            for sla, owner in zip(book.slas, owned[name], strict=True)
        ]
        # "Warning (Business)": the business alerts' promise, not the warnings'
        by_category = any(how == "category" for _, how in fits)
        for sla, how in fits:
            if how is None or (by_category and how == "severity"):
                continue
            if (name, sla.lines) not in seen:
                seen.add((name, sla.lines))
                out.append(timer(name, sla, ep, now))
    return out


def find_timer(found: Sequence[Timer], text: str) -> Timer | str:
    """A timer as a person names it: ``N`` as listed (from 1) or ``RUNBOOK:LINE`` (its
    ``ref``, the runbook's name in any letter case); the timer, or why it names none."""
    if text.isascii() and text.isdigit():
        number = int(text)
        if 1 <= number <= len(found):
            return found[number - 1]
        return f"{text!r}: this group has {len(found)} timers (tocsin checklist GROUP lists them)"
    for t in found:
        if t.ref.casefold() == text.casefold():
            return t
    have = ", ".join(t.ref for t in found) or "none"
    return f"{text!r}: a timer is N or RUNBOOK:LINE as listed; this group has: {have}"
