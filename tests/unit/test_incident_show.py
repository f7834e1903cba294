"""``tocsin incident show``: each linked alert group on its own line, named by its
labels and status from the incident's JSON (an older server's has ids alone); and the
status page's times as a customer reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tocsin.cli.incident_cmds import _print, group_lines
from tocsin.web.render import public_time

SHOWN: dict[str, Any] = {
    "id": 3,
    "title": "API errors",
    "severity": "SEV2",
    "status": "identified",
    "openedAt": "2026-12-07T21:00:00.000Z",
    "openedBy": "ann",
    "resolvedAt": None,
    "roles": {"commander": "ann"},
    "summary": "",
    "public": False,
    "groups": ["8a8ae33d4e37", "0b1c", "gone"],
    "groupLabels": {
        "8a8ae33d4e37": {"service": "api", "alertname": "HighErrorRate"},
        "0b1c": {"alertname": "Disk\nFull"},
        "gone": {},
    },
    "groupStatus": {"8a8ae33d4e37": "acknowledged", "0b1c": "resolved", "gone": None},
    "due": [],
    "timeline": [],
}


def test_show_names_each_linked_group(capsys: pytest.CaptureFixture[str]) -> None:
    _print(SHOWN)
    printed = capsys.readouterr().out
    assert (
        "  groups:    8a8ae33d4e37 (alertname=HighErrorRate, service=api): acknowledged\n"
        "             0b1c (alertname=Disk Full): resolved\n"
        "             gone\n"
    ) in printed


def test_an_older_server_s_groups_are_ids() -> None:
    older = {k: v for k, v in SHOWN.items() if k not in ("groupLabels", "groupStatus")}
    assert group_lines(older) == ["8a8ae33d4e37", "0b1c", "gone"]
    assert group_lines({**SHOWN, "groups": []}) == []


@pytest.mark.parametrize(("public", "marked"), [(True, True), (False, False)])
def test_a_line_is_marked_for_the_status_page_only_when_the_incident_is_on_it(
    capsys: pytest.CaptureFixture[str], public: bool, marked: bool
) -> None:
    """A status change is a public line, shown if the incident is made public later:
    a private incident's is not said to be on the status page."""
    line = {"at": "2026-12-07T21:09:00.000Z", "by": "ann", "text": "resolved", "public": True}
    _print({**SHOWN, "public": public, "timeline": [line]})
    assert ("ann: resolved  [status page]" in capsys.readouterr().out) is marked


@pytest.mark.parametrize(
    ("when", "shown"),
    [
        (datetime(2026, 12, 7, 21, 5, 7, 588000, tzinfo=UTC), "Dec 7, 21:05 UTC"),
        (datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC), "Jan 31, 23:59 UTC"),
        # another zone is said in UTC, as the page says every time
        (datetime(2026, 6, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), "May 31, 23:30 UTC"),
        (None, ""),
    ],
)
def test_the_status_page_s_times(when: datetime | None, shown: str) -> None:
    assert public_time(when) == shown
