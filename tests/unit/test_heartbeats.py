"""Heartbeats, pure: where one stands at a time, the alert it raises, and when its
state next changes without a ping; and what check-config says of their config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tocsin.config import ConfigError
from tocsin.config.loader import load_config
from tocsin.config.model import Heartbeat
from tocsin.monitors.alerts import FIRING_FOR
from tocsin.monitors.heartbeats import (
    FAILED,
    MISSING,
    Beat,
    Kind,
    firing_alert,
    message_of,
    next_check,
    status,
)

T0 = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)
DAILY = Heartbeat("backup", timedelta(days=1), H, {"team": "infra"}, {"runbook_url": "/r#b"})


def beat(last: timedelta | None = None, kind: Kind = "ok", message: str = "") -> Beat:
    """Armed at T0; last pinged at T0 + ``last`` (never, when None)."""
    at = None if last is None else T0 + last
    return Beat("backup", T0, at, None if at is None else kind, message)


@pytest.mark.parametrize(
    ("the_beat", "now", "state", "late_at"),
    [
        # never pinged: counted from when Tocsin first knew it
        (beat(), T0 + H, "new", T0 + 24 * H),
        (beat(), T0 + 24 * H, "late", T0 + 24 * H),
        (beat(), T0 + 25 * H - M, "late", T0 + 24 * H),
        (beat(), T0 + 25 * H, "down", T0 + 24 * H),  # the grace ran out: down
        # pinged: counted from the last ping
        (beat(2 * H), T0 + 20 * H, "up", T0 + 26 * H),
        (beat(2 * H), T0 + 26 * H + M, "late", T0 + 26 * H),
        (beat(2 * H), T0 + 27 * H, "down", T0 + 26 * H),
        # a failure reported: failed, whatever the time
        (beat(2 * H, "fail"), T0 + 2 * H, "failed", T0 + 26 * H),
        (beat(2 * H, "fail"), T0 + 40 * H, "failed", T0 + 26 * H),
    ],
)
def test_where_a_heartbeat_stands(
    the_beat: Beat, now: datetime, state: str, late_at: datetime
) -> None:
    st = status(DAILY, the_beat, now)
    assert (st.state, st.late_at, st.down_at) == (state, late_at, late_at + H)


def test_no_grace_is_down_as_soon_as_late() -> None:
    tight = Heartbeat("digest", 5 * M, timedelta(0))
    assert status(tight, Beat("digest", T0), T0 + 5 * M).state == "down"
    assert status(tight, Beat("digest", T0), T0 + 5 * M - timedelta(seconds=1)).state == "new"


@pytest.mark.parametrize(
    ("the_beat", "now", "expected"),
    [
        (beat(), T0 + H, None),  # new
        (beat(2 * H), T0 + 26 * H + M, None),  # late, in its grace
        # down: HeartbeatMissing, from the end of the grace (the same at every check)
        (beat(2 * H), T0 + 30 * H, (MISSING, T0 + 27 * H, "since 2026-12-04T04:00:00.000Z")),
        (beat(), T0 + 30 * H, (MISSING, T0 + 25 * H, "ever (known since 2026-12-04T02:00")),
        # failed: HeartbeatFailed, from the failed ping, with its message
        (beat(2 * H, "fail", "disk full"), T0 + 3 * H, (FAILED, T0 + 2 * H, "reported a fail")),
    ],
)
def test_the_alert_a_heartbeat_raises(
    the_beat: Beat, now: datetime, expected: tuple[str, datetime, str] | None
) -> None:
    fired = firing_alert(DAILY, the_beat, status(DAILY, the_beat, now), now)
    if expected is None:
        assert fired is None
        return
    name, starts, says = expected
    assert fired is not None
    assert fired.labels == {
        "alertname": name,
        "heartbeat": "backup",
        "severity": "critical",
        "team": "infra",
    }
    assert (fired.starts_at, fired.ends_at) == (starts, now + FIRING_FOR)
    assert says in fired.annotations["summary"]
    assert fired.annotations["runbook_url"] == "/r#b"  # the configured annotations
    # a failure's description is what the job said; a missing one's, its last word
    said = the_beat.message if name == FAILED else f"last ping said: {the_beat.message}"
    assert fired.annotations.get("description", "") == (said if the_beat.message else "")


def test_its_configured_labels_and_annotations() -> None:
    spec = Heartbeat(
        "b", H, H, {"severity": "warning"}, {"summary": "Backups!", "description": "x"}
    )
    beat = Beat("b", T0, T0, "fail", "disk full")
    fired = firing_alert(spec, beat, status(spec, beat, T0 + M), T0 + M)
    assert fired is not None
    assert fired.labels == {"alertname": FAILED, "heartbeat": "b", "severity": "warning"}
    # a summary of its own wins; the job's words stay the description
    assert fired.annotations == {"summary": "Backups!", "description": "disk full"}


@pytest.mark.parametrize(
    ("period", "grace", "allowance"),
    [
        (timedelta(days=1), None, H),  # unset: the period, at most an hour
        (30 * timedelta(seconds=1), None, 30 * timedelta(seconds=1)),
        (timedelta(days=1), timedelta(0), timedelta(0)),
        (5 * M, 2 * H, 2 * H),
    ],
)
def test_how_late_a_ping_may_be(
    period: timedelta, grace: timedelta | None, allowance: timedelta
) -> None:
    assert Heartbeat("b", period, grace).allowance == allowance


@pytest.mark.parametrize(
    ("beats", "now", "most", "next_at"),
    [
        ([], T0, M, T0 + M),
        # the end of the period, then the end of the grace
        ([beat(0 * H)], T0 + H, 2 * H, T0 + 3 * H),  # nothing changes sooner
        ([beat(0 * H)], T0 + 23 * H, 2 * H, T0 + 24 * H),
        ([beat(0 * H)], T0 + 24 * H, 2 * H, T0 + 25 * H),
        # down already: nothing changes without a ping, but its alert is sent again
        ([beat(0 * H)], T0 + 30 * H, M, T0 + 30 * H + M),
        # the soonest of several
        ([beat(0 * H), beat(5 * H)], T0 + 24 * H + M, 2 * H, T0 + 25 * H),
    ],
)
def test_when_to_check_next(
    beats: list[Beat], now: datetime, most: timedelta, next_at: datetime
) -> None:
    assert next_check([(DAILY, b) for b in beats], now, most) == next_at


HEAD = "route:\n  receiver: x\nreceivers:\n  - name: x\ntocsin:\n  heartbeats:\n"


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ("    - name: b\n      period: 1h\n", None),
        ("    - name: b\n", "7: tocsin.heartbeats[0].period: missing period"),
        ("    - period: 1h\n", "7: tocsin.heartbeats[0].name: missing name"),
        ("    - name: a b\n      period: 1h\n", "7: tocsin.heartbeats[0].name: must be letters"),
        ("    - name: b\n      period: 1h\n      grace: 1x\n", "9: tocsin.heartbeats[0].grace: "),
        (
            "    - name: b\n      period: 1h\n      labels: {heartbeat: c}\n",
            "9: tocsin.heartbeats[0].labels.heartbeat: set by Tocsin itself",
        ),
        (
            "    - name: b\n      period: 1h\n      labels: {0bad: c}\n",
            "9: tocsin.heartbeats[0].labels.0bad: ",
        ),
        (
            "    - name: b\n      period: 1h\n    - name: b\n      period: 2h\n",
            "9: tocsin.heartbeats[1].name: duplicate name 'b'",
        ),
        (
            "    - name: b\n      period: 1h\n      every: 1h\n",
            "9: tocsin.heartbeats[0].every: unknown",
        ),
    ],
)
def test_check_config_names_file_line_and_key(
    tmp_path: Path, entries: str, problem: str | None
) -> None:
    path = tmp_path / "am.yml"
    path.write_text(HEAD + entries)
    if problem is None:
        (loaded,) = load_config(path).tocsin.heartbeats
        assert (loaded.period, loaded.allowance) == (H, H)
        return
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    said: Any = str(raised.value)
    assert f"{path}:{problem}" in said, said


def _lines_from(count: int, room: int) -> str:
    """The whole lines ``line 0`` .. ``line COUNT-1`` that end within ``room`` characters."""
    lines = [f"line {i}" for i in range(count)]
    kept: list[str] = []
    while lines and len("\n".join([lines[-1], *kept])) <= room:
        kept.insert(0, lines.pop())
    return "\n".join(kept)


@pytest.mark.parametrize(
    ("said", "output", "message"),
    [
        ("", "", ""),
        ("", "  done\n", "done"),
        ("exit status 3", "", "exit status 3"),
        ("exit status 3", "oops\n", "exit status 3\noops"),
        # a long output loses its start, never what Tocsin says of the ping
        ("exit status 3", "x" * 5000 + "end", "exit status 3\n" + ("x" * 5000 + "end")[-986:]),
        ("", "y" * 5000, "y" * 1000),
        # lines: the tail starts at a line's start, not in the middle of one
        ("", "".join(f"line {i}\n" for i in range(500)), _lines_from(500, 1000)),
        (
            "exit status 3",
            "".join(f"line {i}\n" for i in range(500)),
            "exit status 3\n" + _lines_from(500, 986),
        ),
        # one long last line: cut inside it all the same
        ("", "a\n" + "z" * 2000, "z" * 1000),
    ],
)
def test_a_ping_s_message(said: str, output: str, message: str) -> None:
    got = message_of(said, output)
    assert got == message
    assert len(got) <= 1000


def started(minute: int, last: timedelta | None = 2 * H) -> Beat:
    """Last pinged at T0 + ``last``; its job started at T0 + ``minute`` minutes since."""
    at = None if last is None else T0 + last
    return Beat("backup", T0, at, "ok" if at else None, "", 0, T0 + minute * M)


@pytest.mark.parametrize(
    ("the_beat", "now", "state", "down_at", "hung"),
    [
        # running, within its grace (an hour): started, whatever its period says
        (started(25 * 60), T0 + 25 * H + 30 * M, "started", T0 + 26 * H, False),
        # its grace ran out before it pinged: down, hung, from the end of that grace
        (started(25 * 60), T0 + 26 * H, "down", T0 + 26 * H, True),
        # started early in its period: the run's grace ends before the period's
        (started(3 * 60), T0 + 4 * H + M, "down", T0 + 4 * H, True),
        # started so late that the period's grace ends first: missing, not hung
        (started(26 * 60 + 50), T0 + 27 * H, "down", T0 + 27 * H, False),
        # a failure stays a failure while the next run is going
        (
            Beat("backup", T0, T0 + 2 * H, "fail", "", 0, T0 + 25 * H),
            T0 + 25 * H + M,
            "failed",
            T0 + 26 * H,
            False,
        ),
    ],
)
def test_a_started_job(
    the_beat: Beat, now: datetime, state: str, down_at: datetime, hung: bool
) -> None:
    st = status(DAILY, the_beat, now)
    assert (st.state, st.down_at, st.hung) == (state, down_at, hung)
    fired = firing_alert(DAILY, the_beat, st, now)
    if hung:
        assert fired is not None
        assert fired.labels["alertname"] == MISSING
        assert "has not finished within its grace of 1h" in fired.annotations["summary"]
        assert fired.starts_at == down_at


FIVE = Heartbeat("quick", timedelta(seconds=5), timedelta(seconds=5), {}, {})
DIGEST = Heartbeat("digest", 5 * M, timedelta(0), {}, {})
NO_GRACE = Heartbeat("backup", timedelta(days=1), timedelta(0), {}, {})
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("spec", "the_beat", "watching_since", "now", "state", "down_at"),
    [
        # Tocsin down 40 s while a 5 s job pinged: back at T0+41s, its grace counts again
        (FIVE, Beat("quick", T0, T0, "ok"), T0 + 41 * S, T0 + 41 * S, "late", T0 + 46 * S),
        (FIVE, Beat("quick", T0, T0, "ok"), T0 + 41 * S, T0 + 46 * S, "down", T0 + 46 * S),
        # a short restart changes nothing: the deadline was later anyway
        (FIVE, Beat("quick", T0, T0, "ok"), T0 + 2 * S, T0 + 9 * S, "late", T0 + 10 * S),
        # a ping since the start is counted as ever
        (FIVE, Beat("quick", T0, T0 + 50 * S, "ok"), T0 + 41 * S, T0 + 61 * S, "down", T0 + 60 * S),
        # never pinged, armed before the outage: from the start too
        (DAILY, beat(), T0 + 30 * H, T0 + 30 * H + M, "late", T0 + 31 * H),
        # a job started before the outage and not heard of since: its grace again
        (
            DAILY,
            Beat("backup", T0, T0, "ok", "", 1, T0 + H),
            T0 + 3 * H,
            T0 + 3 * H,
            "started",
            T0 + 4 * H,
        ),
        # a failure stays a failure
        (DAILY, beat(0 * H, "fail"), T0 + 30 * H, T0 + 30 * H, "failed", T0 + 31 * H),
        # no grace: its period (a job pinging every 5 minutes pings within 5 minutes)
        (DIGEST, Beat("digest", T0, T0, "ok"), T0 + H, T0 + H, "late", T0 + H + 5 * M),
        # a daily job with no grace: an hour at most, not a day unwatched
        (NO_GRACE, beat(0 * H), T0 + 30 * H, T0 + 30 * H, "late", T0 + 31 * H),
    ],
)
def test_a_restart_blames_no_job_for_tocsin_s_own_downtime(
    spec: Heartbeat,
    the_beat: Beat,
    watching_since: datetime,
    now: datetime,
    state: str,
    down_at: datetime,
) -> None:
    st = status(spec, the_beat, now, watching_since)
    assert (st.state, st.down_at) == (state, down_at)
    assert (firing_alert(spec, the_beat, st, now) is not None) is (state in ("down", "failed"))
    later = next_check([(spec, the_beat)], now, H, watching_since)
    assert later == min(t for t in (st.late_at, st.down_at, now + H) if t > now)
