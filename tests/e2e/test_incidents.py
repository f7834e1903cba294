"""Incidents from the terminal against a real server (SQLite and PostgreSQL): declared,
updated, resolved and written up with ``tocsin incident``; usage errors and refusals;
and a ``kill -9`` after each answered change loses none of them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.e2e.test_cli import run_cli
from tests.harness.procs import TocsinServer
from tests.harness.receivers import HTTPReceiver

CONFIG = """\
route:
  receiver: default
receivers:
  - name: default
tocsin:
  incidents:
    components: [Checkout, Search]
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
            "--component",
            "Checkout",
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
        assert "  affects:   Checkout\n" in shown
        assert "  commander: ann" in shown
        assert "  scribe:    cy" in shown
        assert "  owes:      an update by " in shown  # SEV1: every 30m
        assert "bob: Identified: Rolling back the deploy  [status page]" in shown
        assert "bob: deploy 4411 is the suspect\n" in shown
        listed = run_cli("incident", "list", url=url).stdout.splitlines()
        assert listed[0].split() == ["ID", "SEVERITY", "STATUS", "COMMANDER", "DECLARED", "TITLE"]
        assert listed[1].split()[:4] == ["1", "SEV1", "identified", "ann"]

        run_cli("incident", "resolve", "1", "-m", "Fixed", "--by", "ann", url=url)
        resolved_at = json.loads(run_cli("incident", "show", "1", "--json", url=url).stdout)
        again = run_cli("incident", "resolve", "1", "--by", "bob", url=url).stdout
        assert again == f"incident 1: already resolved at {resolved_at['resolvedAt']}\n"
        draft = run_cli("incident", "postmortem", "1", url=url).stdout
        assert draft.startswith("# Post-mortem: Checkout failing (incident #1)\n")
        written = tmp_path / "pm.md"
        written.write_text(draft)
        save = ("incident", "postmortem", "1", "--save", str(written), "--by", "ann")
        unedited = run_cli(*save, url=url, check=False)
        assert unedited.returncode == 1
        assert "postmortem: the draft, unedited" in unedited.stderr
        written.write_text(draft.replace("_One paragraph", "A bad deploy. _One paragraph"))
        stored = run_cli(*save, url=url).stdout
        lines = len(draft.splitlines())
        assert stored == f"incident 1: SEV1, resolved; post-mortem stored ({lines} lines)\n"

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
            "components",
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


def test_incidents_are_announced_to_their_receivers(tmp_path: Path) -> None:
    """Declared, updated and resolved: each is a notification to the receivers the
    config names (every incident's and its severity's), a webhook here, in the v4
    payload, through the outbox (and so in the notification log)."""
    with HTTPReceiver() as hook:
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            f"global:\n  slack_api_url: {hook.url('/slack')}\n"
            "people:\n  - name: cy\n    slack_user: cy.w\n"
            "route:\n  receiver: default\nreceivers:\n  - name: default\n"
            f"  - name: ops\n    webhook_configs: [{{url: '{hook.url('/ops')}'}}]\n"
            f"  - name: execs\n    webhook_configs: [{{url: '{hook.url('/execs')}', "
            "send_resolved: false}]\n"
            "tocsin:\n  incidents:\n    announce: [ops]\n    severities:\n"
            "      - {name: SEV1, announce: [execs]}\n      - {name: SEV2}\n"
        )
        with TocsinServer(tmp_path, config=config) as server:
            url = server.url
            declare = ("incident", "declare", "Checkout failing", "-s", "SEV2", "--by", "ann")
            run_cli(*declare, "--role", "scribe=cy", url=url)
            (declared,) = hook.wait_for(1, "/ops", timeout=30)
            # the person given a role hears it, the way they are reached (Slack here);
            # ann, the commander by declaring, is not told what she did herself
            (role,) = hook.wait_for(1, "/slack", timeout=30)
            assert role.json()["channel"] == "@cy.w"
            assert "Checkout failing: role scribe: cy, given by ann" in role.body.decode()
            body = declared.json()
            assert (body["receiver"], body["status"]) == ("ops", "firing")
            (alert,) = body["alerts"]
            assert alert["labels"] == {
                "alertname": "Incident",
                "incident": "1",
                "incident_severity": "SEV2",
                "severity": "warning",
            }
            # a subject built from them reads "Incident 1 (SEV2 warning)"
            assert body["groupLabels"] == {"alertname": "Incident", "incident": "1"}
            assert alert["endsAt"] == "0001-01-01T00:00:00Z"  # firing, as Alertmanager shows it
            assert alert["annotations"]["summary"] == (
                "Incident #1 (SEV2): Checkout failing: declared"
            )
            assert alert["generatorURL"] == f"{url}/ui/incidents/1"
            # a note is not news; a severity change and an update are, to SEV1's too
            run_cli("incident", "update", "1", "--note", "db?", "--by", "bob", url=url)
            run_cli(
                "incident",
                "update",
                "1",
                "-s",
                "SEV1",
                "-m",
                "Rolling back",
                "--by",
                "bob",
                url=url,
            )
            ops = hook.wait_for(2, "/ops", timeout=30)
            (execs,) = hook.wait_for(1, "/execs", timeout=30)
            for got in (ops[1].json(), execs.json()):
                (alert,) = got["alerts"]
                assert alert["labels"]["incident_severity"] == "SEV1"
                assert alert["annotations"]["summary"].endswith(
                    "severity SEV2 -> SEV1; status-page update"
                )
                assert alert["annotations"]["description"].startswith("Investigating: Rolling back")
            # lowered again: SEV2 announces to ops only, but execs, told before, hear the
            # rest, the resolution too (news, though their send_resolved is false)
            run_cli("incident", "update", "1", "-s", "SEV2", "--by", "bob", url=url)
            run_cli("incident", "resolve", "1", "--by", "ann", url=url)
            resolved = hook.wait_for(4, "/ops", timeout=30)[3].json()
            assert resolved["status"] == "resolved"
            told = hook.wait_for(3, "/execs", timeout=30)[2].json()
            assert told["status"] == "resolved"
            shown = json.loads(run_cli("incident", "show", "1", "--json", url=url).stdout)
            assert shown["announcedTo"] == ["ops", "execs"]  # cy: only her role
            assert len(hook.requests("/slack")) == 1
            logged = httpx.get(f"{url}/api/v1/notifications", params={"receiver": "ops"}).json()
            assert len(logged) == 4
            assert len(hook.requests("/ops")) == 4  # one each, none twice
