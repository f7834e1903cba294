"""The words runbooks use for the same idea: field labels and section names.

Extraction rules are keyed on these (structure plus vocabulary), never on one file's
exact strings; adding a synonym here teaches every extractor at once.
"""

from __future__ import annotations

import re

SEVERITY_KEYS = frozenset({"severity", "sev", "priority", "urgency", "alert severity"})
NAME_KEYS = frozenset({"alert", "alertname", "alert name", "alert rule", "prometheus alert"})
DESCRIPTION_KEYS = frozenset(
    {"description", "summary", "meaning", "what it means", "alert description", "details"}
)
CONDITION_KEYS = frozenset(
    {
        "threshold",
        "condition",
        "trigger",
        "triggers",
        "expression",
        "expr",
        "query",
        "promql",
        "when",
        "fires when",
        "alert condition",
        "rule",
        "triggered when",
    }
)
DURATION_KEYS = frozenset({"for", "duration", "pending period", "pending"})
SYMPTOM_KEYS = frozenset(
    {
        "symptoms",
        "symptom",
        "signals",
        "signs",
        "impact",
        "indicators",
        "what you see",
        "observed",
        "user impact",
    }
)
RESPONSE_KEYS = frozenset(
    {
        "response",
        "actions",
        "action",
        "procedure",
        "steps",
        "remediation",
        "mitigation",
        "resolution",
        "fix",
        "runbook",
        "what to do",
        "diagnosis",
        "investigation",
        "triage",
        "next steps",
        "immediate actions",
        "resolution steps",
        "response steps",
    }
)
CHANNEL_KEYS = frozenset(
    {
        "channel",
        "channels",
        "notification channel",
        "notification channels",
        "notify",
        "route",
        "routing",
        "receiver",
        "via",
        "notifications",
    }
)
RESPONSE_TIME_KEYS = frozenset(
    {
        "response time",
        "response",
        "ack",
        "ack time",
        "acknowledge",
        "acknowledgement",
        "time to acknowledge",
        "time to respond",
        "response sla",
        "sla",
        "target response",
    }
)
ESCALATION_KEYS = frozenset({"escalation", "escalate", "escalation policy", "escalates"})

SEVERITY_WORDS = re.compile(
    r"\b(critical|crit|warning|warn|info|informational|error|major|minor|high|medium|low"
    r"|page|ticket|sev[\s-]?\d|p\d)\b",
    re.IGNORECASE,
)

#: Parent sections whose children are alerts even without a Severity field.
ALERT_PARENT = re.compile(r"\b(?:alerts?|alerting|alarms?|playbooks?)\b", re.IGNORECASE)
#: Sections whose list items are health checks.
CHECK_SECTION = re.compile(
    r"\bhealth|\bprobes?\b|liveness|readiness|synthetic|uptime|heartbeats?|\bchecks?\b",
    re.IGNORECASE,
)
#: Sections whose `**X:** y` items are symptom -> fix pairs.
TROUBLE_SECTION = re.compile(
    r"troubleshoot|common\s+(?:problems|issues|errors|failures)|known\s+(?:issues|problems)"
    r"|\bfaq\b|gotchas|failure\s+modes",
    re.IGNORECASE,
)
#: Sections that describe escalation ladders.
ESCALATION_SECTION = re.compile(r"escalat|on-?call|support\s+tiers?|paging", re.IGNORECASE)
#: Sections that list people and how to reach them.
CONTACT_SECTION = re.compile(
    r"contact|who\s+to\s+(?:call|page|contact)|\bpeople\b|\bowners?\b|stakeholders"
    r"|points?\s+of\s+contact|directory|roster|\bon-?call\b",
    re.IGNORECASE,
)
