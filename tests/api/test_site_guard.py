"""A page on another site cannot make a responder's browser change anything (the
security review posted a silence of every alert from another origin, as text/plain,
with the browser's cached basic auth), and no page may be framed by another site.
Clients that are not browsers (amtool, Prometheus, curl) send no Origin and pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock, app_client

CONFIG = """\
route:
  receiver: default
receivers:
  - name: default
tocsin:
  heartbeats:
    - {name: nightly, period: 24h, grace: 1h}
"""
SILENCE = (
    '{"matchers":[{"name":"alertname","value":".+","isRegex":true}],'
    '"startsAt":"2026-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z",'
    '"createdBy":"x","comment":"x"}'
)
ALERT = '[{"labels":{"alertname":"Forged"}}]'
BROWSER_ELSEWHERE = {
    "origin": "https://evil.example",
    "sec-fetch-site": "cross-site",
    "content-type": "text/plain",
}


@pytest.fixture
def client(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    with app_client(CONFIG, db_url, tmp_path, clock) as c:
        yield c


def held(client: TestClient) -> dict[str, Any]:
    """What a forged request could have changed."""
    return {
        "silences": client.get("/api/v2/silences").json(),
        "alerts": client.get("/api/v2/alerts").json(),
        "people": client.get("/api/v1/people").json(),
        "nightly": client.get("/api/v1/heartbeats/nightly").json()["lastPingAt"],
    }


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v2/silences", SILENCE),
        ("POST", "/api/v1/silences", SILENCE),
        ("POST", "/api/v2/alerts", ALERT),
        ("POST", "/api/v1/alerts", ALERT),
        ("POST", "/-/reload", ""),
        ("PUT", "/api/v1/people/mallory", '{"email": "mallory@evil.example"}'),
        ("GET", "/ping/nightly", ""),  # an <img> on another site keeping a dead job alive
        ("POST", "/ui/silences", "matchers=alertname%3D%22X%22&created_by=x&comment=x"),
    ],
)
def test_a_request_another_site_s_page_makes_changes_nothing(
    client: TestClient, method: str, path: str, body: str
) -> None:
    before = held(client)
    refused = client.request(method, path, content=body, headers=BROWSER_ELSEWHERE)
    assert refused.status_code == 403
    assert refused.json() == "a cross-site request may not change anything here"
    assert held(client) == before


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({}, False),  # amtool, Prometheus, curl
        ({"origin": "http://testserver", "sec-fetch-site": "same-origin"}, False),
        ({"origin": "https://evil.example"}, True),  # an older browser: no Sec-Fetch-Site
        ({"sec-fetch-site": "same-site"}, True),  # a sibling subdomain
        ({"origin": "null"}, True),  # a sandboxed frame, a data: URL
    ],
)
def test_who_may_post(client: TestClient, headers: dict[str, str], refused: bool) -> None:
    r = client.post("/api/v2/alerts", content=ALERT, headers=headers)
    assert (r.status_code == 403) is refused, r.text
    names = [a["labels"]["alertname"] for a in client.get("/api/v2/alerts").json()]
    assert names == ([] if refused else ["Forged"])


def test_no_page_may_be_framed_or_sniffed_but_the_status_page(client: TestClient) -> None:
    for path in ("/ui/alerts", "/api/v2/status"):
        r = client.get(path)
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["content-security-policy"] == "frame-ancestors 'none'", path
        assert r.headers["x-content-type-options"] == "nosniff", path
    # the public status page, embedded in a company's own site
    public = client.get("/status")
    assert "x-frame-options" not in public.headers
    assert "content-security-policy" not in public.headers
    assert public.headers["x-content-type-options"] == "nosniff"


def test_routes_whose_requests_prove_themselves_are_judged_by_that_alone(
    client: TestClient,
) -> None:
    """A signed link's confirmation posts back to itself; behind a proxy the Origin
    may not match, and the signature is what counts: refused for its signature, not
    for where it came from (and the same for Slack's and PagerDuty's senders)."""
    for path in ("/act/ack/nosuch", "/api/v1/slack/actions", "/v2/enqueue"):
        r = client.post(path, content=b"", headers=BROWSER_ELSEWHERE)
        assert r.status_code != 403 or "may not change anything" not in r.text, path
