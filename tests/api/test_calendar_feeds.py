"""Calendar feeds behind basic auth: calendar apps subscribe to a URL and send no
password (security review), so each feed's URL carries its own token, which opens that
feed and no other; without a token the password is asked as everywhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Clock, app_client, runtime_of
from tests.api.test_console import CONFIG
from tocsin.oncall.links import feed_token

ALICE = ("alice", "s3cret-pass")


@pytest.fixture
def client(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    hashed = bcrypt.hashpw(ALICE[1].encode(), bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  {ALICE[0]}: {hashed}\n")
    with app_client(CONFIG, db_url, tmp_path, clock, web_config_path=web) as c:
        yield c


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/api/v1/schedules/primary.ics", "", 401),  # no token: the password, as ever
        ("/api/v1/schedules/primary.ics", "token={own}", 200),
        ("/api/v1/people/alice.ics", "token={own}", 200),
        ("/api/v1/schedules/primary.ics", "token=0123", 403),
        ("/api/v1/schedules/primary.ics", "token=", 403),
        # another feed's token opens no other
        ("/api/v1/people/alice.ics", "token={bob}", 403),
        # a parameter that only ends in "token" is none
        ("/api/v1/schedules/primary.ics", "xtoken={own}", 401),
    ],
    ids=["no token", "schedule", "person", "wrong", "empty", "another's", "xtoken"],
)
def test_a_feed_opens_with_its_own_token(
    client: TestClient, path: str, query: str, status: int
) -> None:
    secret = runtime_of(client).oncall.secret
    asked = query.format(
        own=feed_token(secret, path), bob=feed_token(secret, "/api/v1/people/bob.ics")
    )
    r = client.get(f"{path}?{asked}", auth=None)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.text.startswith("BEGIN:VCALENDAR")


def test_the_console_links_each_feed_with_its_token(client: TestClient) -> None:
    page = client.get("/ui/oncall", auth=ALICE).text
    found = re.findall(r'class="[^"]*calendar" href="([^"]+)"', page)
    assert "/api/v1/people/alice.ics?token=" in " ".join(found)
    assert any(u.startswith("/api/v1/schedules/primary.ics?token=") for u in found), found
    for url in found:
        assert client.get(url, auth=None).status_code == 200, url
