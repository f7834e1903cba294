"""Maintenance windows from the terminal against a real server (SQLite and
PostgreSQL): scheduled, shown, extended and finished with ``tocsin maintenance``; the
silence each makes is what Debian's real ``amtool`` lists; usage errors and refusals;
and a ``kill -9`` after each answered change loses none of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.api.test_maintenances_api import CONFIG
from tests.e2e.test_amtool import Amtool
from tests.e2e.test_cli import run_cli
from tests.harness.procs import TocsinServer
from tests.harness.receivers import HTTPReceiver
from tocsin.timeutil import format_rfc3339


def test_a_window_from_the_terminal_survives_a_crash(tmp_path: Path, db_url: str) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    db = None if db_url.startswith("sqlite") else db_url
    home = tmp_path / "home"
    home.mkdir()
    with TocsinServer(tmp_path, config=config, database_url=db) as server:
        url = server.url
        made = run_cli(
            "maintenance",
            "schedule",
            "Database upgrade",
            "--for",
            "2h",
            "--match",
            'service="orchestrator"',
            "--component",
            "API",
            "--description",
            "API read-only for up to 2 hours",
            "--by",
            "ann",
            url=url,
        ).stdout.splitlines()
        assert made[0] == "maintenance 1 in_progress: Database upgrade"
        assert made[1].startswith("  silence ")
        # starting now, with 48h asked: said to be short
        assert made[2].startswith("  short notice: announced 0s before its start")
        silence_id = made[1].split()[1]
        listed = Amtool(url, home).run("silence", "query", "-o", "extended").stdout
        assert silence_id in listed
        assert "maintenance #1: Database upgrade" in listed
        extended = run_cli("maintenance", "update", "1", "--extend", "30m", url=url).stdout
        assert extended.startswith("maintenance 1: in_progress, ends ")

        server.kill()  # kill -9: every answered change was committed
        server.start()
        url = server.url
        after = json.loads(run_cli("maintenance", "show", "1", "--json", url=url).stdout)
        assert (after["state"], after["components"]) == ("in_progress", ["API"])
        assert after["silenceId"] == silence_id  # extended in place: the same silence
        shown = run_cli("maintenance", "show", "1", url=url).stdout
        assert '  silences:  service="orchestrator"' in shown
        assert "API read-only for up to 2 hours" in shown
        silences = Amtool(url, home).json("silence", "query")
        assert [s["endsAt"][:19] for s in silences] == [after["endsAt"][:19]]
        rows = run_cli("maintenance", "list", url=url).stdout.splitlines()
        assert rows[0].split() == ["ID", "STATE", "STARTS", "ENDS", "AFFECTS", "TITLE"]
        assert rows[1].split()[:2] == ["1", "in_progress"]

        done = run_cli("maintenance", "finish", "1", url=url).stdout
        assert done.startswith("maintenance 1: completed, ends ")
        assert run_cli("maintenance", "list", url=url).stdout.count("\n") == 1  # none left
        assert "completed" in run_cli("maintenance", "list", "--past", url=url).stdout


def test_refusals_from_the_terminal(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    with TocsinServer(tmp_path, config=config) as server:
        url = server.url
        no_end = run_cli("maintenance", "schedule", "x", url=url, check=False)
        assert no_end.returncode == 2
        assert "give the window's end: --end TIME or --for DURATION" in no_end.stderr
        bad_time = run_cli("maintenance", "schedule", "x", "--end", "soon", url=url, check=False)
        assert (bad_time.returncode, "--end: not an RFC 3339" in bad_time.stderr) == (2, True)
        unknown = run_cli(
            "maintenance",
            "schedule",
            "x",
            "--for",
            "1h",
            "--component",
            "Nope",
            url=url,
            check=False,
        )
        assert unknown.returncode == 1
        assert "components[0]: no such component 'Nope' (known: API, Search)" in unknown.stderr
        bad_match = run_cli(
            "maintenance", "schedule", "x", "--for", "1h", "-m", 'a=~"("', url=url, check=False
        )
        assert (bad_match.returncode, "--match 'a=~\"(\"'" in bad_match.stderr) == (2, True)
        beyond = run_cli(
            "maintenance",
            "schedule",
            "x",
            "--start",
            "9999-12-31T23:00:00Z",
            "--for",
            "2h",
            url=url,
            check=False,
        )
        assert (beyond.returncode, "beyond any date" in beyond.stderr) == (2, True)
        zoned = run_cli(
            "maintenance",
            "schedule",
            "x",
            "--start",
            "0001-01-01T00:30:00+01:00",
            "--for",
            "1h",
            url=url,
            check=False,
        )
        assert (zoned.returncode, "not a time Tocsin can hold" in zoned.stderr) == (2, True)
        missing = run_cli("maintenance", "cancel", "7", url=url, check=False)
        assert (missing.returncode, "no maintenance 7" in missing.stderr) == (1, True)
        both = run_cli(
            "maintenance", "update", "7", "-m", "a=b", "--no-match", url=url, check=False
        )
        assert (both.returncode, "--match and --no-match" in both.stderr) == (2, True)
        nothing = run_cli("maintenance", "update", "7", url=url, check=False)
        assert (nothing.returncode, "nothing to change" in nothing.stderr) == (2, True)
        assert run_cli("maintenance", "list", "--json", url=url).stdout.strip() == "[]"


def test_public_windows_are_announced_to_their_receivers(tmp_path: Path) -> None:
    """Scheduled, extended and cancelled: each is a notification to
    ``tocsin.incidents.announce``'s receivers (a webhook here, the v4 payload, through
    the outbox), firing until the window ends, resolved when it is called off even
    where send_resolved is false; a private window tells no one."""
    with HTTPReceiver() as hook:
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            "route:\n  receiver: default\nreceivers:\n  - name: default\n"
            f"  - name: tenants\n    webhook_configs: [{{url: '{hook.url('/t')}', "
            "send_resolved: false}]\n"
            "tocsin:\n  incidents:\n    announce: [tenants]\n    components: [API]\n"
        )
        with TocsinServer(tmp_path, config=config) as server:
            url = server.url
            start, end = "2030-01-10T02:00:00Z", "2030-01-10T04:00:00Z"
            private = ("Quiet", "--start", start, "--end", end, "--private")
            run_cli("maintenance", "schedule", *private, url=url)
            run_cli(
                "maintenance",
                "schedule",
                "Database upgrade",
                "--start",
                start,
                "--end",
                end,
                "--component",
                "API",
                "--description",
                "API read-only",
                url=url,
            )
            (scheduled,) = hook.wait_for(1, "/t", timeout=30)
            body = scheduled.json()
            assert (body["receiver"], body["status"]) == ("tenants", "firing")
            (alert,) = body["alerts"]
            assert alert["labels"] == {
                "alertname": "Maintenance",
                "maintenance": "2",
                "severity": "info",
            }
            assert alert["annotations"] == {
                "summary": "Maintenance #2: Database upgrade: scheduled, "
                "2030-01-10T02:00:00.000Z to 2030-01-10T04:00:00.000Z",
                "description": "API read-only",
                "status": "scheduled",
                "affects": "API",
            }
            assert alert["endsAt"].startswith("2030-01-10T04:00:00")  # the window's end
            run_cli("maintenance", "update", "2", "--extend", "1h", url=url)
            extended = hook.wait_for(2, "/t", timeout=30)[1].json()
            assert extended["alerts"][0]["annotations"]["summary"].startswith(
                "Maintenance #2: Database upgrade: new end, "
            )
            run_cli("maintenance", "cancel", "2", url=url)
            cancelled = hook.wait_for(3, "/t", timeout=30)[2].json()
            assert cancelled["status"] == "resolved"  # news, though send_resolved is false
            assert "cancelled" in cancelled["alerts"][0]["annotations"]["summary"]
            logged = httpx.get(f"{url}/api/v1/notifications", params={"receiver": "tenants"})
            assert len(logged.json()) == 3
            assert len(hook.requests("/t")) == 3  # the private window told no one
            # a window's start and end are told when they come, by the server's loop
            # (6 s ahead: the CLI itself takes a second to start, more under load)
            soon = datetime.now(UTC) + timedelta(seconds=6)
            run_cli(
                "maintenance",
                "schedule",
                "Short",
                "--start",
                format_rfc3339(soon),
                "--for",
                "2s",
                url=url,
            )
            said = [r.json() for r in hook.wait_for(6, "/t", timeout=30)[3:]]
            summaries = [r["alerts"][0]["annotations"]["summary"] for r in said]
            assert [x.split(", ")[0] for x in summaries] == [
                "Maintenance #3: Short: scheduled",
                "Maintenance #3: Short: started",
                "Maintenance #3: Short: completed",
            ]
            assert [r["status"] for r in said] == ["firing", "firing", "resolved"]
