"""The status page as an Atom feed (RFC 4287): one entry per status-page update of
each public incident, newest first, so that customers can follow it in a feed reader
or a chat tool's feed integration.

Like the page it carries only what is public: an incident's title, status and
updates. An entry's id is a digest of what the feed shows anyway (when the incident
was opened, which of its updates, when), not of the incident's number (which would
tell the public how many incidents there were), and not of the server's address (so
replicas, and a change of external URL, keep every id).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from tocsin.incidents import maintenance
from tocsin.incidents.maintenance import Maintenance
from tocsin.incidents.model import Entry, Incident
from tocsin.timeutil import format_rfc3339, to_micros

ATOM = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:tocsin:status"
# Atom as the default namespace when written (<feed xmlns=...>, not <ns0:feed>): once,
# at import (ElementTree's prefixes are process-wide; tostring's default_namespace
# refuses the unqualified attribute names Atom uses)
ET.register_namespace("", ATOM)
# characters XML 1.0 cannot hold at all: one pasted into an update must not make the
# whole public feed unreadable
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        node.text = _NOT_XML.sub("\ufffd", text)
    return node


def _id(*parts: object) -> str:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"{FEED_ID}:{digest}"


def _headline(line: Entry) -> str:
    """What an entry's title says after the incident's: the status an update was
    given under ("Identified: ..."), or the status change itself ("resolved")."""
    return line.text if line.kind == "status" else line.text.split(":", 1)[0]


def atom(
    title: str,
    page_url: str,
    feed_url: str,
    shown: Sequence[tuple[Incident, Sequence[Entry]]],
    now: datetime,
    windows: Sequence[Maintenance] = (),
) -> bytes:
    """The feed of ``shown`` (each public incident with its public lines) and of
    ``windows`` (each public maintenance window, announced when it was scheduled and
    again at each change)."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "title", title)
    _sub(feed, "id", FEED_ID)
    _sub(feed, "link", href=page_url, rel="alternate", type="text/html")
    _sub(feed, "link", href=feed_url, rel="self", type="application/atom+xml")
    # (when, its order among lines of one instant, title, id, text)
    entries = [
        (
            line.at,
            (incident.opened_at, n),
            f"{incident.title}: {_headline(line)}",
            _id(to_micros(incident.opened_at), n, to_micros(line.at)),
            line.text,
        )
        for incident, lines in shown
        for n, line in enumerate(lines)
    ]
    # a window is one entry (its id from its creation), updated when it changes or
    # starts and ends (updated_at), and titled by its state now: a reader shows it again
    entries += [
        (
            m.updated_at or m.created_at,
            (m.created_at, -1),
            f"{_WINDOW_TITLES.get(m.state(now), 'Maintenance')}: {m.title}",
            _id("maintenance", m.id, to_micros(m.created_at)),
            _window(m),
        )
        for m in windows
    ]
    # newest first; lines written at one instant, the one written last first
    entries.sort(key=lambda e: (e[0], e[1]), reverse=True)
    _sub(feed, "updated", format_rfc3339(entries[0][0] if entries else now))
    _sub(_sub(feed, "author"), "name", title)
    for at, _, headline, entry_id, text in entries:
        entry = _sub(feed, "entry")
        _sub(entry, "title", headline)
        _sub(entry, "id", entry_id)
        _sub(entry, "updated", format_rfc3339(at))
        _sub(entry, "link", href=page_url, rel="alternate", type="text/html")
        _sub(entry, "content", text, type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


_WINDOW_TITLES = {
    maintenance.SCHEDULED: "Scheduled maintenance",
    maintenance.IN_PROGRESS: "Maintenance in progress",
    maintenance.COMPLETED: "Maintenance completed",
}


def _window(m: Maintenance) -> str:
    said = f"From {format_rfc3339(m.starts_at)} to {format_rfc3339(m.ends_at)}"
    if m.components:
        said += f", affecting {', '.join(m.components)}"
    return f"{said}.\n{m.description}" if m.description else f"{said}."
