"""suggest_config: commented Alertmanager and Prometheus skeletons from a runbook."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tocsin.config import load_config
from tocsin.runbooks import parse_runbook, suggest_config
from tocsin.runbooks.suggest import rule_name

RUNBOOKS = Path(__file__).resolve().parents[3] / "shared" / "runbooks"


def _suggest(name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    path = RUNBOOKS / f"{name}.md"
    if not path.is_file():
        pytest.fail(f"shared runbook missing: {path}")
    text = suggest_config(parse_runbook(path.read_bytes(), name=name, source=f"{name}.md"))
    alertmanager, rules = yaml.safe_load_all(text)
    return text, alertmanager, rules


def test_routes_per_category_with_channels() -> None:
    text, am, _ = _suggest("threads-agent-alertmanager")
    routes = {r["receiver"]: r["matchers"] for r in am["route"]["routes"]}
    assert routes == {
        "business-alerts": ['category="business"'],
        "infrastructure-alerts": ['category="infrastructure"'],
        "critical-alerts": ['severity="critical"'],
        "warning-alerts": ['severity="warning"'],
    }
    # label routes first, so a warning-severity business alert reaches the business receiver
    assert [r["receiver"] for r in am["route"]["routes"]][:2] == [
        "business-alerts",
        "infrastructure-alerts",
    ]
    receivers = {r["name"]: r for r in am["receivers"]}
    assert receivers["critical-alerts"]["pagerduty_configs"][0]["routing_key"].startswith(
        "<PLACEHOLDER"
    )
    assert receivers["warning-alerts"]["slack_configs"][0]["channel"] == "#alerts-warnings"
    # where a category escalates to is not where it is sent first (L17, L27)
    assert "email_configs" not in receivers["warning-alerts"]
    assert set(receivers["infrastructure-alerts"]) == {"name", "slack_configs", "email_configs"}
    assert "escalates to pagerduty (L27): not a receiver of this route" in text
    assert "deadline 15m: Escalation: Automatic if not acknowledged (L12)" in text
    assert "level 2 after 1h: Manual Escalation" in text


def test_an_unacknowledged_deadline_is_sketched_as_an_escalation_policy() -> None:
    text, _, _ = _suggest("threads-agent-alertmanager")
    sketch = text.split("# escalation_policies:\n", 1)[1].split("\n\n", 1)[0]
    policy = yaml.safe_load("\n".join(line[2:] for line in sketch.splitlines()))
    assert policy == [
        {
            "name": "critical-alerts",
            "steps": [
                {"delay": "0s", "targets": [{"schedule": "<PLACEHOLDER: on-call schedule>"}]},
                {"delay": "15m", "targets": [{"person": "<PLACEHOLDER: escalation target>"}]},
            ],
        }
    ]
    assert "escalation_policy: critical-alerts" in text
    assert "Tocsin runs these on incidents" not in text


def test_rules_carry_for_severity_and_source_lines() -> None:
    text, _, rules = _suggest("threads-agent-alertmanager")
    by_name = {r["alert"]: r for r in rules["groups"][0]["rules"]}
    assert len(by_name) == 8
    high = by_name["HighErrorRate"]
    assert high["for"] == "5m"
    assert high["labels"] == {"severity": "critical"}
    assert high["expr"] == "<PLACEHOLDER: PromQL for Service error rate > 5%>"
    assert by_name["CeleryQueueDepthHigh"]["for"] == "2m"
    assert by_name["HighTokenCost"]["expr"] == "<PLACEHOLDER: PromQL for OpenAI costs > $5/hour>"
    assert by_name["LowEngagementRate"]["labels"] == {
        "severity": "warning",
        "category": "business",
    }
    assert "DatabaseConnectionFailure" in by_name
    assert "for" not in by_name["DatabaseConnectionFailure"]
    assert "      # HighErrorRate (L41-49)" in text
    assert '"<PLACEHOLDER: PromQL for Service error rate > 5%>"  # L43' in text


def test_matrix_and_checks_without_categories() -> None:
    text, am, rules = _suggest("news-topic-intelligence")
    assert [r["matchers"] for r in am["route"]["routes"]] == [
        ['severity="sev1"'],
        ['severity="sev2"'],
        ['severity="sev3"'],
    ]
    names = [r["alert"] for r in rules["groups"][0]["rules"]]
    assert names[:4] == ["High5xxRate", "ReviewQueueBacklog", "SlowResponses2s", "APIKeyFailures"]
    # its alerts name no severity: each rule asks for one of the matrix's, which the
    # routes match on (without it, every alert would reach the default receiver)
    first = rules["groups"][0]["rules"][0]
    assert first["labels"] == {"severity": "<PLACEHOLDER: one of sev1, sev2, sev3>"}
    # its health checks are Tocsin's probes, not rules over a blackbox exporter; each
    # links to the section its check comes from
    assert "LivenessDown" not in names
    found = sketch(text)
    assert found is not None
    probes = {p["name"]: p for p in found["probes"]}
    assert list(probes) == ["liveness", "metrics", "streamlit"]
    assert probes["liveness"]["url"] == "http://<PLACEHOLDER: host:port>/health"
    assert probes["liveness"]["annotations"] == {
        "runbook_url": "news-topic-intelligence.md#2-health-checks"
    }


def test_check_with_failures_gets_a_for_from_interval_times_count() -> None:
    text = (
        "## Monitoring\n\n"
        "Queue depth is checked every 30 seconds. Alert if two consecutive failures occur.\n"
    )
    _, rules = yaml.safe_load_all(suggest_config(parse_runbook(text, name="m")))
    (rule,) = rules["groups"][0]["rules"]
    assert rule["for"] == "1m"


Probe = tuple[str, str, str | None, int | None, str | None, list[int] | None]
# (the runbook's line, the probe sketched: method, URL, interval, failures, timeout,
# expect_status; None: a Prometheus rule, not a probe)
PROBE_ROWS: list[tuple[str, Probe | None]] = [
    ("1. **Liveness:** `GET /health`", ("GET", "http://h:80/health", None, None, None, None)),
    (
        "Poll `GET /api/health/ping` every 30 seconds. Alert if two consecutive failures occur.",
        ("GET", "http://h:80/api/health/ping", "30s", 2, None, None),
    ),
    (
        "1. Warm-up: `POST /warm` every 5 minutes",
        ("POST", "http://h:80/warm", "5m", None, None, None),
    ),
    (
        "1. Status: https://status.example.org/api answers",
        ("GET", "https://status.example.org/api", None, None, None, None),
    ),
    (
        "1. **Liveness**: `GET /health` (should return 200 within 300ms)",
        ("GET", "http://h:80/health", None, None, "300ms", [200]),
    ),
    (
        "1. Ready: `GET /ready` answers HTTP 204 in under 2 seconds",
        ("GET", "http://h:80/ready", None, None, "2s", [204]),
    ),
    # a duration that is not a time to answer in is no timeout
    ("1. `GET /health` every 10 seconds", ("GET", "http://h:80/health", "10s", None, None, None)),
    (
        "1. Database: `db.internal:5432` accepts",
        ("GET", "tcp://db.internal:5432", None, None, None, None),
    ),
    # a method a probe does not send stays a rule
    ("1. Purge: `DELETE /cache` every hour", None),
    # a threshold is a metric's rule
    ("1. Queue length above 20 jobs for 5 minutes", None),
]


@pytest.mark.parametrize(("line", "probe"), PROBE_ROWS)
def test_a_health_check_is_sketched_as_a_tocsin_probe_that_loads(
    line: str, probe: Probe | None, tmp_path: Path
) -> None:
    book = parse_runbook(f"## Health checks\n\n{line}\n", name="m", source="m.md")
    text = suggest_config(book)
    found = sketch(text)
    _, rules = yaml.safe_load_all(text)
    if probe is None:
        assert found is None
        assert len(rules["groups"][0]["rules"]) == 1
        return
    assert rules["groups"][0]["rules"] == []  # Tocsin requests it: no rule too
    assert found is not None
    (made,) = found["probes"]
    made["url"] = made["url"].replace("<PLACEHOLDER: host:port>", "h:80")
    timing = (made.get("interval"), made.get("failures"), made.get("timeout"))
    assert (made.get("method", "GET"), made["url"], *timing, made.get("expect_status")) == probe
    assert made["annotations"] == {"runbook_url": "m.md#health-checks"}
    path = tmp_path / "am.yml"
    config = {"route": {"receiver": "x"}, "receivers": [{"name": "x"}], "tocsin": found}
    path.write_text(yaml.safe_dump(config))
    (loaded,) = load_config(path).tocsin.probes
    assert (loaded.method, loaded.url) == probe[:2]


@pytest.mark.parametrize(
    ("lines", "names"),
    [
        (["`GET /health` on api", "`GET /health` on worker"], ["health", "health-2"]),
        # a name that is another's numbered form: still told apart, and it ends
        (["**A:** `GET /a`", "**A 2:** `GET /b`", "**A:** `GET /c`"], ["a", "a-2", "a-3"]),
    ],
)
def test_probes_of_the_same_name_are_told_apart(lines: list[str], names: list[str]) -> None:
    text = "## Health checks\n\n" + "".join(f"{i}. {x}\n" for i, x in enumerate(lines, 1))
    found = sketch(suggest_config(parse_runbook(text, name="m")))
    assert found is not None
    assert [p["name"] for p in found["probes"]] == names


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        # a heartbeat names itself, though "job" would make it a queue check
        ("**Heartbeat:** the nightly digest cron job pings every 24 hours.", "heartbeat"),
        ("Dead man's switch: the backup job checks in every 6 hours.", "heartbeat"),
        ("**Workers:** check the job queue depth every 5 minutes.", "queue"),
    ],
)
def test_a_heartbeat_check_is_sketched_as_a_tocsin_heartbeat(line: str, kind: str) -> None:
    book = parse_runbook(f"## Health checks\n\n1. {line}\n", name="m", source="m.md")
    (check,) = book.checks
    assert check.kind == kind
    text = suggest_config(book)
    _, rules = yaml.safe_load_all(text)
    sketched = "# tocsin:\n#   heartbeats:\n" in text
    assert sketched is (kind == "heartbeat")
    # a heartbeat is no Prometheus rule: Tocsin runs it (uncommented, it loads)
    assert bool(rules["groups"][0]["rules"]) is (kind != "heartbeat")
    if sketched:
        sketch = text[text.index("# tocsin:") :].split("\n---")[0]
        uncommented = "\n".join(x[2:] for x in sketch.splitlines() if x.startswith("# "))
        (beat,) = yaml.safe_load(uncommented)["tocsin"]["heartbeats"]
        assert beat["period"] in ("1d", "6h")
        assert beat["annotations"]["runbook_url"] == "m.md#health-checks"


def test_empty_runbook_still_valid_yaml() -> None:
    docs = list(yaml.safe_load_all(suggest_config(parse_runbook("", name="empty"))))
    assert docs[0]["route"]["receiver"] == "default"
    assert docs[1]["groups"][0]["rules"] == []


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("HighErrorRate", "HighErrorRate"),
        ("High 5xx rate", "High5xxRate"),
        ("Slow responses (>2s)", "SlowResponses2s"),
        ("5xx spike", "Alert5xxSpike"),
        ("queue_stuck", "queue_stuck"),
    ],
)
def test_rule_names_are_valid_prometheus_names(name: str, rule: str) -> None:
    assert rule_name(name) == rule


MATRIX = """## Escalation Matrix

| Severity | Criteria | Primary |
| -------- | -------- | ------- |
| SEV-1 | Complete outage | On-call engineer |
| SEV-2 | Degraded | File an issue |
"""
TIMELINE = """## Incident Response

1. Acknowledge alert within 5 minutes.
2. Update the status page within 15 minutes.
3. Schedule postmortem within 48 hours.
"""
REVIEW = "## Post-incident\n\n- Post-incident review: schedule within 3 business days.\n"
BEAT = "## Health checks\n\n1. **Heartbeat:** the nightly cron job pings every 24 hours.\n"


def sketch(text: str) -> dict[str, Any] | None:
    """The ``tocsin:`` sketch of a suggestion, uncommented and loaded; None: none."""
    if "# tocsin:" not in text:
        return None
    block = text[text.index("# tocsin:") :].split("\n---")[0]
    lines = [x[1:] for x in block.splitlines() if x.startswith("#")]
    loaded: dict[str, Any] = yaml.safe_load("\n".join(lines))["tocsin"]
    return loaded


# (the runbook, each severity as the sketch names it, with what it owes)
INCIDENT_ROWS: list[tuple[str, list[dict[str, Any]] | None]] = [
    ("## Nothing\n\nJust prose.\n", None),
    # the on-call answers SEV-1 first (its primary): IncidentOpen pages them
    (
        MATRIX,
        [
            {"name": "SEV-1", "description": "Complete outage", "alert": True},
            {"name": "SEV-2", "description": "Degraded"},
        ],
    ),
    (
        MATRIX + TIMELINE,
        [
            {
                "name": "SEV-1",
                "description": "Complete outage",
                "alert": True,
                "first_update_within": "15m",
                "postmortem_within": "2d",
            },
            {
                "name": "SEV-2",
                "description": "Degraded",
                "first_update_within": "15m",
                "postmortem_within": "2d",
            },
        ],
    ),
    # no matrix: one severity to name; 3 business days are at most 5 calendar days
    (REVIEW, [{"name": "<PLACEHOLDER: a severity, e.g. SEV1>", "postmortem_within": "5d"}]),
    # two promises of one kind: the first is the value, the second stays a comment
    (
        TIMELINE.replace("48 hours", "2 days") + REVIEW,
        [
            {
                "name": "<PLACEHOLDER: a severity, e.g. SEV1>",
                "first_update_within": "15m",
                "postmortem_within": "2d",
            }
        ],
    ),
    # a severity in two matrices once; a name check-config takes
    (
        MATRIX + "\n## Again\n\n" + MATRIX.split("\n", 2)[2] + "| _SEV-9 | Odd | x |\n",
        [
            {"name": "SEV-1", "description": "Complete outage", "alert": True},
            {"name": "SEV-2", "description": "Degraded"},
            {"name": "SEV-9", "description": "Odd"},
        ],
    ),
]


@pytest.mark.parametrize(("runbook", "severities"), INCIDENT_ROWS)
def test_incidents_are_sketched_from_the_matrix_and_the_timeline(
    runbook: str, severities: list[dict[str, Any]] | None, tmp_path: Path
) -> None:
    text = suggest_config(parse_runbook(runbook, name="r", source="r.md"))
    found = sketch(text)
    if severities is None:
        assert found is None
        return
    assert found is not None
    assert found["incidents"]["severities"] == severities
    # uncommented (its placeholder named), Tocsin loads it
    named = [
        {**s, "name": s["name"].replace("<PLACEHOLDER: a severity, e.g. SEV1>", "SEV1")}
        for s in severities
    ]
    config = {
        "route": {"receiver": "x"},
        "receivers": [{"name": "x"}],
        "tocsin": {"incidents": {"severities": named}},
    }
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(config))
    assert [s.name for s in load_config(path).tocsin.incidents.severities] == [
        s["name"] for s in named
    ]


def test_heartbeats_and_incidents_share_one_tocsin_key() -> None:
    text = suggest_config(parse_runbook(BEAT + MATRIX, name="r", source="r.md"))
    assert text.count("# tocsin:") == 1
    found = sketch(text)
    assert found is not None
    assert set(found) == {"heartbeats", "incidents"}


NOTICE = """## Communication

- Planned maintenance: announce at least 48 hours in advance to affected tenants.
- Emergency maintenance: announce at least 2 hours in advance.
"""


@pytest.mark.parametrize(
    ("runbook", "notice", "severities"),
    [
        # the notice alone: no severity to name
        (NOTICE, "2d", None),
        # with a matrix; a second notice stays a comment (one value per key)
        (NOTICE + MATRIX, "2d", ["SEV-1", "SEV-2"]),
        # a notice that is not of maintenance is not this one
        ("## Release\n\n- Announce releases at least 48 hours in advance.\n", None, None),
    ],
)
def test_a_maintenance_notice_is_sketched(
    runbook: str, notice: str | None, severities: list[str] | None, tmp_path: Path
) -> None:
    text = suggest_config(parse_runbook(runbook, name="r", source="r.md"))
    found = sketch(text)
    if notice is None:
        assert found is None or "maintenance_notice" not in found.get("incidents", {})
        return
    assert found is not None
    assert found["incidents"]["maintenance_notice"] == notice
    assert text.count("maintenance_notice:") == 2  # the second, commented
    got = found["incidents"].get("severities")
    assert (None if got is None else [s["name"] for s in got]) == severities
    path = tmp_path / "am.yml"
    config = {"route": {"receiver": "x"}, "receivers": [{"name": "x"}], "tocsin": found}
    path.write_text(yaml.safe_dump(config))
    assert load_config(path).tocsin.incidents.maintenance_notice == timedelta(days=2)
