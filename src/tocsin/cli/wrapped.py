"""Running a job for ``tocsin heartbeat run``: its output passed through as it comes,
byte for byte, with only a bounded tail kept for the ping; signals to the wrapper
passed on to the job; its exit status as a shell reports it.

Cron mails what a job prints, and a job's output may be a dump piped to a file
(``tocsin heartbeat run db -- pg_dump db > dump.sql``): nothing here decodes, buffers
whole, or reorders it.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

# passed on to the job, which decides; the wrapper then reports how it ended
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
CHUNK = 64 * 1024
LINGER = 1.0  # seconds of output read after the job ended


@dataclass(frozen=True)
class Ended:
    status: int  # as a shell reports it: 128 + N for a job killed by signal N
    tail: bytes  # the last bytes of stdout and stderr, as they interleaved
    why: str  # "" for exit status 0, else what happened, in words


def run(command: Sequence[str], out: BinaryIO, err: BinaryIO, keep: int) -> Ended:
    """Run ``command``, copying its stdout to ``out`` and stderr to ``err`` as they
    come; the last ``keep`` bytes of both are kept."""
    try:
        # its own process group, so that a signal reaches the whole job (a shell's
        # children too), not only the process started
        # (no terminal input: in a group of its own, a job that read the terminal would
        # be stopped by SIGTTIN; under cron there is none anyway)
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            process_group=0,
        )
    except FileNotFoundError:
        return _refused(err, 127, f"{command[0]}: command not found")
    except OSError as exc:  # not executable, a directory...
        return _refused(err, 126, f"{command[0]}: {exc.strerror or exc}")
    previous = {s: signal.signal(s, lambda n, _f: _signal_group(proc, n)) for s in FORWARDED}
    try:
        tail = _copy(proc, out, err, keep)
        code = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if code < 0:
        name = signal.Signals(-code).name
        return Ended(128 - code, tail, f"killed by {name}")
    return Ended(code, tail, "" if code == 0 else f"exit status {code}")


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has ended already
        os.killpg(proc.pid, signum)


def _copy(proc: subprocess.Popen[bytes], out: BinaryIO, err: BinaryIO, keep: int) -> bytes:
    """Copy until both pipes close, or until ``LINGER`` after the job ended (a
    daemon it started in the background may hold them open for good)."""
    assert proc.stdout is not None
    assert proc.stderr is not None
    tail = bytearray()
    ended_at: float | None = None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            if ended_at is None and proc.poll() is not None:
                ended_at = time.monotonic()
            if ended_at is not None and time.monotonic() - ended_at > LINGER:
                break
            for key, _ in selector.select(timeout=0.2):
                chunk = os.read(key.fd, CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                sink: BinaryIO | None = key.data
                if sink is not None:
                    try:
                        sink.write(chunk)
                        sink.flush()
                    except BrokenPipeError:  # its reader left (``| head``): keep draining
                        selector.modify(key.fileobj, selectors.EVENT_READ, None)
                tail += chunk
                del tail[:-keep]
    return bytes(tail)


def _refused(err: BinaryIO, status: int, why: str) -> Ended:
    """The job could not start: say so where cron looks (stderr), as a shell would."""
    err.write(f"tocsin: {why}\n".encode())
    err.flush()
    return Ended(status, b"", why)
