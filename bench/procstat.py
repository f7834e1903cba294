"""CPU accounting the benchmarks share, read from ``/proc``: what the server, the load
generator and the rest of this shared machine used during a measurement."""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of one process (all its threads); None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def busy_cpu_seconds() -> float:
    """CPU seconds spent by the whole machine (all CPUs, not idle or waiting), so that
    what other processes used during a run can be shown: this machine is shared."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:7]) - idle) / CLK_TCK


def own_cpu_seconds() -> float:
    """User + system CPU of this process (the benchmark's own generator)."""
    t = os.times()
    return t.user + t.system
