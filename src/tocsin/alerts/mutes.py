"""Mutes: why an alert is not notified. Silences and inhibitions share one interface.

A ``Muter`` answers, for one alert, the ids of whatever mutes it (silence ids, or the
fingerprints of inhibiting alerts). The alert's API state follows from the answers:
``suppressed`` when anything mutes it, otherwise ``active``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tocsin.alerts.labels import LabelSet
from tocsin.alerts.matchers import matches_all
from tocsin.alerts.model import AlertState
from tocsin.alerts.silences import Silence, SilenceState


class Muter(Protocol):
    def muted_by(self, fingerprint: str, labels: LabelSet) -> list[str]: ...


class SilenceMuter:
    """Mutes alerts matched by the silences active at ``now``."""

    def __init__(self, silences: Iterable[Silence], now: datetime) -> None:
        self._active = [s for s in silences if s.state(now) is SilenceState.ACTIVE]

    @property
    def active_ids(self) -> frozenset[str]:
        """The silences in force: the same set mutes the same alerts (a silence whose
        matchers change gets a new id)."""
        return frozenset(s.id for s in self._active)

    def muted_by(self, fingerprint: str, labels: LabelSet) -> list[str]:
        return [s.id for s in self._active if matches_all(s.matchers, labels)]


class NoMutes:
    def muted_by(self, fingerprint: str, labels: LabelSet) -> list[str]:
        return []


@dataclass(frozen=True, slots=True)
class AlertStatus:
    state: AlertState
    silenced_by: tuple[str, ...]
    inhibited_by: tuple[str, ...]


def status_of(fingerprint: str, labels: LabelSet, silencer: Muter, inhibitor: Muter) -> AlertStatus:
    silenced = tuple(sorted(silencer.muted_by(fingerprint, labels)))
    inhibited = tuple(sorted(inhibitor.muted_by(fingerprint, labels)))
    state = AlertState.SUPPRESSED if silenced or inhibited else AlertState.ACTIVE
    return AlertStatus(state, silenced, inhibited)
