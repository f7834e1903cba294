"""A URL's password hidden, as Go's ``url.Redacted`` hides it (``xxxxx``): in the
config the status shows, and in the CLI's messages (kept apart from the config
modules: every ``tocsin`` command imports it, and they take 75 ms to import)."""

from __future__ import annotations

from urllib.parse import urlsplit

MASKED_PASSWORD = "xxxxx"


def masked_url(url: str) -> str | None:
    """``url`` with its password as ``xxxxx``; None when it has none (``user@`` alone
    is shown, as Go shows it)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    userinfo, at, host = netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if not (at and colon):
        return None
    # the first occurrence is the netloc's own: the scheme before it has no "@"
    return url.replace(netloc, f"{user}:{MASKED_PASSWORD}@{host}", 1)
