"""The replicas sharing a database: each writes a sign of life every few seconds, and
the cluster ``/api/v2/status`` shows (``amtool cluster show``), as Alertmanager shows
its gossip peers, is those seen lately. Pure but for the writer op."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tocsin.store import replica_rows
from tocsin.store.replica_rows import Replica
from tocsin.store.writer import Txn

SIGN_EVERY = timedelta(seconds=10)
# three signs missed: stopped, or cut off from the database
ALIVE_WITHIN = 3 * SIGN_EVERY
# a replica not seen for this long is forgotten (a host renamed, a port moved)
FORGET_AFTER = timedelta(days=1)


@dataclass
class SignOfLife:
    """Record this replica alive now (and forget those long gone); the replicas seen
    within ``ALIVE_WITHIN``, read in the same transaction."""

    me: Replica

    def apply(self, txn: Txn) -> list[Replica]:
        replica_rows.seen(txn.conn, self.me)
        replica_rows.forget_before(txn.conn, self.me.seen_at - FORGET_AFTER)
        return replica_rows.seen_since(txn.conn, self.me.seen_at - ALIVE_WITHIN)


def cluster(me: str, live: list[Replica], shared: bool) -> dict[str, Any]:
    """Alertmanager's ``cluster`` status: this replica's name, the replicas seen lately
    (itself among them, as Alertmanager lists itself), ``ready``. A process on a file of
    its own (SQLite) that no other shares is not a cluster: ``disabled``, as an
    Alertmanager without peers configured says."""
    if not shared and all(r.name == me for r in live):
        return {"name": me, "peers": [], "status": "disabled"}
    peers = [{"name": r.name, "address": r.address} for r in live]
    return {"name": me, "peers": peers, "status": "ready"}
