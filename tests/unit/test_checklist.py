"""Runbook checklists, pure: which steps a group's audit trail says are done, and how a
person names a step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.runbooks.checklist import (
    DONE,
    UNDONE,
    Checklist,
    Linked,
    StepRef,
    checklists,
    parse_ref,
    ticks_in,
)
from tocsin.runbooks.parser import parse_runbook
from tocsin.timeutil import to_micros

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
OPS = (
    "# Ops\n\n## DiskFull\n**Severity**: Critical\n\n1. Run `df -h`\n2. Clean up /var/log\n\n"
    "## HighLatency\n**Severity**: Warning\n\n1. Check the load balancer\n"
)
BOOK = parse_runbook(OPS, name="ops")
DISK = next(p for p in BOOK.alerts if p.name == "DiskFull")
LATENCY = next(p for p in BOOK.alerts if p.name == "HighLatency")


def line(action: str, step: int | str, who: str = "alice", minutes: int = 0, **over: Any) -> Any:
    detail = {"runbook": "ops", "procedure": "DiskFull", "step": step, "text": "Run df -h"}
    detail.update(over)
    return {
        "at": T0 + timedelta(minutes=minutes),
        "actor": who,
        "action": action,
        "detail": {"checklist": detail},
    }


def disk_list(*audit: Any) -> Checklist:
    (found,) = checklists([Linked("DiskFull", "ops", "u", DISK)], ticks_in(audit))
    return found


@pytest.mark.parametrize(
    ("audit", "done"),
    [
        # nothing said: nothing done
        ((), [None, None]),
        # a tick marks its step, by whom
        ((line(DONE, 1),), ["alice", None]),
        # the newest line of a step wins: undone after done
        ((line(DONE, 1), line(UNDONE, 1, "bob", 1)), [None, None]),
        # ...and done again by someone else
        ((line(DONE, 1), line(UNDONE, 1, "bob", 1), line(DONE, 1, "carol", 2)), ["carol", None]),
        # each step on its own
        ((line(DONE, 2, text="Clean up /var/log"), line(DONE, 1, "bob")), ["bob", "alice"]),
        # a tick of a step whose text has changed since does not count for the new text
        ((line(DONE, 1, text="Run du -sh"),), [None, None]),
        # a tick of another procedure, or runbook, is not this one's
        ((line(DONE, 1, procedure="HighLatency"), line(DONE, 1, runbook="other")), [None, None]),
        # other audit lines, and step lines without a readable step, are ignored
        (({"at": T0, "actor": "x", "action": "acknowledged", "detail": {}},), [None, None]),
        (
            ({"at": T0, "actor": "x", "action": DONE, "detail": {"checklist": {"step": 1}}},),
            [None, None],
        ),
        ((line(DONE, "one"),), [None, None]),  # a step that is no number
        # a re-opened group is a new incident: ticks of the last one do not count
        (
            (line(DONE, 1), {"at": T0, "actor": "tocsin", "action": "re-opened", "detail": {}}),
            [None, None],
        ),
        (
            (
                {"at": T0, "actor": "tocsin", "action": "opened", "detail": {}},
                line(DONE, 1, minutes=1),
            ),
            ["alice", None],
        ),
    ],
)
def test_which_steps_are_done(audit: tuple[Any, ...], done: list[str | None]) -> None:
    found = disk_list(*audit)
    assert [s.done_by for s in found.steps] == done
    assert found.done == sum(d is not None for d in done)


def test_stored_times_are_read_back() -> None:
    stored = line(DONE, 1) | {"at": to_micros(T0)}
    assert disk_list(stored).steps[0].done_at == T0


def test_one_list_per_procedure_in_the_alerts_order() -> None:
    linked = [
        Linked("HighLatency", "ops", "u2", LATENCY),
        Linked("DiskFull", "ops", "u1", DISK),
        Linked("DiskFullAgain", "ops", "u1", DISK),  # another alert, the same procedure
    ]
    lists = checklists(linked, [])
    assert [(c.procedure, c.alerts) for c in lists] == [
        ("HighLatency", ("HighLatency",)),
        ("DiskFull", ("DiskFull", "DiskFullAgain")),
    ]
    assert lists[1].steps[0].commands == ("df -h",)
    assert lists[1].steps[0].blocks == ()  # inline: the step's text shows it
    assert str(lists[1].steps[1].ref) == "ops/DiskFull:2"
    assert lists[1].severity == "critical"


TWO = checklists([Linked("DiskFull", "ops", "u", DISK), Linked("H", "ops", "u", LATENCY)], [])
ONE = TWO[:1]


@pytest.mark.parametrize(
    ("lists", "text", "found"),
    [
        (ONE, "2", StepRef("ops", "DiskFull", 2)),
        (TWO, "ops/DiskFull:1", StepRef("ops", "DiskFull", 1)),
        (TWO, "ops/HighLatency:1", StepRef("ops", "HighLatency", 1)),
        (TWO, "1", "'1': say which procedure (RUNBOOK/PROCEDURE:N); this group has: "),
        (ONE, "3", "'3': ops/DiskFull has 2 steps"),
        (ONE, "0", "'0': ops/DiskFull has 2 steps"),
        (TWO, "ops/Nope:1", "'ops/Nope:1': this group has no procedure 'ops/Nope'; it has: "),
        # the procedure alone, or in another letter case, when that names one
        (TWO, "HighLatency:1", StepRef("ops", "HighLatency", 1)),
        (TWO, "ops/diskfull:2", StepRef("ops", "DiskFull", 2)),
        (ONE, "ops/DiskFull:two", "'ops/DiskFull:two': a step is N"),
        (ONE, "²", "'²': a step is N"),  # a digit to Unicode, not to int()
        ([], "1", "'1': say which procedure (RUNBOOK/PROCEDURE:N); this group has: none"),
    ],
)
def test_a_step_as_a_person_names_it(
    lists: list[Checklist], text: str, found: StepRef | str
) -> None:
    got = parse_ref(text, lists)
    if isinstance(found, str):
        assert isinstance(got, str)
        assert got.startswith(found)
    else:
        assert got == found


@given(st.sampled_from([TWO, ONE, []]), st.text(max_size=40))
def test_any_text_is_a_step_of_the_lists_or_a_reason(lists: list[Checklist], text: str) -> None:
    got = parse_ref(text, lists)
    if not isinstance(got, str):
        assert any(s.ref == got for c in lists for s in c.steps)
