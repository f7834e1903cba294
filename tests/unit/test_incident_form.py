"""The incident page's form (``web.incident_form``), one row per rule: only what the
responder edited, against the page they started from, is part of the change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tocsin.incidents.model import Change, Incident
from tocsin.web.incident_form import asked, drawn, shown

T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
ROLES = ("commander", "scribe")
COMPONENTS = ("API", "Checkout", "Search")
DRAWN = Incident(
    1,
    "Checkout failing",
    "SEV1",
    "investigating",
    T0,
    "ann",
    summary="Slow\nlogins",
    roles={"commander": "ann"},
    components=("API",),
)


def page(incident: Incident = DRAWN) -> dict[str, str]:
    """What a browser posts from an untouched page drawn from ``incident``."""
    values = shown(incident, ROLES, COMPONENTS)
    form = {k: v for k, v in values.items() if not (k == "public" or k.startswith("component_"))}
    form |= {k: "on" for k, v in values.items() if v == "on"}  # ticked boxes only
    form["summary"] = form["summary"].replace("\n", "\r\n")  # a textarea's line ends
    return form | {f"was_{k}": v for k, v in values.items()} | {"boxes_shown": "1"}


# (what the responder did to the form, the incident as stored now, the change asked)
ROWS: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ({}, {}, {}),  # nothing edited: nothing asked (the CRLF summary included)
    ({"note": "db?\r\nnot it"}, {}, {"note": "db?\nnot it"}),
    ({"update": "Rolling back"}, {}, {"update": "Rolling back"}),
    ({"status": "identified"}, {}, {"status": "identified"}),
    # a page drawn before another responder resolved it: saving a note does not reopen
    ({"note": "x"}, {"status": "resolved", "severity": "SEV2"}, {"note": "x"}),
    ({"title": " Checkout failing "}, {}, {}),  # as the form trims it
    ({"summary": "Slow logins"}, {}, {"summary": "Slow logins"}),
    ({"role_scribe": "cy"}, {}, {"roles": {"scribe": "cy"}}),
    ({"role_commander": ""}, {}, {"roles": {"commander": ""}}),
    # a role another responder changed since, not edited here, stays theirs
    ({}, {"roles": {"commander": "bob"}}, {}),
    ({"public": "on"}, {}, {"public": True}),
    ({"public": "on"}, {"public": True}, {"public": True}),  # ticked here: said again
    # a box ticked here adds to what another responder ticked since, not over it
    (
        {"component_1": "on"},
        {"components": ("API", "Search")},
        {"components": ["API", "Search", "Checkout"]},
    ),
    ({"component_0": None}, {}, {"components": []}),  # unticked
    ({"link": " g-2 ", "unlink": ""}, {}, {"link": ("g-2",)}),
]


@pytest.mark.parametrize(("edits", "stored", "change"), ROWS)
def test_a_form_asks_only_what_was_edited(
    edits: dict[str, Any], stored: dict[str, Any], change: dict[str, Any]
) -> None:
    form = page()
    for name, value in edits.items():
        if value is None:
            form.pop(name, None)
        else:
            form[name] = value
    now = Incident(**{**DRAWN.__dict__, **stored})
    assert asked(form, now, ROLES, COMPONENTS) == Change(**change)


def test_a_client_without_the_copies_is_compared_with_the_incident() -> None:
    form = {"title": "Checkout failing", "status": "identified", "severity": "SEV1"}
    assert asked(form, DRAWN, ROLES, COMPONENTS) == Change(status="identified")


def test_a_refused_form_is_drawn_again_as_typed() -> None:
    typed = {**page(), "update": "typed at 3 a.m.", "status": "monitoring", "boxes_shown": "1"}
    typed.pop("component_0")  # unticked
    typed["was_status"] = "identified"  # the page they started from, not the incident now
    form, was = drawn(DRAWN, ROLES, COMPONENTS, typed)
    assert (form["update"], form["status"], form["component_0"]) == (
        "typed at 3 a.m.",
        "monitoring",
        "",
    )
    assert was["status"] == "identified"
    fresh, was = drawn(DRAWN, ROLES, COMPONENTS, None)
    assert (fresh["update"], fresh["component_0"], was["component_0"]) == ("", "on", "on")
