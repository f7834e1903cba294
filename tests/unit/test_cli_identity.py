"""Who the CLI says is acting (silence author, ack/resolve/snooze, overrides): one rule
for every command, as amtool's: the flag, else the login name."""

from __future__ import annotations

import pytest

from tocsin.cli.output import me


@pytest.mark.parametrize(
    ("given", "env", "expected"),
    [
        ("dave", {"USER": "root"}, "dave"),  # the flag wins
        ("", {"LOGNAME": "erin"}, "erin"),  # the login name, as getpass finds it
        ("", {"USER": "frank"}, "frank"),
    ],
)
def test_who_acts(
    given: str, env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert me(given) == expected
