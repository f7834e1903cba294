"""The runbook library: every runbook Tocsin knows, parsed, searchable, and linked to
the alerts it describes.

Runbooks come from the configured paths (re-read on start and reload) and from the API
(``PUT /api/v1/runbooks/{name}``); both are stored, so search covers all of them and an
API-managed runbook survives a restart. An alert is linked to a procedure by, in order:
an explicit link in the config, its ``runbook_url`` annotation when that points at a
known runbook, and its name (case- and separator-insensitive) in any runbook.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tocsin.config.model import RunbookSettings
from tocsin.core.runbook_ops import DeleteRunbook, SaveRunbook
from tocsin.runbooks import placeholders
from tocsin.runbooks.model import AlertProcedure, Runbook
from tocsin.runbooks.names import normalize_alert_name, runbook_for_url
from tocsin.runbooks.parser import parse_runbook
from tocsin.store import runbook_rows
from tocsin.store.runbook_rows import SearchHit, SectionText, StoredRunbook
from tocsin.store.writer import GroupCommitter
from tocsin.timeutil import Clock

log = logging.getLogger(__name__)

API_SOURCE = "api"
# How many steps a notification carries: enough to start, short enough for a phone.
FIRST_STEPS = 3


@dataclass(frozen=True)
class RunbookLink:
    """Where an alert's procedure is: the runbook, the section, and the procedure."""

    runbook: str
    anchor: str
    procedure: AlertProcedure | None
    url: str

    def extra(self, labels: Mapping[str, str]) -> dict[str, Any]:
        """What a notification carries for this alert (templates render it); its first
        steps with the placeholders that name one of ``labels`` (the alert's) filled."""
        out: dict[str, Any] = {"runbook_url": self.url, "runbook_name": self.runbook}
        p = self.procedure
        if p is not None:
            out["runbook_alert"] = p.name
            # the alert's own severity label decides (it chose the route that paged);
            # the runbook's written one stands in when the alert has none
            severity = labels.get("severity") or p.severity
            if severity:
                out["severity"] = severity
            if p.severity:  # what the runbook says (annotations carry it as written)
                out["runbook_severity"] = p.severity
            if p.description:
                out["runbook_description"] = p.description
            first = p.steps[:FIRST_STEPS]
            out["runbook_steps"] = [placeholders.fill(s.text, labels) for s in first]
        return out


def runbook_name_for(path: Path, root: Path | None) -> str:
    """A file's runbook name: its path below the configured folder, without ``.md``."""
    rel = path.relative_to(root) if root is not None else Path(path.name)
    return rel.with_suffix("").as_posix()


def markdown_files(paths: tuple[str, ...], base: Path) -> dict[str, Path]:
    """Runbook name -> file, for configured files and folders (``*.md`` below them)."""
    found: dict[str, Path] = {}
    for entry in paths:
        p = Path(entry) if Path(entry).is_absolute() else base / entry
        if p.is_dir():
            for f in sorted(p.rglob("*.md")):
                found[runbook_name_for(f, p)] = f
        elif p.is_file():
            found[runbook_name_for(p, None)] = p
        else:
            log.warning("runbook path %s does not exist", p)
    return found


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def searchable_title(title: str) -> str:
    """The title, plus its CamelCase words apart: a search for "queue depth" must find
    the section ``### CeleryQueueDepthHigh``, which a tokenizer sees as one word."""
    split = _CAMEL.sub(" ", title)
    return title if split == title else f"{title} {split}"


# Markdown's emphasis and code marks, which a one-line search result shows as noise
_MARKUP = re.compile(r"```[\w+-]*|\*\*|__|`")


def plain(snippet: str) -> str:
    """A search snippet as one line of text: the index holds the sections' Markdown."""
    return " ".join(_MARKUP.sub(" ", snippet).split())


def sections_for_search(book: Runbook) -> list[SectionText]:
    return [SectionText(s.anchor, searchable_title(s.title), s.text) for s in book.sections]


class RunbookLibrary:
    def __init__(
        self,
        engine: Engine,
        writer: GroupCommitter,
        clock: Clock,
        settings: Callable[[], RunbookSettings],
        config_dir: Callable[[], Path],
        base_url: str,
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._clock = clock
        self._settings = settings
        self._config_dir = config_dir
        self.base_url = base_url.rstrip("/")
        self._lock = threading.Lock()
        self._books: dict[str, Runbook] = {}
        self._sources: dict[str, str] = {}
        self._texts: dict[str, str] = {}
        self._by_alert: dict[str, tuple[str, AlertProcedure]] = {}
        self._claimed_twice: dict[str, list[str]] = {}  # alert name -> the runbooks claiming it

    # -- loading --------------------------------------------------------------------

    def load(self) -> None:
        """Read the configured files into the store, then everything stored into memory;
        log what changed for the alerts (at start and reload)."""
        with self._lock:
            had = {key: proc.name for key, (_, proc) in self._by_alert.items()}
        files = markdown_files(self._settings().paths, self._config_dir())
        with self._engine.connect() as conn:
            stored = {b.name: b for b in runbook_rows.load_all(conn)}
        for name, path in files.items():
            text = path.read_bytes().decode("utf-8", errors="replace")
            old = stored.get(name)
            if old is None or old.text != text or old.source != str(path):
                self._writer.run_sync(self._save_op(name, text, str(path)))
        # configured files that are no longer configured are forgotten; API ones stay
        for name, old in stored.items():
            if old.source != API_SOURCE and name not in files:
                self._writer.run_sync(DeleteRunbook(name))
        self.refresh()
        for line in self.conflicts():
            log.warning("%s", line)
        with self._lock:
            lost = sorted(name for key, name in had.items() if key not in self._by_alert)
        if lost:
            # (an open group of these alerts loses its checklist and timers with them)
            shown = ", ".join(lost[:10]) + (f" and {len(lost) - 10} more" if len(lost) > 10 else "")
            log.warning("alerts with no runbook procedure any more: %s", shown)

    def conflicts(self, runbook: str | None = None) -> list[str]:
        """Alerts whose procedure more than one runbook claims (those ``runbook`` is one
        of), said as the server logs them at start and reload: the first by name is
        used, and nothing else said so (a new runbook took an alert over from the one
        its team maintains)."""
        with self._lock:
            twice = dict(self._claimed_twice)
        return [
            f"alert {alert!r} has procedures in runbooks {', '.join(map(repr, names))}: "
            f"{names[0]!r} is used (the first by name); set tocsin.runbooks.links to choose"
            for alert, names in sorted(twice.items())
            if runbook is None or runbook in names
        ]

    def is_file(self, name: str) -> bool:
        """Whether runbook ``name`` is read from a configured file (the API may not
        replace it: the next reload would bring the file back)."""
        source = self.source(name)
        return source is not None and source != API_SOURCE

    def refresh(self) -> None:
        with self._engine.connect() as conn:
            stored = runbook_rows.load_all(conn)
        books = {s.name: parse_runbook(s.text, name=s.name, source=s.source) for s in stored}
        with self._lock:
            self._books = books
            self._sources = {s.name: s.source for s in stored}
            self._texts = {s.name: s.text for s in stored}
            self._by_alert = {}
            # by the key an alert is looked up by (HighErrorRate and high_error_rate
            # are one), named as the first runbook writes it
            claims: dict[str, tuple[str, list[str]]] = {}
            for name in sorted(books):
                for proc in books[name].alerts:
                    self._by_alert.setdefault(proc.key, (name, proc))
                    names = claims.setdefault(proc.key, (proc.name, []))[1]
                    if name not in names:
                        names.append(name)
            self._claimed_twice = {a: n for a, n in claims.values() if len(n) > 1}

    def _save_op(self, name: str, text: str, source: str) -> SaveRunbook:
        book = parse_runbook(text, name=name, source=source)
        stored = StoredRunbook(name, source, text, self._clock())
        return SaveRunbook(stored, sections_for_search(book))

    async def put(self, name: str, text: str) -> Runbook:
        await self._writer.run(self._save_op(name, text, API_SOURCE))
        self.refresh()
        book = self.get(name)
        assert book is not None
        return book

    async def delete(self, name: str) -> bool:
        removed = await self._writer.run(DeleteRunbook(name))
        self.refresh()
        return removed

    # -- reading --------------------------------------------------------------------

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._books)

    def get(self, name: str) -> Runbook | None:
        with self._lock:
            return self._books.get(name)

    def text(self, name: str) -> str | None:
        with self._lock:
            return self._texts.get(name)

    def source(self, name: str) -> str | None:
        with self._lock:
            return self._sources.get(name)

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Sections matching ``query``, best first, with the section's own title (the
        index holds it with its CamelCase words apart) and a snippet as plain text."""
        with self._engine.connect() as conn:
            hits = runbook_rows.search(conn, query, limit)
        return [
            replace(h, title=self._title(h.name, h.anchor) or h.title, snippet=plain(h.snippet))
            for h in hits
        ]

    def _title(self, name: str, anchor: str) -> str | None:
        book = self.get(name)
        found = book and next((s for s in book.sections if s.anchor == anchor), None)
        return found.title if found else None

    def url(self, name: str, anchor: str = "") -> str:
        return f"{self.base_url}/runbooks/{name}" + (f"#{anchor}" if anchor else "")

    def link(self, labels: Mapping[str, str], annotations: Mapping[str, str]) -> RunbookLink | None:
        """The runbook procedure for an alert, or None (see the module docstring)."""
        alertname = labels.get("alertname", "")
        explicit = self._settings().links.get(alertname)
        if explicit:  # NAME#anchor; a file's path works too, as lint resolves it
            return self._from_url(explicit, alertname)
        url = annotations.get("runbook_url", "")
        if url:
            found = self._from_url(url, alertname)
            if found is not None:
                return found
        with self._lock:
            hit = self._by_alert.get(normalize_alert_name(alertname))
        if hit is None:
            return None
        name, proc = hit
        anchor = proc.section or ""
        return RunbookLink(name, anchor, proc, self.url(name, anchor))

    def _link_in(self, name: str, anchor: str, alertname: str) -> RunbookLink | None:
        book = self.get(name)
        if book is None:
            return None
        proc = book.procedure_at(anchor, alertname)
        if not anchor and proc is not None:
            anchor = proc.section or ""
        return RunbookLink(name, anchor, proc, self.url(name, anchor))

    def _from_url(self, url: str, alertname: str) -> RunbookLink | None:
        found = runbook_for_url(url, self.names())
        return None if found is None else self._link_in(found[0], found[1], alertname)
