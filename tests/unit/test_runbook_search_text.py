"""What the runbook search indexes and shows: titles with CamelCase words apart, and
snippets as one line of text (the index holds Markdown)."""

from __future__ import annotations

import pytest

from tocsin.core.runbook_library import plain, searchable_title


@pytest.mark.parametrize(
    ("snippet", "shown"),
    [
        ("**Response**: 1. Check [queue]", "Response : 1. Check [queue]"),
        ("```bash # Service status kubectl get pods", "# Service status kubectl get pods"),
        ("Run `kubectl get [pods]` now", "Run kubectl get [pods] now"),
        ("__bold__ and *one star stays*", "bold and *one star stays*"),
        ("line one\n\n  line two", "line one line two"),
        ("``` ```", ""),
        ("no markup … at all", "no markup … at all"),
    ],
)
def test_snippets_are_plain_text(snippet: str, shown: str) -> None:
    assert plain(snippet) == shown


@pytest.mark.parametrize(
    ("title", "indexed"),
    [
        ("CeleryQueueDepthHigh", "CeleryQueueDepthHigh Celery Queue Depth High"),
        ("Quick Health Checks", "Quick Health Checks"),
        ("5.1 Queue backlog spike", "5.1 Queue backlog spike"),
    ],
)
def test_titles_are_indexed_with_their_camel_case_words_apart(title: str, indexed: str) -> None:
    assert searchable_title(title) == indexed
