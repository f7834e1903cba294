"""The migrations build exactly the schema ``tocsin.store.tables`` declares: the query
modules are written against the tables, a fresh database gets the migrations, and a
column or index added to one and not the other would surface only in production."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tocsin.store import db
from tocsin.store.tables import metadata

# The runbook search index is each database's own full-text machinery (an FTS5 virtual
# table, a tsvector column), created by migration 0005 and queried by
# ``runbook_rows`` in each dialect's SQL: not a table SQLAlchemy describes.
SEARCH_INDEX = "runbook_sections"


def _declared(name: str | None, kind: str, _parent: object) -> bool:
    return not (kind == "table" and name is not None and name.startswith(SEARCH_INDEX))


def test_the_migrated_schema_is_the_declared_one(db_url: str) -> None:
    engine = create_engine(db.normalize_url(db_url))
    try:
        db.migrate(engine)
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_name": _declared}
            context = MigrationContext.configure(conn, opts=opts)
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_pages_of_escalations_open_across_the_upgrade_are_read_back_from_the_outbox(
    db_url: str,
) -> None:
    """Migration 0025: the pages an escalation sent before 0022 wrote them down are in
    the outbox only; its resolution must still tell whoever they went to."""
    engine = create_engine(db.normalize_url(db_url))
    groups = [("g1", "firing", "g1#2"), ("g2", "resolved", "g2#1"), ("g3", "snoozed", None)]
    items = [
        ("g1#2/r0/s0/first@1/person:ann/email", "person:ann", "email[0]"),
        ("g1#2/r0/s1/step@2/person:bob/slack", "person:bob", "slack[0]"),
        ("g1#1/r0/s0/first@1/person:dan/email", "person:dan", "email[0]"),  # an earlier one
        # resolved by hand while it fires: told when its alerts resolve
        ("g2#1/r0/s0/first@1/person:cy/email", "person:cy", "email[0]"),
        ("g1#2/r0/s0/first@1/person:ann/email/fallback", "ops", "webhook[0]"),  # not a page
        ("route-key-of-g1", "team", "webhook[0]"),  # a notification, not a page
    ]
    try:
        db.migrate(engine, "0024")
        with engine.begin() as conn:
            for group_id, status, escalation in groups:
                conn.execute(
                    text(
                        "INSERT INTO oncall_groups (group_id, route_id, group_key, receiver, "
                        "state, updated_at, status, escalation_id) "
                        "VALUES (:g, 'r', 'key', 'pager', '{}', 0, :s, :e)"
                    ),
                    {"g": group_id, "s": status, "e": escalation},
                )
            for n, (key, receiver, integration) in enumerate(items):
                conn.execute(
                    text(
                        "INSERT INTO outbox (id, idempotency_key, receiver, integration, "
                        "group_key, payload, status, attempts, created_at, next_attempt_at, "
                        "lease_until, updated_at, last_error) "
                        "VALUES (:id, :k, :r, :i, 'x', '{}', 'sent', 1, 0, 0, 0, 0, '')"
                    ),
                    {"id": str(n), "k": key, "r": receiver, "i": integration},
                )
        db.migrate(engine)
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT escalation_id, receiver, integration FROM oncall_paged ORDER BY 2")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in found] == [
        ("g1#2", "person:ann", "email[0]"),
        ("g1#2", "person:bob", "slack[0]"),
        ("g2#1", "person:cy", "email[0]"),
    ]


def test_an_upgrade_is_logged_and_a_newer_schema_refused_by_name(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator sees in the log what an upgrade did to the schema; an older Tocsin
    on a database a newer one migrated says so, instead of alembic's "Can't locate
    revision"."""
    engine = create_engine(db.normalize_url(db_url))
    try:
        with caplog.at_level(logging.INFO, logger="tocsin.store.db"):
            db.migrate(engine, "0024")
            db.migrate(engine)
            db.migrate(engine)
        head = ScriptDirectory.from_config(_alembic()).get_current_head()
        assert [r.getMessage() for r in caplog.records if r.name == "tocsin.store.db"] == [
            "database schema upgraded from nothing to revision 0024",
            f"database schema upgraded from 0024 to revision {head}",
            f"database schema at revision {head}",
        ]
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(db.SchemaTooNew, match="at revision 9999, which a newer Tocsin made"):
            db.migrate(engine)
    finally:
        engine.dispose()


def _alembic() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    return cfg
