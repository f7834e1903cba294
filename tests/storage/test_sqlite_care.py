"""A SQLite database's care on real files: ``tocsin restore`` puts back exactly what
``tocsin backup`` copied (never the write-ahead log of the database it replaces, which
SQLite would replay over the backup), and not while a process has the database open;
a stopped server leaves no log holding commits; space freed by deleted rows goes back
to the file system; a damaged file is named when it stops the start."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from tocsin.cli.main import app
from tocsin.store import tables
from tocsin.store.db import (
    UnusableDatabase,
    close_database,
    open_database,
    reclaim_space,
)
from tocsin.store.settings import DatabaseSettings, Durability


def open_db(path: Path) -> Engine:
    return open_database(DatabaseSettings(f"sqlite:///{path}", Durability.NORMAL))


def write_alerts(engine: Engine, prefix: str, n: int, size: int = 10) -> None:
    rows = [
        {
            "fingerprint": f"{prefix}{i:015d}"[:16],
            "labels": "x" * size,
            "annotations": "{}",
            "starts_at": 1,
            "ends_at": 2,
            "generator_url": "",
            "updated_at": 1,
            "timeout": False,
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(tables.alerts.insert(), rows)


def backed_up(data: Path, tmp_path: Path, n: int, size: int = 10) -> tuple[Path, Engine, Path]:
    """``tocsin.db`` in ``data`` with ``n`` alerts written, its engine (still open),
    and a backup of it taken then."""
    db = data / "tocsin.db"
    engine = open_db(db)
    write_alerts(engine, "a", n, size)
    copy = tmp_path / "backup.db"
    backup(db, copy)
    return db, engine, copy


def fingerprints(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        return {row[0] for row in conn.execute("SELECT fingerprint FROM alerts")}


def intact(path: Path) -> bool:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def pragma(path: Path, name: str) -> int:
    with closing(sqlite3.connect(path)) as conn:
        value: int = conn.execute(f"PRAGMA {name}").fetchone()[0]
    return value


def names(prefix: str, n: int) -> set[str]:
    return {f"{prefix}{i:015d}"[:16] for i in range(n)}


def backup(database: Path, copy: Path) -> None:
    done = CliRunner().invoke(app, ["backup", str(copy), "--data-dir", str(database.parent)])
    assert done.exit_code == 0, done.output


def restore(copy: Path, data: Path) -> tuple[int, str]:
    done = CliRunner().invoke(app, ["restore", str(copy), "--data-dir", str(data)])
    return done.exit_code, done.output


def aside_of(data: Path) -> list[Path]:
    found = data.glob("tocsin.db.before-restore-*")
    return sorted(p for p in found if not p.name.endswith(("-wal", "-shm")))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def test_restore_puts_back_exactly_the_backup_and_not_while_the_database_is_open(
    data: Path, tmp_path: Path
) -> None:
    db, engine, copy = backed_up(data, tmp_path, 20)
    write_alerts(engine, "b", 30)  # after the backup: gone once it is restored
    # a loop's thread still holding its connection as the server stops: SQLite keeps
    # the -wal while any connection is open, so the stop must empty it
    held = engine.connect()
    held.execute(text("SELECT count(*) FROM alerts")).one()
    close_database(engine)
    wal = data / "tocsin.db-wal"
    assert wal.stat().st_size == 0  # every commit in tocsin.db, nothing to replay

    refused, said = restore(copy, data)
    assert (refused, "is open in another process" in said) == (1, True), said
    assert fingerprints(db) == names("a", 20) | names("b", 30)  # untouched
    assert sorted(p.name for p in data.iterdir()) == ["tocsin.db", "tocsin.db-shm", "tocsin.db-wal"]

    held.invalidate()  # the thread's connection closed at last (the process ends)
    held.close()
    done, said = restore(copy, data)
    assert done == 0, said
    assert fingerprints(db) == names("a", 20)
    assert intact(db)
    (aside,) = aside_of(data)
    assert fingerprints(aside) == names("a", 20) | names("b", 30)  # kept, log and all
    assert sorted(p.name for p in data.iterdir()) == ["tocsin.db", aside.name]
    # a server starts on it (migrations at head) and writes
    engine = open_db(db)
    write_alerts(engine, "c", 5)
    close_database(engine)
    assert fingerprints(db) == names("a", 20) | names("c", 5)


# The server of test_restore_after_a_kill_9...: writes the alerts, says so, and waits
# to be killed, its commits in the write-ahead log (short of SQLite's automatic
# checkpoint, 1,000 pages).
SERVER = """
import sys
from pathlib import Path
from tests.storage.test_sqlite_care import open_db, write_alerts
engine = open_db(Path(sys.argv[1]))
write_alerts(engine, "b", 30)
print("written", flush=True)
sys.stdin.read()
"""


def test_restore_after_a_kill_9_keeps_the_log_in_the_database_it_moves_aside(
    data: Path, tmp_path: Path
) -> None:
    """The operator's case: the server killed, its -wal full of commits the backup
    lacks. Copied over tocsin.db by hand, the backup would have that log replayed over
    it (a corrupt file); restored, the log goes into the copy kept aside."""
    db, engine, copy = backed_up(data, tmp_path, 20)
    close_database(engine)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline() == "written\n"
        refused, said = restore(copy, data)
        assert (refused, "is open in another process" in said) == (1, True), said
    finally:
        server.kill()
        server.communicate()
    assert (data / "tocsin.db-wal").stat().st_size > 0  # the killed server's commits

    done, said = restore(copy, data)
    assert done == 0, said
    assert (fingerprints(db), intact(db)) == (names("a", 20), True)
    (aside,) = aside_of(data)
    assert (fingerprints(aside), intact(aside)) == (names("a", 20) | names("b", 30), True)
    assert sorted(p.name for p in data.iterdir()) == ["tocsin.db", aside.name]


def test_restore_into_an_empty_data_dir_sets_a_stray_log_aside(data: Path, tmp_path: Path) -> None:
    source = tmp_path / "old" / "tocsin.db"
    source.parent.mkdir()
    engine = open_db(source)
    write_alerts(engine, "a", 3)
    copy = tmp_path / "backup.db"
    backup(source, copy)
    close_database(engine)
    stray = data / "tocsin.db-wal"
    stray.write_bytes(b"a log whose database is gone")

    done, said = restore(copy, data)
    assert done == 0, said
    assert (fingerprints(data / "tocsin.db"), intact(data / "tocsin.db")) == (names("a", 3), True)
    (moved,) = data.glob("tocsin.db.before-restore-*-wal")
    assert moved.read_bytes() == b"a log whose database is gone"
    assert not stray.exists()


def damaged(path: Path) -> None:
    """Overwrite the alerts table's first page with garbage."""
    with closing(sqlite3.connect(path)) as conn:
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'alerts'"
        ).fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    with path.open("r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xa5" * size)


def too_new(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
        conn.commit()


def foreign(path: Path) -> None:
    path.unlink()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.commit()


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        (garbage, "not a SQLite database Tocsin can read"),
        (damaged, "not restored"),  # integrity_check's words, or SQLite's "malformed"
        (foreign, "holds no Tocsin schema"),
        (too_new, "revision 9999 is none this Tocsin knows"),
    ],
    ids=["garbage", "damaged", "not Tocsin's", "newer schema"],
)
def test_restore_refuses_what_is_not_an_intact_tocsin_database(
    data: Path, tmp_path: Path, spoil: Callable[[Path], None], why: str
) -> None:
    db, engine, copy = backed_up(data, tmp_path, 50, size=300)
    close_database(engine)
    spoil(copy)
    before = sorted(data.iterdir())

    refused, said = restore(copy, data)
    assert (refused, f"{copy} is not restored" in said, why in said) == (1, True, True), said
    assert sorted(data.iterdir()) == before  # nothing moved, nothing left behind
    assert fingerprints(db) == names("a", 50)


def no_revision(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DELETE FROM alembic_version")
        conn.commit()


@pytest.mark.parametrize("spoil", [foreign, no_revision], ids=["not Tocsin's", "no revision"])
def test_backup_refuses_a_database_with_no_tocsin_schema(
    data: Path, tmp_path: Path, spoil: Callable[[Path], None]
) -> None:
    """A foreign file, or one whose first start stopped before Alembic recorded its
    revision: one line saying so, exit 1, no copy (the revision's read was a
    TypeError)."""
    db = data / "tocsin.db"
    close_database(open_db(db))
    spoil(db)
    copy = tmp_path / "copy.db"
    done = CliRunner().invoke(app, ["backup", str(copy), "--data-dir", str(data)])
    assert done.exit_code == 1, done.output
    assert done.output == (
        f"error: {db} holds no Tocsin schema revision (not Tocsin's database, or one whose "
        "first start stopped before its schema was made): nothing copied\n"
    )
    assert not copy.exists()


def test_restore_on_postgresql_names_pg_restore() -> None:
    url = "postgresql://nobody@127.0.0.1:1/tocsin"
    done = CliRunner().invoke(app, ["restore", "backup.db", "--database-url", url])
    assert (done.exit_code, "pg_restore" in done.output) == (1, True), done.output


def test_a_new_database_gives_the_space_of_deleted_rows_back(data: Path) -> None:
    db = data / "tocsin.db"
    engine = open_db(db)
    try:
        assert pragma(db, "auto_vacuum") == 2  # incremental: set before the first table
        write_alerts(engine, "a", 12000, size=1500)
        with engine.begin() as conn:
            conn.execute(tables.alerts.delete())
        free, size = pragma(db, "freelist_count"), db.stat().st_size
        assert free > 2 * 2048  # more than one step

        assert reclaim_space(engine) == free
        assert pragma(db, "freelist_count") == 0
        assert db.stat().st_size < size // 10  # the schema, its indexes: what is left
        assert (data / "tocsin.db-wal").stat().st_size == 0  # the cut is in the file
        assert reclaim_space(engine) == 0  # nothing more to give
        assert intact(db)
    finally:
        close_database(engine)


def test_an_older_database_is_told_once_and_compacted_by_backup_and_restore(
    data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = data / "tocsin.db"
    close_database(open_db(db))
    with closing(sqlite3.connect(db)) as conn:  # as Tocsin made them before: no auto-vacuum
        conn.executescript("PRAGMA auto_vacuum=NONE; VACUUM")
    engine = open_db(db)
    assert pragma(db, "auto_vacuum") == 0
    write_alerts(engine, "a", 2000, size=500)
    with engine.begin() as conn:
        kept = tables.alerts.c.fingerprint.in_(names("a", 10))
        conn.execute(tables.alerts.delete().where(~kept))
    free = pragma(db, "freelist_count")
    assert free > 200

    with caplog.at_level(logging.WARNING, logger="tocsin.store.db"):
        assert (reclaim_space(engine), reclaim_space(engine)) == (0, 0)
    (told,) = [r.getMessage() for r in caplog.records if r.name == "tocsin.store.db"]
    assert str(db) in told
    assert "tocsin backup" in told
    assert "tocsin restore" in told
    assert pragma(db, "freelist_count") == free  # left as it was

    copy = tmp_path / "backup.db"
    backup(db, copy)
    close_database(engine)
    assert (pragma(copy, "auto_vacuum"), pragma(copy, "freelist_count")) == (2, 0)
    assert copy.stat().st_size < db.stat().st_size - free * pragma(db, "page_size") // 2
    done, said = restore(copy, data)
    assert done == 0, said
    assert (pragma(db, "auto_vacuum"), fingerprints(db)) == (2, names("a", 10))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_on_postgresql_reclaiming_is_autovacuums_job(db_url: str) -> None:
    engine = open_database(DatabaseSettings(db_url))
    try:
        write_alerts(engine, "a", 10)
        assert reclaim_space(engine) == 0
    finally:
        close_database(engine)


def malformed(path: Path) -> None:
    """The schema's page (after the file header) overwritten: SQLite reads the header,
    then finds "database disk image is malformed"."""
    with path.open("r+b") as f:
        f.seek(100)
        f.write(b"\xa5" * 400)


@pytest.mark.parametrize(
    ("spoil", "words"),
    [(garbage, "file is not a database"), (malformed, "database disk image is malformed")],
    ids=["garbage", "malformed"],
)
def test_a_damaged_database_is_named_when_it_stops_the_start(
    data: Path, spoil: Callable[[Path], None], words: str
) -> None:
    db = data / "tocsin.db"
    close_database(open_db(db))
    spoil(db)
    with pytest.raises(UnusableDatabase) as raised:
        open_db(db)
    assert str(raised.value).startswith(f"database {db}: {words} (")
    assert "tocsin restore" in str(raised.value)

    listen = "127.0.0.1:0"
    served = CliRunner().invoke(app, ["serve", "--data-dir", str(data), "--listen", listen])
    assert served.exit_code == 1
    assert f"error: cannot start: database {db}: {words}" in served.output


def test_a_damaged_database_is_set_aside_with_its_log(data: Path, tmp_path: Path) -> None:
    """The database restore replaces may be why: SQLite cannot fold its log in, so the
    log goes aside with it, under the name SQLite would look for it by."""
    db, engine, copy = backed_up(data, tmp_path, 3)
    close_database(engine)
    garbage(db)
    (data / "tocsin.db-wal").write_bytes(b"its log")

    done, said = restore(copy, data)
    assert done == 0, said
    assert f"{db} is damaged (file is not a database): kept as it is" in said
    assert (fingerprints(db), intact(db)) == (names("a", 3), True)
    (aside,) = aside_of(data)
    assert aside.with_name(aside.name + "-wal").read_bytes() == b"its log"
    assert sorted(p.name for p in data.iterdir()) == ["tocsin.db", aside.name, f"{aside.name}-wal"]


def test_a_backup_by_sqlites_online_backup_is_restored(data: Path, tmp_path: Path) -> None:
    """As an older ``tocsin backup`` made them: a copy of every page, the header's WAL
    mode too. The restored file is a lone file all the same."""
    db = data / "tocsin.db"
    engine = open_db(db)
    write_alerts(engine, "a", 3)
    copy = tmp_path / "backup.db"
    with closing(sqlite3.connect(db)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    write_alerts(engine, "b", 3)
    close_database(engine)
    assert copy.read_bytes()[18:20] == b"\x02\x02"  # WAL mode

    done, said = restore(copy, data)
    assert done == 0, said
    assert (fingerprints(db), intact(db)) == (names("a", 3), True)
    assert sorted(p.name for p in data.iterdir()) == ["tocsin.db", aside_of(data)[0].name]
