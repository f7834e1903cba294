"""Runbooks over HTTP: pages for people, JSON for tools, import, search, and the
procedure linked to an alert."""

from __future__ import annotations

import html
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.api.state import runtime
from tocsin.api.v2 import BodyTooLarge, read_body
from tocsin.core.runbook_library import RunbookLibrary, RunbookLink
from tocsin.runbooks.model import Runbook
from tocsin.web.runbook_html import page

router = APIRouter()

MAX_RUNBOOK_BYTES = 2 * 1024 * 1024


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _summary(request: Request, book: Runbook) -> dict[str, Any]:
    library = runtime(request).runbooks
    return {
        "name": book.name,
        "title": book.title,
        "source": library.source(book.name),
        "url": library.url(book.name),
        "alerts": [a.name for a in book.alerts],
        "sections": len(book.sections),
        "procedures": len(book.procedures),
        "slas": len(book.slas),
        "warnings": [*book.warnings, *library.conflicts(book.name)],
    }


def link_json(link: RunbookLink) -> dict[str, Any]:
    p = link.procedure
    return {
        "runbook": link.runbook,
        "anchor": link.anchor,
        "url": link.url,
        "procedure": None
        if p is None
        else {
            "name": p.name,
            "severity": p.severity,
            "description": p.description,
            "lines": list(p.lines),
            "steps": [
                {
                    "number": s.number,
                    "text": s.text,
                    "commands": [c.text for c in s.commands],
                }
                for s in p.steps
            ],
        },
    }


@router.get("/api/v1/runbooks", summary="List runbooks")
def list_runbooks(request: Request) -> Response:
    library = runtime(request).runbooks
    books = [library.get(n) for n in library.names()]
    return _json([_summary(request, b) for b in books if b is not None])


@router.get("/api/v1/runbooks/search", summary="Full-text search over runbook sections")
def search_runbooks(
    request: Request, q: str = Query(..., min_length=1), limit: int = Query(20, ge=1, le=200)
) -> Response:
    library = runtime(request).runbooks
    hits = library.search(q, limit)
    return _json(
        [
            {
                "runbook": h.name,
                "anchor": h.anchor,
                "title": h.title,
                "snippet": h.snippet,
                "score": h.score,
                "url": library.url(h.name, h.anchor),
            }
            for h in hits
        ]
    )


@router.get("/api/v1/runbooks/for-alert/{alertname}", summary="The procedure for an alert")
def runbook_for_alert(request: Request, alertname: str) -> Response:
    link = runtime(request).runbooks.link({"alertname": alertname}, {})
    if link is None:
        return _json(f"no runbook procedure for alert {alertname!r}", 404)
    return _json(link_json(link))


@router.get("/api/v1/runbooks/{name:path}", summary="A runbook, structured (JSON)")
def get_runbook(request: Request, name: str) -> Response:
    book = runtime(request).runbooks.get(name)
    if book is None:
        return _json(f"runbook {name!r} not found", 404)
    return _json(book.to_json())


@router.put("/api/v1/runbooks/{name:path}", summary="Import or replace a runbook (Markdown)")
async def put_runbook(request: Request, name: str) -> Response:
    try:
        body = await read_body(request, MAX_RUNBOOK_BYTES)
    except BodyTooLarge:
        return _json(f"runbook exceeds {MAX_RUNBOOK_BYTES} bytes", 413)
    if not name.strip("/") or ".." in name.split("/"):
        return _json("name: must be a non-empty path without '..'", 400)
    library = runtime(request).runbooks
    if library.is_file(name):
        return _a_file(library, name, "change the file and reload")
    text = body.decode("utf-8", errors="replace")
    book = await library.put(name, text)
    return _json(_summary(request, book))


@router.delete("/api/v1/runbooks/{name:path}", summary="Remove a runbook")
async def delete_runbook(request: Request, name: str) -> Response:
    library = runtime(request).runbooks
    if library.is_file(name):
        return _a_file(library, name, "remove it from tocsin.runbooks.paths and reload")
    if not await library.delete(name):
        return _json(f"runbook {name!r} not found", 404)
    return Response(status_code=204)


def _a_file(library: RunbookLibrary, name: str, instead: str) -> Response:
    """409: a configured file's runbook changed through the API would be undone by the
    next reload, which reads the file again."""
    where = library.source(name)
    return _json(f"runbook {name!r} is the file {where}: {instead}", 409)


@router.get("/runbooks/{name:path}", response_class=HTMLResponse, summary="A runbook page")
def runbook_page(request: Request, name: str) -> Response:
    library = runtime(request).runbooks
    if name.endswith(".json"):
        book = library.get(name.removesuffix(".json"))
        if book is None:
            return _json(f"runbook {name!r} not found", 404)
        return _json(book.to_json())
    book = library.get(name)
    text = library.text(name)
    if book is None or text is None:
        # (the name is the request's: escaped, or a link could run script here)
        return HTMLResponse(f"runbook {html.escape(name)} not found", status_code=404)
    return HTMLResponse(page(text, book, f"/api/v1/runbooks/{name}"))
