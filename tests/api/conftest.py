"""An in-process Tocsin (real runtime, real database) behind Starlette's TestClient."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import wait_until
from tocsin.app import build_app
from tocsin.runtime import Runtime, Settings
from tocsin.store.settings import Durability

CONFIG = """\
global:
  resolve_timeout: 5m
route:
  receiver: default
  group_by: [alertname]
  routes:
    - receiver: pager
      matchers: ['severity="critical"']
      group_by: [alertname, service]
    - receiver: slack
      matchers: ['severity="warning"']
receivers:
  - name: default
  - name: pager
    webhook_configs:
      - url: http://127.0.0.1:1/pager
  - name: slack
    webhook_configs:
      - url: http://127.0.0.1:1/slack
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [service]
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def runtime(db_url: str, config_path: Path, clock: Clock, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(
        config_path=config_path,
        data_dir=tmp_path,
        database_url=db_url,
        sqlite_durability=Durability.NORMAL,
        max_body_bytes=64 * 1024,
        instance_name="test",
    )
    rt = Runtime(settings, clock)
    yield rt
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(build_app(runtime)) as c:
        yield c


@contextlib.contextmanager
def app_client(
    config: str, db_url: str, tmp_path: Path, clock: Clock, **settings: Any
) -> Iterator[TestClient]:
    """A TestClient over a Runtime of ``config`` (written to ``tmp_path``), closed after."""
    with app_runtime(config, db_url, tmp_path, clock, **settings) as (client, _):
        yield client


@contextlib.contextmanager
def app_runtime(
    config: str, db_url: str, tmp_path: Path, clock: Clock, **settings: Any
) -> Iterator[tuple[TestClient, Runtime]]:
    """:func:`app_client`, and its Runtime."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(config)
    rt = Runtime(
        Settings(
            config_path=path,
            data_dir=tmp_path,
            database_url=db_url,
            sqlite_durability=Durability.NORMAL,
            **settings,
        ),
        clock,
    )
    try:
        with TestClient(build_app(rt)) as c:
            yield c, rt
    finally:
        rt.close()


def first_group(client: TestClient, timeout: float = 30.0) -> dict[str, Any]:
    """The first alert group under an escalation policy, once the engine has opened
    one (the flush that opens it runs in the app's background loop)."""
    found: list[dict[str, Any]] = wait_until(
        lambda: client.get("/api/v1/groups").json(), timeout, "an alert group to open"
    )
    return found[0]


def runtime_of(client: TestClient) -> Runtime:
    """The Runtime behind a client's app (under the middleware in front of it)."""
    app: Any = client.app
    while not isinstance(getattr(app, "rt", None), Runtime):
        app = app.app
    found: Runtime = app.rt
    return found
