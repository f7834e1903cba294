"""The incident page's form, pure: the values it shows, and the change it asks for.

The form holds every field's value, and beside each a hidden ``was_`` copy of the
value the page was drawn with. A field is part of the change only when the responder
edited it (it differs from its ``was_``), so a page loaded before another responder's
change does not put back, on saving a note, what that responder changed (a status, a
severity, a role, a box). Browsers send a textarea's line ends as CRLF and the form
parser trims values: compared as the incident holds them, an untouched summary is
not a change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tocsin.incidents.model import Change, Incident

# the text fields that start empty on every page
BLANK = ("update", "note", "link", "unlink")


def shown(incident: Incident, roles: Sequence[str], components: Sequence[str]) -> dict[str, str]:
    """The incident's values, as the form's fields hold them."""
    i = incident
    form = {"title": i.title, "summary": i.summary, "status": i.status, "severity": i.severity}
    form["public"] = "on" if i.public else ""
    form |= {f"role_{r}": i.roles.get(r, "") for r in roles}
    form |= {f"component_{n}": "on" if c in i.components else "" for n, c in enumerate(components)}
    return form


def drawn(
    incident: Incident,
    roles: Sequence[str],
    components: Sequence[str],
    draft: Mapping[str, str] | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """What the fields hold and their ``was_`` copies: the incident's values, or, when
    a change was refused, what the responder typed and the page they started from."""
    current = shown(incident, roles, components)
    blank = dict.fromkeys(BLANK, "")
    if draft is None:
        return current | blank, current
    was = {k: draft.get(f"was_{k}", v) for k, v in current.items()}
    form = current | blank | {k: v for k, v in draft.items() if k in current or k in blank}
    # an unticked box is not sent: its absence says so
    if "boxes_shown" in draft:
        for k in current:
            if k == "public" or k.startswith("component_"):
                form[k] = draft.get(k, "")
    return form, was


def asked(
    fields: Mapping[str, str],
    incident: Incident,
    roles: Sequence[str],
    components: Sequence[str],
) -> Change:
    """The change the posted form asks for: only what was edited (a client that
    sends no ``was_`` copies is compared with the incident as it is now)."""
    current = shown(incident, roles, components)
    was = {k: unix_lines(fields.get(f"was_{k}", v)) for k, v in current.items()}

    def edited(name: str) -> str | None:
        given = fields.get(name)
        if given is None or unix_lines(given).strip() == was[name].strip():
            return None
        return unix_lines(given)

    people: dict[str, str] = {}
    for r in roles:
        person = edited(f"role_{r}")
        if person is not None:
            people[r] = person.strip()
    link, unlink = fields.get("link", "").strip(), fields.get("unlink", "").strip()
    return Change(
        title=edited("title"),
        severity=edited("severity"),
        status=edited("status"),
        summary=edited("summary"),
        public=_box(fields, "public", was) if "boxes_shown" in fields else None,
        roles=people,
        link=(link,) if link else (),
        unlink=(unlink,) if unlink else (),
        components=_components(fields, incident, components, was),
        note=unix_lines(fields.get("note", "")),
        update=unix_lines(fields.get("update", "")),
    )


def unix_lines(value: str) -> str:
    """A textarea's value as typed: browsers send its line ends as CRLF."""
    return value.replace("\r\n", "\n")


def _box(fields: Mapping[str, str], name: str, was: Mapping[str, str]) -> bool | None:
    ticked = name in fields
    return None if ticked == bool(was[name]) else ticked


def _components(
    fields: Mapping[str, str],
    incident: Incident,
    components: Sequence[str],
    was: Mapping[str, str],
) -> list[str] | None:
    """The incident's components with the boxes the responder ticked or unticked
    (others' changes since the page was drawn stay); None: no box changed."""
    if "boxes_shown" not in fields:
        return None
    added: set[str] = set()
    removed: set[str] = set()
    for n, name in enumerate(components):
        now = f"component_{n}" in fields
        if now != bool(was[f"component_{n}"]):
            (added if now else removed).add(name)
    if not added and not removed:
        return None
    kept = [c for c in incident.components if c not in removed]
    return kept + [c for c in components if c in added and c not in kept]
