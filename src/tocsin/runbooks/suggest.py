"""suggest_config: a runbook's promises as an Alertmanager/Prometheus starting point.

The runbook says which alerts exist, how severe they are, for how long a condition must
hold, who is told through which channel, and which timers apply. This module writes
that down as two commented YAML documents: an Alertmanager fragment (routes per alert
category, receivers per channel, escalation and SLA timers as comments) and Prometheus
rule skeletons (`expr` left as a placeholder, `for:` from the stated duration). Every
item names the runbook lines it came from; nothing is invented: unknowns are
`<PLACEHOLDER: ...>` strings, so the output is valid YAML that fails loudly if used
unedited.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Literal

from tocsin.runbooks.escalation import within
from tocsin.runbooks.model import (
    AlertCategory,
    AlertProcedure,
    Channel,
    Check,
    EscalationRow,
    Lines,
    Runbook,
    Sla,
    Threshold,
)
from tocsin.runbooks.quantities import describe_duration, find_durations, format_seconds
from tocsin.runbooks.vocabulary import ESCALATION_KEYS

_RECEIVER_KEYS: dict[str, tuple[str, dict[str, str]]] = {
    "pagerduty": ("pagerduty_configs", {"routing_key": "PagerDuty integration key"}),
    "slack": ("slack_configs", {"api_url": "Slack webhook URL"}),
    "email": ("email_configs", {"to": "email address"}),
    "teams": ("msteams_configs", {"webhook_url": "Teams webhook URL"}),
    "opsgenie": ("opsgenie_configs", {"api_key": "Opsgenie API key"}),
    "victorops": ("victorops_configs", {"routing_key": "VictorOps routing key"}),
    "webhook": ("webhook_configs", {"url": "webhook URL"}),
}


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _placeholder(what: str) -> str:
    return _q(f"<PLACEHOLDER: {' '.join(what.split())}>")


def _at(lines: Lines) -> str:
    first, last = lines
    return f"L{first}" if first == last else f"L{first}-{last}"


def _comment(text: str) -> str:
    return " ".join(text.split())


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "receiver"


def rule_name(name: str) -> str:
    """A valid Prometheus alert name: `High 5xx rate` -> `High5xxRate`."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    words = re.findall(r"[A-Za-z0-9]+", name)
    joined = "".join(w[:1].upper() + w[1:] for w in words)
    if not joined or joined[0].isdigit():
        joined = "Alert" + joined
    return joined


def _threshold_text(t: Threshold) -> str:
    """`OpenAI costs > $5/hour`, `p95 latency > 2s`, `Celery queue > 1000 messages`."""
    unit = t.unit or ""
    value = f"{t.value:g}"
    if unit.startswith(("$", "\u20ac", "\u00a3")):
        amount = f"{unit[0]}{value}{unit[1:].strip()}"
    elif unit in ("%", "s", "ms", "m", "h"):
        amount = f"{value}{unit}"
    else:
        amount = f"{value} {unit}".strip()
    metric = f"{t.metric} " if t.metric else ""
    return f"{metric}{t.operator} {amount}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        self.lines.append(line.rstrip())

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


Part = Literal["config", "rules"]


def suggest_config(runbook: Runbook, only: Part | None = None) -> str:
    """Commented Alertmanager fragment and Prometheus rule skeletons for `runbook`: two
    YAML documents, or ``only`` one of them (a file ``check-config`` or ``promtool``
    reads as it is)."""
    w = _Writer()
    origin = runbook.source or runbook.name
    w(f"# Suggested by `tocsin runbook suggest` from {origin}")
    if runbook.title:
        w(f"# ({_comment(runbook.title)}).")
    w("# A starting point, not a finished config: replace every <PLACEHOLDER: ...>.")
    w("# Each item names the runbook lines (Lnn) it was derived from.")
    w()
    if only != "rules":
        _alertmanager(w, runbook)
    if only is None:
        w()
        w("---")
    if only != "config":
        _prometheus(w, runbook)
    return w.text()


# --- Alertmanager --------------------------------------------------------------------


def _category_slug(name: str) -> str:
    """`Business Alerts` -> `business` (the label value alerts carry, see rules below)."""
    return _slug(re.sub(r"\s+(?:alerts?|alarms?)$", "", name.strip(), flags=re.IGNORECASE))


def _routes_from_categories(
    categories: Sequence[AlertCategory], slas: Sequence[Sla]
) -> list[tuple[str, str, str, Lines, list[str], list[Channel]]]:
    """(receiver, matcher, name, lines, notes, channels) per alert category; categories
    without a severity word match on a `category` label and come first, with
    `continue`, so that a business alert of severity warning reaches the business
    receiver and the warning one."""
    by_label = []
    by_severity = []
    for c in categories:
        notes = []
        timers = [sla for sla in slas if sla.context == c.name]
        for sla in timers:
            notes.append(
                f"{sla.kind} {describe_duration(sla.duration)}: {_comment(sla.action)} "
                f"({_at(sla.lines)})"
            )
        if c.escalation and not any(sla.kind == "deadline" for sla in timers):
            notes.append(f"escalation: {_comment(c.escalation)} (no delay stated)")
        # "Escalation: PagerDuty if several components fail" names where it escalates
        # to, not where it is sent first: such channels are not the route's receivers
        later = [f.lines for f in c.fields if f.key.strip().lower() in ESCALATION_KEYS]
        first: list[Channel] = []
        for channel in c.channels:
            if any(within(channel.lines, lines) for lines in later):
                notes.append(
                    f"escalates to {channel.kind} ({_at(channel.lines)}): not a receiver "
                    "of this route; a later escalation step"
                )
            else:
                first.append(channel)
        if c.severity:
            matcher = f'severity="{c.severity}"'
            by_severity.append((_slug(c.name), matcher, c.name, c.lines, notes, first))
        else:
            matcher = f'category="{_category_slug(c.name)}"'
            by_label.append((_slug(c.name), matcher, c.name, c.lines, notes, first))
    return by_label + by_severity


def _routes_from_matrix(
    rows: Sequence[EscalationRow],
) -> list[tuple[str, str, str, Lines, list[str], list[Channel]]]:
    out: list[tuple[str, str, str, Lines, list[str], list[Channel]]] = []
    for r in rows:
        if not r.severity:
            continue
        severity = _grade(r.severity)
        notes = [f"criteria: {_comment(r.criteria)}"] if r.criteria else []
        if r.primary:
            notes.append(f"primary: {_comment(r.primary)}")
        if r.backup:
            notes.append(f"backup: {_comment(r.backup)}")
        out.append(
            (f"{_slug(r.severity)}", f'severity="{severity}"', r.severity, r.lines, notes, [])
        )
    return out


def _grade(severity: str) -> str:
    """A matrix row's severity as a label value: ``SEV-1`` -> ``sev1``."""
    return re.sub(r"[^a-z0-9]", "", severity.lower())


def _matrix_grades(runbook: Runbook) -> list[str]:
    """The severity label values of the escalation matrix's rows (``sev1``...)."""
    return [_grade(r.severity) for m in runbook.escalation_matrices for r in m.rows if r.severity]


def _alertmanager(w: _Writer, runbook: Runbook) -> None:
    w("# --- Alertmanager (alertmanager.yml): route tree and receivers ---------------------")
    routes = _routes_from_categories(runbook.categories, runbook.slas) or _routes_from_matrix(
        [r for m in runbook.escalation_matrices for r in m.rows]
    )
    if not routes:  # no categories or matrix: one route per severity the alerts use
        first_seen: dict[str, Lines] = {}
        for alert in runbook.alerts:
            if alert.severity and alert.severity not in first_seen:
                first_seen[alert.severity] = alert.lines
        routes = [
            (_slug(sev), f'severity="{sev}"', sev, lines, [], [])
            for sev, lines in first_seen.items()
        ]
    if any(c.kind == "email" for *_, channels in routes for c in channels):
        # email_configs need an SMTP server; Alertmanager takes it from `global`
        w("global:")
        w(f"  smtp_smarthost: {_placeholder('SMTP server host:port')}")
        w(f"  smtp_from: {_placeholder('sender email address')}")
    w("route:")
    w(f"  receiver: default  # {_comment('catch-all; ' + _placeholder('default receiver'))}")
    w("  group_by: [alertname]")
    if routes:
        w("  routes:")
    for receiver, matcher, name, lines, notes, _ in routes:
        w(f"    # {_comment(name)} ({_at(lines)})")
        for note in notes:
            w(f"    #   {note}")
        w(f"    - matchers: ['{matcher}']")
        w(f"      receiver: {_q(receiver)}")
        if matcher.startswith("category="):
            # a critical infrastructure alert must still reach the critical route
            w("      continue: true")
    w("receivers:")
    w("  - name: default")
    for receiver, _, name, lines, _, channels in routes:
        w(f"  - name: {_q(receiver)}  # {_comment(name)} ({_at(lines)})")
        _receiver_configs(w, channels)
    _timers(w, runbook)
    _policy_sketches(w, runbook)
    _tocsin_sketches(w, runbook)


def _receiver_configs(w: _Writer, channels: Sequence[Channel]) -> None:
    if not channels:
        w("    # <PLACEHOLDER: no channel stated in the runbook for this route>")
        return
    by_key: dict[str, list[Channel]] = {}
    for channel in channels:
        if channel.kind in _RECEIVER_KEYS:
            by_key.setdefault(channel.kind, []).append(channel)
        else:
            w(
                f"    # {channel.kind} ({_at(channel.lines)}): "
                "no Alertmanager receiver; notify by hand"
            )
    for kind, found in by_key.items():
        key, fields = _RECEIVER_KEYS[kind]
        w(f"    {key}:")
        for channel in found:
            w(f"      # {_comment(channel.text)} ({_at(channel.lines)})")
            first = True
            if kind == "slack":
                value = _q(channel.target) if channel.target else _placeholder("Slack channel")
                w(f"      - channel: {value}")
                first = False
            if kind == "email" and channel.target:
                w(f"      - to: {_q(channel.target)}")
                first = False
            for field, what in fields.items():
                if kind == "email" and field == "to" and channel.target:
                    continue
                prefix = "      - " if first else "        "
                w(f"{prefix}{field}: {_placeholder(what)}")
                first = False


def _timers(w: _Writer, runbook: Runbook) -> None:
    if runbook.slas:
        w()
        w("# Timers stated in the runbook (comments: nothing runs them until they are made")
        w("# escalation policy steps, see the sketches below, or kept as team practice):")
        for sla in runbook.slas:
            context = f" [{_comment(sla.context)}]" if sla.context else ""
            w(
                f"#   {_at(sla.lines)}: {sla.kind} {describe_duration(sla.duration)}: "
                f"{_comment(sla.action)}{context}"
            )
    if runbook.escalation_levels:
        w()
        w("# Escalation levels (an escalation policy; targets to fill in):")
        for level in runbook.escalation_levels:
            delay = f"after {describe_duration(level.delay)}" if level.delay else "immediately"
            w(
                f"#   {_at(level.lines)}: level {level.number} {delay}: {_comment(level.name)} "
                f"-> <PLACEHOLDER: escalation target>"
            )
    if runbook.contacts:
        w()
        w("# Contacts:")
        for contact in runbook.contacts:
            w(f"#   {_at(contact.lines)}: {_comment(contact.role)}: {_comment(contact.value)}")


def _policy_sketches(w: _Writer, runbook: Runbook) -> None:
    """An "escalate if not acknowledged within N" deadline of an alert category is what
    a Tocsin escalation policy runs: sketched (commented out, its targets to fill in),
    with the receiver key that turns it on."""
    for c in runbook.categories:
        for sla in runbook.slas:
            if sla.context != c.name or sla.kind != "deadline":
                continue
            if "acknowledg" not in f"{sla.action} {sla.text}".lower():
                continue
            name = _slug(c.name)
            delay = format_seconds(sla.duration.seconds)
            w()
            w(f"# {_comment(c.name)}: escalated after {delay} if not acknowledged")
            w(f"# ({_at(sla.lines)}). Tocsin runs this as an escalation policy (README,")
            w("# On-call): uncomment, fill in the targets, add people and schedules, and")
            w(f"# give the receiver {name!r} the line `escalation_policy: {name}`.")
            w("# escalation_policies:")
            w(f"#   - name: {name}")
            w("#     steps:")
            w("#       - delay: 0s")
            w('#         targets: [{schedule: "<PLACEHOLDER: on-call schedule>"}]')
            w(f"#       - delay: {delay}  # {_at(sla.lines)}")
            w('#         targets: [{person: "<PLACEHOLDER: escalation target>"}]')


def _tocsin_sketches(w: _Writer, runbook: Runbook) -> None:
    """What Tocsin runs itself rather than Prometheus or Alertmanager, sketched under
    one ``tocsin:`` key (commented out like the policies: the section makes the file
    Tocsin's own): heartbeats, probes and incidents."""
    beats, probes = _heartbeat_lines(runbook), _probe_lines(runbook)
    incidents = _incident_lines(runbook)
    if not beats and not probes and not incidents:
        return
    w()
    if beats:
        w("# Heartbeats: jobs that must ping Tocsin (README, Heartbeats). Uncomment, and have")
        w("# each job POST to /api/v1/heartbeats/NAME (or run under `tocsin heartbeat run`).")
    if probes:
        w("# Probes: the runbook's health checks, requested by Tocsin itself (README, Probes):")
        w("# fill in each host; ProbeFailing fires after `failures` failed requests in a row.")
    if incidents:
        w("# Incidents (README, Incidents): the severities an incident is declared at, and")
        w("# what each owes (a missed one raises an alert). Every severity below is given")
        w("# what the runbook says of incidents: drop what a minor one does not owe.")
    w("# tocsin:")
    for line in [*beats, *probes, *incidents]:
        w(f"#{line}")


def _heartbeat_lines(runbook: Runbook) -> list[str]:
    """A heartbeat check ("the nightly cron job pings every 24 hours") is what Tocsin's
    heartbeats run, not a Prometheus rule."""
    beats = [c for c in runbook.checks if c.kind == "heartbeat"]
    if not beats:
        return []
    out = ["   heartbeats:"]
    for check in beats:
        out.append(f"     # {_at(check.lines)}: {_comment(check.text)}")
        generic = not check.name or _slug(check.name) in ("heartbeat", "cron", "dead-man")
        name = _placeholder("the job's name") if generic else _slug(check.name or "")
        out.append(f"     - name: {name}")
        if check.interval is None:
            out.append(f"       period: {_placeholder('how often it pings')}")
        else:
            period = format_seconds(check.interval.seconds)
            out.append(f"       period: {period}  # {_at(check.interval.lines)}")
        if check.section:
            url = _q(_runbook_url(runbook, check.section))
            out.append(f"       annotations: {{runbook_url: {url}}}")
    return out


# the methods a probe sends (``config.model.Probe``)
_PROBE_METHODS = ("GET", "HEAD", "POST")
# "should return 200 within 300ms", "answers HTTP 204 in under 2 seconds"
_ANSWERS = re.compile(
    r"\b(?:returns?|answers?|responds?|replies)\s+(?:with\s+)?(?:an?\s+)?(?:HTTP\s+)?"
    r"([1-5]\d\d)\b",
    re.IGNORECASE,
)
_WITHIN = re.compile(r"\b(?:within|in\s+under|under|in\s+less\s+than)\s+$", re.IGNORECASE)


def _probe_expects(text: str) -> tuple[str | None, str | None]:
    """The status a health check says it answers, and the time it says it answers
    within (a probe's ``expect_status`` and ``timeout``), where it says them."""
    status = m.group(1) if (m := _ANSWERS.search(text)) else None
    timeout = next(
        (
            format_seconds(f.duration[0])
            for f in find_durations(text)
            if f.duration and _WITHIN.search(text[: f.start])
        ),
        None,
    )
    return status, timeout


def _probe_url(check: Check) -> tuple[str, str] | None:
    """(method, url) of the probe a check becomes, or None (a check Tocsin cannot
    request: a threshold, or a method probes do not send): "GET /health" on a host
    the runbook does not name, a URL as written, a "host:port" connected to."""
    target = check.target or ""
    if check.kind == "tcp" and target:
        return "GET", f"tcp://{target}"
    if check.kind != "http" or not target:
        return None
    method, _, path = target.rpartition(" ")
    method = method or "GET"
    if method not in _PROBE_METHODS:
        return None
    if path.startswith(("http://", "https://")):
        return method, path
    return method, f"http://<PLACEHOLDER: host:port>{path}"


def probe_checks(runbook: Runbook) -> list[tuple[Check, str, str]]:
    """The runbook's checks that Tocsin's probes run, each with its method and URL."""
    return [(c, *found) for c in runbook.checks if (found := _probe_url(c))]


def _probe_lines(runbook: Runbook) -> list[str]:
    """A health check ("Liveness: `GET /health`", "the database answers on db:5432")
    is what Tocsin's probes request, not a Prometheus rule over a blackbox exporter."""
    found = probe_checks(runbook)
    if not found:
        return []
    out, names = ["   probes:"], set[str]()
    for check, method, url in found:
        name = base = _slug(check.name or url.rsplit("/", 1)[-1]) or "probe"
        n = 1
        while name in names:  # names are keys: "Liveness" twice is liveness, liveness-2
            n += 1
            name = f"{base}-{n}"
        names.add(name)
        out.append(f"     # {_at(check.lines)}: {_comment(check.text)}")
        out.append(f"     - name: {name}")
        out.append(f"       url: {_q(url)}")
        if method != "GET":
            out.append(f"       method: {method}")
        if check.interval is not None:
            out.append(f"       interval: {format_seconds(check.interval.seconds)}")
        status, timeout = _probe_expects(check.text)
        if timeout:
            out.append(f"       timeout: {timeout}  # {_at(check.lines)}")
        if status:
            out.append(f"       expect_status: [{status}]  # {_at(check.lines)}")
        if check.failure_threshold:
            out.append(f"       failures: {check.failure_threshold}  # {_at(check.lines)}")
        if check.section:
            url_of = _q(_runbook_url(runbook, check.section))
            out.append(f"       annotations: {{runbook_url: {url_of}}}")
    return out


_POSTMORTEM = re.compile(r"post-?mortem|post-incident review", re.IGNORECASE)
_ON_CALL = re.compile(r"\bon[- ]?call\b", re.IGNORECASE)


def _incident_lines(runbook: Runbook) -> list[str]:
    """The severities of an escalation matrix ("SEV-1 | Complete outage") and what the
    runbook says an incident owes: a status-page update within N (its first update),
    a post-mortem or post-incident review within N."""
    rows = [r for m in runbook.escalation_matrices for r in m.rows if r.severity]
    owed: list[tuple[str, Sla]] = []
    # "planned maintenance: announce at least 48 hours in advance"
    notices = [
        s for s in runbook.slas if s.kind == "advance-notice" and "maintenance" in s.text.lower()
    ]
    for sla in runbook.slas:
        said = f"{sla.action} {sla.text}"
        if sla.kind != "deadline":
            continue
        if "status page" in said.lower():
            owed.append(("first_update_within", sla))
        elif _POSTMORTEM.search(said):
            owed.append(("postmortem_within", sla))
    if not owed and not rows and not notices:
        return []
    out = ["   incidents:"]
    for n, sla in enumerate(notices):  # one value: a second promise stays a comment
        said = f"maintenance_notice: {_calendar(sla)}  # {_at(sla.lines)}: {_comment(sla.text)}"
        out.append(f"     {'# ' if n else ''}{said}")
    if not owed and not rows:
        return out
    out.append("     severities:")
    named: list[tuple[str, str, str, Lines | None]] = [
        (r.severity or "", r.criteria or "", r.primary or "", r.lines) for r in rows
    ]
    seen: set[str] = set()
    for name, criteria, primary, lines in named or [("", "", "", None)]:
        # a name check-config takes (not starting with '_' or '.'), each once
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-").lstrip("_.")
        if slug and slug in seen:
            continue
        seen.add(slug)
        shown = slug or _placeholder("a severity, e.g. SEV1")
        out.append(f"       - name: {shown}" + (f"  # {_at(lines)}" if lines else ""))
        if criteria:
            out.append(f"         description: {_q(criteria)}")
        if _ON_CALL.search(primary):
            # the on-call answers these first: IncidentOpen, routed to the pager, pages
            out.append(f"         alert: true  # primary: {_comment(primary)}")
        given: set[str] = set()
        for key, sla in owed:
            said = f"{key}: {_calendar(sla)}  # {_at(sla.lines)}: {_comment(sla.text)}"
            # one value per key: a second promise of the same kind stays a comment
            out.append(f"         {'# ' if key in given else ''}{said}")
            given.add(key)
    return out


def _calendar(sla: Sla) -> str:
    """The deadline as a duration: N business days are at most N + 2 per started week
    calendar days (3 from a Thursday end on the Tuesday after)."""
    d = sla.duration
    if not d.business:
        return format_seconds(d.seconds)
    n = math.ceil(d.amount)
    return f"{n + 2 * math.ceil(n / 5)}d"


# --- Prometheus ----------------------------------------------------------------------


def _prometheus(w: _Writer, runbook: Runbook) -> None:
    w("# --- Prometheus (rules file): alerting rule skeletons --------------------------------")
    w("groups:")
    w(f"  - name: {_q(_slug(runbook.name))}")
    rules = list(runbook.alerts)
    # heartbeats and probes are sketched above: Tocsin runs them
    probed = {id(c) for c, _, _ in probe_checks(runbook)}
    checks = [c for c in runbook.checks if c.kind != "heartbeat" and id(c) not in probed]
    if not rules and not checks:
        w("    rules: []")
        return
    w("    rules:")
    # routes from the matrix match on severity values its rows name (sev1...): a rule
    # with no severity of its own would reach none of them, so it asks for one
    grades = [] if runbook.categories else _matrix_grades(runbook)
    for alert in rules:
        _alert_rule(w, runbook, alert, grades)
    for check in checks:
        _check_rule(w, runbook, check)


def _alert_rule(
    w: _Writer, runbook: Runbook, alert: AlertProcedure, grades: Sequence[str] = ()
) -> None:
    name = rule_name(alert.name)
    w(f"      # {_comment(alert.name)} ({_at(alert.lines)})")
    w(f"      - alert: {_q(name)}")
    if alert.threshold is not None:
        what = _threshold_text(alert.threshold)
        w(f"        expr: {_placeholder('PromQL for ' + what)}  # {_at(alert.threshold.lines)}")
    else:
        what = alert.description or alert.name
        w(f"        expr: {_placeholder('PromQL for ' + what)}")
    if alert.duration is not None:
        w(f"        for: {format_seconds(alert.duration.seconds)}  # {_at(alert.duration.lines)}")
    labels = []
    if alert.severity:
        labels.append(("severity", _q(alert.severity)))
    elif grades:
        labels.append(("severity", _placeholder(f"one of {', '.join(grades)}")))
    if alert.category:
        labels.append(("category", _q(_category_slug(alert.category))))
    if labels:
        w("        labels:")
        for key, value in labels:
            w(f"          {key}: {value}")
    w("        annotations:")
    w(f"          summary: {_q(_comment(alert.description or alert.name))}")
    if alert.section:
        w(f"          runbook_url: {_q(_runbook_url(runbook, alert.section))}")


def _runbook_url(runbook: Runbook, anchor: str) -> str:
    """Where the rule's alerts find their procedure: the runbook file and the section
    (Tocsin links the file's name to the runbook it serves, and notifications carry
    that runbook's address on Tocsin)."""
    return f"{runbook.source or runbook.name}#{anchor}"


def _check_rule(w: _Writer, runbook: Runbook, check: Check) -> None:
    label = check.name or check.target or check.kind
    name = rule_name(f"{label} {'down' if check.kind == 'http' else 'check'}")
    w(f"      # {check.kind} check ({_at(check.lines)}): {_comment(check.text)}")
    w(f"      - alert: {_q(name)}")
    if check.kind == "http" and check.target:
        interval = (
            f", scraped every {format_seconds(check.interval.seconds)}" if check.interval else ""
        )
        what = f"probe_success == 0 for {check.target} (blackbox exporter{interval})"
    elif check.threshold is not None:
        what = _threshold_text(check.threshold)
    else:
        what = _comment(check.text)
    w(f"        expr: {_placeholder('PromQL for ' + what)}")
    if check.duration is not None:
        w(f"        for: {format_seconds(check.duration.seconds)}  # {_at(check.duration.lines)}")
    elif check.interval is not None and check.failure_threshold:
        held = check.interval.seconds * check.failure_threshold
        w(
            f"        for: {format_seconds(held)}  # {check.failure_threshold} consecutive "
            f"failures x {format_seconds(check.interval.seconds)} ({_at(check.lines)})"
        )
    w("        annotations:")
    w(f"          summary: {_q(_comment(check.text))}")
    if check.section:
        w(f"          runbook_url: {_q(_runbook_url(runbook, check.section))}")


__all__ = ["rule_name", "suggest_config"]
