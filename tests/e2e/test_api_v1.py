"""Alertmanager's API v1, which runbooks written before Alertmanager 0.27 still use: the
maintenance silence of ../shared/runbooks/threads-agent-alertmanager.md ("Alert
Suppression"), run as written (bash and curl, only its address changed), silences on
Tocsin as on Debian's Alertmanager, and the v1 answers have Alertmanager's shape."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import alert, get_alerts, post_alerts
from tests.harness.procs import AlertmanagerServer, TocsinServer

pytestmark = pytest.mark.e2e

RUNBOOK = (
    Path(__file__).resolve().parents[3] / "shared" / "runbooks" / "threads-agent-alertmanager.md"
)


def maintenance_command() -> str:
    """The runbook's silence command, from its "Alert Suppression" section."""
    text = RUNBOOK.read_text(encoding="utf-8")
    section = text.split("## Alert Suppression", 1)[1]
    found = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the runbook's Alert Suppression section has no bash block"
    return found.group(1)


def run_against(url: str) -> dict[str, Any]:
    command = maintenance_command().replace("http://localhost:9093", url)
    assert url in command
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
    )
    answer: dict[str, Any] = httpx.Response(200, content=done.stdout).json()
    return answer


def shape(value: Any) -> Any:
    """Keys and value types, not values (ids and times differ between servers)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def test_the_runbook_s_v1_maintenance_silence_works_as_on_alertmanager(
    tocsin: TocsinServer, alertmanager: AlertmanagerServer
) -> None:
    assert shutil.which("curl"), "curl is missing (scripts/test.sh installs it)"
    orchestrator = alert({"alertname": "ServiceDown", "service": "orchestrator"})
    other = alert({"alertname": "ServiceDown", "service": "api"})
    answers, silenced, listed = {}, {}, {}
    for name, url in (("alertmanager", alertmanager.url), ("tocsin", tocsin.url)):
        assert post_alerts(url, [orchestrator, other]).status_code == 200
        answers[name] = run_against(url)
        assert answers[name]["status"] == "success", answers[name]
        silence_id = answers[name]["data"]["silenceId"]
        silenced[name] = {
            a["labels"]["service"]: a["status"]["silencedBy"] == [silence_id]
            for a in get_alerts(url)
        }
        listed[name] = httpx.get(f"{url}/api/v1/silences").json()
    assert shape(answers["tocsin"]) == shape(answers["alertmanager"])
    assert silenced["tocsin"] == silenced["alertmanager"] == {"orchestrator": True, "api": False}
    assert shape(listed["tocsin"]) == shape(listed["alertmanager"])
    (ours,) = listed["tocsin"]["data"]
    assert (ours["createdBy"], ours["comment"]) == (
        "maintenance-user",
        "Planned maintenance window",
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/silences", b'{"matchers": []}'),
        ("POST", "/api/v1/silences", b"nope"),
        ("DELETE", "/api/v1/silence/00000000-0000-0000-0000-000000000000", b""),
        ("POST", "/api/v1/alerts", b'[{"labels": {"alertname": ""}}]'),
    ],
    ids=["no matchers", "not json", "unknown silence", "empty label set"],
)
def test_v1_refusals_have_alertmanager_s_envelope(
    tocsin: TocsinServer, alertmanager: AlertmanagerServer, method: str, path: str, body: bytes
) -> None:
    for url in (alertmanager.url, tocsin.url):
        r = httpx.request(method, f"{url}{path}", content=body)
        assert r.status_code == 400, (url, r.text)
        answer = r.json()
        assert (answer["status"], answer["errorType"]) == ("error", "bad_data"), (url, answer)
        assert answer["error"], url


def test_a_v1_silence_without_a_start_starts_now(tocsin: TocsinServer) -> None:
    body = {
        "matchers": [{"name": "service", "value": "x"}],
        "startsAt": None,
        "endsAt": "2999-01-01T00:00:00Z",
    }
    made = httpx.post(f"{tocsin.url}/api/v1/silences", json=body).json()
    assert made["status"] == "success", made
    shown = httpx.get(f"{tocsin.url}/api/v1/silence/{made['data']['silenceId']}").json()
    assert shown["data"]["status"]["state"] == "active"


def test_v1_alerts_are_posted_and_listed(tocsin: TocsinServer) -> None:
    r = httpx.post(f"{tocsin.url}/api/v1/alerts", json=[{"labels": {"alertname": "V1"}}])
    assert r.json() == {"status": "success"}
    listed = httpx.get(f"{tocsin.url}/api/v1/alerts").json()
    assert listed["status"] == "success"
    (found,) = listed["data"]
    assert found["labels"] == {"alertname": "V1"}
    assert all(isinstance(r, str) for r in found["receivers"])
