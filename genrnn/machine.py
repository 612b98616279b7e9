"""What CPU this is: one reading of ``/proc/cpuinfo`` for the run records, ``--preset auto``'s
calibration key and the benchmarks' JSON (a figure holds only for the kind of CPU it ran on);
and the one process-wide allocator setting that CPU training wants (``keep_freed_memory``).

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


# glibc's mallopt parameters (malloc.h) and the size below which freed memory is kept.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_FREED_BYTES = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Have glibc keep freed memory for the next allocation instead of handing it back.

    A training step on the CPU allocates and frees some 90 MB of activations and oneDNN
    workspace. glibc serves blocks that large with mmap and unmaps them when freed, so every
    step faulted them in again, zeroed by the kernel: 22,000 page faults a step at the reference
    size, a fifth of the step. With both thresholds at 1 GB the blocks stay in the heap and are
    reused: ~850 faults a step, most while glibc settles in the first steps, and 30-70 MB more
    resident (benchmarks/page_faults.py).
    Linux with glibc only (elsewhere the allocator is left as it is); True when it took effect.
    Once per process: it changes the process's allocator, not one model's.
    """
    import ctypes

    if platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: the C library already loaded
        libc.gnu_get_libc_version  # noqa: B018 - glibc, not musl (whose mallopt does nothing)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_FREED_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES))
