"""Configuration problems that name the file, line and key a user has to fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a configuration file.

    ``key`` is the dotted path of the offending setting, e.g.
    ``route.routes[1].receiver``; ``line`` is 1-based.
    """

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}"

    def as_warning(self) -> str:
        """As a warning (a configuration that loads, but should be looked at) is shown:
        ``FILE:LINE: warning: KEY: MESSAGE``."""
        return f"{self.file}:{self.line}: warning: {self.key}: {self.message}"


class ConfigError(ValueError):
    """A configuration that cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: list[ConfigProblem] = sorted(problems, key=lambda p: (p.file, p.line))
        super().__init__("\n".join(str(p) for p in self.problems))
