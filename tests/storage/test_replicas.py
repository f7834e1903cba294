"""Replicas sharing a database (SQLite and PostgreSQL) see each other: each writes a
sign of life, and the cluster /api/v2/status shows (``amtool cluster show``) lists
those seen within 30 s, as Alertmanager lists its gossip peers; one alone on its own
SQLite file is no cluster."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path

from tests.storage.test_alert_store import Clock
from tests.storage.test_oncall_replicas import T0, runtime
from tocsin.runtime import Runtime
from tocsin.store import replica_rows


def replica(db_url: str, tmp_path: Path, clock: Clock, port: int) -> Runtime:
    rt = runtime(db_url, tmp_path, clock)
    rt.settings = dataclasses.replace(rt.settings, listen=f"127.0.0.1:{port}")
    rt.replica_name = f"{rt.instance_name}:{port}"
    return rt


def test_replicas_see_each_other_and_forget_the_gone(db_url: str, tmp_path: Path) -> None:
    clock = Clock(T0)
    a = replica(db_url, tmp_path, clock, 9093)
    b = replica(db_url, tmp_path, clock, 9094)
    try:
        alone = a.cluster()
        shared = not db_url.startswith("sqlite")
        assert (alone["status"], alone["peers"]) == ("ready" if shared else "disabled", [])
        asyncio.run(a.sign_of_life())
        asyncio.run(b.sign_of_life())
        status = b.cluster()
        assert b.members == 2  # tocsin_cluster_members
        assert status["status"] == "ready"  # two processes share the file: a cluster
        assert status["name"] == b.replica_name
        assert status["peers"] == [
            {"name": a.replica_name, "address": "http://127.0.0.1:9093"},
            {"name": b.replica_name, "address": "http://127.0.0.1:9094"},
        ]
        clock.now = T0 + timedelta(seconds=40)  # a stopped: three signs missed
        asyncio.run(b.sign_of_life())
        left = b.cluster()
        if shared:
            assert [p["name"] for p in left["peers"]] == [b.replica_name]
        else:  # alone on its file again
            assert (left["status"], left["peers"]) == ("disabled", [])
        assert [r.name for r in b.live_replicas()] == [b.replica_name]
        clock.now = T0 + timedelta(days=1, seconds=41)
        asyncio.run(b.sign_of_life())
        with b.engine.connect() as conn:  # a day gone: forgotten
            assert [r.name for r in replica_rows.seen_since(conn, T0)] == [b.replica_name]
    finally:
        a.close()
        b.close()
