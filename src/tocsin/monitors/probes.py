"""HTTP probes (synthetic monitoring): Tocsin requests a URL every interval, and a run
of failures is the alert.

A request fails when it cannot be made or answered within the probe's ``timeout``,
when its status is not one the probe expects (any 2xx unless ``expect_status`` lists
them), or when its body lacks ``body_contains``. After ``failures`` failed requests in
a row the probe is ``down`` and ``ProbeFailing`` fires, from the request that made it
so; the next success resolves it. Where a probe stands:

- ``unknown``: not requested yet;
- ``up``: its last request succeeded;
- ``failing``: its last requests failed, fewer than ``failures`` of them in a row;
- ``down``: ``failures`` or more in a row.

Everything here is pure: times are arguments.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from tocsin.alerts.model import PostedAlert
from tocsin.config.durations import format_duration
from tocsin.config.model import Probe
from tocsin.monitors.alerts import FIRING_FOR, console_link, monitor_alert, monitor_labels
from tocsin.timeutil import format_rfc3339

FAILING = "ProbeFailing"
CERT_EXPIRING = "ProbeCertificateExpiring"
ALERTNAMES = (FAILING, CERT_EXPIRING)
ERROR_MAX = 500  # of an error or a body quoted in a result

State = Literal["unknown", "up", "failing", "down"]
STATES: tuple[State, ...] = ("unknown", "up", "failing", "down")


@dataclass(frozen=True, slots=True)
class Result:
    """One request: when it started, whether it passed, and what it got."""

    at: datetime
    ok: bool
    status: int | None  # None: no answer
    error: str  # why it failed ("" when it passed)
    seconds: float
    cert_expires: datetime | None = None  # the server's TLS certificate's (https)


@dataclass(frozen=True, slots=True)
class ProbeRow:
    """What is stored of a probe between requests."""

    name: str
    next_due: datetime
    failures: int = 0  # in a row, up to the last request
    down_since: datetime | None = None  # the request that made it down
    last: Result | None = None
    last_ok_at: datetime | None = None
    runs: int = 0
    lease_until: datetime | None = None  # a replica is requesting it until then
    spec_key: str = ""  # what it was requested as (``spec_key``)


def spec_key(spec: Probe) -> str:
    """What makes a probe's results comparable: a row requested as another probe
    (another URL, another test, another count of failures) starts afresh."""
    parts = (spec.method, spec.url, spec.failures, spec.expect_status, spec.body_contains)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def due_at(row: ProbeRow, interval: timedelta) -> datetime:
    """When the next request is due: as stored, or sooner if the interval was
    shortened since (a probe moved from 1h to 30s waits 30s, not an hour)."""
    if row.last is None:
        return row.next_due
    return min(row.next_due, row.last.at + interval)


def shown_url(url: str) -> str:
    """The URL as messages and pages show it: without user information or query (a
    token in either would reach every receiver of the alert)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    query = "?…" if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, "", "")) + query


def judge(
    spec: Probe,
    at: datetime,
    seconds: float,
    status: int | None,
    body: bytes,
    error: str,
    cert_expires: datetime | None = None,
) -> Result:
    """A request's result: ``error`` when it got no answer, else its status and body."""
    if status is None:
        return Result(at, False, None, (error or "no answer")[:ERROR_MAX], seconds)
    expected = spec.expect_status or None
    why = ""
    if (expected is None and not 200 <= status <= 299) or (expected and status not in expected):
        want = ", ".join(map(str, expected)) if expected else "2xx"
        why = f"status {status}, expected {want}"
    elif spec.body_contains and spec.body_contains.encode() not in body:
        why = f"body does not contain {spec.body_contains!r}"
    return Result(at, not why, status, why, seconds, cert_expires)


def connected(at: datetime, seconds: float, error: str) -> Result:
    """A tcp:// probe's result: the connection accepted (``error`` empty), or why not."""
    return Result(at, not error, None, error[:ERROR_MAX], seconds)


def after(spec: Probe, row: ProbeRow, result: Result) -> ProbeRow:
    """The row once ``result`` is in: the next request one interval after this one
    started; the run of failures counted, and down from the one that reached
    ``failures``."""
    due = result.at + spec.interval
    if result.ok:
        return replace(
            row,
            next_due=due,
            failures=0,
            down_since=None,
            last=result,
            last_ok_at=result.at,
            runs=row.runs + 1,
        )
    failures = row.failures + 1
    down = row.down_since or (result.at if failures >= spec.failures else None)
    return replace(
        row, next_due=due, failures=failures, down_since=down, last=result, runs=row.runs + 1
    )


def state(row: ProbeRow) -> State:
    if row.last is None:
        return "unknown"
    if row.failures == 0:
        return "up"
    return "down" if row.down_since is not None else "failing"


def labels_of(spec: Probe, alertname: str) -> dict[str, str]:
    return monitor_labels("probe", spec.name, spec.labels, alertname)


def firing_alert(spec: Probe, row: ProbeRow, now: datetime, base: str = "") -> PostedAlert | None:
    """The alert a down probe raises (None: it raises none); ``base``: Tocsin's
    external URL, for its link to the console."""
    if row.down_since is None or row.last is None:
        return None
    # the same words while it is down: only the description follows the last error
    requests = "request" if spec.failures == 1 else f"{spec.failures} requests in a row"
    summary = (
        f"{spec.verb} {shown_url(spec.url)} is down: {requests} failed "
        f"(probe {spec.name}, every {format_duration(spec.interval)})"
    )
    since = row.last_ok_at
    message = f"{row.last.error}; last success: {format_rfc3339(since) if since else 'never'}"
    labels = labels_of(spec, FAILING)
    link = console_link(base, "probe", spec.name)
    end = now + FIRING_FOR
    return monitor_alert(labels, spec.annotations, summary, message, row.down_since, end, link)


def cert_alert(spec: Probe, row: ProbeRow, now: datetime, base: str = "") -> PostedAlert | None:
    """The warning a certificate within ``cert_expiry`` of its end raises, from the
    moment it entered that window (None: none, or no certificate seen)."""
    expires = None if row.last is None else row.last.cert_expires
    if expires is None or spec.cert_expiry <= timedelta(0) or expires - now > spec.cert_expiry:
        return None
    # the date, not "in N days": the same words every day until it is renewed
    summary = (
        f"The TLS certificate of {shown_url(spec.url)} expires {format_rfc3339(expires)} "
        f"(probe {spec.name}; renew it)"
    )
    labels = {**labels_of(spec, CERT_EXPIRING), "severity": "warning"}
    link = console_link(base, "probe", spec.name)
    start = expires - spec.cert_expiry
    return monitor_alert(labels, spec.annotations, summary, "", start, now + FIRING_FOR, link)
