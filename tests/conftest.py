"""Shared fixtures: databases (SQLite and PostgreSQL), runtimes and live servers.

Every storage test takes ``db_url`` and so runs twice: on a fresh SQLite file and on a
fresh PostgreSQL database created for the test session (from
``TOCSIN_TEST_POSTGRES_URL``) and dropped at its end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tocsin.store.db import normalize_url

PG_ENV = "TOCSIN_TEST_POSTGRES_URL"

# Property tests judge outcomes, never time: hypothesis' default 200 ms deadline per
# example fails a correct test on a loaded machine (CI on two busy cores).
settings.register_profile("tocsin", deadline=None)
settings.load_profile("tocsin")


@pytest.fixture(scope="session")
def pg_server_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI"):
        pytest.fail(f"{PG_ENV} must be set in CI: storage tests run on PostgreSQL too")
    return url


def _admin_engine(url: str) -> Engine:
    return create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tocsin.db'}"
        return
    server: str | None = request.getfixturevalue("pg_server_url")
    if not server:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL run not possible here")
    name = f"tocsin_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(server)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(normalize_url(server)).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
