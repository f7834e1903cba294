"""The real ``amtool`` (Alertmanager 0.25) works unchanged against Tocsin.

amtool is what on-call engineers type at 3 a.m.; it is a go-swagger client that
rejects any response not shaped like Alertmanager's, so each command here both checks
the shape (amtool exits 0 and prints) and the content (what amtool prints is what
Tocsin holds, cross-checked with plain HTTP).
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    CONFIG,
    get_alerts,
    get_silences,
    parse_time,
    require_binary,
    wait_until,
)
from tests.harness.procs import AlertmanagerServer, TocsinServer

pytestmark = pytest.mark.e2e


class Amtool:
    """Runs amtool against one server, with a private HOME so that no user amtool.yml
    on the machine can change its defaults."""

    def __init__(self, url: str, home: Path) -> None:
        self.binary = require_binary("amtool")
        self.url = url
        self.home = home

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, f"--alertmanager.url={self.url}", "--timeout=20s", *args]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=60,
            env={"HOME": str(self.home), "PATH": "/usr/bin:/bin", "TZ": "UTC"},
        )
        if check:
            assert done.returncode == 0, (
                f"amtool {' '.join(args)} exited {done.returncode}\n"
                f"stdout: {done.stdout}\nstderr: {done.stderr}"
            )
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run("-o", "json", *args).stdout)


@pytest.fixture
def amtool(tocsin: TocsinServer, tmp_path: Path) -> Amtool:
    home = tmp_path / "home"
    home.mkdir()
    return Amtool(tocsin.url, home)


def add_disk_full(amtool: Amtool) -> None:
    amtool.run(
        "alert",
        "add",
        "DiskFull",
        "instance=db1",
        "severity=critical",
        "team=db",
        "--annotation=summary=disk is full",
        "--annotation=runbook=https://runbooks.example/disk-full",
        "--generator-url=http://127.0.0.1:9090/graph?g0.expr=disk",
    )


def test_alert_add_then_query(amtool: Amtool, tocsin: TocsinServer) -> None:
    add_disk_full(amtool)
    amtool.run("alert", "add", "alertname=Other", "instance=web1")

    held = {a["labels"]["alertname"]: a for a in get_alerts(tocsin.url)}
    assert set(held) == {"DiskFull", "Other"}
    disk = held["DiskFull"]
    assert disk["labels"] == {
        "alertname": "DiskFull",
        "instance": "db1",
        "severity": "critical",
        "team": "db",
    }
    assert disk["annotations"] == {
        "summary": "disk is full",
        "runbook": "https://runbooks.example/disk-full",
    }
    assert disk["generatorURL"] == "http://127.0.0.1:9090/graph?g0.expr=disk"
    assert disk["status"]["state"] == "active"

    simple = amtool.run("alert", "query").stdout
    assert "DiskFull" in simple
    assert "disk is full" in simple
    assert "Other" in simple

    listed = amtool.json("alert", "query")
    assert {a["fingerprint"]: a["labels"] for a in listed} == {
        a["fingerprint"]: a["labels"] for a in held.values()
    }

    # A matcher narrows the query the way Tocsin's own filter does.
    only_db = amtool.json("alert", "query", "instance=db1")
    assert [a["fingerprint"] for a in only_db] == [disk["fingerprint"]]
    extended = amtool.run("-o", "extended", "alert", "query", "alertname=~Disk.*").stdout
    assert 'instance="db1"' in extended
    assert "web1" not in extended


def test_alert_query_by_receiver(amtool: Amtool, tocsin: TocsinServer) -> None:
    """``-r`` filters on the receivers Tocsin routed the alert to."""
    add_disk_full(amtool)
    amtool.run("alert", "add", "Other", "instance=web1")
    pager = amtool.json("alert", "query", "--receiver=team-db-pager")
    assert [a["labels"]["alertname"] for a in pager] == ["DiskFull"]
    default = amtool.json("alert", "query", "--receiver=^default$")
    assert [a["labels"]["alertname"] for a in default] == ["Other"]


def test_silence_add_query_expire(amtool: Amtool, tocsin: TocsinServer) -> None:
    add_disk_full(amtool)
    before = datetime.now(UTC)
    added = amtool.run(
        "silence", "add", "instance=db1", "-c", "disk maintenance", "--duration=2h", "-a", "ops"
    )
    silence_id = added.stdout.strip()
    assert silence_id, added.stderr

    response = httpx.get(f"{tocsin.url}/api/v2/silence/{silence_id}", timeout=10.0)
    assert response.status_code == 200, response.text
    held = response.json()
    assert held["comment"] == "disk maintenance"
    assert held["createdBy"] == "ops"
    assert held["status"]["state"] == "active"
    assert held["matchers"] == [
        {"name": "instance", "value": "db1", "isRegex": False, "isEqual": True}
    ]
    # --duration=2h: endsAt is two hours after the moment amtool computed "now".
    ends = parse_time(held["endsAt"])
    assert before + timedelta(hours=2) - timedelta(minutes=1) <= ends
    assert ends <= datetime.now(UTC) + timedelta(hours=2)

    simple = amtool.run("silence", "query").stdout
    assert silence_id in simple
    assert "disk maintenance" in simple
    assert amtool.run("silence", "query", "-q").stdout.split() == [silence_id]
    assert amtool.run("silence", "query", "-q", "instance=db1").stdout.split() == [silence_id]
    assert amtool.run("silence", "query", "-q", "instance=nope").stdout.split() == []
    as_json = amtool.json("silence", "query")
    assert [s["id"] for s in as_json] == [silence_id]
    assert as_json[0]["matchers"] == held["matchers"]
    assert [s["id"] for s in get_silences(tocsin.url)] == [silence_id]

    amtool.run("silence", "expire", silence_id)
    assert amtool.run("silence", "query", "-q").stdout.split() == []
    assert silence_id in amtool.run("silence", "query", "--expired", "-q").stdout.split()
    expired = httpx.get(f"{tocsin.url}/api/v2/silence/{silence_id}", timeout=10.0).json()
    assert expired["status"]["state"] == "expired"


def test_expire_a_pending_silence(amtool: Amtool, tocsin: TocsinServer) -> None:
    """A silence that has not started yet can be expired too: it ends up expired, never
    having been active (Alertmanager sets startsAt = endsAt = now)."""
    start = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    silence_id = amtool.run(
        "silence", "add", "instance=db1", "-c", "later", f"--start={start}", "--duration=1h"
    ).stdout.strip()
    (held,) = get_silences(tocsin.url)
    assert held["id"] == silence_id
    assert held["status"]["state"] == "pending"
    amtool.run("silence", "expire", silence_id)
    (held,) = get_silences(tocsin.url)
    assert held["status"]["state"] == "expired"
    assert parse_time(held["endsAt"]) <= datetime.now(UTC)


def test_expire_an_expired_silence_again_succeeds(amtool: Amtool) -> None:
    silence_id = amtool.run("silence", "add", "instance=db1", "-c", "twice").stdout.strip()
    amtool.run("silence", "expire", silence_id)
    amtool.run("silence", "expire", silence_id)


def test_silenced_alert_is_suppressed_with_the_silence_id(
    amtool: Amtool, tocsin: TocsinServer
) -> None:
    add_disk_full(amtool)
    amtool.run("alert", "add", "Other", "instance=web1")
    silence_id = amtool.run("silence", "add", "alertname=DiskFull", "-c", "known").stdout.strip()

    def suppressed() -> list[Any]:
        return [a for a in get_alerts(tocsin.url) if a["status"]["state"] == "suppressed"]

    held = wait_until(suppressed, 30, "the silenced alert to be suppressed")
    assert [a["labels"]["alertname"] for a in held] == ["DiskFull"]
    assert held[0]["status"]["silencedBy"] == [silence_id]

    # Default query shows active alerts only; -s shows the silenced one, suppressed.
    active = amtool.json("alert", "query")
    assert [a["labels"]["alertname"] for a in active] == ["Other"]
    silenced = amtool.json("alert", "query", "--silenced")
    assert [a["labels"]["alertname"] for a in silenced] == ["DiskFull"]
    assert silenced[0]["status"]["state"] == "suppressed"
    assert silenced[0]["status"]["silencedBy"] == [silence_id]
    text = amtool.run("alert", "query", "--silenced").stdout
    assert "suppressed" in text
    assert "DiskFull" in text

    amtool.run("silence", "expire", silence_id)

    def active_again() -> bool:
        return all(a["status"]["state"] == "active" for a in get_alerts(tocsin.url))

    wait_until(active_again, 30, "the alert to be active again after the silence expired")
    assert sorted(a["labels"]["alertname"] for a in amtool.json("alert", "query")) == [
        "DiskFull",
        "Other",
    ]


def test_silence_with_regex_matcher_and_update(amtool: Amtool, tocsin: TocsinServer) -> None:
    silence_id = amtool.run("silence", "add", "alertname=~Disk.*", "-c", "first").stdout.strip()
    held = get_silences(tocsin.url)
    assert [s["id"] for s in held] == [silence_id]
    assert held[0]["matchers"] == [
        {"name": "alertname", "value": "Disk.*", "isRegex": True, "isEqual": True}
    ]

    # amtool 0.25's ``silence update -q`` prints a Go pointer instead of the id, so the
    # table output is read instead. An active silence whose start is sent back as read
    # (in milliseconds) is updated in place, as Alertmanager does: the same id.
    printed = amtool.run("silence", "update", silence_id, "-c", "second").stdout
    active = [s for s in get_silences(tocsin.url) if s["status"]["state"] == "active"]
    assert [s["id"] for s in active] == [silence_id]
    assert active[0]["comment"] == "second"
    assert silence_id in printed
    assert "second" in printed
    amtool.run("silence", "update", silence_id, "-d", "3h")  # and again, by the same id
    (again,) = [s for s in get_silences(tocsin.url) if s["status"]["state"] == "active"]
    assert again["id"] == silence_id
    assert again["startsAt"] == active[0]["startsAt"]


def test_config_show_prints_the_config_file(amtool: Amtool) -> None:
    shown = amtool.run("config", "show").stdout
    assert shown.strip() == CONFIG.read_text().strip()


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["team=db", "severity=critical"], "team-db,team-db-pager"),
        (["team=db", "severity=warning"], "team-db"),
        (["alertname=Other"], "default"),
    ],
)
def test_config_routes_test_agrees_with_tocsin_routing(
    amtool: Amtool, tocsin: TocsinServer, labels: list[str], receivers: str
) -> None:
    """amtool routes with Alertmanager's own code on the config Tocsin serves; Tocsin's
    routing of the same labels must give the same receivers, in the same order."""
    done = amtool.run("config", "routes", "test", *labels)
    assert done.stdout.strip() == receivers
    amtool.run("config", "routes", "test", f"--verify.receivers={receivers}", *labels)
    wrong = amtool.run(
        "config", "routes", "test", "--verify.receivers=nobody", *labels, check=False
    )
    assert wrong.returncode != 0

    amtool.run("alert", "add", *labels, "--annotation=summary=route check")
    (held,) = get_alerts(tocsin.url)
    assert ",".join(r["name"] for r in held["receivers"]) == receivers


def test_config_routes_show(amtool: Amtool) -> None:
    tree = amtool.run("config", "routes", "show").stdout
    assert "receiver: default" in tree
    assert "receiver: team-db-pager" in tree
    assert '{team="db"}' in tree


def test_inhibited_alert_is_shown_with_the_inhibiting_fingerprint(
    amtool: Amtool, tocsin: TocsinServer
) -> None:
    """The e2e config inhibits severity=warning by severity=critical with the same
    alertname and instance; ``amtool alert query -i`` shows the inhibited one."""
    amtool.run("alert", "add", "DiskFull", "instance=db1", "severity=critical")
    amtool.run("alert", "add", "DiskFull", "instance=db1", "severity=warning")
    amtool.run("alert", "add", "DiskFull", "instance=db2", "severity=warning")
    critical = next(a for a in get_alerts(tocsin.url) if a["labels"]["severity"] == "critical")

    def inhibited() -> list[Any]:
        return [
            a for a in amtool.json("alert", "query", "--inhibited") if a["status"]["inhibitedBy"]
        ]

    (held,) = wait_until(inhibited, 30, "amtool to show the inhibited alert")
    assert held["labels"] == {"alertname": "DiskFull", "instance": "db1", "severity": "warning"}
    assert held["status"]["state"] == "suppressed"
    assert held["status"]["inhibitedBy"] == [critical["fingerprint"]]
    active = amtool.json("alert", "query", "--active")
    assert sorted(a["labels"]["instance"] + a["labels"]["severity"] for a in active) == [
        "db1critical",
        "db2warning",
    ]


def test_silences_exported_from_alertmanager_import_into_tocsin(
    amtool: Amtool, tocsin: TocsinServer, alertmanager: AlertmanagerServer, tmp_path: Path
) -> None:
    """The migration path: ``amtool silence query -o json`` on Alertmanager, then
    ``amtool silence import`` into Tocsin (which first tries each silence's own id,
    and on 404 creates it anew)."""
    from_am = Amtool(alertmanager.url, amtool.home)
    from_am.run("silence", "add", "instance=db1", "-c", "one", "-a", "alice")
    from_am.run("silence", "add", "alertname=~Disk.*", "team!=web", "-c", "two", "-a", "bob")
    exported = tmp_path / "silences.json"
    exported.write_text(from_am.run("-o", "json", "silence", "query").stdout)
    source = {s["comment"]: s for s in json.loads(exported.read_text())}
    assert set(source) == {"one", "two"}

    amtool.run("silence", "import", str(exported))
    imported = {s["comment"]: s for s in get_silences(tocsin.url)}
    assert set(imported) == {"one", "two"}
    for comment, original in source.items():
        ours = imported[comment]
        assert ours["createdBy"] == original["createdBy"]
        assert ours["status"]["state"] == "active"
        assert parse_time(ours["endsAt"]) == parse_time(original["endsAt"])
        key = itemgetter("name", "value", "isRegex", "isEqual")
        assert sorted(map(key, ours["matchers"])) == sorted(map(key, original["matchers"]))


ONCALL_CONFIG = """\
global:
  smtp_smarthost: 127.0.0.1:9            # nothing listens: pages are decided, not mailed
  smtp_from: tocsin@example.org
route:
  receiver: default
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
receivers:
  - name: default
  - name: pager
    escalation_policy: critical   # Tocsin's own key
people:
  - name: alice
    email: alice@example.org
escalation_policies:
  - name: critical
    steps:
      - delay: 0s
        targets: [{person: alice}]
tocsin:
  failing_after: 5
"""


def test_config_routes_works_on_a_config_with_tocsin_sections(tmp_path: Path) -> None:
    """Alertmanager's loader (which ``amtool config routes`` parses ``config.original``
    with) refuses keys it does not know; Tocsin shows its own commented out, so a team
    using on-call keeps ``amtool config routes`` and still sees those keys in ``config
    show``, on their lines."""
    path = tmp_path / "oncall.yml"
    path.write_text(ONCALL_CONFIG)
    home = tmp_path / "home"
    home.mkdir()
    with TocsinServer(tmp_path, config=path) as server:
        tool = Amtool(server.url, home)
        routed = tool.run("config", "routes", "test", "severity=critical").stdout
        assert routed.strip() == "pager"
        assert "receiver: pager" in tool.run("config", "routes", "show").stdout
        shown = tool.run("config", "show").stdout.strip().splitlines()
    written = ONCALL_CONFIG.splitlines()
    assert len(shown) == len(written)
    assert shown[11] == "    # escalation_policy: critical   # Tocsin's own key"
    assert shown[14] == "    # email: alice@example.org"
    assert shown[:11] == written[:11]
