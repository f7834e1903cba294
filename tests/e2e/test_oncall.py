"""On-call end to end: a real alert pages the person on call by e-mail (a real SMTP
server), following the signed acknowledge link in that e-mail acknowledges the group
and the next escalation step pages nobody; Slack's button path with a correctly and a
wrongly signed request."""

from __future__ import annotations

import html
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import orjson
import pytest

from tests.e2e.conftest import alert, post_alerts, wait_until
from tests.e2e.test_cli import run_cli
from tests.harness.procs import TocsinServer
from tests.harness.receivers import HTTPReceiver, Reply, SMTPServer
from tocsin.oncall.slack_requests import slack_signature

pytestmark = pytest.mark.e2e

SIGNING = "slack-signing-secret"


def config(smtp: SMTPServer, step2_delay: str) -> str:
    return f"""\
global:
  smtp_smarthost: {smtp.smarthost}
  smtp_from: tocsin@example.org
  smtp_require_tls: false
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: pager
    escalation_policy: critical
people:
  - name: alice
    email: alice@example.org
  - name: bob
    email: bob@example.org
schedules:
  - name: primary
    time_zone: Europe/Berlin
    layers:
      - name: everyone
        rotation: weekly
        start: 2026-01-05
        participants: [alice]
escalation_policies:
  - name: critical
    steps:
      - delay: 0s
        targets: [{{schedule: primary}}]
      - delay: {step2_delay}
        targets: [{{person: bob}}]
tocsin:
  slack_signing_secret: {SIGNING}
"""


def mails_to(smtp: SMTPServer, who: str) -> list[Any]:
    return [m for m in smtp.mails if f"{who}@example.org" in m.rcpt_tos]


def group_of(url: str) -> dict[str, Any] | None:
    groups = httpx.get(f"{url}/api/v1/groups").json()
    return groups[0] if groups else None


def test_email_link_acknowledges_and_stops_the_escalation(tmp_path: Path) -> None:
    with SMTPServer() as smtp:
        path = tmp_path / "alertmanager.yml"
        path.write_text(config(smtp, "4s"))
        with TocsinServer(tmp_path, config=path) as tocsin:
            assert post_alerts(tocsin.url, [alert({"alertname": "ServiceDown"})]).status_code == 200
            wait_until(lambda: mails_to(smtp, "alice"), 30, "alice to be paged")
            page = mails_to(smtp, "alice")[0].message
            body = page.get_body(preferencelist=("plain",))
            assert body is not None
            text = body.get_content()
            link = re.search(r"Acknowledge: (\S+)", text)
            assert link is not None, text
            group = group_of(tocsin.url)
            assert group is not None
            assert group["status"] == "firing"
            assert group["escalationPolicy"] == "critical"
            # the page also links to the group's console page
            console = re.search(r"Open in Tocsin: (\S+)", text)
            assert console is not None, text
            assert console.group(1) == f"{tocsin.url}/ui/groups/{group['id']}"
            # and so does its main link (a notification that is not a page: /ui/alerts)
            assert f"View in Tocsin: {tocsin.url}/ui/groups/{group['id']}\r\n" in text
            assert "ServiceDown" in httpx.get(console.group(1)).text

            # opening the link (as a mail scanner would) only asks to confirm
            opened = httpx.get(link.group(1))
            assert opened.status_code == 200, opened.text
            assert f"Acknowledge alert group {group['id']} as alice?" in opened.text
            # ... saying which page it is (the group's labels, its state)
            assert '<p id="group">alertname=ServiceDown: firing, 1 alert(s)</p>' in (opened.text)
            still = group_of(tocsin.url)
            assert still is not None
            assert still["status"] == "firing"
            followed = confirm(link.group(1))
            assert followed.status_code == 200, followed.text
            assert "acknowledged by alice" in followed.text
            acked = group_of(tocsin.url)
            assert acked is not None
            assert acked["status"] == "acknowledged"
            assert acked["acknowledgedBy"] == "alice"
            # the link works once: opened again, it says the group is taken, with no button
            again = httpx.get(link.group(1))
            assert again.status_code == 200, again.text
            assert "already acknowledged by alice" in again.text
            assert 'type="hidden"' not in again.text
            assert f'href="/ui/groups/{group["id"]}"' in again.text
            # a script posting to the link itself (its fields in the query) is heard too
            assert httpx.post(link.group(1)).status_code == 409
            # a forged link is refused, opened or posted
            forged = link.group(1).replace("by=alice", "by=mallory")
            assert httpx.get(forged).status_code == 403
            fields = dict(parse_qsl(urlsplit(forged).query))
            assert httpx.post(forged.split("?")[0], data=fields).status_code == 403
            assert httpx.post(forged).status_code == 403

            # the step that would page bob comes due, is found stale, and pages nobody
            def step_two_done() -> bool:
                g = httpx.get(f"{tocsin.url}/api/v1/groups/{group['id']}").json()
                return not any(p["kind"] == "step" for p in g["pending"])

            wait_until(step_two_done, 30, "the second step to come due")
            assert mails_to(smtp, "bob") == []
            audit = httpx.get(f"{tocsin.url}/api/v1/groups/{group['id']}/audit").json()
            acks = [a for a in audit if a["actor"] == "alice"]
            assert [(a["action"], a["channel"]) for a in acks] == [("acknowledged", "email-link")]


def confirm(link: str) -> httpx.Response:
    """Press the button of the page a signed link opens: POST its hidden fields."""
    page = httpx.get(link)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
    assert set(fields) == {"by", "exp", "ep", "sig"}, page.text
    return httpx.post(link.split("?")[0], data={k: html.unescape(v) for k, v in fields.items()})


def test_unacknowledged_escalates_to_the_next_step(tmp_path: Path) -> None:
    with SMTPServer() as smtp:
        path = tmp_path / "alertmanager.yml"
        path.write_text(config(smtp, "2s"))
        with TocsinServer(tmp_path, config=path) as tocsin:
            started = time.monotonic()
            assert post_alerts(tocsin.url, [alert({"alertname": "ServiceDown"})]).status_code == 200
            wait_until(lambda: mails_to(smtp, "alice"), 30, "alice to be paged")
            wait_until(lambda: mails_to(smtp, "bob"), 30, "bob to be paged at step 2")
            # step 2 is due 2 s after step 1: it cannot have come earlier
            assert time.monotonic() - started >= 2.0
            assert len(mails_to(smtp, "alice")) == 1
            # bob's page says why it is his; alice's first page says nothing of it
            why = "Escalated to you (step 2): nobody acknowledged the earlier pages"
            for who, said in (("bob", True), ("alice", False)):
                page = mails_to(smtp, who)[0].message
                text = page.get_body(preferencelist=("plain",))
                html = page.get_body(preferencelist=("html",))
                assert text is not None
                assert html is not None
                assert (why in text.get_content(), why in html.get_content()) == (said, said)
                # the page's first links are its Acknowledge and Resolve buttons
                first = re.findall(r'<a href="([^"]+)"', html.get_content())[:2]
                assert ["/act/ack/" in first[0], "/act/resolve/" in first[1]] == [True, True]


def test_those_paged_hear_who_acknowledged(tmp_path: Path) -> None:
    """alice (e-mail) and the PagerDuty receiver are paged first, bob next; bob takes
    the group from his e-mail's link: alice gets "[ACKNOWLEDGED by bob]"; PagerDuty
    is not told (its incident acknowledged, a re-page after an unacknowledgement would
    wake nobody), nor is bob."""
    accepted = {"status": "success", "message": "Event processed", "dedup_key": "x"}
    with SMTPServer() as smtp, HTTPReceiver(Reply.json(accepted, 202)) as pd:
        text = config(smtp, "1s").replace(
            "targets: [{schedule: primary}]", "targets: [{schedule: primary}, {receiver: pd}]"
        )
        text = text.replace(
            "    escalation_policy: critical\n",
            "    escalation_policy: critical\n  - name: pd\n    pagerduty_configs:\n"
            f"      - {{routing_key: R0UT1NG, url: '{pd.url('/v2/enqueue')}'}}\n",
        )
        path = tmp_path / "alertmanager.yml"
        path.write_text(text)
        with TocsinServer(tmp_path, config=path) as tocsin:
            assert post_alerts(tocsin.url, [alert({"alertname": "ServiceDown"})]).status_code == 200
            wait_until(lambda: mails_to(smtp, "bob"), 30, "bob to be paged at step 2")
            page = mails_to(smtp, "bob")[0].message.get_body(preferencelist=("plain",))
            assert page is not None
            link = re.search(r"Acknowledge: (\S+)", page.get_content())
            assert link is not None
            assert confirm(link.group(1)).status_code == 200
            wait_until(lambda: len(mails_to(smtp, "alice")) == 2, 30, "alice to be told")
            told = mails_to(smtp, "alice")[1].message
            assert told["Subject"] == "[ACKNOWLEDGED by bob] ServiceDown"
            body = told.get_body(preferencelist=("plain",))
            assert body is not None
            assert "bob acknowledged this group and is on it" in body.get_content()
            # the notices decided, all in the one transaction of the acknowledgement
            log = httpx.get(f"{tocsin.url}/api/v1/notifications").json()
            notices = [n["receiver"] for n in log if "/acknowledged/" in n["idempotencyKey"]]
            assert notices == ["person:alice"]
            events = [orjson.loads(r.body) for r in pd.requests("/v2/enqueue")]
            assert [e["event_action"] for e in events] == ["trigger"]
            assert len(mails_to(smtp, "bob")) == 1


def slack_request(
    url: str,
    group_id: str,
    secret: str,
    ts: int | None = None,
    username: str = "carol",
    **more: Any,
) -> httpx.Response:
    """A button press as Slack sends it (``more``: the message pressed, its
    response_url...)."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U123", "username": username},
        "actions": [{"action_id": "ack", "value": f"ack:{group_id}"}],
        **more,
    }
    body = urlencode({"payload": orjson.dumps(payload).decode()}).encode()
    stamp = str(ts if ts is not None else int(time.time()))
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": slack_signature(secret, stamp, body),
    }
    return httpx.post(f"{url}/api/v1/slack/actions", content=body, headers=headers)


def test_slack_button_needs_a_valid_signature(tmp_path: Path) -> None:
    with SMTPServer() as smtp:
        path = tmp_path / "alertmanager.yml"
        path.write_text(config(smtp, "1h"))
        with TocsinServer(tmp_path, config=path) as tocsin:
            assert post_alerts(tocsin.url, [alert({"alertname": "ServiceDown"})]).status_code == 200
            group = wait_until(lambda: group_of(tocsin.url), 30, "the group to open")
            bad = slack_request(tocsin.url, group["id"], "wrong secret")
            assert bad.status_code == 401
            old = slack_request(tocsin.url, group["id"], SIGNING, ts=int(time.time()) - 600)
            assert old.status_code == 401
            # anyone may post here: a body no Slack action needs is refused before it
            # is read (three 500 MB posts took the server to 2 GB), streamed or declared
            chunks = (b"x" * 65536 for _ in range(32))  # 2 MiB, no content-length
            huge = httpx.post(f"{tocsin.url}/api/v1/slack/actions", content=chunks)
            assert (huge.status_code, huge.json()) == (
                413,
                "body: over 65536 bytes: no Slack action is",
            )
            # a signature that is not ASCII is a refusal, not a 500
            mangled = httpx.post(
                f"{tocsin.url}/api/v1/slack/actions",
                content=b"payload=%7B%7D",
                headers={
                    b"x-slack-request-timestamp": str(int(time.time())).encode(),
                    b"x-slack-signature": "v0=\u00e9".encode(),
                },
            )
            assert mangled.status_code == 401, mangled.text
            # a button of a page of another firing of the group acts on nothing
            stale = slack_request(tocsin.url, f"{group['id']}:{group['id']}#99", SIGNING)
            assert stale.status_code == 200, stale.text
            assert "earlier firing" in stale.json()["text"]
            assert stale.json()["response_type"] == "ephemeral"
            still = group_of(tocsin.url)
            assert still is not None
            assert still["status"] == "firing"
            good = slack_request(tocsin.url, f"{group['id']}:{group['id']}#1", SIGNING)
            assert good.status_code == 200, good.text
            acked = group_of(tocsin.url)
            assert acked is not None
            assert acked["status"] == "acknowledged"
            assert acked["acknowledgedBy"] == "carol"
            audit = httpx.get(f"{tocsin.url}/api/v1/groups/{group['id']}/audit").json()
            assert ("acknowledged", "slack", "carol") in {
                (a["action"], a["channel"], a["actor"]) for a in audit
            }


def test_cli_groups_ack_and_oncall(tmp_path: Path) -> None:
    with SMTPServer() as smtp:
        path = tmp_path / "alertmanager.yml"
        path.write_text(config(smtp, "1h"))
        with TocsinServer(tmp_path, config=path) as tocsin:
            assert post_alerts(tocsin.url, [alert({"alertname": "DiskFull"})]).status_code == 200
            group = wait_until(lambda: group_of(tocsin.url), 30, "the group to open")
            listed = run_cli("groups", url=tocsin.url).stdout
            assert group["id"] in listed
            assert "firing" in listed
            # an incident that takes the group over shows in the list
            declare = ("incident", "declare", "Disk full", "-s", "SEV2", "--group", group["id"])
            run_cli(*declare, url=tocsin.url)
            (header, row) = run_cli("groups", url=tocsin.url).stdout.splitlines()
            assert header.split() == [
                "ID",
                "STATUS",
                "ACKED",
                "BY",
                "RECEIVER",
                "GROUP",
                "INCIDENT",
                "UPDATED",
            ]
            assert row.split()[-2] == "#1"
            assert row.split()[1] == "acknowledged"  # by whoever declared the incident
            run_cli("unack", group["id"], "--by", "dave", url=tocsin.url)  # handed back
            done = run_cli("ack", group["id"], "--by", "dave", "-c", "looking", url=tocsin.url)
            assert done.stdout.strip() == f"{group['id']}: acknowledged"
            again = run_cli("ack", group["id"], "--by", "erin", url=tocsin.url, check=False)
            assert again.returncode == 1
            assert "already acknowledged by dave" in again.stderr
            audit = httpx.get(f"{tocsin.url}/api/v1/groups/{group['id']}/audit").json()
            assert ("dave", "acknowledged", "cli", "looking") in {
                (a["actor"], a["action"], a["channel"], a["comment"]) for a in audit
            }
            shown = run_cli("group", group["id"], url=tocsin.url).stdout.splitlines()
            assert shown[0] == f"{group['id']} acknowledged: alertname=DiskFull"
            assert "  acked by:   dave" in shown
            assert "  alerts:     1 firing" in shown
            assert any(line.endswith("dave (cli) acknowledged: looking") for line in shown)
            nosuch = run_cli("group", "nosuch", url=tocsin.url, check=False)
            assert (nosuch.returncode, "HTTP 404" in nosuch.stderr) == (1, True)
            undone = run_cli("unack", group["id"], "--by", "dave", url=tocsin.url)
            assert undone.stdout.strip() == f"{group['id']}: firing"
            # several at once (a storm's): each said on its own, exit 1 if any was refused
            both = run_cli(
                "ack", "nosuch", group["id"], "--by", "dave", url=tocsin.url, check=False
            )
            assert (both.returncode, both.stdout) == (1, f"{group['id']}: acknowledged\n")
            assert "no on-call alert group 'nosuch'" in both.stderr
            who = orjson.loads(run_cli("oncall", "primary", "--json", url=tocsin.url).stdout)
            assert [s["person"] for s in who["primary"]] == ["alice"]
            before = ("oncall", "primary", "--at", "2025-12-01T00:00:00Z")  # before its layer
            (_, gap) = run_cli(*before, url=tocsin.url).stdout.splitlines()
            assert gap.split() == ["primary", "(nobody)", "2025-12-01T00:00:00.000Z"]
            # a range across the layer's start: the hours before it are a row of their
            # own; --tz shows the schedule's wall clock
            across = ("oncall", "primary", "--at", "2026-01-04T12:00:00Z", "--days", "1")
            rows = run_cli(*across, "--tz", "Europe/Berlin", url=tocsin.url).stdout.splitlines()
            assert [r.split() for r in rows[1:]] == [
                ["primary", "(nobody)", "2026-01-04", "13:00", "CET", "2026-01-05", "00:00", "CET"],
                [
                    "primary",
                    "alice",
                    "2026-01-05",
                    "00:00",
                    "CET",
                    "2026-01-05",
                    "13:00",
                    "CET",
                    "rotation",
                ],
            ]
            utc = run_cli(*across, url=tocsin.url).stdout.splitlines()
            assert utc[1].split()[2:] == ["2026-01-04T12:00:00.000Z", "2026-01-04T23:00:00.000Z"]
            nozone = run_cli(*across, "--tz", "Mars/Olympus", url=tocsin.url, check=False)
            assert (nozone.returncode, "unknown time zone 'Mars/Olympus'" in nozone.stderr) == (
                2,
                True,
            )
            # bob covers the next two hours from now; listed, then removed
            made = run_cli(
                "override", "add", "primary", "bob", "--for", "2h", "--by", "dave", url=tocsin.url
            ).stdout.strip()
            listed = orjson.loads(
                run_cli("override", "list", "primary", "--json", url=tocsin.url).stdout
            )
            assert [(o["id"], o["person"]) for o in listed] == [(made, "bob")]
            who = orjson.loads(run_cli("oncall", "primary", "--json", url=tocsin.url).stdout)
            assert [s["person"] for s in who["primary"]] == ["bob"]
            removed = run_cli("override", "remove", made, url=tocsin.url).stdout.strip()
            trail = httpx.get(f"{tocsin.url}/api/v1/schedules/primary/audit").json()
            assert {a["channel"] for a in trail} == {"cli"}  # added and removed by the CLI
            assert removed == f"{made}: removed"
            assert run_cli("override", "list", "primary", url=tocsin.url).stdout.count("\n") == 1
            unbounded = run_cli("override", "add", "primary", "bob", url=tocsin.url, check=False)
            assert unbounded.returncode == 2
            assert "give either --end or --for" in unbounded.stderr
            # resolved groups leave the default listing; --all shows them
            run_cli("resolve", group["id"], "--by", "dave", url=tocsin.url)
            assert group["id"] not in run_cli("groups", url=tocsin.url).stdout
            assert group["id"] in run_cli("groups", "--all", url=tocsin.url).stdout
            shown = run_cli("group", group["id"], url=tocsin.url).stdout.splitlines()
            assert "  alerts:     1 that fired last" in shown  # resolved: none fires


def test_the_cli_refuses_an_empty_override_or_too_long_a_range_naming_its_option() -> None:
    """``--for 0s`` is said of --for (the server would only see an end that is not
    after its start), and ``--days`` past the server's year of its own option; both
    before any request (nothing listens at the URL)."""
    nowhere = "http://127.0.0.1:9"
    empty = run_cli("override", "add", "primary", "bob", "--for", "0s", url=nowhere, check=False)
    assert empty.returncode == 2
    assert "--for: must be a positive duration, not 0s" in empty.stderr
    too_long = run_cli("oncall", "--days", "367", url=nowhere, check=False)
    assert too_long.returncode == 2
    assert "'--days'" in too_long.stderr


def test_kill_9_mid_escalation_fires_the_remaining_steps_once_on_time(tmp_path: Path) -> None:
    with SMTPServer() as smtp:
        path = tmp_path / "alertmanager.yml"
        text = (
            config(smtp, "6s")
            .replace(
                "      - delay: 6s\n        targets: [{person: bob}]\n",
                "      - delay: 6s\n        targets: [{person: bob}]\n"
                "      - delay: 3s\n        targets: [{person: carol}]\n",
            )
            .replace(
                "  - name: bob\n    email: bob@example.org\n",
                "  - name: bob\n    email: bob@example.org\n  - name: carol\n"
                "    email: carol@example.org\n",
            )
        )
        path.write_text(text)
        server = TocsinServer(tmp_path, config=path)
        with server as tocsin:
            assert post_alerts(tocsin.url, [alert({"alertname": "Crash"})]).status_code == 200
            wait_until(lambda: mails_to(smtp, "alice"), 30, "alice to be paged")
            group = group_of(tocsin.url)
            assert group is not None
            tocsin.kill()  # SIGKILL before step 2 is due
        with TocsinServer(tmp_path, config=path, port=server.port) as again:
            wait_until(lambda: mails_to(smtp, "carol"), 60, "the last step after the restart")

            def settled() -> list[Any] | None:
                url = f"{again.url}/api/v1/groups/{group['id']}/audit"
                audit: list[Any] = httpx.get(url).json()
                fired = [a for a in audit if a["action"] == "escalated"]
                return audit if len(fired) == 3 else None

            audit = wait_until(settled, 30, "three steps in the audit trail")
        started = next(a for a in audit if a["action"] == "escalation started")
        fired = [a for a in audit if a["action"] == "escalated"]
        assert [a["comment"].split(":")[0] for a in fired] == [
            "step 1/3, round 1/1",
            "step 2/3, round 1/1",
            "step 3/3, round 1/1",
        ]
        t0 = datetime.fromisoformat(started["at"].replace("Z", "+00:00"))
        at = [datetime.fromisoformat(a["at"].replace("Z", "+00:00")) for a in fired]
        # each step fired once, not before its due time, and within a second of it
        for when, due in zip(
            at, (t0, at[0] + timedelta(seconds=6), at[1] + timedelta(seconds=3)), strict=True
        ):
            assert due <= when <= due + timedelta(seconds=1), (when, due)
        assert len(mails_to(smtp, "bob")) == 1
        assert len(mails_to(smtp, "carol")) == 1


def test_slack_page_carries_buttons_that_acknowledge(tmp_path: Path) -> None:
    with SMTPServer() as smtp, HTTPReceiver() as slack:
        path = tmp_path / "alertmanager.yml"
        text = (
            config(smtp, "1h")
            .replace("global:\n", f"global:\n  slack_api_url: {slack.url('/slack')}\n")
            .replace(
                "  - name: alice\n    email: alice@example.org\n",
                "  - name: alice\n    slack_user: alice.l\n    notification_rules:\n"
                "      high:\n        - channel: slack\n",
            )
        )
        path.write_text(text)
        with TocsinServer(tmp_path, config=path) as tocsin:
            assert post_alerts(tocsin.url, [alert({"alertname": "ServiceDown"})]).status_code == 200
            (page,) = slack.wait_for(1, "/slack", timeout=30)
            message = page.json()
            assert message["channel"] == "@alice.l"
            values = [
                e["value"]
                for b in message["blocks"]
                if b["type"] == "actions"
                for e in b["elements"]
                if "value" in e
            ]
            ack = next(v for v in values if v.startswith("ack:"))
            group_id = ack.removeprefix("ack:")
            # Slack calls back with the button's value, signed; a wrong signature is refused
            assert slack_request(tocsin.url, group_id, "forged").status_code == 401
            pressed = slack_request(
                tocsin.url,
                group_id,
                SIGNING,
                username="alice.l",
                message=message,
                response_url=slack.url("/answer"),
            )
            assert pressed.status_code == 200
            # the message pressed is replaced (Slack shows no answer to the press
            # itself): no Acknowledge left, Resolve kept, who acknowledged and when
            (answer,) = slack.wait_for(1, "/answer", timeout=10)
            replaced = answer.json()
            assert replaced["replace_original"] is True
            kept = [
                e["value"].partition(":")[0]
                for b in replaced["blocks"]
                if b["type"] == "actions"
                for e in b["elements"]
                if "value" in e
            ]
            assert kept == ["resolve"]
            said = replaced["blocks"][-1]["elements"][0]["text"]
            assert said.startswith(":white_check_mark: Acknowledged by alice at ")
            assert said.endswith(" UTC")
            acked = group_of(tocsin.url)
            assert acked is not None
            assert acked["status"] == "acknowledged"
            # the Slack user is the person whose slack_user it is, by their name: alice
            # is not told of her own acknowledgement
            assert acked["acknowledgedBy"] == "alice"
            log = httpx.get(f"{tocsin.url}/api/v1/notifications").json()
            assert not [n for n in log if "/acknowledged/" in n["idempotencyKey"]]
