"""Where people are reached: chat channels, email addresses, paging services.

Explicit targets (`#alerts-warnings`, `ops@example.com`) count wherever they appear in
prose. Bare product names ("PagerDuty", "Slack", "email") only count where the text is
about routing people (a `Channel:` field, an escalation or contact section), because
elsewhere they are usually the system being operated, not a way to page anyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_SLACK_CHANNEL = re.compile(r"(?<![\w/&#.@-])#(?=[a-z0-9._-]*[a-z])[a-z0-9][a-z0-9._-]*[a-z0-9]")
_HEX_COLOUR = re.compile(r"#(?:[0-9a-f]{3}|[0-9a-f]{6})")
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_BARE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pagerduty", re.compile(r"\bpager\s?duty\b", re.I)),
    ("opsgenie", re.compile(r"\bops\s?genie\b", re.I)),
    ("victorops", re.compile(r"\bvictor\s?ops\b|\bsplunk\s+on-?call\b", re.I)),
    ("slack", re.compile(r"\bSlack\b")),
    ("teams", re.compile(r"\b(?:Microsoft\s+|MS\s+)?Teams\b")),
    ("email", re.compile(r"\be-?mails?\b", re.I)),
    ("sms", re.compile(r"\bSMS\b|\btext\s+messages?\b")),
    ("phone", re.compile(r"\bphone(?:\s+calls?)?\b", re.I)),
    ("statuspage", re.compile(r"\bstatus\s?page\b", re.I)),
    ("webhook", re.compile(r"\bwebhooks?\b", re.I)),
)

#: Section names whose text is about reaching people.
ROUTING_SECTION = re.compile(
    r"escalat|\bcontacts?\b|communicat|\bnotification\s+(?:channels?|routing|polic)|\bnotify\b"
    r"|\bpaging\b|\bpager\b|\bon-?call\b|who\s+to\s+(?:call|page|contact)|stakeholder"
    r"|alert\s+(?:categor|rout)|\brouting\b|\bchannels?\b",
    re.IGNORECASE,
)
#: Field keys whose value names a way to reach people.
ROUTING_KEYS = frozenset(
    {
        "channel",
        "channels",
        "notification channel",
        "notification channels",
        "notify",
        "notification",
        "notifications",
        "contact",
        "contacts",
        "page",
        "paging",
        "route",
        "routing",
        "receiver",
        "receivers",
        "escalation",
        "escalate",
        "escalate to",
        "escalation path",
        "primary",
        "backup",
        "secondary",
        "on-call",
        "oncall",
        "via",
    }
)


@dataclass(frozen=True, slots=True)
class FoundChannel:
    kind: str
    target: str | None
    start: int
    end: int


def find_channels(text: str, *, bare: bool) -> list[FoundChannel]:
    """Channels named in `text` (code already masked). With `bare`, product names count."""
    found: list[FoundChannel] = []
    chat_kind = "teams" if re.search(r"\bTeams\b", text) and "Slack" not in text else "slack"
    for m in _SLACK_CHANNEL.finditer(text):
        if _HEX_COLOUR.fullmatch(m.group()):
            continue
        found.append(FoundChannel(chat_kind, m.group(), m.start(), m.end()))
    for m in _EMAIL.finditer(text):
        found.append(FoundChannel("email", m.group(), m.start(), m.end()))
    if bare:
        explicit = {f.kind for f in found}
        for kind, pattern in _BARE:
            if kind in explicit:
                continue
            if kind == "slack" and "teams" in explicit:
                continue
            for m in pattern.finditer(text):
                found.append(FoundChannel(kind, None, m.start(), m.end()))
                break
    return sorted(found, key=lambda f: f.start)


def is_routing_key(norm_key: str) -> bool:
    return norm_key in ROUTING_KEYS or any(word in ROUTING_KEYS for word in norm_key.split())


def unique(items: Iterable[FoundChannel]) -> list[FoundChannel]:
    seen: set[tuple[str, str | None]] = set()
    out: list[FoundChannel] = []
    for item in items:
        key = (item.kind, item.target)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
