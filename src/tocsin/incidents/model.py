"""An incident and the rules of changing it.

An incident is declared with a title and a severity, by someone who becomes its
commander unless another is named. Every change is decided here (``decide``) against
the configured severities and roles, and yields the timeline entries that record it,
so the API, the CLI and the console change an incident the same way and the timeline
is never out of step with the incident. A change that changes nothing writes nothing.

Statuses are the status page's (Atlassian Statuspage's four): investigating,
identified, monitoring, resolved. Resolving stamps ``resolved_at``; any other status
on a resolved incident reopens it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

STATUSES = ("investigating", "identified", "monitoring", "resolved")
RESOLVED = "resolved"
COMMANDER = "commander"  # the role the declarer takes unless another is named
TITLE_MAX = 200
TEXT_MAX = 10_000  # a note, an update, a summary
POSTMORTEM_MAX = 60_000  # characters: the console's form carries it whole


class Refused(ValueError):
    """A change that cannot be made, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Rules:
    """What the config allows: its severities (most severe first), roles, and the
    status page's components."""

    severities: tuple[str, ...]
    roles: tuple[str, ...]
    components: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One line of an incident's timeline. ``public`` lines are status-page updates."""

    at: datetime
    by: str
    kind: str  # declared, status, severity, title, summary, role, note, update, ...
    text: str
    public: bool = False
    group: str = ""  # the alert group a "linked", "unlinked" or "group" entry is about
    action: str = ""  # a "group" entry's: its audit line's ("opened", "acknowledged", ...)
    # the person a "role" entry gives the role to, as decided (the store keeps the text):
    # told of it
    person: str = ""


@dataclass(frozen=True)
class LinkedGroup:
    """An alert group an incident names, as its readers should see it: a bare id says
    nothing at 3 a.m., its labels (the route's ``group_by`` values, e.g. alertname and
    service) say which alerts it holds, and its status whether anyone still has to act."""

    id: str
    labels: tuple[tuple[str, str], ...] = ()  # sorted by name
    status: str = ""  # firing, acknowledged, snoozed, resolved; "" if no longer stored

    @property
    def label_text(self) -> str:
        """``alertname=HighErrorRate, service=api``, on one line (a label value may
        hold a line break, which would end a Markdown list item or table cell)."""
        return ", ".join(f"{k}={' '.join(v.splitlines())}" for k, v in self.labels)

    @property
    def name(self) -> str:
        """Its id with its labels: ``8a8ae33d4e37 (alertname=HighErrorRate, service=api)``."""
        return f"{self.id} ({self.label_text})" if self.labels else self.id


@dataclass(frozen=True)
class Incident:
    id: int  # 0 until stored
    title: str
    severity: str
    status: str
    opened_at: datetime
    opened_by: str
    summary: str = ""  # what the status page says of it (customer impact)
    public: bool = False  # shown on the status page
    roles: Mapping[str, str] = field(default_factory=dict)  # role -> person
    groups: tuple[str, ...] = ()  # linked on-call alert groups
    components: tuple[str, ...] = ()  # what the status page shows it affects
    told: tuple[str, ...] = ()  # the receivers announced to: told until it ends
    resolved_at: datetime | None = None
    last_update_at: datetime | None = None  # the last status-page update
    # when it took its severity (its declaration, or the last change): what a
    # severity owes counts from then
    severity_at: datetime | None = None
    postmortem: str = ""  # Markdown, once written
    postmortem_at: datetime | None = None
    reopened_at: datetime | None = None  # when it was last reopened, if it was

    @property
    def open(self) -> bool:
        return self.status != RESOLVED

    @property
    def commander(self) -> str:
        return self.roles.get(COMMANDER, "")


@dataclass(frozen=True)
class Change:
    """What someone asks to change; None (or empty) fields are left as they are."""

    title: str | None = None
    severity: str | None = None
    status: str | None = None
    summary: str | None = None
    public: bool | None = None
    roles: Mapping[str, str] = field(default_factory=dict)  # person "" unassigns
    link: Sequence[str] = ()
    unlink: Sequence[str] = ()
    components: Sequence[str] | None = None  # the whole list it affects, in its place
    note: str = ""  # a line on the timeline, for the responders
    update: str = ""  # a status-page update, public
    postmortem: str | None = None


def declare(
    title: str,
    severity: str,
    by: str,
    now: datetime,
    rules: Rules,
    summary: str = "",
    public: bool = False,
    roles: Mapping[str, str] | None = None,
    groups: Sequence[str] = (),
    components: Sequence[str] = (),
) -> tuple[Incident, list[Entry]]:
    """A new incident (id 0) and its first timeline entries."""
    _check_by(by, "who declares it")
    _check_title(title)
    severity = _severity(severity, rules)
    _check_text("summary", summary)
    given = dict(roles or {})
    if COMMANDER in rules.roles and not given.get(COMMANDER):
        given[COMMANDER] = by
    _check_roles(given, rules)
    blank = Incident(
        0, title.strip(), severity, "investigating", now, by, summary, public, severity_at=now
    )
    entries = [Entry(now, by, "declared", f"declared {severity}: {title.strip()}")]
    first = Change(roles=given, link=tuple(dict.fromkeys(groups)), components=components or None)
    incident, more = decide(blank, first, by, now, rules)
    return incident, entries + more


def decide(
    incident: Incident, change: Change, by: str, now: datetime, rules: Rules
) -> tuple[Incident, list[Entry]]:
    """The incident after ``change`` and the timeline entries that record it. Raises
    Refused, naming the field, for a change that cannot be made; nothing of a refused
    change is applied."""
    _check_by(by, "who makes the change")
    out: list[Entry] = []
    new = incident

    def say(kind: str, text: str, public: bool = False, group: str = "", person: str = "") -> None:
        out.append(Entry(now, by, kind, text, public, group, person=person))

    if change.title is not None and change.title.strip() != new.title:
        _check_title(change.title)
        say("title", f"title: {change.title.strip()}")
        new = replace(new, title=change.title.strip())
    # (the severity it has, sent back unchanged, is no change even if no longer
    # configured: the console's form sends it)
    if change.severity is not None and change.severity != new.severity:
        graded = _severity(change.severity, rules)
        if graded != new.severity:
            say("severity", f"{SEVERITY_CHANGED}{new.severity} -> {graded}")
            new = replace(new, severity=graded, severity_at=now)
    if change.summary is not None and change.summary != new.summary:
        _check_text("summary", change.summary)
        say("summary", f"summary: {change.summary}")
        new = replace(new, summary=change.summary)
    if change.public is not None and change.public != new.public:
        say(
            "visibility",
            "shown on the status page" if change.public else "hidden from the status page",
        )
        new = replace(new, public=change.public)
    if change.roles:
        _check_roles(change.roles, rules)
        roles = dict(new.roles)
        for role, person in change.roles.items():
            if roles.get(role, "") == person:
                continue
            if person:
                roles[role] = person
                say("role", f"{role}: {person}", person=person)
            else:
                del roles[role]
                say("role", f"{role}: unassigned")
        new = replace(new, roles=roles)
    for i, group in enumerate(change.unlink):
        if group not in new.groups:
            raise Refused(f"unlink[{i}]", f"alert group {group!r} is not linked to this incident")
        say("unlinked", f"{GROUP_PREFIX}{group} unlinked", group=group)
        new = replace(new, groups=tuple(g for g in new.groups if g != group))
    for i, group in enumerate(change.link):
        if not group:
            raise Refused(f"link[{i}]", "an alert group id, not empty")
        if group not in new.groups:
            say("linked", f"{GROUP_PREFIX}{group} linked", group=group)
            new = replace(new, groups=(*new.groups, group))
    if change.components is not None:
        wanted = tuple(dict.fromkeys(change.components))
        for i, name in enumerate(wanted):
            if name not in rules.components:
                known = ", ".join(rules.components) or "none configured"
                raise Refused(
                    f"components[{i}]",
                    f"no component {name!r} (tocsin.incidents.components: {known})",
                )
        if set(wanted) != set(new.components):
            say("components", f"affects: {', '.join(wanted) or 'nothing listed'}")
            new = replace(new, components=wanted)
    if change.status is not None and change.status != new.status:
        if change.status not in STATUSES:
            raise Refused("status", f"must be one of {', '.join(STATUSES)}")
        if change.status == RESOLVED:
            say("status", "resolved", public=not change.update)
            new = replace(new, status=RESOLVED, resolved_at=now)
        elif not new.open:
            say("status", f"reopened: {change.status}", public=not change.update)
            # its post-mortem (kept, to revise) is owed again at the next resolution
            new = replace(
                new, status=change.status, resolved_at=None, postmortem_at=None, reopened_at=now
            )
        else:
            say("status", f"status: {change.status}", public=not change.update)
            new = replace(new, status=change.status)
    if change.note:
        _check_text("note", change.note)
        say("note", change.note)
    if change.update:
        _check_text("update", change.update)
        say("update", f"{new.status.capitalize()}: {change.update}", public=True)
        new = replace(new, last_update_at=now)
    elif any(e.kind == "status" for e in out):
        # a status change is news on the status page even without words of its own
        new = replace(new, last_update_at=now)
    if change.postmortem is not None and (
        change.postmortem != new.postmortem or new.postmortem_at is None
    ):
        if not change.postmortem.strip():
            raise Refused("postmortem", "empty: write the post-mortem, or leave it out")
        if len(change.postmortem) > POSTMORTEM_MAX:
            raise Refused("postmortem", f"longer than {POSTMORTEM_MAX} characters")
        _check_not_stale(new, change.postmortem)
        say("postmortem", "post-mortem written" if not new.postmortem else "post-mortem revised")
        new = replace(new, postmortem=change.postmortem, postmortem_at=now)
    return new, out


def _check_not_stale(incident: Incident, text: str) -> None:
    """Refuse the stored post-mortem saved again unchanged while it is owed anew.

    A stored post-mortem without ``postmortem_at`` was written before the incident was
    reopened (reopening clears it). Saving that text as it is would pay the new debt
    with a write-up of the first resolution only, saying nothing of why it came back:
    whoever saves it must revise it, if only to say the reopening changed nothing."""
    if not incident.postmortem or incident.postmortem_at is not None:
        return
    if text.strip() != incident.postmortem.strip():  # (a trailing newline is no revision)
        return
    since = "reopened" if incident.open else "reopened and resolved again"
    raise Refused(
        "postmortem",
        f"the incident was {since} since this post-mortem was written: revise it "
        "(what the reopening changed, even if nothing), then save it",
    )


# How a severity change and a link or unlink are said on the timeline: stored as text,
# and read back from it (the post-mortem's peak severity, its groups' names)
SEVERITY_CHANGED = "severity "
GROUP_PREFIX = "alert group "


def severity_change(entry: Entry) -> tuple[str, str] | None:
    """A severity change's ``(from, to)``, or None for any other line. Severity names
    are single words (``config.model.INCIDENT_NAME``), so the split is unambiguous."""
    if entry.kind != "severity" or not entry.text.startswith(SEVERITY_CHANGED):
        return None
    old, sep, new = entry.text.removeprefix(SEVERITY_CHANGED).partition(" -> ")
    return (old, new) if sep and old and new else None


def entry_group(entry: Entry) -> str:
    """The alert group a line is about: its ``group``, or for a link or unlink read
    back from the store (which keeps only its text), the id its text names."""
    if entry.group or entry.kind not in ("linked", "unlinked"):
        return entry.group
    text, suffix = entry.text, f" {entry.kind}"
    if not (text.startswith(GROUP_PREFIX) and text.endswith(suffix)):
        return ""
    said = text[len(GROUP_PREFIX) : -len(suffix)]
    return said if said and " " not in said else ""


def _check_by(by: str, what: str) -> None:
    if not by.strip():
        raise Refused("by", f"required, {what}")
    if by != by.strip() or "\n" in by:
        raise Refused("by", "a name on one line, without spaces around it")


def _check_title(title: str) -> None:
    if not title.strip():
        raise Refused("title", "required, what is happening (e.g. 'Checkout failing')")
    if len(title) > TITLE_MAX or "\n" in title:
        raise Refused("title", f"one line of at most {TITLE_MAX} characters")


def _severity(severity: str, rules: Rules) -> str:
    """The configured severity ``severity`` names, its case aside (``-s sev1`` typed at
    3 a.m. is SEV1); refused if none."""
    if severity in rules.severities:
        return severity
    found = [s for s in rules.severities if s.casefold() == severity.casefold()]
    if len(found) != 1:
        raise Refused(
            "severity",
            f"must be one of {', '.join(rules.severities)} (tocsin.incidents.severities)",
        )
    return found[0]


def _check_text(name: str, text: str) -> None:
    if len(text) > TEXT_MAX:
        raise Refused(name, f"longer than {TEXT_MAX} characters")


def _check_roles(roles: Mapping[str, str], rules: Rules) -> None:
    for role, person in roles.items():
        if role not in rules.roles:
            raise Refused(
                f"roles.{role}",
                f"no such role: one of {', '.join(rules.roles)} (tocsin.incidents.roles)",
            )
        if person != person.strip() or "\n" in person:
            raise Refused(f"roles.{role}", "a person's name, on one line")


# What the status page says overall, worst first: an open public incident of the most
# severe configured severity is a major outage, of the next a partial outage, of any
# other degraded performance (Statuspage's component states).
PAGE_STATUSES = ("major_outage", "partial_outage", "degraded_performance")
OPERATIONAL = "operational"


def page_status(shown: Sequence[Incident], rules: Rules, component: str | None = None) -> str:
    """The page's word, or with ``component`` that component's: the worst of the open
    incidents (that affect it)."""
    ranks = [
        severity_rank(i.severity, rules)
        for i in shown
        if i.open and (component is None or component in i.components)
    ]
    if not ranks:
        return OPERATIONAL
    return PAGE_STATUSES[min(min(ranks), len(PAGE_STATUSES) - 1)]


def impact(incident: Incident, rules: Rules) -> str:
    """The page's word for one incident, open or not (what it did to the service)."""
    return PAGE_STATUSES[min(severity_rank(incident.severity, rules), len(PAGE_STATUSES) - 1)]


def severity_rank(severity: str, rules: Rules) -> int:
    """0 for the most severe configured severity (the list's first); one no longer
    configured counts as the least."""
    found = rules.severities
    return found.index(severity) if severity in found else len(found)
