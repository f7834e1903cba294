"""The migrations build exactly the schema ``tocsin.store.tables`` declares: the query
modules are written against the tables, a fresh database gets the migrations, and a
column or index added to one and not the other would surface only in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

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
