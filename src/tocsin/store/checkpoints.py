"""SQLite's WAL checkpoints, on a thread of their own.

In WAL mode a commit appends the pages it changed to the log; by default the connection
whose commit takes the log past 1,000 pages then copies the log back into the database
file and syncs it, inside that commit. In Tocsin that connection is the writer's: the
one thread every alert, silence, flush and escalation step waits on, so each such
commit stalled everything queued behind it. Measured with ``bench/escalation.py``
(100,000 steps due within 2 s; 2026-12-05): the storm's commits took 0.46 s of its
2.8 s with checkpoints in them and 0.33 s without (one instrumented run each), and the
p99 lateness over five runs went from 1.04 s [1.01-1.13] to 0.93 s [0.88-0.96].

So a server (``DatabaseSettings.sqlite_background_checkpoints``) turns the automatic
checkpoint off on its connections and runs :class:`BackgroundCheckpoints`: every
``interval``, a PASSIVE checkpoint on a connection of its own copies what the log holds
back into the database. PASSIVE takes no lock a writer needs, so commits go on while it
copies (SQLite releases the GIL meanwhile: it runs on another core). Durability is
unchanged: ``synchronous`` applies to the log, and a checkpoint moves only committed
pages. When the server closes its last connection, SQLite checkpoints what is left.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

log = logging.getLogger(__name__)

__all__ = ["BackgroundCheckpoints"]


class BackgroundCheckpoints:
    """A thread that checkpoints the WAL of ``engine``'s SQLite file every ``interval``
    seconds until :meth:`close`."""

    def __init__(self, engine: Engine, interval: float = 0.1) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self.done = 0  # checkpoints run (for tests and the curious)
        self._thread = threading.Thread(target=self._run, name="tocsin-checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = self._engine.raw_connection()
        try:
            while not self._stop.wait(self._interval):
                try:
                    cursor = conn.cursor()
                    try:
                        # (busy, frames in the log, frames copied): a busy result is
                        # retried next time
                        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                        cursor.fetchall()
                    finally:
                        cursor.close()
                    self.done += 1
                except Exception:
                    log.exception("WAL checkpoint failed; trying again in %.1f s", self._interval)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
