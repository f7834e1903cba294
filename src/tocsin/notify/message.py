"""The notification: one alert group, as one receiver is to be told about it at ``now``.

A :class:`Notification` is what the outbox stores and hands to a channel. It is pure
data: the alerts with their state frozen at the notification time (an alert is
resolved when its end time is not after ``now``, as Alertmanager's ``Resolved()``), the
group they belong to, and an idempotency key the caller chose so that a re-send after a
crash can be recognised by receivers that support it (PagerDuty's ``dedup_key`` is the
group's own; email gets a stable ``Message-ID``).

``extra`` is the hook for what Tocsin knows beyond Alertmanager: per alert fingerprint,
a mapping that templates render when present (``runbook_url``, ``runbook_steps``,
``severity``, ...). The webhook payload never includes it, so the Alertmanager-compatible
shape is unchanged whatever is attached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from msgspec import Struct, field
from msgspec.structs import replace

from tocsin.alerts.model import Alert

__all__ = [
    "Notification",
    "tells_of_acks",
    "with_runbook_annotations",
]

_EMPTY: Mapping[str, Mapping[str, Any]] = MappingProxyType({})


class Notification(Struct, frozen=True):
    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[Alert, ...]
    now: datetime
    external_url: str = ""
    # Alerts left out before the notification was built (e.g. a cap in the caller);
    # channels that truncate further (webhook ``max_alerts``) add their own count.
    truncated: int = 0
    idempotency_key: str = ""
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: _EMPTY)
    # news in itself (an incident's resolution announced): sent whatever an
    # integration's send_resolved says
    news: bool = False
    # who took the group: a notice to those already paged that someone is on it (its
    # status, as templates see it, is "acknowledged"; where it goes: ``tells_of_acks``)
    acknowledged_by: str = ""

    def is_resolved(self, alert: Alert) -> bool:
        return alert.resolved(self.now)

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if not a.resolved(self.now))

    @property
    def resolved(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.resolved(self.now))

    @property
    def status(self) -> str:
        """``firing`` if any alert fires, else ``resolved`` (Alertmanager's group status)."""
        return "firing" if any(not a.resolved(self.now) for a in self.alerts) else "resolved"

    def with_alerts(self, alerts: Iterable[Alert]) -> Notification:
        return replace(self, alerts=tuple(alerts))

    def extra_for(self, alert: Alert) -> Mapping[str, Any]:
        return self.extra.get(alert.fingerprint, _EMPTY)


def tells_of_acks(integration: str) -> bool:
    """Whether an acknowledgement notice (``acknowledged_by``) goes through this
    integration (``kind[i]``): not a webhook, whose Alertmanager payload has no
    "acknowledged" (its receiver would read the notice as a page), and not PagerDuty:
    its incident acknowledged, a re-page after an unacknowledgement or an ack timeout
    (a trigger of the same dedup_key) would be folded into it and wake nobody."""
    return not integration.startswith(("webhook[", "pagerduty["))


def with_runbook_annotations(a: Alert, runbook: Mapping[str, Any]) -> Alert:
    """The alert as notified: its linked runbook in annotations, so that even a plain
    webhook receiver (which sees no ``extra``) gets the link and the first steps. An
    annotation the alert already has is kept, except a ``runbook_url`` that is not a
    web address (``rb/db.md#failover``, as ``tocsin runbook suggest`` writes): nobody
    can open that from a phone, so it becomes the runbook's address on Tocsin."""
    added: dict[str, str] = {"runbook_url": str(runbook["runbook_url"])}
    steps = runbook.get("runbook_steps")
    if steps:
        added["runbook_steps"] = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    if runbook.get("runbook_severity"):
        added["runbook_severity"] = str(runbook["runbook_severity"])
    annotations = {**added, **a.annotations}
    if not _web_address(annotations["runbook_url"]):
        annotations["runbook_url"] = added["runbook_url"]
    return replace(a, annotations=annotations)


def _web_address(text: str) -> bool:
    try:
        return urlsplit(text).scheme in ("http", "https")
    except ValueError:  # "http://[x"
        return False
