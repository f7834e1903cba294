"""The web pages' one Jinja2 environment (templates shipped in ``tocsin.web``,
autoescaped) and the filters they share. Times are shown relative to the ``now`` each
page is rendered with, never the wall clock, so a page is a pure function of its data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from tocsin.monitors.probes import shown_url
from tocsin.oncall.escalation import pending_what
from tocsin.runbooks import placeholders
from tocsin.timeutil import format_rfc3339


def _load(name: str) -> str:
    return resources.files("tocsin.web").joinpath("templates", name).read_text("utf-8")


def span(delta: timedelta) -> str:
    """A duration as a responder reads it: the two largest units ("2h 5m", "40s")."""
    seconds = int(abs(delta).total_seconds())
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def relative(when: datetime, now: datetime) -> str:
    """ "5m ago", "in 2h 30m" or "now" (within a second)."""
    delta = when - now
    if abs(delta) < timedelta(seconds=1):
        return "now"
    return f"in {span(delta)}" if delta > timedelta(0) else f"{span(delta)} ago"


def iso(when: datetime | None) -> str:
    return "" if when is None else format_rfc3339(when)


def local_time(when: datetime | None) -> Markup:
    """An instant a responder reads: its RFC 3339 text in UTC, which the page's script
    shows on the browser's own clock ("Tue, 8 Dec, 03:35:08 CET"); without script, or
    in a test, the UTC text stays."""
    if when is None:
        return Markup("")
    text = iso(when)
    return Markup(f'<time class="local" datetime="{text}">{text}</time>')


def in_zone(when: datetime | None, zone: str) -> str:
    """A time on a rota's wall clock: "Tue 8 Dec 09:00 CET" (the exact instant, in UTC,
    is the ``<time>`` element's)."""
    if when is None:
        return ""
    local = when.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


def public_time(when: datetime | None) -> str:
    """A time as a status page's reader reads it: "Dec 7, 21:05 UTC" (the page is
    for customers: no milliseconds; the exact instant is the ``<time>`` element's)."""
    if when is None:
        return ""
    utc = when.astimezone(UTC)
    return f"{utc:%b} {utc.day}, {utc:%H:%M} UTC"


def web_link(url: str) -> str:
    """``url`` if a browser may follow it from the console (http, https, or a path on
    this server), else "": an alert's generatorURL or runbook_url comes from whoever
    posted the alert, and a ``javascript:`` link would run in a responder's session."""
    if url.startswith("/") and not url.startswith("//"):
        return url
    return url if urlsplit(url).scheme.lower() in ("http", "https") else ""


def url_value(value: str) -> str:
    """``value`` if it is one http(s) URL and nothing else (an annotation such as
    runbook_url or dashboard, shown as a link), else "": a sentence is not a link,
    and a path is not one either ("/var is full")."""
    if not value or value.startswith("/") or any(c.isspace() for c in value):
        return ""
    return web_link(value)


ENV = jinja2.Environment(
    loader=jinja2.FunctionLoader(_load),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a misspelt name in a template fails its test
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["iso"] = iso
ENV.filters["public_time"] = public_time
ENV.filters["in_zone"] = in_zone
ENV.filters["local_time"] = local_time
ENV.filters["span"] = span
ENV.filters["web_link"] = web_link
ENV.filters["url_value"] = url_value
ENV.filters["shown_url"] = shown_url
ENV.filters["fill"] = placeholders.fill
ENV.globals["relative"] = relative
ENV.globals["pending_what"] = pending_what


def render(template: str, **context: Any) -> str:
    return ENV.get_template(template).render(**context)
