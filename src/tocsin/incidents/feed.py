"""The status page as an Atom feed (RFC 4287): one entry per status-page update of
each public incident, newest first, so that customers can follow it in a feed reader
or a chat tool's feed integration.

Like the page it carries only what is public: an incident's title, status and
updates; an entry's id is a digest, not the incident's number (which would tell the
public how many incidents there were).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from tocsin.incidents.model import Entry, Incident
from tocsin.timeutil import format_rfc3339

ATOM = "http://www.w3.org/2005/Atom"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _tag(*parts: object) -> str:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"urn:tocsin:status:{digest}"


def atom(
    title: str,
    page_url: str,
    shown: Sequence[tuple[Incident, Sequence[Entry]]],
    now: datetime,
) -> bytes:
    """The feed of ``shown`` (each public incident with its public lines)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "title", title)
    _sub(feed, "id", _tag("feed", page_url))
    _sub(feed, "link", href=page_url, rel="alternate", type="text/html")
    entries = [(incident, n, line) for incident, lines in shown for n, line in enumerate(lines)]
    entries.sort(key=lambda e: e[2].at, reverse=True)
    _sub(feed, "updated", format_rfc3339(entries[0][2].at if entries else now))
    _sub(_sub(feed, "author"), "name", title)
    for incident, n, line in entries:
        entry = _sub(feed, "entry")
        _sub(entry, "title", f"{incident.title}: {line.text.split(':', 1)[0]}")
        _sub(entry, "id", _tag(page_url, incident.id, n, format_rfc3339(line.at)))
        _sub(entry, "updated", format_rfc3339(line.at))
        _sub(entry, "link", href=page_url, rel="alternate", type="text/html")
        _sub(entry, "content", line.text, type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
