"""Small synthetic runbooks in other wordings and layouts, to check that the rules are
about structure and vocabulary, not about the three shared files."""

from __future__ import annotations

from typing import Any

import pytest

from tocsin.runbooks import parse_runbook

from .test_runbook_scoring import failures, report, score_all

PAYMENTS = """\
# Payments API - On-call Runbook

## Alerting policy

- Acknowledge pages within 5 minutes.
- Post an update in #payments-incidents every 15 minutes while the incident is open.
- If you cannot mitigate within 30 minutes, escalate to the payments lead.
- A post-mortem is due within 3 business days of resolution.

## Alerts

### Alert: PaymentsHighLatency
- **Severity:** P1
- **Condition:** p99 latency above 800ms for more than 10 minutes

1. Open the latency dashboard.
```bash
open https://grafana.example.com/d/payments
```
2. Check `kubectl top pods -n payments`.
3. Scale out: `kubectl scale deploy/payments --replicas=6`

### queue_stuck (warning)
Summary: Jobs are piling up: queue length exceeding 20 jobs for more than 5 minutes.

1. Inspect the worker logs.
2. Restart the worker.

## Health checks

Poll `GET /api/health/ping` every 30 seconds. Alert if two consecutive failures occur.

- **Database**: `db.internal:5432` must accept TCP connections.

## Troubleshooting

| Problem | Likely cause | How to check | Fix |
|---|---|---|---|
| 502 from the load balancer | Pods not ready | `kubectl get pods` | Roll back |
| Timeouts | Slow DB | Check `pg_stat_activity` | Kill long queries |

## Escalation

| Sev | Impact | On-call | Escalate to | Response time |
|---|---|---|---|---|
| P1 | Payments down | Primary SRE | Engineering manager | 15 min |
| P2 | Degraded | Primary SRE | Team lead | 1 hour |

1. Page the primary on-call through PagerDuty.
2. After 15 minutes without acknowledgement, page the secondary.
3. After 30 minutes, page the engineering manager (manager@example.com).

## Maintenance

Announce planned maintenance at least 48 hours in advance on the status page.
"""

PAYMENTS_EXPECTED: dict[str, list[dict[str, Any]]] = {
    "alerts": [
        {
            "line": 12,
            "name": "PaymentsHighLatency",
            "severity": "p1",
            "category": None,
            "threshold": ["p99 latency", ">", 800, "ms"],
            "duration": 600,
            "steps": 3,
        },
        {
            "line": 23,
            "name": "queue_stuck",
            "severity": "warning",
            "category": None,
            "threshold": ["queue length", ">", 20, "jobs"],
            "duration": 300,
            "steps": 2,
        },
    ],
    "procedures": [
        {
            "lines": [16, 21],
            "title": "Alert: PaymentsHighLatency",
            "steps": [
                [
                    1,
                    "Open the latency dashboard.",
                    ["```bash open https://grafana.example.com/d/payments"],
                ],
                [2, "Check kubectl top pods -n", ["kubectl top pods -n payments"]],
                [
                    3,
                    "Scale out: kubectl scale deploy/payments",
                    ["kubectl scale deploy/payments --replicas=6"],
                ],
            ],
        },
        {
            "lines": [26, 27],
            "title": "queue_stuck (warning)",
            "steps": [
                [1, "Inspect the worker logs.", []],
                [2, "Restart the worker.", []],
            ],
        },
        {
            "lines": [49, 51],
            "title": "Escalation",
            "steps": [
                [1, "Page the primary on-call through", []],
                [2, "After 15 minutes without acknowledgement,", []],
                [3, "After 30 minutes, page the", []],
            ],
        },
    ],
    "slas": [
        {
            "line": 5,
            "kind": "deadline",
            "seconds": 300,
            "business": False,
            "action": "Acknowledge pages",
            "context": "Alerting policy",
        },
        {
            "line": 6,
            "kind": "interval",
            "seconds": 900,
            "business": False,
            "action": "Post an update in #payments-incidents while the incident is open",
            "context": "Alerting policy",
        },
        {
            "line": 7,
            "kind": "deadline",
            "seconds": 1800,
            "business": False,
            "action": "If you cannot mitigate, escalate to the payments lead",
            "context": "Alerting policy",
        },
        {
            "line": 8,
            "kind": "deadline",
            "seconds": 259200,
            "business": True,
            "action": "A post-mortem is due",
            "context": "Alerting policy",
        },
        {
            "line": 46,
            "kind": "response-time",
            "seconds": 900,
            "business": False,
            "action": "Response time",
            "context": "P1",
        },
        {
            "line": 47,
            "kind": "response-time",
            "seconds": 3600,
            "business": False,
            "action": "Response time",
            "context": "P2",
        },
        {
            "line": 50,
            "kind": "deadline",
            "seconds": 900,
            "business": False,
            "action": "without acknowledgement, page the secondary",
            "context": "Escalation",
        },
        {
            "line": 51,
            "kind": "deadline",
            "seconds": 1800,
            "business": False,
            "action": "page the engineering manager (manager@example.com)",
            "context": "Escalation",
        },
        {
            "line": 55,
            "kind": "advance-notice",
            "seconds": 172800,
            "business": False,
            "action": "Announce planned maintenance on the status page",
            "context": "Maintenance",
        },
    ],
    "escalation_rows": [
        {
            "line": 46,
            "severity": "P1",
            "criteria": "Payments down",
            "primary": "Primary SRE",
            "backup": "Engineering manager",
        },
        {
            "line": 47,
            "severity": "P2",
            "criteria": "Degraded",
            "primary": "Primary SRE",
            "backup": "Team lead",
        },
    ],
    "escalation_levels": [
        {
            "line": 49,
            "number": 1,
            "name": "Page the primary on-call through PagerDuty.",
            "delay": None,
            "condition": None,
            "steps": 0,
        },
        {
            "line": 50,
            "number": 2,
            "name": "After 15 minutes without acknowledgement, page the secondary.",
            "delay": 900,
            "condition": None,
            "steps": 0,
        },
        {
            "line": 51,
            "number": 3,
            "name": "After 30 minutes, page the engineering manager (manager@example.com).",
            "delay": 1800,
            "condition": None,
            "steps": 0,
        },
    ],
    "channels": [
        {"line": 6, "kind": "slack", "target": "#payments-incidents"},
        {"line": 49, "kind": "pagerduty", "target": None},
        {"line": 51, "kind": "email", "target": "manager@example.com"},
    ],
    "checks": [
        {
            "line": 31,
            "kind": "http",
            "name": None,
            "target": "GET /api/health/ping",
            "interval": 30,
            "failures": 2,
            "threshold": None,
            "duration": None,
        },
        {
            "line": 33,
            "kind": "tcp",
            "name": "Database",
            "target": "db.internal:5432",
            "interval": None,
            "failures": None,
            "threshold": None,
            "duration": None,
        },
    ],
    "troubleshooting": [
        {
            "line": 39,
            "alert": None,
            "symptom": "502 from the load balancer",
            "cause": "Pods not ready",
            "diagnosis": "kubectl get pods",
            "mitigation": "Roll back",
        },
        {
            "line": 40,
            "alert": None,
            "symptom": "Timeouts",
            "cause": "Slow DB",
            "diagnosis": "Check pg_stat_activity",
            "mitigation": "Kill long queries",
        },
    ],
}

INGEST = """\
Runbook for the ingest service.

| Alert name | Severity | Threshold | For | What to do |
|---|---|---|---|---|
| `IngestLagHigh` | warning | consumer lag > 10000 messages | 10m | Scale with `kubectl scale` |
| IngestDown | critical | up == 0 | 1m | Restart the pod |

## SLAs
- Response time < 5 minutes for critical pages.
- Escalation is automatic after 15 minutes if not acknowledged.
- Stakeholder updates every 30 minutes during SEV1.

## On-call
- Primary: Slack #ingest-oncall
- Secondary: ingest-team@example.org

## Escalation levels
- **Level 1** (0 min): on-call engineer
- **Level 2** (after 30 min): team lead

## Monitoring

The consumer lag stays above 5000 messages for 15 minutes: page the on-call.
"""

INGEST_EXPECTED: dict[str, list[dict[str, Any]]] = {
    "alerts": [
        {
            "line": 5,
            "name": "IngestLagHigh",
            "severity": "warning",
            "category": None,
            "threshold": ["consumer lag", ">", 10000, "messages"],
            "duration": 600,
            "steps": 1,
        },
        {
            "line": 6,
            "name": "IngestDown",
            "severity": "critical",
            "category": None,
            "threshold": ["up", "=", 0, None],
            "duration": 60,
            "steps": 1,
        },
    ],
    "procedures": [],
    "slas": [
        {
            "line": 9,
            "kind": "response-time",
            "seconds": 300,
            "business": False,
            "action": "Response time for critical pages",
            "context": "SLAs",
        },
        {
            "line": 10,
            "kind": "deadline",
            "seconds": 900,
            "business": False,
            "action": "Escalation is automatic if not acknowledged",
            "context": "SLAs",
        },
        {
            "line": 11,
            "kind": "interval",
            "seconds": 1800,
            "business": False,
            "action": "Stakeholder updates during SEV1",
            "context": "SLAs",
        },
    ],
    "escalation_rows": [],
    "escalation_levels": [
        {
            "line": 18,
            "number": 1,
            "name": "on-call engineer",
            "delay": 0,
            "condition": None,
            "steps": 0,
        },
        {
            "line": 19,
            "number": 2,
            "name": "team lead",
            "delay": 1800,
            "condition": None,
            "steps": 0,
        },
    ],
    "contacts": [
        {
            "line": 14,
            "role": "Primary",
            "value": "Slack #ingest-oncall",
            "channels": ["slack #ingest-oncall"],
        },
        {
            "line": 15,
            "role": "Secondary",
            "value": "ingest-team@example.org",
            "channels": ["email ingest-team@example.org"],
        },
    ],
    "channels": [
        {"line": 14, "kind": "slack", "target": "#ingest-oncall"},
        {"line": 15, "kind": "email", "target": "ingest-team@example.org"},
    ],
    "checks": [
        {
            "line": 23,
            "kind": "queue",
            "name": None,
            "target": "consumer lag",
            "interval": None,
            "failures": None,
            "threshold": ["consumer lag", ">", 5000, "messages"],
            "duration": 900,
        },
    ],
    "troubleshooting": [
        {
            "line": 5,
            "alert": "IngestLagHigh",
            "symptom": None,
            "cause": None,
            "diagnosis": None,
            "mitigation": "Scale with kubectl scale",
        },
        {
            "line": 6,
            "alert": "IngestDown",
            "symptom": None,
            "cause": None,
            "diagnosis": None,
            "mitigation": "Restart the pod",
        },
    ],
}

INCIDENTS = """\
Incident Process
================

Severity definitions
--------------------

| Priority | Definition | First responder | Secondary | Acknowledge within | Status updates |
|----------|------------|-----------------|-----------|--------------------|----------------|
| P1 | Customer-facing outage | On-call SRE | SRE manager | 5 min | every 15 min |
| P2 | Partial degradation | On-call SRE | Team lead | 30 min | every 1 hour |

Escalation ladder
-----------------

- Level 1: On-call engineer (immediately)
- Level 2: Manual Escalation (1 hour)
- Level 3: Director (4 hours)

> **Note:** page via Opsgenie, and mirror to #inc-bridge.

Known issues
------------

* **Disk full on worker nodes** - run `make prune` then reboot.
* **Cert expiry warnings**: renew with `certbot renew`.

Checks
------

1. `curl -fsS https://status.example.com/healthz` every 60 seconds;
   alert after 3 consecutive failures.
2. Disk usage on /var above 85% for 10 minutes.
"""

INCIDENTS_EXPECTED: dict[str, list[dict[str, Any]]] = {
    "alerts": [],
    "procedures": [
        {
            "lines": [30, 32],
            "title": "Checks",
            "steps": [
                [
                    1,
                    "curl -fsS https://status.example.com/healthz every 60",
                    ["curl -fsS https://status.example.com/healthz"],
                ],
                [2, "Disk usage on /var above", []],
            ],
        },
    ],
    "slas": [
        {
            "line": 9,
            "kind": "deadline",
            "seconds": 300,
            "business": False,
            "action": "Acknowledge within",
            "context": "P1",
        },
        {
            "line": 9,
            "kind": "interval",
            "seconds": 900,
            "business": False,
            "action": "Status updates",
            "context": "P1",
        },
        {
            "line": 10,
            "kind": "deadline",
            "seconds": 1800,
            "business": False,
            "action": "Acknowledge within",
            "context": "P2",
        },
        {
            "line": 10,
            "kind": "interval",
            "seconds": 3600,
            "business": False,
            "action": "Status updates",
            "context": "P2",
        },
    ],
    "escalation_rows": [
        {
            "line": 9,
            "severity": "P1",
            "criteria": "Customer-facing outage",
            "primary": "On-call SRE",
            "backup": "SRE manager",
        },
        {
            "line": 10,
            "severity": "P2",
            "criteria": "Partial degradation",
            "primary": "On-call SRE",
            "backup": "Team lead",
        },
    ],
    "escalation_levels": [
        {
            "line": 15,
            "number": 1,
            "name": "On-call engineer (immediately)",
            "delay": None,
            "condition": None,
            "steps": 0,
        },
        {
            "line": 16,
            "number": 2,
            "name": "Manual Escalation",
            "delay": 3600,
            "condition": None,
            "steps": 0,
        },
        {
            "line": 17,
            "number": 3,
            "name": "Director",
            "delay": 14400,
            "condition": None,
            "steps": 0,
        },
    ],
    "channels": [
        {"line": 19, "kind": "slack", "target": "#inc-bridge"},
        {"line": 19, "kind": "opsgenie", "target": None},
    ],
    "checks": [
        {
            "line": 30,
            "kind": "http",
            "name": None,
            "target": "https://status.example.com/healthz",
            "interval": 60,
            "failures": 3,
            "threshold": None,
            "duration": None,
        },
        {
            "line": 32,
            "kind": "disk",
            "name": None,
            "target": "Disk usage on /var",
            "interval": None,
            "failures": None,
            "threshold": ["Disk usage on /var", ">", 85, "%"],
            "duration": 600,
        },
    ],
    "troubleshooting": [
        {
            "line": 24,
            "alert": None,
            "symptom": "Disk full on worker nodes",
            "cause": None,
            "diagnosis": None,
            "mitigation": "run make prune then",
        },
        {
            "line": 25,
            "alert": None,
            "symptom": "Cert expiry warnings",
            "cause": None,
            "diagnosis": None,
            "mitigation": "renew with certbot renew.",
        },
    ],
}

CHECKOUT = """\
# Checkout runbook

## Response expectations

The on-call engineer must acknowledge within 5 minutes and update the incident channel
every 15 minutes.
Escalate to the secondary on-call if you cannot mitigate within 30 minutes.
Write the post-mortem within 48 hours.

## Alert Response Procedures

### HighErrorRate
**Severity**: Critical<BR>
**Description**: Service error rate >5% for 5 minutes<BR>
**Response**:
1. Check the dashboard
2. Roll back: `helm rollback checkout`

### ServiceDown
**Severity**: Critical<BR>
**Description**: Service instance is down for >1 minute<BR>

## Common alerts

| Alert | Symptom | Diagnostic Steps | Mitigation |
|---|---|---|---|
| CheckoutSlow | p95 > 2s | Check `/metrics` | Scale out |

## Monitoring

Poll `GET /api/health/ping` every 30 seconds. Alert if two consecutive failures occur.
Page when the job queue length exceeding 20 jobs for more than 5 minutes.
""".replace("<BR>", "  ")  # Markdown hard breaks, as in the shared runbooks

CHECKOUT_EXPECTED: dict[str, list[dict[str, Any]]] = {
    "alerts": [
        {
            "line": 12,
            "name": "HighErrorRate",
            "severity": "critical",
            "category": None,
            "threshold": ["Service error rate", ">", 5, "%"],
            "duration": 300,
            "steps": 2,
        },
        {
            "line": 19,
            "name": "ServiceDown",
            "severity": "critical",
            "category": None,
            "threshold": None,
            "duration": 60,
            "steps": 0,
        },
        {
            "line": 27,
            "name": "CheckoutSlow",
            "severity": None,
            "category": None,
            "threshold": ["p95", ">", 2, "s"],
            "duration": None,
            "steps": 2,
        },
    ],
    "procedures": [
        {
            "lines": [16, 17],
            "title": "Response",
            "steps": [
                [1, "Check the dashboard", []],
                [2, "Roll back: helm rollback checkout", ["helm rollback checkout"]],
            ],
        },
    ],
    "slas": [
        {
            "line": 5,
            "kind": "deadline",
            "seconds": 300,
            "business": False,
            "action": "The on-call engineer must acknowledge",
            "context": "Response expectations",
        },
        {
            "line": 5,
            "kind": "interval",
            "seconds": 900,
            "business": False,
            "action": "update the incident channel",
            "context": "Response expectations",
        },
        {
            "line": 7,
            "kind": "deadline",
            "seconds": 1800,
            "business": False,
            "action": "Escalate to the secondary on-call if you cannot mitigate",
            "context": "Response expectations",
        },
        {
            "line": 8,
            "kind": "deadline",
            "seconds": 172800,
            "business": False,
            "action": "Write the post-mortem",
            "context": "Response expectations",
        },
    ],
    "checks": [
        {
            "line": 31,
            "kind": "http",
            "name": None,
            "target": "GET /api/health/ping",
            "interval": 30,
            "failures": 2,
            "threshold": None,
            "duration": None,
        },
        {
            "line": 32,
            "kind": "queue",
            "name": None,
            "target": "job queue length",
            "interval": None,
            "failures": None,
            "threshold": ["job queue length", ">", 20, "jobs"],
            "duration": 300,
        },
    ],
    "troubleshooting": [
        {
            "line": 27,
            "alert": "CheckoutSlow",
            "symptom": "p95 > 2s",
            "cause": None,
            "diagnosis": "Check /metrics",
            "mitigation": "Scale out",
        },
    ],
}

KUBE = """\
# KubePodCrashLooping

## Meaning

Pod is in CrashLoopBackOff state for more than 15 minutes.

## Impact

Service degradation or unavailability.

## Diagnosis

- Check template via `kubectl -n $NAMESPACE get pod $POD`.
- Check pod events via `kubectl -n $NAMESPACE describe pod $POD`.

## Mitigation

See [Debugging Pods](https://kubernetes.io/docs/tasks/debug-application-cluster/debug-pods).
"""

KUBE_EXPECTED: dict[str, list[dict[str, Any]]] = {
    "alerts": [
        {
            "line": 1,
            "name": "KubePodCrashLooping",
            "severity": None,
            "category": None,
            "threshold": None,
            "duration": 900,
            "steps": 2,
        },
    ],
    "procedures": [],
    "slas": [],
    "channels": [],
    "checks": [],
    "troubleshooting": [],
}

POLICY = """\
# Incident Response Policy

## Severity Levels

### SEV1 - Critical
- Customer-facing outage affecting all users
- Page on-call immediately via PagerDuty
- Incident commander assigned within 15 minutes
- Status page updated every 30 minutes

## On-call expectations
* Respond to pages within 10 minutes during business hours.

## Alert: HighCPU

| Field | Value |
|---|---|
| Severity | warning |
| Threshold | CPU > 90% |
| For | 10m |

1. Find the hot process with `top`.
2. Scale out.
"""

POLICY_EXPECTED: dict[str, list[dict[str, Any]]] = {
    "alerts": [
        {
            "line": 14,
            "name": "HighCPU",
            "severity": "warning",
            "category": None,
            "threshold": ["CPU", ">", 90, "%"],
            "duration": 600,
            "steps": 2,
        },
    ],
    "procedures": [
        {
            "lines": [22, 23],
            "title": "Alert: HighCPU",
            "steps": [
                [1, "Find the hot process with", ["top"]],
                [2, "Scale out.", []],
            ],
        },
    ],
    "slas": [
        {
            "line": 8,
            "kind": "deadline",
            "seconds": 900,
            "business": False,
            "action": "Incident commander assigned",
            "context": "SEV1 - Critical",
        },
        {
            "line": 9,
            "kind": "interval",
            "seconds": 1800,
            "business": False,
            "action": "Status page updated",
            "context": "SEV1 - Critical",
        },
        {
            "line": 12,
            "kind": "response-time",
            "seconds": 600,
            "business": False,
            "action": "Respond to pages during business hours",
            "context": "On-call expectations",
        },
    ],
    "channels": [{"line": 7, "kind": "pagerduty", "target": None}],
    "escalation_rows": [],
    "escalation_levels": [],
    "checks": [],
}

CASES = {
    "payments": (PAYMENTS, PAYMENTS_EXPECTED),
    "ingest": (INGEST, INGEST_EXPECTED),
    "incidents": (INCIDENTS, INCIDENTS_EXPECTED),
    "checkout": (CHECKOUT, CHECKOUT_EXPECTED),
    "kube-layout": (KUBE, KUBE_EXPECTED),
    "policy": (POLICY, POLICY_EXPECTED),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_synthetic_runbook(name: str) -> None:
    text, expected = CASES[name]
    runbook = parse_runbook(text, name=name)
    scores = score_all(expected, runbook, list(expected))
    print("\n" + report(f"synthetic: {name}", scores))
    assert runbook.warnings == ()
    assert all(s.precision == 1.0 and s.recall == 1.0 for s in scores.values()), failures(scores)
