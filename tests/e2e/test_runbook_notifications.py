"""Issue "Runbooks as first-class": the runbooks are loaded, an alert HighErrorRate is
posted, and the notifications that reach a real SMTP server (aiosmtpd) and a local
webhook receiver, and the page its escalation policy sends, carry the procedure's steps
and a working link to its section."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import alert, post_alerts
from tests.harness.procs import TocsinServer
from tests.harness.receivers import HTTPReceiver, SMTPServer
from tocsin.timeutil import format_rfc3339

pytestmark = pytest.mark.e2e

RUNBOOKS = Path(__file__).resolve().parents[3] / "shared" / "runbooks"


def test_notifications_carry_the_procedure_and_a_working_link(tmp_path: Path) -> None:
    assert RUNBOOKS.is_dir(), f"the shared runbooks are missing at {RUNBOOKS}"
    with HTTPReceiver() as hooks, SMTPServer() as smtp:
        config = tmp_path / "alertmanager.yml"
        config.write_text(f"""\
global:
  smtp_smarthost: {smtp.smarthost}
  smtp_from: tocsin@example.org
  smtp_require_tls: false
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: oncall
    escalation_policy: critical
    webhook_configs:
      - url: {hooks.url("/hook")}
    email_configs:
      - to: oncall@example.org
  - name: paged
    webhook_configs:
      - url: {hooks.url("/page")}
escalation_policies:
  - name: critical
    steps:
      - {{delay: 0s, targets: [{{receiver: paged}}]}}
tocsin:
  runbooks:
    paths: [{RUNBOOKS}]
""")
        with TocsinServer(tmp_path, config=config) as tocsin:
            labels = {"alertname": "HighErrorRate", "service": "api", "severity": "critical"}
            assert post_alerts(tocsin.url, [alert(labels)]).status_code == 200

            (hook,) = hooks.wait_for(1, "/hook", timeout=30)
            (annotated,) = hook.json()["alerts"]
            link = f"{tocsin.url}/runbooks/threads-agent-alertmanager#higherrorrate"
            assert annotated["annotations"]["runbook_url"] == link
            steps = annotated["annotations"]["runbook_steps"].splitlines()
            assert steps[0] == "1. Identify error source: Check /metrics endpoint"
            assert len(steps) == 3
            assert annotated["annotations"]["runbook_severity"] == "critical"
            (sent_page,) = hooks.wait_for(1, "/page", timeout=30)
            (paged,) = sent_page.json()["alerts"]
            assert paged["annotations"] == annotated["annotations"]  # the same procedure
            assert sent_page.json()["status"] == "firing"
            # resolved, the receiver the escalation paged is told (the page closed)
            ended = alert(labels, endsAt=format_rfc3339(datetime.now(UTC)))
            assert post_alerts(tocsin.url, [ended]).status_code == 200
            told = hooks.wait_for(2, "/page", timeout=30)[1].json()
            assert (told["status"], told["groupKey"]) == ("resolved", sent_page.json()["groupKey"])
            assert [a["status"] for a in told["alerts"]] == ["resolved"]

            (mail,) = smtp.wait_for(1, timeout=30)
            message = mail.message
            assert mail.rcpt_tos == ("oncall@example.org",)
            text = message.get_body(preferencelist=("plain",))
            html = message.get_body(preferencelist=("html",))
            assert text is not None
            assert html is not None
            plain = text.get_content()
            assert link in plain
            assert "Identify error source: Check /metrics endpoint" in plain
            assert "Review application logs for error patterns" in plain
            assert link.replace("&", "&amp;") in html.get_content()

            # the link works: it is the runbook page, with the section's anchor in it
            page = httpx.get(link.split("#", 1)[0])
            assert page.status_code == 200
            assert 'id="higherrorrate"' in page.text
