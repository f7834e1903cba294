"""The secret that signs action links: made once, stored, the same for every replica."""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tocsin.store.tables import settings_kv

_KEY = "link_secret"


def link_secret(engine: Engine) -> bytes:
    """Read the secret, creating it if this is the first start (replicas racing to
    create it agree: the first insert wins, the others read it)."""
    insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert
    with engine.begin() as conn:
        fresh = insert(settings_kv).values(key=_KEY, value=secrets.token_hex(32))
        conn.execute(fresh.on_conflict_do_nothing(index_elements=["key"]))
        value = conn.execute(select(settings_kv.c.value).where(settings_kv.c.key == _KEY))
        return bytes.fromhex(value.scalar_one())
