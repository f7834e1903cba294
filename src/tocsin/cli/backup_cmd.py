"""``tocsin backup FILE``: a consistent copy of the SQLite database while Tocsin runs.

SQLite's online backup reads the database in one read transaction: the copy holds
every commit up to its start, those still in the write-ahead log too (a copy of
``tocsin.db`` alone misses them), and the server goes on committing meanwhile.
PostgreSQL has ``pg_dump`` for this.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated

import typer

from tocsin.cli.output import fail
from tocsin.cli.serve_cmd import DatabaseUrlOption, DataDirOption


def register(app: typer.Typer) -> None:
    app.command()(backup)


def backup(
    file: Annotated[Path, typer.Argument(help="The copy to write (a new file).")],
    data_dir: DataDirOption = Path("data"),
    database_url: DatabaseUrlOption = None,
) -> None:
    """Copy the SQLite database, consistent, while Tocsin runs (restore: put the copy
    in place of tocsin.db before starting Tocsin). PostgreSQL: use pg_dump."""
    # imported here, as serve's modules are: client commands start without them
    from sqlalchemy.engine import make_url

    from tocsin.store.db import sqlite_url

    url = make_url(database_url or sqlite_url(data_dir))
    if url.get_backend_name() != "sqlite":
        fail("backup copies a SQLite database; back PostgreSQL up with pg_dump")
    source = Path(url.database or "")
    if not source.is_file():
        fail(f"no database at {source} (--data-dir, --database-url)")
    if file.exists():
        fail(f"{file} exists: name a new file")
    if not file.parent.is_dir():
        fail(f"{file.parent} is not a directory: make it first")
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(file)
    try:
        src.backup(dst)  # every page in one step: one read transaction, one snapshot
        (revision,) = dst.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as exc:
        dst.close()
        file.unlink(missing_ok=True)
        fail(f"backup failed: {exc}")
    finally:
        src.close()
    dst.close()
    typer.echo(f"{source} copied to {file} ({file.stat().st_size} bytes, schema {revision})")
