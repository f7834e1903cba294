"""Database settings: light enough for the CLI to import without the storage stack."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Durability(StrEnum):
    """SQLite ``synchronous`` setting. FULL survives power loss; NORMAL (in WAL mode)
    survives a process crash (kill -9) but may lose the last commits on power loss."""

    FULL = "full"
    NORMAL = "normal"


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    sqlite_durability: Durability = Durability.FULL
