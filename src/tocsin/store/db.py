"""Engines and migrations: SQLite (WAL) by default, PostgreSQL (psycopg 3) by URL.

Migrations are applied on start (``open_database``), under a PostgreSQL advisory lock so
that replicas starting together do not race each other.
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
# PostgreSQL's SQLSTATE classes of a server out of reach: connection exceptions (08)
# and operator intervention (57P: shutting down, starting up, cannot connect now).
_PG_UNAVAILABLE = ("08", "57P")


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
            cur.execute("PRAGMA busy_timeout=30000")
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


def open_database(settings: DatabaseSettings) -> Engine:
    engine = create(settings)
    if settings.url.startswith("sqlite"):
        Path(make_url(settings.url).database or ".").parent.mkdir(parents=True, exist_ok=True)
    migrate(engine)
    return engine
