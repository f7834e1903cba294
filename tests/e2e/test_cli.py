"""The ``tocsin`` CLI as users run it: a real server process, real subprocess commands.

Checks the conventions every command follows (``--url``/``TOCSIN_URL``, ``--json``, exit
codes 0/1/2), the alert and silence commands, reload on SIGHUP, and that a server with a
bad configuration refuses to start and says where the problem is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.test_console import CONFIG as ONCALL
from tests.e2e.conftest import CONFIG, wait_until
from tests.harness.procs import TocsinServer

pytestmark = pytest.mark.e2e


def run_cli(
    *args: str, url: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env_url = {"TOCSIN_URL": url} if url else {}
    result = subprocess.run(
        [sys.executable, "-m", "tocsin", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env_url},
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_alert_add_and_list(tocsin: TocsinServer) -> None:
    url = tocsin.url
    run_cli(
        "alert",
        "add",
        "HighErrorRate",
        "service=api",
        "severity=critical",
        "-a",
        "summary=5% errors",
        url=url,
    )
    listed = json.loads(run_cli("alert", "list", "--json", url=url).stdout)
    assert [a["labels"] for a in listed] == [
        {"alertname": "HighErrorRate", "service": "api", "severity": "critical"}
    ]
    assert listed[0]["annotations"] == {"summary": "5% errors"}
    table = run_cli("alert", "list", "severity=critical", url=url).stdout
    assert "HighErrorRate" in table
    assert "5% errors" in table
    assert run_cli("alert", "list", "severity=warning", "--json", url=url).stdout.strip() == "[]"


def test_url_before_the_command_reaches_every_client_command(tocsin: TocsinServer) -> None:
    """``tocsin --url URL alert list``, as amtool takes its URL before the command; a
    command's own --url still wins (here a port nothing listens on: exit 1)."""
    run_cli("--url", tocsin.url, "alert", "add", "DiskFull", "host=db1")
    listed = json.loads(run_cli("--url", tocsin.url, "alert", "list", "--json").stdout)
    assert [a["labels"]["alertname"] for a in listed] == ["DiskFull"]
    nested = run_cli("--url", tocsin.url, "runbook", "search", "anything", check=False)
    assert nested.returncode == 0, nested.stderr
    wrong = run_cli(
        "--url", tocsin.url, "alert", "list", "--url", "http://127.0.0.1:9", check=False
    )
    assert wrong.returncode == 1


def test_silence_add_list_expire(tocsin: TocsinServer) -> None:
    url = tocsin.url
    run_cli("alert", "add", "Disk", "host=db1", url=url)
    # amtool-style: a bare first word is the alertname (alertname=Disk)
    sid = run_cli("silence", "add", "Disk", "-c", "maintenance", "-d", "2h", url=url)
    silence_id = sid.stdout.strip()
    listed = json.loads(run_cli("silence", "list", "--json", url=url).stdout)
    assert [s["id"] for s in listed] == [silence_id]
    assert listed[0]["comment"] == "maintenance"
    assert listed[0]["matchers"] == [
        {"name": "alertname", "value": "Disk", "isRegex": False, "isEqual": True}
    ]
    assert json.loads(run_cli("silence", "list", "Disk", "--json", url=url).stdout) == listed
    assert json.loads(run_cli("silence", "list", "Other", "--json", url=url).stdout) == []
    # the alert is now silenced: hidden by default, shown with --silenced
    assert json.loads(run_cli("alert", "list", "--json", url=url).stdout) == []
    silenced = json.loads(run_cli("alert", "list", "Disk", "--silenced", "--json", url=url).stdout)
    assert silenced[0]["status"]["silencedBy"] == [silence_id]
    run_cli("silence", "expire", silence_id, url=url)
    assert json.loads(run_cli("silence", "list", "--json", url=url).stdout) == []
    expired = json.loads(run_cli("silence", "list", "--expired", "--json", url=url).stdout)
    assert [s["id"] for s in expired] == [silence_id]


def test_exit_codes(tocsin: TocsinServer) -> None:
    url = tocsin.url
    # usage errors: 2
    bad = run_cli("silence", "add", "Disk", "host=~(", "-c", "x", url=url, check=False)
    assert bad.returncode == 2
    assert run_cli("alert", "list", "a=b", "c", url=url, check=False).returncode == 2
    assert run_cli("alert", "list", "--no-such-flag", url=url, check=False).returncode == 2
    # failures: 1, with the server's reason on stderr
    missing = run_cli("silence", "expire", "no-such-id", url=url, check=False)
    assert missing.returncode == 1
    assert "not found" in missing.stderr
    down = run_cli("alert", "list", url="http://127.0.0.1:9", check=False)
    assert down.returncode == 1


def test_sighup_reloads_and_a_bad_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.read_text())
    with TocsinServer(tmp_path, config=config) as server:
        status = httpx.get(f"{server.url}/api/v2/status").json()
        assert status["config"]["original"] == CONFIG.read_text()
        changed = CONFIG.read_text() + "\n# reloaded\n"
        config.write_text(changed)
        server.signal(signal.SIGHUP)
        wait_until(
            lambda: (
                httpx.get(f"{server.url}/api/v2/status").json()["config"]["original"] == changed
            ),
            what="SIGHUP reload",
        )
        config.write_text(changed + "unknown_section: {}\n")
        server.signal(signal.SIGHUP)
        wait_until(
            lambda: (
                "tocsin_config_last_reload_successful 0.0"
                in httpx.get(f"{server.url}/metrics").text
            ),
            what="the failed reload to be recorded",
        )
        assert httpx.get(f"{server.url}/api/v2/status").json()["config"]["original"] == changed
        assert "unknown_section" in server.log()


def test_json_logs_are_one_object_a_line(tmp_path: Path) -> None:
    """--log-format json: every line the server writes, its own and uvicorn's, from
    start to stop, is one JSON object with the time (UTC), level, logger and message;
    a bad reload's problem is a message of its own, not text around it."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.read_text())
    with TocsinServer(tmp_path, config=config, extra_args=["--log-format", "json"]) as server:
        config.write_text(CONFIG.read_text() + "unknown_section: {}\n")
        refused = httpx.post(f"{server.url}/-/reload")
        assert refused.status_code == 500
    lines = [json.loads(line) for line in server.log().splitlines()]
    for line in lines:
        assert list(line)[:4] == ["time", "level", "logger", "msg"], line
        assert line["time"].endswith("Z")
        assert line["level"] in ("debug", "info", "warning", "error"), line
    said = {(line["logger"], line["msg"].split(" ")[0]) for line in lines}
    assert ("tocsin", "Tocsin") in said  # listening on ...
    assert ("tocsin", "holding") in said
    assert ("tocsin.app", "stopping:") in said
    reload = [line for line in lines if "unknown_section" in line["msg"]]
    assert reload, lines
    assert reload[0]["level"] == "error"


def test_a_log_format_that_is_none_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("serve", "--data-dir", str(tmp_path), "--log-format", "xml", check=False)
    assert result.returncode == 2
    assert "--log-format" in result.stderr
    assert "'xml' is not one of 'text', 'json'" in result.stderr


def test_server_refuses_to_start_on_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.yml"
    config.write_text("route:\n  receiver: nobody\nreceivers:\n  - name: someone\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tocsin",
            "serve",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "data"),
            "--listen",
            "127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{config}:2: route.receiver" in result.stderr


def test_a_taken_port_is_one_line_before_anything_starts(
    tocsin: TocsinServer, tmp_path: Path
) -> None:
    """Another server holds the port: one line naming it, exit 1, no database made."""
    data = tmp_path / "second"
    result = run_cli(
        "serve", "--listen", f"127.0.0.1:{tocsin.port}", "--data-dir", str(data), check=False
    )
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line == f"error: cannot listen on 127.0.0.1:{tocsin.port}: Address already in use"
    assert not data.exists()


def test_runbook_show_and_search(tmp_path: Path) -> None:
    runbooks = Path(__file__).resolve().parents[3] / "shared" / "runbooks"
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.read_text() + f"\ntocsin:\n  runbooks:\n    paths: [{runbooks}]\n")
    with TocsinServer(tmp_path, config=config) as server:
        shown = run_cli("runbook", "show", "HighErrorRate", url=server.url).stdout
        assert f"{server.url}/runbooks/threads-agent-alertmanager#higherrorrate" in shown
        assert "1. Identify error source: Check /metrics endpoint" in shown
        assert "Severity: critical" in shown
        hits = json.loads(run_cli("runbook", "search", "rabbitmq", "--json", url=server.url).stdout)
        assert hits
        assert {h["runbook"] for h in hits} <= {
            "threads-agent-alertmanager",
            "thread-condenser",
            "news-topic-intelligence",
        }
        missing = run_cli("runbook", "show", "NoSuchAlert", url=server.url, check=False)
        assert missing.returncode == 1
        assert "no runbook procedure" in missing.stderr


def test_a_group_s_runbook_checklist_from_the_terminal(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(ONCALL)
    with TocsinServer(tmp_path, config=config) as server:
        down = {"labels": {"alertname": "ServiceDown", "severity": "critical"}}
        assert httpx.post(f"{server.url}/api/v2/alerts", json=[down]).status_code == 200
        groups = wait_until(
            lambda: httpx.get(f"{server.url}/api/v1/groups").json(), 30, "the group to open"
        )
        gid = groups[0]["id"]
        shown = run_cli("checklist", gid, url=server.url).stdout
        assert "threads-agent-alertmanager/ServiceDown (critical): 0/5 done" in shown
        assert (
            "[ ] threads-agent-alertmanager/ServiceDown:1  "
            "Check service status: kubectl get pods -l app=<service>"
        ) in shown
        assert "$ " not in shown  # inline commands are in the step's text, not repeated
        ticked = run_cli("checklist", gid, "--done", "2", "--by", "bob", url=server.url).stdout
        assert "1/5 done" in ticked
        assert "[x] threads-agent-alertmanager/ServiceDown:2  Review logs" in ticked
        listed = json.loads(run_cli("checklist", gid, "--json", url=server.url).stdout)
        steps = listed["checklists"][0]["steps"]
        assert [s["doneBy"] for s in steps] == [None, "bob", None, None, None]
        # the runbook's promises for critical alerts run from the group's opening
        timers = {t["text"]: t["state"] for t in listed["timers"]}
        assert timers["Response Time: < 5 minutes"] == "running"
        assert timers["Long-term (within 1 week)"] == "waiting"
        assert "running  Response Time: < 5 minutes  (due " in shown
        run_cli("checklist", gid, "--undo", "2", "--by", "bob", url=server.url)
        audit = httpx.get(f"{server.url}/api/v1/groups/{gid}/audit").json()
        steps = [(a["action"], a["actor"], a["channel"]) for a in audit if "step" in a["action"]]
        assert steps == [("step done", "bob", "cli"), ("step undone", "bob", "cli")]
        # several steps at once; the procedure's name alone names it
        both = ["--done", "ServiceDown:3", "--done", "servicedown:4", "--by", "ann"]
        run_cli("checklist", gid, *both, url=server.url)
        listed = json.loads(run_cli("checklist", gid, "--json", url=server.url).stdout)
        done_by = [s["doneBy"] for s in listed["checklists"][0]["steps"]]
        assert done_by == [None, None, "ann", "ann", None]
        # a step that is not there: exit 1, the server's reason
        bad = run_cli("checklist", gid, "--done", "9", url=server.url, check=False)
        assert bad.returncode == 1
        assert "has 5 steps" in bad.stderr
        usage = run_cli("checklist", gid, "--done", "1", "--undo", "1", url=server.url, check=False)
        assert usage.returncode == 2
        # a timer kept, by its number as listed; an acknowledgement's timer is refused
        kept = run_cli("checklist", gid, "--kept", "3", "--by", "ann", url=server.url).stdout
        assert "3. met      Immediate (within 1 hour)  (from the resolution; " in kept
        assert "[kept by ann " in kept
        timers = json.loads(run_cli("checklist", gid, "--json", url=server.url).stdout)["timers"]
        assert [t["keptBy"] for t in timers] == [None, None, "ann", None, None]
        bad = run_cli("checklist", gid, "--kept", "1", url=server.url, check=False)
        assert (bad.returncode, "is met by acknowledging" in bad.stderr) == (1, True)
        run_cli("checklist", gid, "--unkept", timers[2]["ref"], "--by", "ann", url=server.url)
        timers = json.loads(run_cli("checklist", gid, "--json", url=server.url).stdout)["timers"]
        assert timers[2]["state"] == "waiting"
        usage = run_cli(
            "checklist", gid, "--kept", "3", "--unkept", "3", url=server.url, check=False
        )
        assert usage.returncode == 2
