"""What CPU this is: one reading of ``/proc/cpuinfo`` for the run records, ``--preset auto``'s
calibration key and the benchmarks' JSON (a figure holds only for the kind of CPU it ran on).

``platform.processor()`` is empty on most Linux systems, so it is only the last resort.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

# The flags that decide how fast training and sampling run (vector width, bf16, AMX).
SPEED_FLAGS = ("avx", "amx", "fma", "sse4")


@functools.cache
def _cpuinfo() -> tuple[str, tuple[str, ...]]:
    name, flags = "", ()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if not name and key.strip() == "model name":
                name = value.strip()
            elif not flags and key.strip() == "flags":
                flags = tuple(sorted(f for f in value.split() if f.startswith(SPEED_FLAGS)))
            if name and flags:
                break
    except OSError:
        pass
    return name or platform.processor() or platform.machine(), flags


def cpu_model() -> str:
    """The CPU's model name, e.g. "AMD EPYC"."""
    return _cpuinfo()[0]


def cpu_flags() -> tuple[str, ...]:
    """The CPU's AVX/AMX/FMA/SSE4 flags, sorted."""
    return _cpuinfo()[1]


def cpu_facts() -> dict[str, object]:
    """Model, speed flags and core count, for a benchmark's JSON line."""
    return {"cpu": cpu_model(), "cpu_flags": list(cpu_flags()), "cpus": os.cpu_count()}
