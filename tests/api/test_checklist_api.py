"""A group's runbook procedures as checklists, over a real database (SQLite and
PostgreSQL): listed for the group's alerts, ticked and unticked through the API and the
console, each tick a line of the group's audit trail."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock, app_client, first_group, runtime_of
from tests.api.test_console import SAME_SITE, field_problems
from tests.api.test_oncall_api import CONFIG
from tests.e2e.conftest import wait_until
from tocsin.timeutil import format_rfc3339

RUNBOOKS = Path(__file__).resolve().parents[3] / "shared" / "runbooks"
RUNBOOK = "threads-agent-alertmanager"
HIGH_ERRORS = f"{RUNBOOK}/HighErrorRate"
QUEUE_DEPTH = f"{RUNBOOK}/CeleryQueueDepthHigh"


@pytest.fixture
def client(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    assert RUNBOOKS.is_dir(), f"the shared runbooks are missing at {RUNBOOKS}"
    config = CONFIG.replace("group_by: [alertname]", "group_by: [team]") + (
        f"tocsin:\n  runbooks:\n    paths: [{RUNBOOKS}]\n"
    )
    with app_client(config, db_url, tmp_path, clock) as c:
        yield c


def open_group(client: TestClient, clock: Clock, *names: str) -> str:
    # firing for a day: the tests move the clock past resolve_timeout (5m), and an
    # alert resolved by it would resolve the group under them
    ends = (clock.now + timedelta(days=1)).isoformat()
    alerts = [
        {
            "labels": {"alertname": n, "team": "threads"},
            "startsAt": clock.now.isoformat(),
            "endsAt": ends,
        }
        for n in names
    ]
    assert client.post("/api/v2/alerts", json=alerts).status_code == 200
    group: dict[str, Any] = first_group(client)
    return str(group["id"])


def tick(client: TestClient, gid: str, **body: Any) -> Any:
    return client.post(f"/api/v1/groups/{gid}/checklist", json=body)


def named(lists: list[dict[str, Any]], procedure: str = "HighErrorRate") -> dict[str, Any]:
    (found,) = [c for c in lists if c["procedure"] == procedure]
    return found


def test_a_group_lists_its_alerts_procedures_as_checklists(
    client: TestClient, clock: Clock
) -> None:
    gid = open_group(client, clock, "HighErrorRate", "NoRunbookAlert")
    clock.now += timedelta(minutes=1)
    later = {"alertname": "CeleryQueueDepthHigh", "team": "threads"}
    alert = {"labels": later, "startsAt": clock.now.isoformat()}
    assert client.post("/api/v2/alerts", json=[alert]).status_code == 200
    # the first alert to fire first; an alert without a procedure has no list
    lists = wait_until(
        lambda: (got := client.get(f"/api/v1/groups/{gid}/checklist").json())[1:] and got,
        10,
        "the second alert to join the group",
    )
    assert [(c["runbook"], c["procedure"], c["alerts"]) for c in lists] == [
        (RUNBOOK, "HighErrorRate", ["HighErrorRate"]),
        (RUNBOOK, "CeleryQueueDepthHigh", ["CeleryQueueDepthHigh"]),
    ]
    errors = lists[0]
    assert errors["severity"] == "critical"
    assert errors["description"] == "Service error rate >5% for 5 minutes"
    assert errors["url"].endswith(f"/runbooks/{RUNBOOK}#higherrorrate")
    assert [s["step"] for s in errors["steps"]] == [1, 2, 3, 4, 5]
    assert errors["steps"][0]["text"] == "Identify error source: Check /metrics endpoint"
    assert errors["steps"][2]["commands"] == [
        'kubectl exec -it deployment/postgres -- psql -U postgres -c "SELECT 1"'
    ]
    assert errors["steps"][2]["ref"] == f"{HIGH_ERRORS}:3"
    assert (errors["done"], errors["steps"][0]["doneBy"]) == (0, None)
    assert client.get("/api/v1/groups/nope/checklist").status_code == 404
    # the OpenAPI document says what a tick's body is
    paths = client.get("/openapi.json").json()["paths"]
    body = paths["/api/v1/groups/{group_id}/checklist"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["required"] == ["step", "by"]


def test_ticks_are_audit_lines_and_the_newest_wins(client: TestClient, clock: Clock) -> None:
    gid = open_group(client, clock, "HighErrorRate", "CeleryQueueDepthHigh")
    r = tick(client, gid, step=f"{HIGH_ERRORS}:2", by="alice", comment="no pattern")
    assert r.status_code == 200, r.text
    steps = named(r.json())["steps"]
    assert (steps[1]["doneBy"], named(r.json())["done"]) == ("alice", 1)
    assert named(r.json(), "CeleryQueueDepthHigh")["done"] == 0
    assert steps[1]["doneAt"] == format_rfc3339(clock.now)
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    (line,) = [a for a in audit if a["action"] == "step done"]
    assert (line["actor"], line["channel"]) == ("alice", "api")
    assert line["comment"] == (
        "HighErrorRate step 2: Review application logs for error patterns (no pattern)"
    )
    # undone by someone else: not done any more, and the trail keeps both lines
    r = tick(client, gid, step=f"{HIGH_ERRORS}:2", done=False, by="bob")
    assert named(r.json())["steps"][1]["doneBy"] is None
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    assert [a["action"] for a in audit if a["action"].startswith("step")] == [
        "step done",
        "step undone",
    ]
    # what changes nothing writes nothing: undoing an undone step, ticking a ticked one
    assert tick(client, gid, step=f"{HIGH_ERRORS}:2", done=False, by="bob").status_code == 200
    tick(client, gid, step=f"{HIGH_ERRORS}:3", by="carol")
    clock.now += timedelta(seconds=5)
    again = tick(client, gid, step=f"{HIGH_ERRORS}:3", by="dave").json()
    assert named(again)["steps"][2]["doneBy"] == "carol"  # the first tick keeps its time
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    assert len([a for a in audit if a["action"].startswith("step")]) == 3


def test_another_site_s_page_cannot_post_an_action(client: TestClient, clock: Clock) -> None:
    """A JSON body sent as text/plain needs no CORS preflight: a page on another site
    could make a responder's browser post it. Browsers say where it comes from."""
    gid = open_group(client, clock, "HighErrorRate")
    evil = {"origin": "https://evil.example", "content-type": "text/plain"}
    body = b'{"step": 1, "by": "evil"}'
    for path in ("checklist", "timers", "ack", "resolve"):
        r = client.post(f"/api/v1/groups/{gid}/{path}", content=body, headers=evil)
        assert r.status_code == 403, path
    cross = {"sec-fetch-site": "cross-site"}
    assert client.post(f"/api/v1/groups/{gid}/ack", content=body, headers=cross).status_code == 403
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    assert [a["action"] for a in audit if a["actor"] == "evil"] == []
    assert client.get(f"/api/v1/groups/{gid}").json()["status"] == "firing"
    # a script (no Origin, no Sec-Fetch-Site) is no browser tricked into posting
    assert client.post(f"/api/v1/groups/{gid}/checklist", content=body).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"step": f"{HIGH_ERRORS}:1"}, 400, "by: required"),
        ({"step": "1", "by": "a"}, 400, "step: '1': say which procedure"),  # two lists
        ({"step": f"{HIGH_ERRORS}:9", "by": "a"}, 400, "has 5 steps"),
        ({"step": "NoSuchAlert:1", "by": "a"}, 400, "this group has no procedure 'NoSuchAlert'"),
        ({"step": f"{HIGH_ERRORS}:x", "by": "a"}, 400, "a step is N"),
        ({"step": True, "by": "a"}, 400, "step: required"),
        ({"step": f"{HIGH_ERRORS}:1", "by": "a", "done": "yes"}, 400, "done: must be"),
    ],
)
def test_bad_ticks_name_the_field_and_change_nothing(
    client: TestClient, clock: Clock, body: dict[str, Any], status: int, says: str
) -> None:
    gid = open_group(client, clock, "HighErrorRate", "CeleryQueueDepthHigh")
    r = tick(client, gid, **body)
    assert r.status_code == status
    assert says in r.json(), r.json()
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    assert not [a for a in audit if a["action"].startswith("step")]


def test_one_checklist_takes_a_bare_step_number(client: TestClient, clock: Clock) -> None:
    gid = open_group(client, clock, "HighErrorRate")
    r = tick(client, gid, step=5, by="carol")
    assert r.status_code == 200, r.text
    assert r.json()[0]["steps"][4]["doneBy"] == "carol"
    assert tick(client, "nope", step=1, by="carol").status_code == 404


def test_the_console_shows_the_checklist_and_ticks_a_step(client: TestClient, clock: Clock) -> None:
    gid = open_group(client, clock, "HighErrorRate")

    def press(headers: dict[str, str] = SAME_SITE, **form: str) -> Any:
        """A button of the checklist's form: done=STEP or undo=STEP, with its name."""
        url = f"/ui/groups/{gid}/checklist"
        return client.post(url, data=form, headers=headers, follow_redirects=False)

    page = client.get(f"/ui/groups/{gid}").text
    assert 'id="checklist"' in page
    # Enter in the name field presses the form's first button: a disabled one, so it
    # presses nothing rather than step 1's
    form = page[page.index('<form method="post" id="steps"') :]
    first = form[form.index("<button") : form.index("</button>")]
    assert "disabled" in first
    assert "Identify error source: Check /metrics endpoint" in page
    assert "0 of 5 done" in page
    done = press(done=f"{HIGH_ERRORS}:1", by="dave")
    assert done.status_code == 303
    assert done.headers["location"] == f"/ui/groups/{gid}?done=step#checklist"
    page = client.get(f"/ui/groups/{gid}").text
    assert "1 of 5 done" in page
    assert "done by <strong>dave</strong>" in page
    # no name, or no such step: refused, naming the field
    r = press(done=f"{HIGH_ERRORS}:2")
    assert (r.status_code, set(field_problems(r.text))) == (400, {"step_by"})
    r = press(done=f"{HIGH_ERRORS}:7", by="dave")
    assert (r.status_code, set(field_problems(r.text))) == (400, {"step"})
    # undone from its button, and done again
    assert press(undo=f"{HIGH_ERRORS}:1", by="dave").status_code == 303
    assert "0 of 5 done" in client.get(f"/ui/groups/{gid}").text
    assert press(done=f"{HIGH_ERRORS}:1", by="dave").status_code == 303
    # another site's form: refused
    foreign = press({"origin": "https://evil.example"}, done=f"{HIGH_ERRORS}:2", by="eve")
    assert foreign.status_code == 403
    lists = client.get(f"/api/v1/groups/{gid}/checklist").json()
    assert [s["doneBy"] for s in lists[0]["steps"]] == ["dave", None, None, None, None]


def test_the_runbook_s_timers_run_for_the_group(client: TestClient, clock: Clock) -> None:
    opened = clock.now
    gid = open_group(client, clock, "HighErrorRate")

    def timers() -> dict[str, dict[str, Any]]:
        body = client.get(f"/api/v1/groups/{gid}").json()
        return {t["text"]: t for t in body["runbookTimers"]}

    response = "Response Time: < 5 minutes"
    clock.now += timedelta(minutes=2)
    running = timers()
    assert list(running) == [
        response,
        "Escalation: Automatic after 15 minutes if not acknowledged",
        "Immediate (within 1 hour)",
        "Short-term (within 24 hours)",
        "Long-term (within 1 week)",
    ]
    assert running[response]["state"] == "running"
    assert running[response]["dueAt"] == format_rfc3339(opened + timedelta(minutes=5))
    assert (running[response]["startsAt"], running[response]["endsOnAck"]) == ("opened", True)
    assert running["Immediate (within 1 hour)"]["state"] == "waiting"
    page = client.get(f"/ui/groups/{gid}").text
    assert 'id="timers"' in page
    assert f'<tr class="timer running" data-timer="{RUNBOOK}:' in page

    clock.now += timedelta(minutes=4)  # past the 5 minutes, still not acknowledged
    assert timers()[response]["state"] == "overdue"
    assert client.post(f"/api/v1/groups/{gid}/ack", json={"by": "alice"}).status_code == 200
    acked = timers()[response]
    assert (acked["state"], acked["metAt"]) == ("missed", format_rfc3339(clock.now))
    resolved_at = clock.now
    assert client.post(f"/api/v1/groups/{gid}/resolve", json={"by": "alice"}).status_code == 200
    after = timers()["Immediate (within 1 hour)"]
    assert (after["state"], after["dueAt"]) == (
        "running",
        format_rfc3339(resolved_at + timedelta(hours=1)),
    )


def test_a_resolved_group_keeps_its_runbook_and_a_reopened_one_starts_afresh(
    client: TestClient, clock: Clock
) -> None:
    gid = open_group(client, clock, "HighErrorRate", "CeleryQueueDepthHigh")
    assert tick(client, gid, step=f"{HIGH_ERRORS}:1", by="alice").status_code == 200

    def post(name: str, **fields: str) -> None:
        labels = {"alertname": name, "team": "threads"}
        assert client.post("/api/v2/alerts", json=[{"labels": labels, **fields}]).status_code == 200

    def group() -> dict[str, Any]:
        found: dict[str, Any] = client.get(f"/api/v1/groups/{gid}").json()
        return found

    def procedures() -> list[str]:
        return [c["procedure"] for c in client.get(f"/api/v1/groups/{gid}/checklist").json()]

    # one alert resolves mid-incident: its procedure stays the incident's
    clock.now += timedelta(minutes=2)
    post("CeleryQueueDepthHigh", endsAt=format_rfc3339(clock.now))
    wait_until(lambda: len(group()["alerts"]) == 1, 10, "the flush that drops it")
    assert sorted(procedures()) == ["CeleryQueueDepthHigh", "HighErrorRate"]

    # the other resolves: so does the group, and its procedures and timers stay
    clock.now += timedelta(minutes=2)
    post("HighErrorRate", endsAt=format_rfc3339(clock.now))
    wait_until(lambda: group()["status"] == "resolved", 10, "the group to resolve")
    timers = {t["text"]: t for t in group()["runbookTimers"]}
    assert timers["Immediate (within 1 hour)"]["state"] == "running"
    assert sorted(procedures()) == ["CeleryQueueDepthHigh", "HighErrorRate"]
    kept = named(client.get(f"/api/v1/groups/{gid}/checklist").json())
    assert kept["steps"][0]["doneBy"] == "alice"

    # it fires again: a new incident, whose steps nobody has done
    clock.now += timedelta(minutes=10)
    post("HighErrorRate", startsAt=format_rfc3339(clock.now))
    wait_until(lambda: group()["status"] == "firing", 10, "the group to re-open")
    assert procedures() == ["HighErrorRate"]  # the earlier incident's alert is not this one's
    (fresh,) = client.get(f"/api/v1/groups/{gid}/checklist").json()
    assert [s["doneBy"] for s in fresh["steps"]] == [None] * 5
    again = {t["text"]: t for t in group()["runbookTimers"]}
    assert again["Response Time: < 5 minutes"]["state"] == "running"
    assert again["Immediate (within 1 hour)"]["state"] == "waiting"


def keep(client: TestClient, gid: str, **body: Any) -> Any:
    return client.post(f"/api/v1/groups/{gid}/timers", json=body)


def test_a_person_says_when_a_timer_was_kept(client: TestClient, clock: Clock) -> None:
    gid = open_group(client, clock, "HighErrorRate")
    listed = client.get(f"/api/v1/groups/{gid}/timers").json()
    assert listed == client.get(f"/api/v1/groups/{gid}").json()["runbookTimers"]
    assert [(t["timer"], t["keepable"]) for t in listed] == [
        (1, False),  # "Response Time": an acknowledgement meets it
        (2, False),  # "Escalation: Automatic ... if not acknowledged"
        (3, True),
        (4, True),
        (5, True),
    ]
    immediate = listed[2]
    assert immediate["text"] == "Immediate (within 1 hour)"
    assert immediate["ref"] == f"{RUNBOOK}:{immediate['lines'][0]}"

    # post-incident work done mid-incident, named by its ref: met, by whom and when
    clock.now += timedelta(minutes=3)
    r = keep(client, gid, timer=immediate["ref"], by="alice", comment="fix merged")
    assert r.status_code == 200, r.text
    kept = r.json()[2]
    assert (kept["state"], kept["keptBy"], kept["metAt"]) == (
        "met",
        "alice",
        format_rfc3339(clock.now),
    )
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    (line,) = [a for a in audit if a["action"] == "timer kept"]
    assert (line["actor"], line["channel"]) == ("alice", "api")
    assert line["comment"] == "Immediate (within 1 hour) (fix merged)"
    assert line["detail"]["timer"]["text"] == "Immediate (within 1 hour)"
    # saying it again changes nothing and writes nothing; the first word keeps its time
    clock.now += timedelta(minutes=1)
    assert keep(client, gid, timer=3, by="bob").json()[2]["keptBy"] == "alice"
    # taken back by number: it waits for the resolution again
    back = keep(client, gid, timer=3, kept=False, by="bob").json()[2]
    assert (back["state"], back["keptBy"], back["metAt"]) == ("waiting", None, None)
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    assert [a["action"] for a in audit if a["action"].startswith("timer")] == [
        "timer kept",
        "timer unkept",
    ]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"timer": 3}, "by: required"),
        (
            {"timer": 1, "by": "a"},
            "timer: '1' (Response Time: < 5 minutes) is met by acknowledging",
        ),
        ({"timer": 9, "by": "a"}, "timer: '9': this group has 5 timers"),
        ({"timer": "nope:1", "by": "a"}, "timer: 'nope:1': a timer is N or RUNBOOK:LINE"),
        ({"timer": True, "by": "a"}, "timer: required"),
        ({"by": "a"}, "timer: required"),
        ({"timer": 3, "by": "a", "kept": "yes"}, "kept: must be true or false"),
    ],
)
def test_bad_kept_timers_name_the_field_and_change_nothing(
    client: TestClient, clock: Clock, body: dict[str, Any], says: str
) -> None:
    gid = open_group(client, clock, "HighErrorRate")
    r = keep(client, gid, **body)
    assert r.status_code == 400
    assert r.json().startswith(says), r.json()
    audit = client.get(f"/api/v1/groups/{gid}/audit").json()
    assert not [a for a in audit if a["action"].startswith("timer")]
    assert keep(client, "nope", timer=3, by="a").status_code == 404


def test_the_console_keeps_a_timer(client: TestClient, clock: Clock) -> None:
    gid = open_group(client, clock, "HighErrorRate")
    ref = client.get(f"/api/v1/groups/{gid}/timers").json()[2]["ref"]

    def press(**form: str) -> Any:
        url = f"/ui/groups/{gid}/timers"
        return client.post(url, data=form, headers=SAME_SITE, follow_redirects=False)

    page = client.get(f"/ui/groups/{gid}").text
    form = page[page.index('<form method="post" id="timer-marks"') :]
    assert "disabled" in form[form.index("<button") : form.index("</button>")]
    # only the timers a person keeps have a button
    assert form[: form.index("</form>")].count('name="kept"') == 3
    done = press(kept=ref, by="dave")
    assert done.status_code == 303
    assert done.headers["location"] == f"/ui/groups/{gid}?done=timer#timers"
    page = client.get(f"/ui/groups/{gid}").text
    assert "kept by <strong>dave</strong>" in page
    assert f'<button type="submit" class="tick" name="unkept" value="{ref}">' in page
    r = press(kept=ref)
    assert (r.status_code, set(field_problems(r.text))) == (400, {"timer_by"})
    r = press(kept="1", by="dave")
    assert (r.status_code, set(field_problems(r.text))) == (400, {"timer"})
    assert press(unkept=ref, by="dave").status_code == 303
    assert client.get(f"/api/v1/groups/{gid}/timers").json()[2]["keptBy"] is None


def test_the_group_page_fills_its_steps_placeholders_from_the_alerts_labels(
    client: TestClient, clock: Clock
) -> None:
    """ServiceDown's steps say ``kubectl get pods -l app=<service>``: for a group whose
    alerts all have ``service="persona-runtime"`` the page shows that command, and so
    does the API's checklist, with the runbook's words as written beside it; what a
    tick names (the step's ref) is unchanged."""
    ends = (clock.now + timedelta(days=1)).isoformat()
    labels = {"alertname": "ServiceDown", "team": "threads", "service": "persona-runtime"}
    alert = {"labels": labels, "startsAt": clock.now.isoformat(), "endsAt": ends}
    assert client.post("/api/v2/alerts", json=[alert]).status_code == 200
    gid = first_group(client)["id"]
    page = client.get(f"/ui/groups/{gid}").text
    assert "kubectl get pods -l app=persona-runtime" in page
    assert "app=&lt;service&gt;" not in page
    steps = named(client.get(f"/api/v1/groups/{gid}/checklist").json(), "ServiceDown")["steps"]
    assert any("app=<service>" in s["runbookText"] for s in steps)
    assert not any("app=<service>" in s["text"] for s in steps)
    assert [s["ref"] for s in steps] == [f"{RUNBOOK}/ServiceDown:{n}" for n in range(1, 6)]


def test_a_timer_nobody_kept_in_time_raises_an_alert_until_it_is_kept(
    client: TestClient, clock: Clock
) -> None:
    """ "Immediate (within 1 hour)" after the resolution, nobody keeping it: the timer
    loop raises RunbookTimerOverdue for the group (its labels, the runbook, the timer's
    ref), from its due time; kept, the alert resolves. A timer an acknowledgement
    meets raises none (the escalation pages for it)."""
    rt = runtime_of(client)
    gid = open_group(client, clock, "HighErrorRate")

    def overdue() -> list[dict[str, Any]]:
        asyncio.run(rt.runbook_timers.check())
        found = client.get("/api/v2/alerts", params={"filter": "alertname=RunbookTimerOverdue"})
        return [a for a in found.json() if a["status"]["state"] == "active"]

    clock.now += timedelta(minutes=10)  # "Response Time: < 5 minutes" missed: no alert
    assert overdue() == []
    assert client.post(f"/api/v1/groups/{gid}/resolve", json={"by": "alice"}).status_code == 200
    resolved_at = clock.now
    clock.now += timedelta(minutes=61)
    (alert,) = overdue()
    immediate = next(
        t for t in client.get(f"/api/v1/groups/{gid}/timers").json() if t["timer"] == 3
    )
    assert alert["labels"] == {
        "alertname": "RunbookTimerOverdue",
        "team": "threads",
        "group": gid,
        "runbook": RUNBOOK,
        "timer": immediate["ref"],
        "severity": "warning",
    }
    assert alert["startsAt"] == format_rfc3339(resolved_at + timedelta(hours=1))
    assert alert["annotations"]["summary"].startswith("Immediate (within 1 hour) (")
    assert (
        f"tocsin checklist {gid} --kept {immediate['ref']}" in (alert["annotations"]["description"])
    )
    assert keep(client, gid, timer=immediate["ref"], by="alice").status_code == 200
    assert overdue() == []


def test_the_api_s_checklist_fills_the_placeholders_its_alerts_name(
    client: TestClient, clock: Clock
) -> None:
    """As the console and the pages show them: `tocsin checklist` printed
    `kubectl get pods -l app=<service>` for a group of service="orchestrator"
    (phone walk-through)."""
    ends = (clock.now + timedelta(days=1)).isoformat()
    labels = {"alertname": "ServiceDown", "team": "threads", "service": "orchestrator"}
    alert = {"labels": labels, "startsAt": clock.now.isoformat(), "endsAt": ends}
    assert client.post("/api/v2/alerts", json=[alert]).status_code == 200
    gid = first_group(client)["id"]
    (servicedown,) = client.get(f"/api/v1/groups/{gid}/checklist").json()
    first = servicedown["steps"][0]
    assert first["text"] == "Check service status: kubectl get pods -l app=orchestrator"
    assert first["commands"] == ["kubectl get pods -l app=orchestrator"]
    # and so does the checklist a tick answers with (tocsin checklist --done prints it)
    ticked = tick(client, gid, step="1", by="alice")
    assert ticked.status_code == 200, ticked.text
    (after,) = ticked.json()
    assert after["steps"][0]["text"] == first["text"]
    assert after["steps"][0]["doneBy"] == "alice"
