"""WAL checkpoints on a thread of their own (SQLite only): a server's connections do not
checkpoint in their commits, the thread copies the log into the database file, and a
crash in between loses nothing committed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, text

from tests.e2e.conftest import wait_until
from tocsin.store.checkpoints import BackgroundCheckpoints
from tocsin.store.db import open_database
from tocsin.store.settings import DatabaseSettings

ROWS = 6000  # 6 MB of log: past the 1,000 4-KiB pages of SQLite's automatic checkpoint


def _engine(path: Path, background: bool) -> Engine:
    url = f"sqlite:///{path}"
    return open_database(DatabaseSettings(url, sqlite_background_checkpoints=background))


def _create(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(text("INSERT INTO filler (v) VALUES ('first')"))
    with engine.connect() as conn:  # the table into the database file
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _fill(engine: Engine, rows: int = ROWS) -> None:
    for start in range(0, rows, 500):  # several commits, as a server makes them
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO filler (v) VALUES (:v)"),
                [{"v": "x" * 1000} for _ in range(start, min(rows, start + 500))],
            )


def test_a_server_connection_leaves_checkpoints_to_the_thread(tmp_path: Path) -> None:
    db = tmp_path / "tocsin.db"
    engine = _engine(db, background=True)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        _create(engine)
        before = db.stat().st_size
        _fill(engine)
        # no commit copied the log back: the database file has not grown
        assert db.stat().st_size == before
        checkpoints = BackgroundCheckpoints(engine, interval=0.01)
        try:
            wait_until(lambda: db.stat().st_size > ROWS * 1000, 30, "the log copied back")
            assert checkpoints.done > 0
        finally:
            checkpoints.close()
    finally:
        engine.dispose()


def test_without_the_setting_commits_checkpoint_as_sqlite_does(tmp_path: Path) -> None:
    db = tmp_path / "tocsin.db"
    engine = _engine(db, background=False)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        _create(engine)
        before = db.stat().st_size
        _fill(engine)
        assert db.stat().st_size > before  # the commit past 1,000 pages copied them
    finally:
        engine.dispose()


# A process that commits rows with the checkpoints left to the thread (stopped, so none
# has run), prints how many, and is killed before it can close anything.
_CRASHER = """
import os, sys
from sqlalchemy import text
from tests.storage.test_checkpoints import _create, _engine, _fill
from pathlib import Path
engine = _engine(Path(sys.argv[1]), background=True)
_create(engine)
_fill(engine)
print("committed", flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_kill_before_any_checkpoint_loses_no_commit(tmp_path: Path) -> None:
    db = tmp_path / "tocsin.db"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _CRASHER, str(db)],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=120,
    )
    assert done.returncode == -9, done.stderr
    assert "committed" in done.stdout
    assert Path(f"{db}-wal").stat().st_size > ROWS * 1000  # the rows were only in the log
    engine = _engine(db, background=False)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM filler")).scalar() == ROWS + 1
    finally:
        engine.dispose()
