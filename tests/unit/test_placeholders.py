"""A runbook step's placeholders filled from the alert's labels: the responder reads the
command for the service that fired, and every other placeholder stays as written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.core.runbook_library import RunbookLink
from tocsin.runbooks import placeholders
from tocsin.runbooks.parser import parse_runbook

LABELS = {"alertname": "ServiceDown", "service": "persona-runtime", "namespace": "prod"}


@pytest.mark.parametrize(
    ("text", "filled"),
    [
        ("kubectl get pods -l app=<service>", "kubectl get pods -l app=persona-runtime"),
        (
            "kubectl -n <namespace> logs deploy/<service>",
            "kubectl -n prod logs deploy/persona-runtime",
        ),
        (
            "docker push <registry>/app:<git-sha>",
            "docker push <registry>/app:<git-sha>",
        ),  # no label
        ("check <Service>", "check <Service>"),  # label names are case-sensitive
        ("if a < b and c > d", "if a < b and c > d"),  # not a placeholder
        ("no placeholder at all", "no placeholder at all"),
    ],
)
def test_placeholders_naming_a_label_are_filled(text: str, filled: str) -> None:
    assert placeholders.fill(text, LABELS) == filled


@given(st.text(), st.dictionaries(st.from_regex(r"[a-z_]+", fullmatch=True), st.text()))
def test_without_a_placeholder_a_step_is_untouched(text: str, labels: dict[str, str]) -> None:
    if placeholders.PLACEHOLDER.search(text) is None:
        assert placeholders.fill(text, labels) == text
    assert placeholders.fill(text, {}) == text


def test_a_notification_carries_the_steps_filled_for_its_alert() -> None:
    book = parse_runbook(
        "# Ops\n\n## ServiceDown\n**Severity**: Critical\n\n"
        "1. Check status: `kubectl get pods -l app=<service>`\n"
        "2. Push `<registry>/x`\n",
        name="ops",
    )
    (procedure,) = book.alerts
    link = RunbookLink("ops", "servicedown", procedure, "http://tocsin/runbooks/ops#servicedown")
    assert link.extra(LABELS)["runbook_steps"] == [
        "Check status: kubectl get pods -l app=persona-runtime",  # (as step text reads)
        "Push <registry>/x",
    ]


@pytest.mark.parametrize(
    ("labels", "severity", "written"),
    [
        ({"severity": "critical"}, "critical", "warning"),  # the label chose the route
        ({}, "warning", "warning"),  # no label: the runbook's stands in
    ],
    ids=["label wins", "runbook's"],
)
def test_the_severity_a_page_shows_is_the_alert_s_own(
    labels: dict[str, str], severity: str, written: str
) -> None:
    """A critical page said "Severity: warning" because the runbook's section said so
    (runbook author walk-through); the runbook's word still goes as runbook_severity."""
    book = parse_runbook("# Ops\n\n## DiskFull\n**Severity**: warning\n\n1. Clean up\n", name="ops")
    (procedure,) = book.alerts
    link = RunbookLink("ops", "diskfull", procedure, "http://tocsin/runbooks/ops#diskfull")
    extra = link.extra(labels)
    assert (extra["severity"], extra["runbook_severity"]) == (severity, written)


def test_a_placeholder_in_prose_is_kept_and_filled() -> None:
    """Markdown reads "<instance>" in prose as an HTML tag: the step read "on host ,
    check" everywhere, even for an alert with an instance label (runbook author
    walk-through)."""
    book = parse_runbook(
        "# Ops\n\n## ServiceDown\n**Severity**: critical\n\n"
        "1. On host <instance>, check the dashboard var-instance=<instance>\n",
        name="ops",
    )
    (procedure,) = book.alerts
    assert procedure.steps[0].text == (
        "On host <instance>, check the dashboard var-instance=<instance>"
    )
    link = RunbookLink("ops", "servicedown", procedure, "http://tocsin/runbooks/ops#servicedown")
    assert link.extra({"instance": "db-2:9100"})["runbook_steps"] == [
        "On host db-2:9100, check the dashboard var-instance=db-2:9100"
    ]
