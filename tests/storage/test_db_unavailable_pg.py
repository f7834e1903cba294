"""A PostgreSQL database that refuses writes for now (a failover left Tocsin on a hot
standby; ``default_transaction_read_only``) is unavailable, as a server restarting is:
a write answers 503 with Retry-After, not a 500 and a traceback per request."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tests.storage.test_sqlite_care import write_alerts
from tocsin.api.unavailable import Unavailable
from tocsin.store import tables
from tocsin.store.db import close_database, open_database, unreachable
from tocsin.store.settings import DatabaseSettings


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_read_only_database_is_unavailable_a_503(db_url: str) -> None:
    engine = open_database(DatabaseSettings(db_url))
    try:
        name = make_url(db_url).database
        with engine.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
            conn.commit()
        engine.dispose()  # the setting applies to sessions that start after it

        with pytest.raises(DBAPIError) as raised:
            write_alerts(engine, "r", 1)
        assert getattr(raised.value.orig, "sqlstate", None) == "25006"
        assert unreachable(raised.value)
        # the read-only session is dropped, as a broken connection is: the next is
        # made anew (to the primary, after a failover), not a 503 for good
        assert raised.value.connection_invalidated

        api = FastAPI()
        Unavailable().install(api)

        @api.post("/write")
        def write() -> None:
            write_alerts(engine, "r", 1)

        @api.get("/read")
        def read() -> int:
            with engine.connect() as conn:
                return int(
                    conn.execute(select(func.count()).select_from(tables.alerts)).scalar_one()
                )

        with TestClient(api) as client:
            refused = client.post("/write")
            assert (refused.status_code, refused.headers.get("retry-after")) == (503, "5")
            assert "database unavailable" in refused.json()
            assert client.get("/read").json() == 0  # reads go on
    finally:
        close_database(engine)
