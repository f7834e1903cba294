"""What message templates see: the webhook payload's data, as objects with helpers.

Two audiences read these objects. Alertmanager templates (Go syntax, translated by
:mod:`tocsin.notify.gotemplate`) use Go's names and methods — ``.Alerts.Firing``,
``.CommonLabels.SortedPairs.Values``, ``.GroupLabels.Remove``. Jinja2 templates may use
the same names or the payload's own keys (``status``, ``alerts``, ``commonLabels``,
``alert.labels``). Both read the same instances, so the two kinds of template cannot
disagree about the data.

Each alert also carries ``extra`` (the runbook hook: ``runbook_url``, ``runbook_steps``,
``severity``, ... or an empty mapping).
"""

# Method names are Alertmanager's template API (.Alerts.Firing, .SortedPairs, ...).
# ruff: noqa: N802

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from msgspec import Struct

from tocsin.alerts.model import Alert
from tocsin.notify.message import Notification
from tocsin.notify.payload import (
    alert_status,
    common_pairs,
    displayed_ends_at,
    group_status,
    quote_meta,
)

__all__ = [
    "ACKNOWLEDGED",
    "KV",
    "AlertList",
    "Pair",
    "Pairs",
    "TemplateAlert",
    "TemplateData",
    "template_data",
]

# The group status of an acknowledgement notice (Alertmanager's are firing and resolved):
# "[ACKNOWLEDGED]" in a template that prints .Status, a resolved colour in one that
# tests for "firing"
ACKNOWLEDGED = "acknowledged"


class Pair(Struct, frozen=True):
    Name: str
    Value: str

    @property
    def name(self) -> str:
        return self.Name

    @property
    def value(self) -> str:
        return self.Value


class Pairs(list[Pair]):
    """Alertmanager's ``Pairs``: name/value pairs with ``Names`` and ``Values``."""

    @property
    def Names(self) -> list[str]:
        return [p.Name for p in self]

    @property
    def Values(self) -> list[str]:
        return [p.Value for p in self]

    @property
    def String(self) -> str:
        """How Go prints it: ``alertname=Up, job=node``."""
        return ", ".join(f"{p.Name}={p.Value}" for p in self)


class KV(dict[str, str]):
    """Alertmanager's ``KV``: a label or annotation map with sorted views.

    As Alertmanager's, the sorted views put ``alertname`` first, then the other names
    in order; Go prints a KV (``{{ .CommonLabels }}``) as ``alertname=Up, job=node``.
    """

    @property
    def SortedPairs(self) -> Pairs:
        names = sorted(self)
        if "alertname" in self:
            names.remove("alertname")
            names.insert(0, "alertname")
        return Pairs(Pair(k, self[k]) for k in names)

    @property
    def Names(self) -> list[str]:
        return self.SortedPairs.Names

    @property
    def Values(self) -> list[str]:
        return self.SortedPairs.Values

    @property
    def String(self) -> str:
        return self.SortedPairs.String

    def Remove(self, names: Iterable[str]) -> KV:
        drop = set(names)
        return KV({k: v for k, v in self.items() if k not in drop})

    # Jinja-friendly spellings.
    def sorted_pairs(self) -> Pairs:
        return self.SortedPairs

    def remove(self, names: Iterable[str]) -> KV:
        return self.Remove(names)


class TemplateAlert(Struct, frozen=True):
    Status: str
    Labels: KV
    Annotations: KV
    StartsAt: datetime
    EndsAt: datetime
    GeneratorURL: str
    Fingerprint: str
    extra: Mapping[str, Any]

    @property
    def status(self) -> str:
        return self.Status

    @property
    def labels(self) -> KV:
        return self.Labels

    @property
    def annotations(self) -> KV:
        return self.Annotations

    @property
    def startsAt(self) -> datetime:
        return self.StartsAt

    @property
    def endsAt(self) -> datetime:
        return self.EndsAt

    @property
    def generatorURL(self) -> str:
        return self.GeneratorURL

    @property
    def fingerprint(self) -> str:
        return self.Fingerprint

    @property
    def Extra(self) -> Mapping[str, Any]:
        return self.extra


class AlertList(list[TemplateAlert]):
    """Alertmanager's ``Alerts``: a list with its ``Firing`` and ``Resolved`` subsets."""

    @property
    def Firing(self) -> AlertList:
        return AlertList(a for a in self if a.Status == "firing")

    @property
    def Resolved(self) -> AlertList:
        return AlertList(a for a in self if a.Status == "resolved")

    @property
    def firing(self) -> AlertList:
        return self.Firing

    @property
    def resolved(self) -> AlertList:
        return self.Resolved


class TemplateData(Struct, frozen=True):
    Receiver: str
    Status: str
    Alerts: AlertList
    GroupLabels: KV
    CommonLabels: KV
    CommonAnnotations: KV
    ExternalURL: str
    GroupKey: str
    TruncatedAlerts: int
    # Tocsin's own: who acknowledged, in the notice that tells those already paged
    # (its Status is then "acknowledged")
    AcknowledgedBy: str = ""

    def context(self) -> dict[str, Any]:
        """Top-level Jinja2 variables: the payload's keys and Go's names, plus ``dot``."""
        names = {
            "receiver": self.Receiver,
            "status": self.Status,
            "alerts": self.Alerts,
            "groupLabels": self.GroupLabels,
            "commonLabels": self.CommonLabels,
            "commonAnnotations": self.CommonAnnotations,
            "externalURL": self.ExternalURL,
            "groupKey": self.GroupKey,
            "truncatedAlerts": self.TruncatedAlerts,
            "acknowledgedBy": self.AcknowledgedBy,
        }
        go_names = {
            "Receiver": self.Receiver,
            "Status": self.Status,
            "Alerts": self.Alerts,
            "GroupLabels": self.GroupLabels,
            "CommonLabels": self.CommonLabels,
            "CommonAnnotations": self.CommonAnnotations,
            "ExternalURL": self.ExternalURL,
            "GroupKey": self.GroupKey,
            "TruncatedAlerts": self.TruncatedAlerts,
            "AcknowledgedBy": self.AcknowledgedBy,
        }
        return {**names, **go_names, "dot": self, "root": self, "go_root": self}


# A page's links to act on its group: the same for every alert of it.
_GROUP_LINKS = ("ack_url", "resolve_url", "console_url")


def _shown_extras(notification: Notification) -> list[Mapping[str, Any]]:
    """Each alert's ``extra`` as the message shows it: a storm's group of 13 alerts of
    one runbook says its steps once, with the first alert of that runbook, and its
    acknowledge/resolve links once, with the first alert (the e-mail was 352 lines,
    the same steps and links 13 times); the others keep their runbook's address."""
    seen: set[str] = set()
    linked = False
    shown: list[Mapping[str, Any]] = []
    for alert in notification.alerts:
        extra = notification.extra_for(alert)
        url = str(extra.get("runbook_url") or "")
        drop = {"runbook_steps"} if url and url in seen else set()
        if extra.get("ack_url"):
            drop |= set(_GROUP_LINKS) if linked else set()
            linked = True
        seen.add(url)
        shown.append({k: v for k, v in extra.items() if k not in drop} if drop else extra)
    return shown


def _alert(alert: Alert, notification: Notification, extra: Mapping[str, Any]) -> TemplateAlert:
    now = notification.now
    return TemplateAlert(
        Status=alert_status(alert, now),
        Labels=KV(alert.labels),
        Annotations=KV(alert.annotations),
        StartsAt=alert.starts_at,
        EndsAt=displayed_ends_at(alert, now),
        GeneratorURL=alert.generator_url,
        Fingerprint=alert.fingerprint,
        extra=extra,
    )


def template_data(notification: Notification, *, truncated: int = 0) -> TemplateData:
    """The data for ``notification``'s alerts (already cut by the caller if it must)."""
    alerts = notification.alerts
    status = group_status(alerts, notification.now)
    return TemplateData(
        Receiver=quote_meta(notification.receiver),
        Status=ACKNOWLEDGED if notification.acknowledged_by else status,
        Alerts=AlertList(
            _alert(a, notification, e)
            for a, e in zip(alerts, _shown_extras(notification), strict=True)
        ),
        GroupLabels=KV(notification.group_labels),
        CommonLabels=KV(common_pairs([a.labels for a in alerts])),
        CommonAnnotations=KV(common_pairs([a.annotations for a in alerts])),
        ExternalURL=notification.external_url,
        GroupKey=notification.group_key,
        TruncatedAlerts=notification.truncated + truncated,
        AcknowledgedBy=notification.acknowledged_by,
    )
