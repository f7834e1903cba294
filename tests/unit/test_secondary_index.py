"""``store.index.SecondaryIndex``: an index's keys by a key derived from the values, kept
by listening to the index (what lets a PagerDuty event find its alerts without a scan)."""

from __future__ import annotations

from tocsin.store.index import KeyedIndex, SecondaryIndex


def test_values_are_found_by_the_derived_key() -> None:
    base: KeyedIndex[dict[str, str]] = KeyedIndex()
    by_team = SecondaryIndex(base, lambda v: v["id"], lambda v: v.get("team"))
    base.apply([("a", 1, {"id": "a", "team": "db"}), ("b", 1, {"id": "b", "team": "db"})])
    base.apply([("c", 2, {"id": "c", "team": "web"}), ("d", 2, {"id": "d"})])  # d: no key
    assert by_team.get("db") == ["a", "b"]
    assert by_team.get("web") == ["c"]
    assert by_team.get(None) == []
    assert by_team.get("ops") == []


def test_a_gone_value_is_still_named_until_discarded() -> None:
    base: KeyedIndex[dict[str, str]] = KeyedIndex()
    by_team = SecondaryIndex(base, lambda v: v["id"], lambda v: v.get("team"))
    base.apply([("a", 1, {"id": "a", "team": "db"})])
    base.apply([("a", 2, None)])  # removals are not announced
    assert by_team.get("db") == ["a"]  # callers check base.get("a") and find nothing
    by_team.discard("db", "a")
    assert by_team.get("db") == []
    by_team.discard("db", "a")  # twice: harmless


def test_an_older_revision_that_loses_is_not_indexed() -> None:
    base: KeyedIndex[dict[str, str]] = KeyedIndex()
    by_team = SecondaryIndex(base, lambda v: v["id"], lambda v: v.get("team"))
    base.apply([("a", 5, {"id": "a", "team": "db"})])
    base.apply([("a", 3, {"id": "a", "team": "web"})])  # older: the index keeps rev 5
    assert by_team.get("web") == []
