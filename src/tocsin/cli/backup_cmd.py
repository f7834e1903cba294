"""``tocsin backup FILE``: a consistent, compacted copy of the SQLite database while
Tocsin runs; ``tocsin restore FILE``: such a copy put back in place, Tocsin stopped.

The backup is SQLite's ``VACUUM INTO``: it reads the database in one read transaction,
so the copy holds every commit up to its start, those still in the write-ahead log too
(a copy of ``tocsin.db`` alone misses them), while the server goes on committing; and it
writes only the pages in use, so the space of rows retention forgot is not copied.
PostgreSQL has ``pg_dump`` and ``pg_restore`` for this.

Putting a backup in place by hand must take ``tocsin.db-wal`` and ``-shm`` away too:
SQLite replays a ``-wal`` it finds next to the file over it, whichever database its
commits came from. ``restore`` does that, and more: it checks the backup first, refuses
while a process has the database open, and keeps the database it replaces (its log
folded in) next to it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from tocsin.cli.output import fail
from tocsin.cli.serve_cmd import DatabaseUrlOption, DataDirOption


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)


def backup(
    file: Annotated[Path, typer.Argument(help="The copy to write (a new file).")],
    data_dir: DataDirOption = Path("data"),
    database_url: DatabaseUrlOption = None,
) -> None:
    """Copy the SQLite database, consistent and compacted, while Tocsin runs (put it
    back with `tocsin restore FILE`, Tocsin stopped). PostgreSQL: use pg_dump."""
    source = _sqlite_file(data_dir, database_url, "backup copies", "pg_dump")
    if not source.is_file():
        fail(f"no database at {source} (--data-dir, --database-url)")
    if file.exists():
        fail(f"{file} exists: name a new file")
    if not file.parent.is_dir():
        fail(f"{file.parent} is not a directory: make it first")
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        revision = _revision(src)
        if revision is None:
            fail(
                f"{source} holds no Tocsin schema revision (not Tocsin's database, or one "
                "whose first start stopped before its schema was made): nothing copied"
            )
        (mode,) = src.execute("PRAGMA auto_vacuum").fetchone()
        if mode == 0:
            # A database made before Tocsin chose incremental auto-vacuum. On a file
            # with tables this changes nothing in it (read-only here anyway): it is
            # the mode the next VACUUM, so the copy, is written in; restored, the copy
            # gives back the space retention frees.
            src.execute("PRAGMA auto_vacuum=INCREMENTAL")
        src.execute("VACUUM INTO ?", (str(file),))
        # SQLite does not fsync what VACUUM INTO writes: a backup taken just before a
        # power cut would otherwise be a file of holes
        _fsync(file)
        _fsync(file.parent)
    except sqlite3.Error as exc:
        file.unlink(missing_ok=True)
        fail(f"backup failed: {exc}")
    finally:
        src.close()
    typer.echo(f"{source} copied to {file} ({file.stat().st_size} bytes, schema {revision})")


def restore(
    file: Annotated[Path, typer.Argument(help="The backup to put back (`tocsin backup`'s).")],
    data_dir: DataDirOption = Path("data"),
    database_url: DatabaseUrlOption = None,
) -> None:
    """Put a backup in place of the SQLite database, Tocsin stopped. The backup is
    checked first; the database it replaces is kept as tocsin.db.before-restore-TIME,
    its write-ahead log folded in. PostgreSQL: use pg_restore."""
    from tocsin.store.db import schema_revisions

    target = _sqlite_file(data_dir, database_url, "restore replaces", "pg_restore")
    if not file.is_file():
        fail(f"no backup at {file}")
    if not target.parent.is_dir():
        fail(f"{target.parent} is not a directory (--data-dir, --database-url)")
    if target.exists() and target.samefile(file):
        fail(f"{file} is the database itself: name a backup")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = target.with_name(f"{target.name}.before-restore-{stamp}")
    # The backup is copied next to the database and checked there: what is checked is
    # what is put in place (the same file system, so the swap is a rename), and the
    # backup itself is only read.
    staged = target.with_name(f"{target.name}.restoring-{stamp}")
    if aside.exists() or staged.exists():
        fail(f"{aside} or {staged} exists: try again in a second")
    try:
        shutil.copyfile(file, staged)
        revision = _check_backup(staged, schema_revisions())
    except (_Refused, OSError) as exc:
        _unlink_with_log(staged)
        fail(f"{file} is not restored: {exc}")
    holder: sqlite3.Connection | None = None
    if target.exists() and not _sqlite_header(target):
        # not opened with SQLite: it would find no database, and on closing delete
        # the -wal next to it, which goes aside with it instead (below)
        typer.echo(f"{target} is damaged (file is not a database): kept as it is", err=True)
    elif target.exists():
        try:
            holder = _exclusive(target)
        except _InUse:
            _unlink_with_log(staged)
            fail(
                f"{target} is open in another process (a Tocsin still running?): "
                "stop it, then restore"
            )
        except sqlite3.Error as exc:
            if not _named(exc, "SQLITE_CORRUPT", "SQLITE_NOTADB"):
                _unlink_with_log(staged)
                fail(f"cannot open {target}: {exc}")
            # SQLite cannot read it, nor can a server run on it. What is left of its
            # -wal and -shm (SQLite folds in what it can as it closes) goes aside with
            # it, under names that keep them together should someone open the copy.
            typer.echo(f"{target} is damaged ({exc}): kept as it is", err=True)
    try:
        if target.exists():
            os.replace(target, aside)
        # left by a file that is unreadable or gone: never next to the backup
        for suffix in ("-wal", "-shm"):
            log_file = target.with_name(target.name + suffix)
            if log_file.exists():
                os.replace(log_file, aside.with_name(aside.name + suffix))
        os.replace(staged, target)
        _fsync(target.parent)
    except OSError as exc:  # each file is whole, under one name or the other
        fail(
            f"restore stopped half-way ({exc}): the backup is {staged} or {target}, the "
            f"database it replaces {target} or {aside}"
        )
    finally:
        if holder is not None:
            holder.close()
    kept = f"; the database it replaced is {aside}" if aside.exists() else ""
    typer.echo(f"{file} restored to {target} (schema {revision}){kept}")


class _Refused(Exception):
    """Why a backup is not put in place."""


class _InUse(Exception):
    """Another connection has the database open."""


def _revision(conn: sqlite3.Connection) -> str | None:
    """The schema revision Alembic recorded, or None (no table, or no row in it)."""
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if "alembic_version" not in names:
        return None
    found = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if found is None else str(found[0])


def _check_backup(staged: Path, revisions: frozenset[str]) -> str:
    """Check that the file is an intact Tocsin database and leave it in rollback-journal
    mode, a lone file (the server puts it back in WAL mode on start); its schema
    revision."""
    conn = sqlite3.connect(staged, isolation_level=None)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        if problems != ["ok"]:
            raise _Refused(f"it is damaged (integrity_check: {'; '.join(problems[:3])})")
        revision = _revision(conn)
        if revision is None:
            raise _Refused("it holds no Tocsin schema")
        if revision not in revisions:
            raise _Refused(
                f"its schema revision {revision} is none this Tocsin knows (a newer "
                "Tocsin's backup: restore it with that version)"
            )
        conn.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.DatabaseError as exc:
        raise _Refused(f"it is not a SQLite database Tocsin can read ({exc})") from None
    finally:
        conn.close()
    _fsync(staged)
    return revision


def _exclusive(target: Path) -> sqlite3.Connection:
    """Fold the database's write-ahead log into it and delete the log, or raise _InUse
    if another connection, of any process, has it open; the connection returned holds
    the file's exclusive lock (until closed), so nobody reads the file being moved.

    Leaving WAL mode (``journal_mode=DELETE``) checkpoints the log, then deletes the
    ``-wal`` and ``-shm``, and so needs the database file's exclusive lock; every
    connection open on a WAL database holds a shared lock on the file from its first
    read until it closes (a server's writer and pooled connections are never idle in
    that sense), so the change fails with SQLITE_BUSY, or leaves the mode as it was,
    while any is open. A database not in WAL mode was not left by a running Tocsin
    (which puts it in WAL mode as it connects)."""
    # the wait covers a process that is just closing (its last connection checkpoints
    # as it goes); a running server holds its lock for good, so a longer one is no use
    conn = sqlite3.connect(target, timeout=1.0, isolation_level=None)
    try:
        (mode,) = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
        if mode != "delete":
            raise _InUse
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
    except sqlite3.OperationalError as exc:
        conn.close()
        if _named(exc, "SQLITE_BUSY", "SQLITE_LOCKED"):
            raise _InUse from exc
        raise
    except BaseException:
        conn.close()
        raise
    return conn


def _sqlite_header(path: Path) -> bool:
    """Whether the file begins as a SQLite database does (or is empty: one yet to be
    written)."""
    with path.open("rb") as f:
        start = f.read(16)
    return start in (b"", b"SQLite format 3\x00")


def _named(exc: sqlite3.Error, *names: str) -> bool:
    return (getattr(exc, "sqlite_errorname", "") or "").startswith(names)


def _sqlite_file(data_dir: Path, database_url: str | None, what: str, instead: str) -> Path:
    # imported here, as serve's modules are: client commands start without them
    from sqlalchemy.engine import make_url

    from tocsin.store.db import sqlite_url

    url = make_url(database_url or sqlite_url(data_dir))
    if url.get_backend_name() != "sqlite":
        fail(f"{what} a SQLite database; on PostgreSQL use {instead}")
    return Path(url.database or "")


def _unlink_with_log(path: Path) -> None:
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        name.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
