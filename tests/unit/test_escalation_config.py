"""``escalation_policies`` as written in YAML: decoding, rules inside one policy, and the
references across sections that :func:`check_escalation` reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.config import parse_config
from tocsin.config.decode import Decoder, compose
from tocsin.config.errors import ConfigError, ConfigProblem
from tocsin.config.escalation import (
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    Span,
    check_escalation,
    unreached,
)

M = timedelta(minutes=1)


def decode(text: str) -> tuple[tuple[EscalationPolicy, ...], list[tuple[int, str, str]]]:
    node = compose(text)
    assert node is not None
    decoder = Decoder("tocsin.yml")
    value = decoder.decode(node, tuple[EscalationPolicy, ...], "escalation_policies")
    return value, [(p.line, p.key, p.message) for p in decoder.problems]


THREADS_AGENT = """\
- name: critical
  ack_timeout: 30m
  repeat: 1
  steps:
    - targets: [{schedule: primary}]
    - delay: 15m
      targets: [{schedule: secondary}]
    - delay: 15m
      targets: [{person: erin}]
- name: warning
  steps:
    - targets: [{receiver: slack-warnings}]
      urgency: low
    - delay: 2h
      targets: [{receiver: email-oncall}]
      urgency: low
"""


def test_yaml_decodes_into_policies() -> None:
    policies, problems = decode(THREADS_AGENT)
    assert problems == []
    assert policies == (
        EscalationPolicy(
            "critical",
            (
                EscalationStep(timedelta(0), (EscalationTarget(schedule="primary"),)),
                EscalationStep(15 * M, (EscalationTarget(schedule="secondary"),)),
                EscalationStep(15 * M, (EscalationTarget(person="erin"),)),
            ),
            repeat=1,
            ack_timeout=30 * M,
        ),
        EscalationPolicy(
            "warning",
            (
                EscalationStep(timedelta(0), (EscalationTarget(receiver="slack-warnings"),), "low"),
                EscalationStep(120 * M, (EscalationTarget(receiver="email-oncall"),), "low"),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            "- name: x\n  steps:\n    - targets: [{schedule: a, person: b}]\n",
            [
                (
                    3,
                    "escalation_policies[0].steps[0].targets[0]",
                    "a target names exactly one of schedule, person or receiver, "
                    "not schedule & person",
                )
            ],
        ),
        (
            "- name: x\n  steps:\n    - targets: [{}]\n",
            [
                (
                    3,
                    "escalation_policies[0].steps[0].targets[0]",
                    "a target needs one of schedule, person or receiver",
                )
            ],
        ),
        (
            "- name: x\n  steps:\n    - delay: 5m\n",
            [(3, "escalation_policies[0].steps[0].targets", "a step needs at least one target")],
        ),
        (
            "- name: x\n  steps:\n    - targets: [{person: a}]\n      urgency: urgent\n",
            [
                (
                    4,
                    "escalation_policies[0].steps[0].urgency",
                    "urgency must be 'high' or 'low', got 'urgent'",
                )
            ],
        ),
        (
            "- name: x\n  steps:\n    - targets: [{person: a}]\n      delay: 15 minutes\n",
            [
                (
                    4,
                    "escalation_policies[0].steps[0].delay",
                    "unknown unit ' minutes' in duration '15 minutes'",
                )
            ],
        ),
        (
            "- steps: []\n  repeat: -1\n  ack_timeout: 0s\n",
            [
                (1, "escalation_policies[0].name", "an escalation policy needs a name"),
                (1, "escalation_policies[0].steps", "an escalation policy needs at least one step"),
                (2, "escalation_policies[0].repeat", "must be 0 (run the steps once) or more"),
                (
                    3,
                    "escalation_policies[0].ack_timeout",
                    "must be positive (leave it out for no timeout)",
                ),
            ],
        ),
        (
            "- name: x\n  repeat: 2\n  steps:\n    - targets: [{person: a}]\n",
            [
                (
                    2,
                    "escalation_policies[0].repeat",
                    "repeating needs a pause between rounds: set repeat_delay "
                    "(the last step's delay, used by default, is 0)",
                )
            ],
        ),
        (
            "- name: x\n  repeat: 2\n  repeat_delay: 10m\n  steps:\n    - targets: [{person: a}]\n",
            [],
        ),
        (
            "- name: x\n  escalate_after: 5m\n  steps:\n    - targets: [{person: a}]\n",
            [(2, "escalation_policies[0].escalate_after", "unknown key 'escalate_after'")],
        ),
    ],
)
def test_policy_rules_name_the_key(text: str, problems: list[tuple[int, str, str]]) -> None:
    assert decode(text)[1] == problems


def test_check_escalation_reports_unknown_references_and_duplicates() -> None:
    policies, _ = decode(
        THREADS_AGENT
        + """\
- name: critical
  steps:
    - targets: [{schedule: primery}, {person: zed}, {receiver: pager}]
"""
    )
    problems = list(
        check_escalation(
            policies,
            people_names=["erin", "alice"],
            schedule_names=["primary", "secondary"],
            receiver_names=["slack-warnings", "email-oncall"],
            policy_refs=[
                ("receivers[2].escalation_policy", "warn"),
                ("receivers[0].escalation_policy", "critical"),
            ],
        )
    )
    assert problems == [
        ("escalation_policies[2].name", "escalation policy 'critical' is not unique"),
        (
            "escalation_policies[2].steps[0].targets[0].schedule",
            "undefined schedule 'primery' (did you mean 'primary'?)",
        ),
        ("escalation_policies[2].steps[0].targets[1].person", "undefined person 'zed'"),
        ("escalation_policies[2].steps[0].targets[2].receiver", "undefined receiver 'pager'"),
        (
            "receivers[2].escalation_policy",
            "undefined escalation policy 'warn' (did you mean 'warning'?)",
        ),
    ]


def test_check_escalation_accepts_a_consistent_config() -> None:
    policies, _ = decode(THREADS_AGENT)
    assert (
        list(
            check_escalation(
                policies, ["erin"], ["primary", "secondary"], ["slack-warnings", "email-oncall"]
            )
        )
        == []
    )


PAGED = """\
route: {receiver: pager}
receivers: [{name: pager, escalation_policy: p}]
escalation_policies:
  - name: p
    steps: [{targets: [{schedule: primary}]}, {delay: 5m, targets: [{person: boss}]}]
schedules:
  - name: primary
    layers: [{name: l, rotation: daily, start: 2026-01-05, participants: [ann]}]
"""
SMTP = "smtp_smarthost: '127.0.0.1:25', smtp_from: t@x.org"
SLACK = "slack_api_url: 'http://127.0.0.1:9/s'"
NO_SMTP = "global.smtp_smarthost or smtp_from is not set"
NO_SLACK = "global.slack_api_url (or slack_app_token) is not set"


def nothing(who: str, why: str) -> str:
    return (
        f"{who!r} can be paged by escalation but {why}: nothing would reach them "
        "(contacts_via_api: true if they set their own through the API)"
    )


@pytest.mark.parametrize(
    ("globals_", "people", "problems"),
    [
        # reachable by email with an SMTP server; or by Slack with the workspace's webhook
        (SMTP, "[{name: ann, email: a@x.org}, {name: boss, email: b@x.org}]", []),
        (SLACK, "[{name: ann, slack_user: ann}, {name: boss, slack_user: boss}]", []),
        # in a paged schedule, or paged by name, with nothing to reach them by
        (
            SMTP,
            "[{name: ann}, {name: boss, slack_user: boss}]",
            [
                (10, "people[0]", nothing("ann", "has no email or slack_user")),
                (10, "people[1]", nothing("boss", f"has no email, and {NO_SLACK}")),
            ],
        ),
        # an email with no SMTP server to send it
        (
            SLACK,
            "[{name: ann, email: a@x.org}, {name: boss, slack_user: boss}]",
            [(10, "people[0]", nothing("ann", f"has an email but {NO_SMTP}"))],
        ),
        # rules on a channel the globals do not set up
        (
            SMTP,
            "[{name: ann, email: a@x.org, slack_user: ann, notification_rules: "
            "{high: [{channel: slack}]}}, {name: boss, email: b@x.org}]",
            [(10, "people[0].notification_rules.high[0]", f"slack rule but {NO_SLACK}")],
        ),
        (
            SLACK,
            "[{name: ann, email: a@x.org, slack_user: ann, notification_rules: "
            "{high: [{channel: email}]}}, {name: boss, slack_user: boss}]",
            [(10, "people[0].notification_rules.high[0]", f"email rule but {NO_SMTP}")],
        ),
        # nobody pages a person outside the policies' reach: no contact needed
        (SMTP, "[{name: ann, email: a@x.org}, {name: boss, email: b@x.org}, {name: guest}]", []),
        # contacts set through the API: the server checks them, not check-config
        (SMTP, "[{name: ann, contacts_via_api: true}, {name: boss, email: b@x.org}]", []),
        # ...but a rule the globals cannot send is still the file's problem
        (
            SMTP,
            "[{name: ann, slack_user: ann, contacts_via_api: true, notification_rules: "
            "{high: [{channel: slack}]}}, {name: boss, email: b@x.org}]",
            [(10, "people[0].notification_rules.high[0]", f"slack rule but {NO_SLACK}")],
        ),
        (
            SMTP,
            "[{name: ann, contacts_via_api: yes please}, {name: boss, email: b@x.org}]",
            [
                (
                    10,
                    "people[0].contacts_via_api",
                    "expected a boolean (true or false), got 'yes please'",
                ),
                (10, "people[0]", nothing("ann", "has no email or slack_user")),
            ],
        ),
    ],
)
def test_people_escalation_can_page_must_be_reachable(
    globals_: str, people: str, problems: list[tuple[int, str, str]]
) -> None:
    text = f"global: {{{globals_}}}\n{PAGED}people: {people}\n"
    assert [(p.line, p.key, p.message) for p in check_text(text)] == problems


def check_text(text: str) -> list[ConfigProblem]:
    try:
        parse_config(text, "am.yml")
    except ConfigError as exc:
        return list(exc.problems)
    return []


T0 = datetime(2027, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)


def at(start: int, end: int) -> Span:
    """[start, end) in hours after T0."""
    return (T0 + start * H, T0 + end * H)


def steps(*targets: str) -> EscalationPolicy:
    """A step per ``kind:name`` target."""
    made = []
    for target in targets:
        kind, name = target.split(":")
        made.append(EscalationStep(timedelta(0), (EscalationTarget(**{kind: name}),)))
    return EscalationPolicy("p", tuple(made))


ON_CALL = {"day": [at(8, 16), at(32, 40)], "night": [at(0, 8), at(16, 20)], "none": []}


@pytest.mark.parametrize(
    ("policy", "gaps"),
    [
        # one schedule: its every gap, to the end of the range
        (steps("schedule:day"), [at(0, 8), at(16, 32), at(40, 48)]),
        # two steps: only where both have nobody
        (steps("schedule:day", "schedule:night"), [at(20, 32), at(40, 48)]),
        # a schedule the map lacks, or with nobody ever: all of the range
        (steps("schedule:gone"), [at(0, 48)]),
        (steps("schedule:none"), [at(0, 48)]),
        # a person or a receiver always reaches someone, at any step
        (steps("schedule:none", "person:erin"), []),
        (steps("receiver:chat", "schedule:day"), []),
    ],
)
def test_unreached_is_where_every_step_has_nobody(
    policy: EscalationPolicy, gaps: list[Span]
) -> None:
    assert unreached(policy, ON_CALL, T0, T0 + 48 * H) == gaps


def test_unreached_clips_spans_to_the_range() -> None:
    wide = {"s": [at(-5, 2), at(10, 60)]}
    assert unreached(steps("schedule:s"), wide, T0, T0 + 48 * H) == [at(2, 10)]
    assert unreached(steps("schedule:s"), wide, T0, T0) == []
