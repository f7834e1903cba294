"""The incident desk: what the API, the CLI and the console do with incidents.

Every change is one writer op (``core.incident_ops``), committed before it is
answered; reads go to the database, so every replica shows the same incident. After a
change the reminder loop is woken: an update that pays a debt resolves its alert at
once, not at the next round.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from tocsin.config.model import IncidentSettings
from tocsin.config.receivers import Receiver
from tocsin.core.incident_ops import ChangeIncident, Declare
from tocsin.core.policy import PERSON_PREFIX
from tocsin.incidents import maintenance, postmortem
from tocsin.incidents.announce import announcement, news
from tocsin.incidents.maintenance import Maintenance
from tocsin.incidents.model import (
    Change,
    Entry,
    Incident,
    LinkedGroup,
    Refused,
    Rules,
    entry_group,
    page_status,
    severity_rank,
)
from tocsin.incidents.reminders import Due, dues, owing_since
from tocsin.notify.message import Notification
from tocsin.notify.outbox import OutboxItem, new_item
from tocsin.oncall.lifecycle import Via
from tocsin.runbooks.timers import POSTMORTEM_WRITTEN, STATUS_PAGE_UPDATED, incident_comment
from tocsin.store import incident_rows, maintenance_rows, oncall_rows
from tocsin.store.writer import GroupCommitter
from tocsin.timeutil import Clock

# how long a resolved incident stays on the status page
STATUS_PAGE_KEEPS = timedelta(days=7)
LIST_LIMIT = 500


@dataclass(frozen=True)
class IncidentView:
    """An incident as the edges show it: with its timeline and what it owes."""

    incident: Incident
    timeline: list[Entry]
    owed: list[Due]
    # what happened to its linked alert groups (their audit lines: pages,
    # acknowledgements, escalations, checklist ticks), for the story told whole
    group_lines: list[Entry] = field(default_factory=list)
    # the alert groups it links, and those its timeline says it linked before, by id:
    # their labels and status (a group whose row is gone is missing)
    groups: Mapping[str, LinkedGroup] = field(default_factory=dict)

    def linked(self) -> list[LinkedGroup]:
        """The groups it links now, in the order linked."""
        return [self.groups.get(g, LinkedGroup(g)) for g in self.incident.groups]

    def story(self) -> list[Entry]:
        """Its timeline and its groups' lines, in time order (stable: ties keep the
        timeline first)."""
        return sorted([*self.timeline, *self.group_lines], key=lambda e: e.at)


# a linked group's audit lines shown with an incident, at most (a flapping group's
# trail can be long): its first (its opening, the first page) and its latest
GROUP_LINES = 200


def _bounded(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return lines if len(lines) <= GROUP_LINES else [lines[0], *lines[1 - GROUP_LINES :]]


def path_number(text: str) -> int | None:
    """A number from a path (an incident's, a maintenance window's), or None (not a
    number, or beyond any id)."""
    return int(text) if re.fullmatch(r"[0-9]{1,18}", text) else None


@dataclass(frozen=True)
class StatusPage:
    """What the public status page shows: its title, one word for the page and one
    for each configured component, and the public incidents with their updates."""

    title: str
    overall: str
    components: list[tuple[str, str]]
    views: list[IncidentView]
    # the public maintenance windows to come, running, or completed in the last week,
    # soonest first, each with its state
    maintenances: list[tuple[Maintenance, str]] = field(default_factory=list)


def group_entry(group: str, line: Mapping[str, Any]) -> Entry:
    """A linked group's audit line as a line of the incident's story."""
    said = f"alert group {group}: {line['action']}"
    if line["comment"]:
        said += f" ({line['comment']})"
    return Entry(line["at"], line["actor"], "group", said, group=group, action=line["action"])


def linked_group(row: oncall_rows.OncallGroupRow) -> LinkedGroup:
    """An on-call group's row as an incident names it."""
    labels = row.state.get("labels") or {}
    status = (row.state.get("lifecycle") or {}).get("status") or ""
    return LinkedGroup(row.group_id, tuple(sorted(labels.items())), str(status))


def linked_groups(conn: Connection, group_ids: Iterable[str]) -> dict[str, LinkedGroup]:
    """The groups of ``group_ids`` still stored, by id: one query however many."""
    rows = oncall_rows.get_groups(conn, list(dict.fromkeys(group_ids)))
    return {gid: linked_group(row) for gid, row in rows.items()}


def announced(
    receivers: Iterable[str],
    receiver: Callable[[str], Receiver | None],
    note: Callable[[str, str], Notification],
    now: datetime,
) -> list[OutboxItem]:
    """The outbox items of an announcement: ``note(name, key)`` to each of
    ``receivers`` still configured, one item per integration of each."""
    items: list[OutboxItem] = []
    for name in receivers:
        found = receiver(name)
        if found is None:  # removed by a reload: nothing to send it with
            continue
        key = uuid.uuid4().hex  # each announcement its own, however close in time
        said = note(name, key)
        items += [
            new_item(str(uuid.uuid4()), name, f"{kind}[{index}]", said, now)
            for kind, index, _ in found.integrations()
        ]
    return items


def rules_of(settings: IncidentSettings) -> Rules:
    names = tuple(s.name for s in settings.severities)
    return Rules(names, settings.roles, settings.components)


class IncidentDesk:
    def __init__(
        self,
        engine: Engine,
        writer: GroupCommitter,
        clock: Clock,
        settings: Callable[[], IncidentSettings],
        on_change: Callable[[], None],
        receiver: Callable[[str], Receiver | None] = lambda name: None,
        base_url: str = "",
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._clock = clock
        self.settings = settings
        self._on_change = on_change  # wakes the reminders, and the delivery worker
        self._receiver = receiver
        self._base_url = base_url
        # told, once committed, of the alert groups an incident took over (declared
        # from them, or linked later) and who took them, with why: the runtime
        # acknowledges them for that person
        self.on_taken: Callable[[Sequence[str], str, Via, str], Awaitable[None]] | None = None

    async def declare(
        self,
        title: str,
        severity: str,
        by: str,
        via: Via,
        summary: str = "",
        public: bool = False,
        roles: Mapping[str, str] | None = None,
        groups: Sequence[str] = (),
        components: Sequence[str] = (),
    ) -> Incident:
        """Declare an incident. Raises Refused (naming the field)."""
        rules = rules_of(self.settings())
        op = Declare(
            title, severity, by, via, self._clock, rules, summary, public, roles, groups, components
        )
        op.announce = self.announcements
        made: Incident = await self._writer.run(op)
        self._on_change()
        if self.on_taken is not None and made.groups:
            await self.on_taken(made.groups, made.opened_by, via, f"declared incident #{made.id}")
        return made

    async def change(self, incident_id: int, change: Change, by: str, via: Via) -> IncidentView:
        """Change an incident; its view after. Raises LookupError or Refused."""
        if change.postmortem is not None:
            # the draft stored as it was printed would meet postmortem_within with nothing
            draft = await asyncio.to_thread(self.postmortem, incident_id)
            if draft is not None and not draft[1] and draft[0].strip() == change.postmortem.strip():
                raise Refused("postmortem", "the draft, unedited: write it before storing it")
        rules = rules_of(self.settings())
        op = ChangeIncident(incident_id, change, by, via, self._clock, rules, self.announcements)
        _, entries = await self._writer.run(op)
        if entries:
            self._on_change()
        linked = [e.group for e in entries if e.kind == "linked"]
        if self.on_taken is not None and linked:
            await self.on_taken(linked, by, via, f"linked to incident #{incident_id}")
        found = await asyncio.to_thread(self.view, incident_id)
        assert found is not None  # incidents are never deleted
        return found

    def announcements(self, incident: Incident, entries: Sequence[Entry]) -> list[OutboxItem]:
        """The outbox items telling the incident's receivers (``announced_to``, and
        those told before) the news among ``entries``: one per integration of each."""
        settings = self.settings()
        rank = severity_rank(incident.severity, rules_of(settings))

        def told(receivers: Iterable[str], said: Sequence[Entry]) -> list[OutboxItem]:
            now = said[0].at
            return announced(
                receivers,
                self._receiver,
                lambda name, key: announcement(
                    incident, said, name, self._base_url, now, rank, key
                ),
                now,
            )

        items: list[OutboxItem] = []
        said = news(entries)
        if said:
            # those told before hear the rest (a PagerDuty incident opened by the
            # declaration is resolved by the resolution), whatever the severity became
            wanted = dict.fromkeys([*incident.told, *settings.announced_to(incident.severity)])
            items += told(wanted, said)
        for entry in entries:
            # a person given a role hears it the ways they are reached (their e-mail,
            # Slack), unless they took it themselves; a name no person has is not told
            if entry.kind == "role" and entry.person and entry.person != entry.by:
                items += told([f"{PERSON_PREFIX}{entry.person}"], [entry])
        return items

    def view(self, incident_id: int) -> IncidentView | None:
        with self._engine.connect() as conn:
            found = incident_rows.get(conn, incident_id)
            if found is None:
                return None
            timeline = incident_rows.timeline(conn, [incident_id])[incident_id]
            lines = [
                group_entry(group, line)
                for group in found.groups
                for line in _bounded(oncall_rows.audit_of(conn, group))
                if not _echoes(line, incident_id)
            ]
            # an unlinked group's lines stay on the timeline: named there too
            ever = [*found.groups, *filter(None, map(entry_group, timeline))]
            groups = linked_groups(conn, ever)
        return IncidentView(found, timeline, self.owed(found), lines, groups)

    def groups_of(self, incidents: Iterable[Incident]) -> dict[str, LinkedGroup]:
        """The groups ``incidents`` link, by id (for the lists of incidents)."""
        with self._engine.connect() as conn:
            return linked_groups(conn, (g for i in incidents for g in i.groups))

    def linking(self, group_id: str) -> list[Incident]:
        """The incidents an alert group is linked to, newest first."""
        with self._engine.connect() as conn:
            return incident_rows.linking(conn, group_id)

    def open_by_group(self) -> dict[str, Incident]:
        """Each alert group's open incident (the newest, when several), from one read:
        for the lists of groups."""
        found = self.listing(open_only=True)  # newest first: the newest is set last
        return {g: i for i in reversed(found) for g in i.groups}

    def owed(self, incident: Incident) -> list[Due]:
        return dues(incident, self.settings().severity(incident.severity), self._clock())

    def listing(self, open_only: bool) -> list[Incident]:
        with self._engine.connect() as conn:
            return incident_rows.listing(conn, open_only, LIST_LIMIT)

    def postmortem(self, incident_id: int) -> tuple[str, bool] | None:
        """The stored post-mortem (True), or a draft from the incident (False)."""
        found = self.view(incident_id)
        return None if found is None else self.postmortem_of(found)

    def postmortem_of(self, found: IncidentView) -> tuple[str, bool]:
        """:meth:`postmortem` of an incident already read."""
        if found.incident.postmortem:
            return found.incident.postmortem, True
        rules = rules_of(self.settings())
        story = found.story()
        return postmortem.draft(found.incident, story, self._clock(), rules, found.groups), False

    def status_page(self) -> StatusPage:
        """The public incidents (open ones, and those resolved in the last week), each
        with only its public timeline lines (its status-page updates), and the words
        they give the page and its components."""
        now = self._clock()
        since = now - STATUS_PAGE_KEEPS
        with self._engine.connect() as conn:
            shown = incident_rows.public_since(conn, since, LIST_LIMIT)
            lines = incident_rows.timeline(conn, [i.id for i in shown])
            windows = maintenance.shown(
                maintenance_rows.ending_after(conn, since, LIST_LIMIT), now, STATUS_PAGE_KEEPS
            )
        settings = self.settings()
        rules = rules_of(settings)
        busy = maintenance.under_maintenance(windows, now)
        words = [
            (c, maintenance.page_word(page_status(shown, rules, c), c in busy))
            for c in settings.components
        ]
        views = [IncidentView(i, [e for e in lines[i.id] if e.public], []) for i in shown]
        overall = maintenance.page_word(
            page_status(shown, rules),
            any(m.state(now) == maintenance.IN_PROGRESS for m in windows),
        )
        return StatusPage(
            settings.status_page_title,
            overall,
            words,
            views,
            [(m, m.state(now)) for m in windows],
        )

    def owing(self) -> list[IncidentView]:
        """For the reminder loop: the open incidents, and the resolved ones without a
        post-mortem, each with what it owes (perhaps nothing)."""
        with self._engine.connect() as conn:
            since = owing_since(self.settings().severities, self._clock())
            found = incident_rows.owing(conn, since)
        return [IncidentView(i, [], self.owed(i)) for i in found]


def _echoes(line: Mapping[str, Any], incident_id: int) -> bool:
    """Whether a group's audit line only repeats what this incident's own timeline says
    (its linking, its status-page updates and post-mortem, written to the groups)."""
    action, comment = str(line["action"]), str(line.get("comment", ""))
    if action.endswith(f"incident #{incident_id}"):
        return True
    own = action in (STATUS_PAGE_UPDATED, POSTMORTEM_WRITTEN)
    return own and comment.startswith(incident_comment(incident_id, ""))
