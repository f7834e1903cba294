"""Quantities in prose: durations, thresholds, intervals, failure counts.

Runbooks state the numbers Tocsin must run ("for 2+ minutes", "> $5/hour", "every 30
seconds", "two consecutive failures") in free English. These functions find them in a
plain string and return offsets; callers map offsets to source lines. `DURATION` is a
regex fragment (no groups) that other modules embed in their own patterns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tocsin.runbooks.markdown import Inline
from tocsin.runbooks.model import Duration, Threshold

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty-five": 45,
    "sixty": 60,
    "ninety": 90,
}
_WORDS = "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True))

# (pattern, canonical unit, seconds per unit, business)
_UNITS: tuple[tuple[str, str, float, bool], ...] = (
    (r"(?:business|working|work)\s+days?", "business-day", 86400.0, True),
    (r"milliseconds?|millis|msecs?|ms", "millisecond", 0.001, False),
    (r"seconds?|secs?", "second", 1.0, False),
    (r"minutes?|mins?", "minute", 60.0, False),
    (r"hours?|hrs?", "hour", 3600.0, False),
    (r"days?", "day", 86400.0, False),
    (r"weeks?|wks?", "week", 604800.0, False),
    (r"months?", "month", 2592000.0, False),
)
_SHORT_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}
_LONG = "|".join(pattern for pattern, _, _, _ in _UNITS)
_NUM = r"\d+(?:\.\d+)?"

#: A duration, as a group-free regex fragment ("5 minutes", "2+ minutes", "30s",
#: "15-minute", "an hour", "3 business days").
DURATION = (
    rf"(?<![\w.$€£])(?:half\s+an?\s+hour"
    rf"|{_NUM}\s*\+?\s*(?:-\s*)?(?:{_LONG})\b"
    rf"|{_NUM}\+?(?-i:[smhdw])\b"
    rf"|(?:{_WORDS})(?:\s+|-)(?:{_LONG})\b)"
)

_DURATION_RE = re.compile(
    rf"(?<![\w.$€£])(?:(?P<half>half\s+an?\s+hour)"
    rf"|(?P<num>{_NUM})\s*\+?\s*(?:-\s*)?(?P<long>{_LONG})\b"
    rf"|(?P<snum>{_NUM})\+?(?P<short>(?-i:[smhdw]))\b"
    rf"|(?P<word>{_WORDS})(?:\s+|-)(?P<wlong>{_LONG})\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Found:
    """A duration or threshold found at `text[start:end]`."""

    start: int
    end: int
    duration: tuple[float, float, str, bool] | None = None
    threshold: tuple[str | None, str, float, str | None] | None = None


def _unit_of(word: str) -> tuple[str, float, bool]:
    for pattern, unit, seconds, business in _UNITS:
        if re.fullmatch(pattern, word, re.IGNORECASE):
            return unit, seconds, business
    return "second", 1.0, False


def find_durations(text: str) -> list[Found]:
    """Every duration in `text`, in order."""
    found: list[Found] = []
    for m in _DURATION_RE.finditer(text):
        if m.group("half"):
            amount, (unit, per, business) = 0.5, ("hour", 3600.0, False)
        elif m.group("num"):
            amount, (unit, per, business) = float(m.group("num")), _unit_of(m.group("long"))
        elif m.group("snum"):
            unit = _SHORT_UNITS[m.group("short")]
            amount = float(m.group("snum"))
            per = next(s for _, u, s, _ in _UNITS if u == unit)
            business = False
        else:
            amount = float(_NUMBER_WORDS[m.group("word").lower()])
            unit, per, business = _unit_of(m.group("wlong"))
        seconds = amount * per
        if math.isfinite(seconds):
            found.append(Found(m.start(), m.end(), duration=(seconds, amount, unit, business)))
    return found


def parse_duration(text: str) -> Found | None:
    """The first duration in `text`."""
    found = find_durations(text)
    return found[0] if found else None


def duration_at(inline: Inline, text: str, found: Found) -> Duration:
    """A model Duration for a duration found in `text` (== `inline.text` or its mask)."""
    assert found.duration is not None
    seconds, amount, unit, business = found.duration
    if unit != "millisecond":
        seconds = float(round(seconds))
    return Duration(
        seconds=seconds,
        amount=amount,
        unit=unit,
        business=business,
        text=" ".join(text[found.start : found.end].split()),
        lines=inline.lines_of(found.start, found.end),
    )


# --- durations introduced by a preposition -----------------------------------------

_FOR_RE = re.compile(
    r"\b(?:for|lasting|sustained\s+for|persisting\s+for|persists\s+for|over\s+a)\s*:?\s*"
    r"(?:(?:more|longer)\s+than\s+|over\s+|at\s+least\s+|>=?\s*|≥\s*)?"
    rf"(?P<dur>{DURATION})",
    re.IGNORECASE,
)
_INTERVAL_RE: re.Pattern[str] = re.compile(
    rf"\b(?:every|each)\s+(?:(?P<dur>{DURATION})|(?:single\s+)?(?P<bare>second|minute|hour|day|week|month)\b)"
    rf"|\bat\s+(?P<dur2>{DURATION})\s+intervals?\b"
    rf"|\b(?:interval|frequency|period)\s*(?:of|:|=|is)?\s*(?P<dur3>{DURATION})",
    re.IGNORECASE,
)


def _group_duration(m: re.Match[str], group: str) -> Found | None:
    if m.group(group) is None:
        return None
    inner = parse_duration(m.group(group))
    if inner is None:
        return None
    offset = m.start(group)
    return Found(offset + inner.start, offset + inner.end, duration=inner.duration)


def find_for_duration(text: str) -> Found | None:
    """The duration of a condition: `for 5 minutes`, `for >1 minute`, `for 2+ minutes`,
    `for more than 5 minutes`."""
    for m in _FOR_RE.finditer(text):
        found = _group_duration(m, "dur")
        if found is not None:
            return found
    return None


def find_intervals(text: str) -> list[tuple[Found, int, int]]:
    """Repetition periods (`every 30 seconds`, `every minute`, `at 5m intervals`), each
    with the start and end of the whole phrase."""
    out: list[tuple[Found, int, int]] = []
    for m in _INTERVAL_RE.finditer(text):
        bare = m.group("bare")
        if bare:
            unit, per, business = _unit_of(bare)
            found = Found(m.start("bare"), m.end("bare"), duration=(per, 1.0, unit, business))
            out.append((found, m.start(), m.end()))
            continue
        for group in ("dur", "dur2", "dur3"):
            inner = _group_duration(m, group)
            if inner is not None:
                out.append((inner, m.start(), m.end()))
                break
    return out


def find_interval(text: str) -> Found | None:
    found = find_intervals(text)
    return found[0][0] if found else None


# --- thresholds --------------------------------------------------------------------

_WORD_OPERATORS: tuple[tuple[str, str], ...] = (
    (r"(?:rises|goes|spikes|climbs|is)\s+(?:above|over)", ">"),
    (r"(?:drops|falls|dips|goes|is)\s+(?:below|under)", "<"),
    (r"greater\s+than\s+or\s+equal\s+to|at\s+least|no\s+less\s+than|reach(?:es|ing)?", ">="),
    (r"less\s+than\s+or\s+equal\s+to|at\s+most|no\s+more\s+than", "<="),
    (r"(?:greater|more|higher|larger)\s+than|in\s+excess\s+of|exceed(?:s|ing|ed)?", ">"),
    (r"above|over", ">"),
    (r"(?:less|lower|fewer|smaller)\s+than|below|under", "<"),
    (r"not\s+equal\s+to", "!="),
    (r"equals|equal\s+to", "="),
)
_SYMBOLS = {
    ">=": ">=",
    "=>": ">=",
    "≥": ">=",
    "<=": "<=",
    "=<": "<=",
    "≤": "<=",
    "!=": "!=",
    "≠": "!=",
    "==": "=",
    "=": "=",
    ">": ">",
    "<": "<",
}
_SYMBOL_RE = "|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True))
_WORD_RE = "|".join(f"(?:{p})" for p, _ in _WORD_OPERATORS)
_THRESHOLD_RE = re.compile(
    rf"(?:(?P<sym>{_SYMBOL_RE})|(?<![\w-])(?P<word>{_WORD_RE})\b)\s*"
    r"(?P<cur>[$€£])?\s*(?P<val>\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?![\d])"
    r"(?:\s*(?P<unit>%|‰|/[A-Za-z]+|[A-Za-zµ][\w]*(?:/[A-Za-z]+)?))?",
    re.IGNORECASE,
)
_NOT_UNITS = frozenset(
    [
        "for",
        "and",
        "or",
        "in",
        "of",
        "on",
        "over",
        "during",
        "within",
        "then",
        "the",
        "a",
        "an",
        "if",
        "when",
        "per",
        "at",
        "to",
        "from",
        "with",
        "by",
        "is",
        "are",
        "was",
        "be",
        "as",
        "than",
        "consecutive",
        "before",
        "after",
        "until",
        "while",
    ]
)
_BOUNDARY_WORDS = frozenset(
    [
        "if",
        "when",
        "whenever",
        "while",
        "where",
        "or",
        "and",
        "but",
        "once",
        "unless",
        "until",
        "because",
        "alert",
        "alerts",
        "fire",
        "fires",
        "firing",
        "trigger",
        "triggers",
        "flags",
        "flag",
        "shows",
        "show",
        "reports",
        "report",
        "indicates",
        "detect",
        "detects",
        "with",
        "whose",
        "that",
        "which",
    ]
)
_TRAILING_VERBS = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "stays",
        "remains",
        "goes",
        "rises",
        "drops",
        "falls",
        "gets",
        "becomes",
        "has",
        "have",
        "be",
        "being",
        "consistently",
        "constantly",
        "stay",
        "remain",
    ]
)
_LEADING_ARTICLES = frozenset(["the", "a", "an", "its", "their", "our", "your"])
_TIME_UNITS = frozenset(
    [
        "ms",
        "msec",
        "msecs",
        "millisecond",
        "milliseconds",
        "s",
        "sec",
        "secs",
        "second",
        "seconds",
        "m",
        "min",
        "mins",
        "minute",
        "minutes",
        "h",
        "hr",
        "hrs",
        "hour",
        "hours",
        "d",
        "day",
        "days",
        "w",
        "week",
        "weeks",
    ]
)


def _operator(m: re.Match[str]) -> str:
    symbol = m.group("sym")
    if symbol:
        return _SYMBOLS[symbol]
    word = m.group("word")
    for pattern, op in _WORD_OPERATORS:
        if re.fullmatch(pattern, word, re.IGNORECASE | re.DOTALL):
            return op
    return ">"


def _metric(text: str, op_start: int) -> str | None:
    prefix = text[:op_start].rstrip()
    if prefix.endswith("("):
        prefix = prefix[:-1].rstrip()
    cut = max(prefix.rfind(c) for c in ",;:()[]\n!?")
    cut = max(cut, prefix.rfind(". "))
    words = prefix[cut + 1 :].split()
    picked: list[str] = []
    for word in reversed(words):
        if word.lower().strip("*_") in _BOUNDARY_WORDS or len(picked) == 5:
            break
        picked.append(word)
    picked.reverse()
    while picked and picked[-1].lower() in _TRAILING_VERBS:
        picked.pop()
    while picked and picked[0].lower() in _LEADING_ARTICLES:
        picked.pop(0)
    metric = " ".join(picked).strip(" *_")
    return metric or None


def find_thresholds(text: str) -> list[Found]:
    """Comparisons in `text`: `>5%`, `p95 latency >2s`, `exceeding 20 jobs`, `below 0.85`,
    `>$5/hour`. A time value introduced by "for"/"lasting" is a duration, not a threshold."""
    found: list[Found] = []
    for m in _THRESHOLD_RE.finditer(text):
        unit = m.group("unit")
        end = m.end()
        if unit and unit.lower() in _NOT_UNITS:
            unit = None
            end = m.end("val")
        currency = m.group("cur")
        if currency:
            unit = (
                f"{currency}{unit}"
                if unit and unit.startswith("/")
                else (f"{currency} {unit}" if unit else currency)
            )
        if (unit and unit.lower() in _TIME_UNITS) or (unit is None and _is_time_after(text, end)):
            before = text[: m.start()].rstrip().lower()
            if re.search(r"\b(?:for|lasting|over\s+a|for\s+at)$", before):
                continue  # "for >1 minute": the condition's duration
            word = (m.group("word") or "").lower()
            windowed = unit is not None and unit.lower()[:1] in ("m", "h", "d", "w")
            if word in ("over", "in") and windowed and not (unit or "").lower().startswith("ms"):
                continue  # "over 10 minutes": a window, not a comparison
        try:
            value = float(m.group("val").replace(",", ""))
        except ValueError:
            continue
        if not math.isfinite(value):
            continue
        found.append(
            Found(m.start(), end, threshold=(_metric(text, m.start()), _operator(m), value, unit))
        )
    return found


def _is_time_after(text: str, end: int) -> bool:
    return bool(re.match(rf"\s*(?:{_LONG})\b", text[end:], re.IGNORECASE))


def threshold_at(inline: Inline, text: str, found: Found) -> Threshold:
    assert found.threshold is not None
    metric, operator, value, unit = found.threshold
    return Threshold(
        metric=metric,
        operator=operator,
        value=value,
        unit=unit,
        text=" ".join(text[found.start : found.end].split()),
        lines=inline.lines_of(found.start, found.end),
    )


# --- failure counts ----------------------------------------------------------------

_COUNT = rf"\d+|{_WORDS}"
_FAILURES_RE = re.compile(
    rf"\b(?P<n>{_COUNT})\s+(?:consecutive|successive|subsequent|back-to-back|straight|"
    r"failed|missed)\s+(?:\w+\s+)?(?:failures?|checks?|probes?|attempts?|polls?|pings?|"
    r"heartbeats?|times?|runs?|requests?|scrapes?|errors?|timeouts?)\b"
    rf"|\bfail(?:s|ed|ing)?\s+(?P<n2>{_COUNT})\s+(?:consecutive\s+)?times\b"
    rf"|\bafter\s+(?P<n3>{_COUNT})\s+(?:consecutive\s+)?failures?\b",
    re.IGNORECASE,
)


def find_failure_count(text: str) -> int | None:
    """`two consecutive failures` -> 2; `fails 3 times` -> 3."""
    m = _FAILURES_RE.search(text)
    if not m:
        return None
    word = (m.group("n") or m.group("n2") or m.group("n3")).lower()
    if word.isdigit():
        return int(word)
    return _NUMBER_WORDS.get(word)


# --- formatting ----------------------------------------------------------------------

_PROM_UNITS = (("w", 604800000), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000))


def format_seconds(seconds: float) -> str:
    """Prometheus/Alertmanager duration syntax: 300 -> `5m`, 5400 -> `1h30m`, 0.3 -> `300ms`."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    parts = []
    for unit, size in _PROM_UNITS:
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    if ms:
        parts.append(f"{ms}ms")
    return "".join(parts)


def describe_duration(duration: Duration) -> str:
    """Human form for summaries: `5m`, `3 business days`."""
    if duration.business:
        amount = f"{duration.amount:g}"
        return f"{amount} business day" + ("" if duration.amount == 1 else "s")
    return format_seconds(duration.seconds)
