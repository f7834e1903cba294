"""What every monitor's alert shares: its labels, its annotations, and how long it
fires unless sent again.

A monitor (a heartbeat, a probe) raises ordinary alerts in the store, labelled with
its own kind and name (``heartbeat="NAME"``, ``probe="NAME"``), so they are routed,
grouped, silenced and escalated like any other. Each is computed from what is stored
of the monitor, so every replica, and a restarted Tocsin, raises the same alert with
the same start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from tocsin.alerts.model import PostedAlert

# A firing alert's end is this far ahead, and it is sent again before half of it has
# passed. A monitor that leaves the config has its alerts resolved by the next check;
# this only ends what nothing checks any more (Tocsin stopped for good): a dead job
# stays an alert through a restart, or a database outage, shorter than this.
FIRING_FOR = timedelta(hours=24)


def monitor_labels(
    kind: str, name: str, labels: Mapping[str, str], alertname: str
) -> dict[str, str]:
    """The configured labels, a default severity, and the monitor's own."""
    return {"severity": "critical", **labels, "alertname": alertname, kind: name}


# Its generatorURL is the monitor's row on the console: a link for the responder, and
# how Tocsin tells the alerts it raised from others of the same name (engine.monitor_alerts).
MONITORS_PAGE = "/ui/monitors#"


def console_link(base: str, kind: str, name: str) -> str:
    return f"{base}{MONITORS_PAGE}{kind}-{name}"


def monitor_alert(
    labels: dict[str, str],
    annotations: Mapping[str, str],
    summary: str,
    message: str,
    start: datetime,
    end: datetime,
    link: str,
) -> PostedAlert:
    """The alert: its summary, the configured annotations (a summary of their own
    wins), and the message as its description (what the job or the request said is
    what a responder needs; a configured description gives way to it)."""
    said = {"summary": summary, **annotations, **({"description": message} if message else {})}
    return PostedAlert(
        labels=labels,
        annotations=said,
        starts_at=start,
        ends_at=end,
        generator_url=link,
    )
