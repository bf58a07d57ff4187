"""Peak memory of this process, as a benchmark reports it."""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def own_peak_mb() -> float:
    """This program's own peak resident memory in MB.

    On Linux ``ru_maxrss`` carries the parent's peak across fork and exec, so a small server
    started by a large benchmark process would report the benchmark's size; ``VmHWM`` in
    /proc/self/status belongs to this program alone.
    """
    if sys.platform == "linux":
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
