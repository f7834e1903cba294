"""``tocsin backup`` while the server runs: the copy holds every alert accepted, those
still in SQLite's write-ahead log too, compacted, and is a database a server starts
on. On PostgreSQL it refuses, naming pg_dump."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.conftest import CONFIG, Clock, app_client
from tocsin.cli.main import app


def test_a_backup_taken_while_alerts_come_in_holds_every_one_accepted(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    copy = tmp_path / "backup" / "tocsin.db"
    copy.parent.mkdir()
    live = tmp_path / "live"
    live.mkdir()
    with app_client(CONFIG, db_url, live, clock) as client:
        for n in range(50):
            alert = {"labels": {"alertname": "Disk", "instance": f"db{n}"}}
            assert client.post("/api/v2/alerts", json=[alert]).status_code == 200
        taken = CliRunner().invoke(app, ["backup", str(copy), "--database-url", db_url])
        if not db_url.startswith("sqlite"):
            assert (taken.exit_code, "pg_dump" in taken.output) == (1, True)
            assert not copy.exists()
            return
        assert taken.exit_code == 0, taken.output
        assert f"copied to {copy}" in taken.output
        again = CliRunner().invoke(app, ["backup", str(copy), "--database-url", db_url])
        assert (again.exit_code, "exists" in again.output) == (1, True)  # never overwritten
    with closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # VACUUM INTO: only the pages in use, in the mode that gives freed ones back
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,)
        assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)
    restored = tmp_path / "restored"
    restored.mkdir()
    with app_client(CONFIG, f"sqlite:///{copy}", restored, clock) as client:
        assert len(firing(client)) == 50


def firing(client: TestClient) -> list[object]:
    found: list[object] = client.get("/api/v2/alerts").json()
    return found
