"""Gaps in on-call coverage, as ``check-config`` (and the server at start and reload)
says them: a schedule without layers is refused; a layer that begins later, and a
policy whose every step reaches nobody some time in the next 28 days, are warned of,
each with its line and key."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tocsin.cli.config_cmds import register
from tocsin.config import parse_config
from tocsin.config.errors import ConfigError
from tocsin.engine.config_warnings import coverage_gaps

BASE = """\
global: {smtp_smarthost: '127.0.0.1:25', smtp_from: t@x.org}
route: {receiver: pager, routes: [{matchers: ['alertname=~"Tocsin.*"'], receiver: chat}]}
receivers: [{name: pager, escalation_policy: p}, {name: chat}]
people: [{name: ann, email: a@x.org}, {name: bob, email: b@x.org}]
schedules:
%s
escalation_policies:
  - name: p
    steps:
%s
"""
# (Tocsin's own alerts go to chat: warnings of them paged through escalation aside.)
# The first schedule is on line 6; the policy, after the schedules' lines and one more.

# London covers 07:00-19:00 London time, New York 14:00-02:00 New York time: they meet
# exactly while both zones keep winter time, or both summer time, and leave an hour
# uncovered each day between the United States' change (14 March 2027) and Europe's
# (28 March 2027).
FOLLOW_THE_SUN = """\
  - name: fts-london
    time_zone: Europe/London
    layers:
      - {rotation: daily, handoff: "07:00", start: 2027-01-04, participants: [ann],
         restrictions: [{start_time: "07:00", end_time: "19:00"}]}
  - name: fts-ny
    time_zone: America/New_York
    layers:
      - {rotation: daily, handoff: "14:00", start: 2027-01-04, participants: [bob],
         restrictions: [{start_time: "14:00", end_time: "02:00"}]}"""
BOTH = """\
      - targets: [{schedule: fts-london}]
      - {delay: 10m, targets: [{schedule: fts-ny}]}"""

BUSINESS = """\
  - name: biz
    time_zone: Europe/Berlin
    layers:
      - {rotation: weekly, handoff: "09:00", start: 2027-01-04, participants: [ann, bob],
         restrictions: [{weekdays: ["monday:friday"], start_time: "09:00", end_time: "17:00"}]}"""
BIZ = "      - targets: [{schedule: biz}]"

LATER = """\
  - name: later
    layers:
      - {rotation: daily, start: 2027-03-10, participants: [ann]}"""
COVER = "\n    overrides: [{person: bob, start: 2027-03-01T00:00:00Z, end: 2027-03-10T00:00:00Z}]"

MONDAY = datetime(2027, 3, 1, 12, tzinfo=UTC)  # 13:00 in Berlin
FTS_GAP = (
    "17: warning: escalation_policies[0]: 'p': from 2027-03-15T06:00:00Z for 1h (13h in all "
    "in the next 28 days), every step reaches nobody: schedules 'fts-london' and 'fts-ny' "
    "have nobody on call"
)
LATER_START = (
    "8: warning: schedules[0].layers[0].start: nobody on call in schedule 'later' from this "
    "layer before 2027-03-10T00:00:00+00:00"
)
LATER_GAP = (
    "10: warning: escalation_policies[0]: 'p': from 2027-03-01T12:00:00Z for 204h, every "
    "step reaches nobody: schedule 'later' has nobody on call"
)


@pytest.mark.parametrize(
    ("schedules", "steps", "now", "said"),
    [
        pytest.param(
            "  - name: empty",
            "      - targets: [{schedule: empty}]",
            MONDAY,
            [
                "6: warning: schedules[0].layers: schedule 'empty' has no layers: nobody is "
                "on call in it outside its overrides' windows",
                "8: warning: escalation_policies[0]: 'p': from 2027-03-01T12:00:00Z on, every "
                "step reaches nobody: schedule 'empty' has nobody on call",
            ],
            id="no layers: a warning (a schedule of overrides alone worked before)",
        ),
        pytest.param(
            LATER,
            "      - targets: [{schedule: later}]\n      - {delay: 5m, targets: [{person: bob}]}",
            MONDAY,
            [LATER_START],
            id="a layer that begins later",
        ),
        pytest.param(
            LATER,
            "      - targets: [{schedule: later}]",
            MONDAY,
            [LATER_START, LATER_GAP],
            id="a layer that begins later, and nobody else",
        ),
        pytest.param(
            LATER + COVER,
            "      - targets: [{schedule: later}]",
            MONDAY,
            [LATER_START],
            id="the file's override covers until it begins",
        ),
        pytest.param(
            BUSINESS,
            BIZ,
            MONDAY,
            [
                # weekday evenings and weekends: 672h less 161h of business hours (4h
                # of the first Monday, 19 whole days, and 5h of the last Monday: its
                # 09:00 is 07:00Z once Berlin's clocks change, on 28 March)
                "12: warning: escalation_policies[0]: 'p': from 2027-03-01T16:00:00Z for 16h "
                "(511h in all in the next 28 days), every step reaches nobody: schedule 'biz' "
                "has nobody on call"
            ],
            id="business hours only",
        ),
        pytest.param(
            BUSINESS,
            BIZ + "\n      - {delay: 15m, targets: [{person: bob}]}",
            MONDAY,
            [],
            id="a person step covers the schedule's gaps",
        ),
        pytest.param(
            BUSINESS,
            BIZ + "\n      - {delay: 15m, targets: [{receiver: chat}]}",
            MONDAY,
            [],
            id="so does a receiver step",
        ),
        pytest.param(FOLLOW_THE_SUN, BOTH, MONDAY, [FTS_GAP], id="follow the sun: the DST hole"),
        pytest.param(
            FOLLOW_THE_SUN,
            BOTH,
            datetime(2027, 3, 28, 6, tzinfo=UTC),
            [],
            id="follow the sun: both on summer time",
        ),
        pytest.param(
            FOLLOW_THE_SUN,
            "      - targets: [{schedule: fts-london}]",
            datetime(2027, 3, 28, 6, tzinfo=UTC),
            [
                "17: warning: escalation_policies[0]: 'p': from 2027-03-28T18:00:00Z for 12h "
                "(336h in all in the next 28 days), every step reaches nobody: schedule "
                "'fts-london' has nobody on call"
            ],
            id="half of follow the sun",
        ),
    ],
)
def test_coverage_is_said(schedules: str, steps: str, now: datetime, said: list[str]) -> None:
    assert check(BASE % (schedules, steps), now) == said


def test_a_policy_no_receiver_uses_is_not_looked_at() -> None:
    text = (BASE % (BUSINESS, BIZ)).replace("escalation_policy: p", "escalation_policy: q")
    text += "  - name: q\n    steps: [{targets: [{person: ann}]}]\n"
    assert check(text, MONDAY) == []


def test_the_readme_example_has_no_gap() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    blocks = re.findall(r"```yaml\n(.*?)```", readme.read_text(encoding="utf-8"), re.DOTALL)
    (example,) = [b for b in blocks if "escalation_policies:" in b and "people:" in b]
    text = "route:\n  receiver: pager\n" + example.replace(
        "signing_secret: ...", "signing_secret: s"
    )
    assert check(text, datetime(2026, 12, 8, tzinfo=UTC)) == []
    # before its rotation begins, the layer is said, and the policy's first step; its
    # second, a person, reaches someone
    (said,) = check(text, datetime(2026, 1, 1, tzinfo=UTC))
    assert said.endswith(
        "warning: schedules[0].layers[0].start: nobody on call in schedule 'primary' from "
        "this layer before 2026-01-05T09:00:00+01:00"
    )


def test_check_config_says_them_from_the_wall_clock(tmp_path: Path) -> None:
    """The command looks ahead from now: a rotation that begins in 2099 leaves the
    policy's one schedule empty for all of the 28 days."""
    app = typer.Typer()
    register(app)
    path = tmp_path / "am.yml"
    path.write_text(BASE % (LATER.replace("2027-03-10", "2099-03-10"), BIZ.replace("biz", "later")))
    result = CliRunner().invoke(app, ["check-config", str(path)])
    assert result.exit_code == 0, result.output  # warnings, not failures
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert warnings[0] == f"{path}:{LATER_START.replace('2027', '2099')}"
    assert re.fullmatch(
        rf"{re.escape(str(path))}:10: warning: escalation_policies\[0\]: 'p': from "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ on, every step reaches nobody: schedule 'later' "
        "has nobody on call",
        warnings[1],
    )
    assert len(warnings) == 2
    report = json.loads(CliRunner().invoke(app, ["check-config", "--json", str(path)]).stdout)
    assert len(report["files"][0]["warnings"]) == 2


def check(text: str, now: datetime) -> list[str]:
    """What check-config says of ``text`` at ``now``, its file name left out: the
    problems, or else the coverage warnings."""
    try:
        config = parse_config(text, "am.yml")
    except ConfigError as exc:
        return [str(p).removeprefix("am.yml:") for p in exc.problems]
    return [p.as_warning().removeprefix("am.yml:") for p in coverage_gaps(config, now)]
