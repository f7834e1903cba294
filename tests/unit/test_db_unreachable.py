"""Which database errors mean "cannot be reached now" (a 503, logged now and then) and
which are a statement the database refused (a 500 with its traceback: a bug). "Now":
the server's state (down, full, read-only), not the statement's fault."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from psycopg import errors
from sqlalchemy.exc import InternalError, OperationalError, ProgrammingError

from tocsin.store.db import unreachable


def sqlite_error(name: str) -> sqlite3.Error:
    exc = sqlite3.OperationalError("x")
    exc.sqlite_errorname = name
    return exc


def pg_error(sqlstate: str | None) -> psycopg.Error:
    exc = psycopg.OperationalError("x")
    if sqlstate is not None:
        exc.sqlstate = sqlstate
    return exc


def pg_state(sqlstate: str) -> psycopg.Error:
    """The error psycopg raises for ``sqlstate`` (its class, as the server's answer
    gives it)."""
    return errors.lookup(sqlstate)("x")


# (the error, whether the database is out of reach)
ROWS: list[tuple[BaseException, bool]] = [
    (sqlite_error("SQLITE_BUSY"), True),  # another process holds the lock
    (sqlite_error("SQLITE_IOERR_WRITE"), True),
    (sqlite_error("SQLITE_FULL"), True),  # the disk
    (sqlite_error("SQLITE_READONLY_DBMOVED"), True),
    (sqlite_error("SQLITE_CANTOPEN"), True),
    (sqlite_error("SQLITE_ERROR"), False),  # no such table, a syntax error: a bug
    (sqlite_error("SQLITE_CONSTRAINT_UNIQUE"), False),
    (pg_error(None), True),  # the client could not connect, or lost the connection
    (pg_error("08006"), True),  # connection failure
    (pg_error("57P01"), True),  # admin shutdown
    (pg_error("57P03"), True),  # cannot connect now (starting up)
    (pg_error("40P01"), False),  # deadlock: the statement, not the server
    (pg_error("57014"), False),  # query cancelled
    (pg_error("42P01"), False),  # undefined table
    # a standby after a failover, or default_transaction_read_only: writes wait for a
    # primary, as for a server restarting
    (pg_state("25006"), True),  # read_only_sql_transaction
    (pg_state("25001"), False),  # active_sql_transaction: a bug in our transactions
    (pg_state("25P02"), False),  # in_failed_sql_transaction: the statement before
    (pg_state("53100"), True),  # disk_full
    (pg_state("53200"), True),  # out_of_memory
    (pg_state("53300"), True),  # too_many_connections
    (pg_state("53400"), True),  # configuration_limit_exceeded
    (pg_state("54000"), False),  # program_limit_exceeded: the statement is too big
    (OperationalError("SELECT 1", {}, pg_error("08006")), True),  # through SQLAlchemy
    (ProgrammingError("SELECT 1", {}, pg_error("42P01")), False),
    (InternalError("INSERT", {}, pg_state("25006")), True),
    (OperationalError("INSERT", {}, pg_state("53100")), True),
    (ValueError("not a database error"), False),
]


@pytest.mark.parametrize(("exc", "expected"), ROWS)
def test_which_errors_mean_the_database_is_out_of_reach(exc: BaseException, expected: bool) -> None:
    assert unreachable(exc) is expected


def test_an_invalidated_connection_is_out_of_reach() -> None:
    exc = OperationalError("SELECT 1", {}, ValueError("gone"), connection_invalidated=True)
    assert unreachable(exc) is True
