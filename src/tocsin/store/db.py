"""Engines and migrations: SQLite (WAL) by default, PostgreSQL (psycopg 3) by URL.

Migrations are applied on start (``open_database``), under a PostgreSQL advisory lock so
that replicas starting together do not race each other. On SQLite, ``close_database``
leaves no write-ahead log holding commits (a backup put in the file's place would have
it replayed over it), and ``reclaim_space`` gives the pages of deleted rows back (new
databases are in incremental auto-vacuum mode).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from tocsin.store.settings import DatabaseSettings

# What a database that cannot be reached raises, through SQLAlchemy or from the
# driver's own cursor (``plainsql``); ``unreachable`` tells those apart from a
# statement the database refused, which is a bug to see in full.
DATABASE_ERRORS = (DBAPIError, psycopg.Error, sqlite3.Error)

# SQLite's result codes of a file that cannot be used now: busy or locked by another
# process, an I/O error, a full disk, a read-only or vanished file.
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_CANTOPEN",
    "SQLITE_READONLY",
)
# PostgreSQL's SQLSTATEs of a server that cannot serve us now: connection exceptions
# (class 08), operator intervention (57P: shutting down, starting up, cannot connect
# now), insufficient resources (class 53: disk full, out of memory, too many
# connections) and read_only_sql_transaction (25006: a write to a hot standby, as after
# a failover, or to a database set default_transaction_read_only). Each passes with the
# server's state, not with the statement: retrying later (a 503) is the answer.
_PG_UNAVAILABLE = ("08", "57P", "53", "25006")


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached or used now (down,
    restarting, the network cut, the file locked or the disk full), rather than that
    it refused a statement (a missing table, a deadlock, a constraint)."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or (exc.orig is not None and unreachable(exc.orig))
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""
        return name.startswith(_SQLITE_UNAVAILABLE)
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        # no SQLSTATE: the client itself failed to connect, or lost the connection
        return state is None or state.startswith(_PG_UNAVAILABLE)
    return False


log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x70C5_1A  # advisory lock key: "tocsin" migrations


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'tocsin.db').resolve()}"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# Each connection's page cache, in KiB (SQLite's default is 2 MiB). An escalation
# storm updates rows and index entries of groups spread over the whole file; with the
# default cache every batch re-read from the OS the pages it had just evicted
# (the sql mode of bench/step_cost.py, 100,000 groups in 5,000-step batches: 29.8 us a
# step at 2 MiB, 24.8 us at 64 MiB, no better at 128 or 256). Pages are allocated as
# they are used, so a small database costs no more.
_SQLITE_CACHE_KIB = 64 * 1024
# How long a statement waits for another connection's lock (the writer's, a
# checkpoint's) before it fails as SQLITE_BUSY.
_SQLITE_BUSY_MS = 30_000


def create(settings: DatabaseSettings) -> Engine:
    url = normalize_url(settings.url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        sync = settings.sqlite_durability.value.upper()

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
            cur.execute(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}")
            cur.close()

        return engine

    given = make_url(url).query
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_pre_ping=True,
        connect_args={k: v for k, v in _PG_CONNECT.items() if k not in given},
    )

    @event.listens_for(engine, "handle_error")
    def _read_only(context: Any) -> None:
        # A session on a server that turned standby (a failover; a multi-host URL or
        # a pooler) stays read-only: dropped, as a broken connection is, so that the
        # next one is made anew, to the primary, instead of a 503 for good.
        state = getattr(context.original_exception, "sqlstate", None)
        if state == "25006":
            context.is_disconnect = True

    if "options" in given:  # the URL's own session settings: left as they are
        return engine

    @event.listens_for(engine, "connect")
    def _session(dbapi_conn: Any, _record: Any) -> None:
        # A SET, not the startup "options" (PgBouncer refuses those, and they would
        # replace PGOPTIONS); it keeps the role's or database's other settings.
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET idle_in_transaction_session_timeout = '{_PG_IDLE_IN_TXN}'")
        dbapi_conn.commit()

    return engine


# Every write transaction of every replica holds the revision counter's row lock
# (``store.revisions``). A replica whose connection hangs mid-transaction (a network
# that drops packets) would hold it, and so stall every replica, for as long as the
# server keeps the session: the server ends such a session after this long idle in a
# transaction (Tocsin's transactions take milliseconds to seconds), TCP keepalives find
# a dead peer, and a connection attempt gives up. A URL that sets one of these (or
# "options") wins.
_PG_IDLE_IN_TXN = "60s"
_PG_CONNECT: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Tocsin than this one."""


def migrate(engine: Engine, to: str = "head") -> None:
    """Bring the schema to the newest migration (``to``: another, for the tests of an
    upgrade), and log where it was and is. Raises SchemaTooNew for a database a newer
    Tocsin migrated: this one would not know its tables."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    newest = scripts.get_current_head()
    if is_sqlite(engine):
        _incremental_if_new(engine)
    with engine.begin() as conn:
        if not is_sqlite(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        was = MigrationContext.configure(conn).get_current_revision()
        if was is not None and was not in {s.revision for s in scripts.walk_revisions()}:
            raise SchemaTooNew(
                f"the database's schema is at revision {was}, which a newer Tocsin made "
                f"(this one knows up to {newest}): run that version, or restore a backup "
                "taken before the upgrade"
            )
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, to)
        now = MigrationContext.configure(conn).get_current_revision()
    if was != now:
        log.info("database schema upgraded from %s to revision %s", was or "nothing", now)
    else:
        log.info("database schema at revision %s", now)


def schema_revisions() -> frozenset[str]:
    """Every schema revision this Tocsin's migrations know (a database at another one
    was made by a newer Tocsin, or is not Tocsin's)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return frozenset(s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions())


class UnusableDatabase(RuntimeError):
    """The SQLite file cannot be opened or migrated; the message names the file."""


def open_database(settings: DatabaseSettings) -> Engine:
    engine = create(settings)
    if settings.url.startswith("sqlite"):
        Path(make_url(settings.url).database or ".").parent.mkdir(parents=True, exist_ok=True)
    try:
        migrate(engine)
    except DATABASE_ERRORS as exc:
        engine.dispose()
        if not is_sqlite(engine):
            raise
        # SQLite's own words ("database disk image is malformed") do not say which
        # file, and the data directory is a setting the reader may not have in mind.
        raise UnusableDatabase(_unusable(sqlite_file(engine), exc)) from exc
    return engine


def _unusable(path: Path, exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    name = getattr(orig, "sqlite_errorname", "") or ""
    said = f"database {path}: {orig}"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return (
            f"{said} (damaged, or not Tocsin's: move it away to start on a new database, "
            "or put a backup in its place with `tocsin restore BACKUP`)"
        )
    return said


def sqlite_file(engine: Engine) -> Path:
    """The file of a SQLite engine."""
    return Path(engine.url.database or "")


def close_database(engine: Engine) -> None:
    """Close the engine's connections for good (the process is stopping). On SQLite,
    first fold the write-ahead log into the file and empty it: SQLite deletes
    ``tocsin.db-wal`` and ``-shm`` only when the process's last connection closes, and
    a thread's connection still open at exit keeps them; a ``-wal`` still holding
    commits, left next to a backup put back in the file's place, would be replayed
    over it (the mix of two databases: a corrupt file). Emptied, it holds nothing to
    replay."""
    try:
        if is_sqlite(engine):
            busy = _truncate_wal(engine, _CLOSE_WAIT_MS)
            if busy:
                log.warning(
                    "%s-wal could not be emptied on close (a read still going on): it "
                    "holds commits %s lacks; keep the two together",
                    sqlite_file(engine),
                    sqlite_file(engine),
                )
    except DATABASE_ERRORS as exc:  # the disk gone: stopping goes on all the same
        log.warning("could not empty the write-ahead log on close: %s", exc)
    finally:
        engine.dispose()


def reclaim_space(engine: Engine) -> int:
    """Give the pages rows were deleted from back to the file system; returns how many.

    On SQLite in incremental auto-vacuum mode (every database Tocsin creates) the free
    pages are moved to the file's end and cut off, then the write-ahead log, which
    holds the cut until a checkpoint, is folded in and emptied. A database made before
    that mode (auto_vacuum NONE: it can only change by a full VACUUM, which would stop
    the writer for as long as it rewrites the file) is left as it is, and the log says
    once how to compact it. PostgreSQL: nothing (autovacuum's job). Blocking: call it
    off the event loop."""
    if not is_sqlite(engine):
        return 0
    raw = engine.raw_connection()
    try:
        conn = _driver(raw)
        (mode,) = conn.execute("PRAGMA auto_vacuum").fetchone()
        if mode != _INCREMENTAL:
            if mode == 0:
                _say_not_incremental(sqlite_file(engine))
            return 0  # FULL (not Tocsin's): freed at each commit already
        (before,) = conn.execute("PRAGMA freelist_count").fetchone()
        left = before
        while left:
            # In bounded steps, each its own transaction: the writer, which waits
            # for the lock each holds, gets in between. executescript runs the
            # statement to its end (execute() takes one step of it: one page).
            conn.executescript(f"PRAGMA incremental_vacuum({_RECLAIM_STEP})")
            (now,) = conn.execute("PRAGMA freelist_count").fetchone()
            if now >= left:
                break
            left = now
    finally:
        raw.close()
    _truncate_wal(engine, _RECLAIM_WAIT_MS)
    freed: int = before - left
    return freed


_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL
# Pages given back per transaction (8 MiB of 4 KiB pages: milliseconds of the lock)
_RECLAIM_STEP = 2048
# How long a TRUNCATE checkpoint waits for reads still going on. It holds the writer
# back while it waits, so a server at work waits little (the next round tries again);
# a server stopping has nothing else to do.
_RECLAIM_WAIT_MS = 500
_CLOSE_WAIT_MS = 5_000
_TOLD_NOT_INCREMENTAL: set[Path] = set()


def _say_not_incremental(path: Path) -> None:
    if path in _TOLD_NOT_INCREMENTAL:
        return
    _TOLD_NOT_INCREMENTAL.add(path)
    log.warning(
        "%s keeps the space of the rows retention forgets (it was made before Tocsin set "
        "SQLite's incremental auto-vacuum): to compact it, take `tocsin backup COPY` "
        "(a compacted copy, in that mode), stop Tocsin and `tocsin restore COPY`",
        path,
    )


def _driver(raw: PoolProxiedConnection) -> sqlite3.Connection:
    conn = raw.driver_connection
    if not isinstance(conn, sqlite3.Connection):  # create() makes pysqlite engines only
        raise TypeError(f"not a sqlite3 connection: {conn!r}")
    return conn


def _truncate_wal(engine: Engine, wait_ms: int) -> bool:
    """Checkpoint the whole write-ahead log into the file and cut the log to nothing;
    whether reads still going on after ``wait_ms`` kept it from finishing."""
    raw = engine.raw_connection()
    try:
        conn = _driver(raw)
        conn.execute(f"PRAGMA busy_timeout={wait_ms}")
        try:
            (busy, _log, _done) = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
    finally:
        raw.close()
    return bool(busy)


def _incremental_if_new(engine: Engine) -> None:
    """Put a database with no tables yet in incremental auto-vacuum mode, so that the
    space of deleted rows can be given back (``reclaim_space``) without a VACUUM. The
    mode must be set before the first table is created; the VACUUM applies it, as each
    connection's ``journal_mode=WAL`` has already written the file's first page."""
    raw = engine.raw_connection()
    try:
        conn = _driver(raw)
        (objects,) = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if objects == 0:
            conn.executescript("PRAGMA auto_vacuum=INCREMENTAL; VACUUM")
    finally:
        raw.close()
