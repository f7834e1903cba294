"""Incidents from the terminal against a real server (SQLite and PostgreSQL): declared,
updated, resolved and written up with ``tocsin incident``; usage errors and refusals;
and a ``kill -9`` after each answered change loses none of them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.e2e.test_cli import run_cli
from tests.harness.procs import TocsinServer

CONFIG = """\
route:
  receiver: default
receivers:
  - name: default
tocsin:
  incidents:
    severities:
      - {name: SEV1, update_every: 30m, postmortem_within: 48h}
      - {name: SEV2}
"""


def test_an_incident_from_the_terminal_survives_a_crash(tmp_path: Path, db_url: str) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    db = None if db_url.startswith("sqlite") else db_url
    with TocsinServer(tmp_path, config=config, database_url=db) as server:
        url = server.url
        made = run_cli(
            "incident",
            "declare",
            "Checkout failing",
            "-s",
            "SEV1",
            "--by",
            "ann",
            "--role",
            "scribe=cy",
            "--group",
            "g-1",
            url=url,
        ).stdout
        assert made == "incident 1 declared: Checkout failing\n"
        changed = run_cli(
            "incident",
            "update",
            "1",
            "--status",
            "identified",
            "-m",
            "Rolling back the deploy",
            "--note",
            "deploy 4411 is the suspect",
            "--public",
            "--by",
            "bob",
            url=url,
        ).stdout
        assert changed == "incident 1: SEV1, identified\n"
        shown = run_cli("incident", "show", "1", url=url).stdout
        assert "#1 Checkout failing: SEV1, identified" in shown
        assert "  commander: ann" in shown
        assert "  scribe:    cy" in shown
        assert "  owes:      a status-page update by " in shown  # SEV1: every 30m
        assert "bob: Identified: Rolling back the deploy  [status page]" in shown
        assert "bob: deploy 4411 is the suspect\n" in shown
        listed = run_cli("incident", "list", url=url).stdout.splitlines()
        assert listed[0].split() == ["ID", "SEVERITY", "STATUS", "COMMANDER", "DECLARED", "TITLE"]
        assert listed[1].split()[:4] == ["1", "SEV1", "identified", "ann"]

        run_cli("incident", "resolve", "1", "-m", "Fixed", "--by", "ann", url=url)
        draft = run_cli("incident", "postmortem", "1", url=url).stdout
        assert draft.startswith("# Post-mortem: Checkout failing (incident #1)\n")
        written = tmp_path / "pm.md"
        written.write_text(draft.replace("_One paragraph", "A bad deploy. _One paragraph"))
        run_cli("incident", "postmortem", "1", "--save", str(written), "--by", "ann", url=url)

        server.kill()  # kill -9: every answered change was committed
        server.start()
        after = json.loads(run_cli("incident", "show", "1", "--json", url=server.url).stdout)
        assert (after["status"], after["public"]) == ("resolved", True)
        assert after["roles"] == {"commander": "ann", "scribe": "cy"}
        assert after["due"] == []  # the post-mortem is written: nothing owed
        kinds = [e["kind"] for e in after["timeline"]]
        assert kinds == [
            "declared",
            "role",
            "role",
            "linked",
            "visibility",
            "status",
            "note",
            "update",
            "status",
            "update",
            "postmortem",
        ]
        stored = httpx.get(f"{server.url}/api/v1/incidents/1/postmortem").json()
        assert stored["stored"] is True
        assert "A bad deploy." in stored["markdown"]
        assert run_cli("incident", "list", url=server.url).stdout.count("\n") == 1  # none open
        everything = run_cli("incident", "list", "--all", url=server.url).stdout.splitlines()
        assert everything[1].split()[:3] == ["1", "SEV1", "resolved"]


def test_refusals_from_the_terminal(tocsin: TocsinServer) -> None:
    url = tocsin.url
    bad = run_cli("incident", "declare", "x", "-s", "SEV9", url=url, check=False)
    assert bad.returncode == 1
    assert "severity: must be one of SEV1, SEV2, SEV3" in bad.stderr
    usage = run_cli("incident", "declare", "x", "-s", "SEV1", "--role", "ann", url=url, check=False)
    assert usage.returncode == 2
    assert "--role: 'ann' is not ROLE=PERSON" in usage.stderr
    missing = run_cli("incident", "show", "7", url=url, check=False)
    assert (missing.returncode, "no incident 7" in missing.stderr) == (1, True)
    assert run_cli("incident", "list", "--json", url=url).stdout.strip() == "[]"
