"""What belongs to one alert of a runbook: its own promises (timers), its steps under
a sub-heading, and which sections are alert procedures at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.runbooks.model import AlertProcedure, Runbook
from tocsin.runbooks.parser import parse_runbook
from tocsin.runbooks.timers import Episode, owners, timers

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
OPENED = Episode(opened=T0)

BLEED = """\
# Bleed

## BleedA
**Severity**: critical

1. Check A
2. Update the status page within 1 minute.

## BleedB
**Severity**: critical

1. Check B
2. Notify the DBA team within 1 minute.

## BleedC
**Severity**: critical

1. Check C
2. Post in #incidents within 2 minutes.

### Afterwards

Write the timeline in the incident doc within 3 days.

## Incident response

Acknowledge the page within 5 minutes.
"""


@pytest.mark.parametrize(
    ("alert", "texts"),
    [
        ("BleedA", ["Update the status page", "Acknowledge the page"]),
        ("BleedB", ["Notify the DBA team", "Acknowledge the page"]),
        (
            "BleedC",
            [
                "Post in #incidents",
                "Write the timeline in the incident doc",
                "Acknowledge the page",
            ],
        ),
    ],
)
def test_an_alert_s_own_promise_is_its_timer_alone(alert: str, texts: list[str]) -> None:
    book = parse_runbook(BLEED, name="bleed")
    procedure = book.find_procedure(alert)
    assert procedure is not None
    found = timers({"bleed": book}, [("bleed", procedure)], OPENED, T0)
    assert [t.text.split(" within")[0] for t in found] == texts


def test_many_alerts_with_the_same_promise_give_each_group_one_timer() -> None:
    parts = ["# Big\n"]
    for n in range(238):
        parts.append(
            f"## Alert{n}Down\n**Severity**: warning\n\n1. Look\n"
            "2. Then escalate to the platform lead after 20 minutes.\n"
        )
    text = "\n".join(parts)
    book = parse_runbook(text, name="big")
    assert len(book.alerts) == 238
    procedure = book.alerts[117]
    found = timers({"big": book}, [("big", procedure)], OPENED, T0)
    assert [(t.ref, t.due_at) for t in found] == [
        (f"big:{procedure.lines[0] + 4}", T0 + timedelta(minutes=20))
    ]


def _innermost(book: Runbook) -> list[AlertProcedure | None]:
    out: list[AlertProcedure | None] = []
    for sla in book.slas:
        holding = [
            a for a in book.alerts if a.lines[0] <= sla.lines[0] and sla.lines[1] <= a.lines[1]
        ]
        out.append(min(holding, key=lambda a: a.lines[1] - a.lines[0]) if holding else None)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(2, 4), st.booleans(), st.booleans(), st.booleans()),
        max_size=12,
    )
)
def test_a_promise_s_owner_is_the_innermost_alert_section_holding_it(
    sections: list[tuple[int, bool, bool, bool]],
) -> None:
    parts = ["# Doc\n"]
    for n, (level, alert, promise, table) in enumerate(sections):
        parts.append(f"{'#' * level} {'Alert' if alert else 'Part'}{n}\n")
        if alert:
            parts.append("**Severity**: warning\n\n1. Look\n")
        if promise:
            parts.append("Then escalate to the lead after 20 minutes.\n")
        if table:
            parts.append(f"| Alert | Response time |\n|---|---|\n| Row{n}Down | 5 minutes |\n")
    book = parse_runbook("\n".join(parts), name="t")
    assert owners(book) == _innermost(book)


def _alerts(text: str) -> list[tuple[str, str | None, list[str]]]:
    book = parse_runbook(text, name="t")
    return [(a.name, a.severity, [s.text for s in a.steps]) for a in book.alerts]


@pytest.mark.parametrize(
    ("text", "alerts"),
    [
        # a heading that is an alert's name, numbered steps under it
        (
            "# DB\n\n## PostgresDiskFull\n\n1. Check disk\n2. Grow volume\n",
            [("PostgresDiskFull", None, ["Check disk", "Grow volume"])],
        ),
        ("## InstanceDown\n\n1. Ping it\n", [("InstanceDown", None, ["Ping it"])]),
        ("## disk_full\n\n1. Clean\n", [("disk_full", None, ["Clean"])]),
        (
            "## PostgresReplicationBroken [critical]\n\n1. Rebuild\n",
            [("PostgresReplicationBroken", "critical", ["Rebuild"])],
        ),
        # ...its steps under a sub-heading
        (
            "## KafkaConsumerLag\n\n### Mitigation\n\n1. Scale consumers\n",
            [("KafkaConsumerLag", None, ["Scale consumers"])],
        ),
        # severity in a blockquote or a table row
        (
            "## Disk space\n\n> **Severity**: critical\n\n1. Clean\n",
            [("Disk space", "critical", ["Clean"])],
        ),
        (
            "## Disk space\n\n| Severity | critical |\n|---|---|\n| Threshold | > 90% |\n"
            "\n1. Clean\n",
            [("Disk space", "critical", ["Clean"])],
        ),
        (
            "## Disk space\n\n| Alert | DiskSpace |\n|---|---|\n| Severity | warning |\n"
            "\n1. Clean\n",
            [("DiskSpace", "warning", ["Clean"])],
        ),
        # not alerts: generic headings, product names, a document holding alerts
        ("## Response\n\n1. Page\n", []),
        ("## Actions\n\n1. Page\n\n## Mitigation\n\n1. Fix\n", []),
        ("## PgBouncer\n\n1. Restart it\n", []),
        ("## PostgreSQL\n\n1. Connect\n", []),
        ("## RabbitMQ\n\n1. Open the console\n", []),
        ("## ServiceOverview\n\nText only.\n", []),
        (
            "# PaymentsServiceRunbook\n\n## Setup\n\n1. Install\n\n## CheckoutDown\n\n1. Page\n",
            [("CheckoutDown", None, ["Page"])],
        ),
        # a matrix whose columns are Severity and Response is no alert's label
        ("## Paging\n\n| Severity | Response |\n|---|---|\n| critical | 5 min |\n\n1. Page\n", []),
        ("## Notes\n\n> **Note**: read this first\n\n1. Read\n", []),
    ],
)
def test_which_sections_are_alert_procedures(
    text: str, alerts: list[tuple[str, str | None, list[str]]]
) -> None:
    assert _alerts(text) == alerts


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        # one sub-heading holds the steps
        ("## AlertA\n**Severity**: warning\n\n### Mitigation\n\n1. Fix\n", ["Fix"]),
        (
            "## AlertA\n**Severity**: warning\n\n### What to do\n\n1. Fix\n2. Check\n",
            ["Fix", "Check"],
        ),
        # two: joined, in order (as before)
        (
            "## AlertA\n**Severity**: warning\n\n### Diagnosis\n\n1. Look\n"
            "\n### Mitigation\n\n1. Fix\n",
            ["Look", "Fix"],
        ),
        # steps of its own come first and alone (as before)
        (
            "## AlertA\n**Severity**: warning\n\n1. Own\n\n### Later\n\n1. Other\n",
            ["Own"],
        ),
        # an alert nested under it keeps its steps
        (
            "## AlertA\n**Severity**: warning\n\n### AlertB\n**Severity**: info\n\n1. B's\n",
            [],
        ),
    ],
)
def test_an_alert_s_steps_under_a_sub_heading(text: str, steps: list[str]) -> None:
    book = parse_runbook(text, name="t")
    alert = book.find_procedure("AlertA")
    assert alert is not None
    assert [s.text for s in alert.steps] == steps
    for step in alert.steps:  # the sub-heading a step sits under: its procedure's section
        (listed,) = [p for p in book.procedures if step in p.steps]
        assert listed.section is not None


@pytest.mark.parametrize(
    ("heading", "alert"),
    [
        ("PostgresDiskFull", True),
        ("InstanceDown", True),
        ("HighCPU", True),
        ("KafkaConsumerLag", True),
        ("CertificateExpiringSoon", True),
        ("high_error_rate", True),
        ("Alert: NodeNotReady", True),
        ("[CRITICAL] PostgresReplicationBroken", True),
        ("PgBouncer", False),
        ("PostgreSQL", False),
        ("GitHub", False),
        ("CleanUp", False),
        ("blue-green", False),
        ("Response", False),
        ("Actions", False),
        ("Disk full", False),
    ],
)
def test_a_heading_that_is_an_alert_s_name(heading: str, alert: bool) -> None:
    book = parse_runbook(f"# Doc\n\n## {heading}\n\n1. Do it\n", name="t")
    assert bool(book.alerts) is alert
