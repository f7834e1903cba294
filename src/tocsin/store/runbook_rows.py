"""Queries on ``runbooks`` and the section search index (FTS5 or tsvector)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, text

from tocsin.store.tables import runbooks
from tocsin.store.upsert import upsert
from tocsin.timeutil import from_micros, to_micros


@dataclass(frozen=True, slots=True)
class StoredRunbook:
    name: str
    source: str
    text: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SectionText:
    anchor: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    name: str
    anchor: str
    title: str
    snippet: str
    score: float


def save(conn: Connection, book: StoredRunbook, sections: Sequence[SectionText], rev: int) -> None:
    """Store a runbook and replace its sections in the search index."""
    upsert(
        conn,
        runbooks,
        [(book.name, book.source, book.text, to_micros(book.updated_at), rev)],
        key="name",
    )
    conn.execute(text("DELETE FROM runbook_sections WHERE name = :name"), {"name": book.name})
    if sections:
        conn.execute(
            text(
                "INSERT INTO runbook_sections (name, anchor, title, body) "
                "VALUES (:name, :anchor, :title, :body)"
            ),
            [
                {"name": book.name, "anchor": s.anchor, "title": s.title, "body": s.body}
                for s in sections
            ],
        )


def remove(conn: Connection, name: str) -> bool:
    conn.execute(text("DELETE FROM runbook_sections WHERE name = :name"), {"name": name})
    return bool(conn.execute(delete(runbooks).where(runbooks.c.name == name)).rowcount)


def load_all(conn: Connection) -> list[StoredRunbook]:
    return [
        StoredRunbook(r.name, r.source, r.text, from_micros(r.updated_at))
        for r in conn.execute(select(runbooks).order_by(runbooks.c.name))
    ]


_WORD = re.compile(r"\w+", re.UNICODE)


def search(conn: Connection, query: str, limit: int = 20) -> list[SearchHit]:
    """Sections matching every word of ``query``, best first."""
    words = _WORD.findall(query)
    if not words:
        return []
    if conn.dialect.name == "sqlite":
        # Each word quoted (so FTS5 syntax in the query is just text), prefix-matched.
        match = " ".join(f'"{w}"*' for w in words)
        rows = conn.execute(
            text(
                "SELECT name, anchor, title, "
                "snippet(runbook_sections, 3, '[', ']', ' … ', 12) AS snip, "
                "bm25(runbook_sections, 0.0, 0.0, 5.0, 1.0) AS score "
                "FROM runbook_sections WHERE runbook_sections MATCH :q "
                "ORDER BY score LIMIT :limit"
            ),
            {"q": match, "limit": limit},
        )
        return [SearchHit(r.name, r.anchor, r.title, r.snip, -float(r.score)) for r in rows]
    tsquery = " & ".join(f"{w}:*" for w in words)
    rows = conn.execute(
        text(
            "SELECT name, anchor, title, "
            "ts_headline('english', body, q, 'StartSel=[,StopSel=],MaxWords=20,MinWords=5') "
            "AS snip, ts_rank(tsv, q) AS score "
            "FROM runbook_sections, to_tsquery('english', :q) AS q WHERE tsv @@ q "
            "ORDER BY score DESC LIMIT :limit"
        ),
        {"q": tsquery, "limit": limit},
    )
    return [SearchHit(r.name, r.anchor, r.title, r.snip, float(r.score)) for r in rows]
