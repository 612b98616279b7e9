"""genrnn.machine: the CPU reading, and freed memory kept for the next training step."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from genrnn.machine import cpu_flags, cpu_model

FAULTS = r"""
import resource, sys, torch
from genrnn.machine import keep_freed_memory

def faults_per_cycle(cycles=12):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(cycles):
        torch.empty(16 << 20).fill_(1.0)  # 64 MB written, then freed, like a step's activations
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / cycles

torch.empty(16 << 20).fill_(1.0)
plain = faults_per_cycle()
kept = keep_freed_memory()
faults_per_cycle(10)  # glibc settles within a few cycles (here six) on where the block lives
print(plain, kept, faults_per_cycle())
"""


def test_cpu_reading() -> None:
    assert cpu_model()
    assert all(f.startswith(("avx", "amx", "fma", "sse4")) for f in cpu_flags())


@pytest.mark.skipif(platform.system() != "Linux" or not platform.libc_ver()[0] == "glibc",
                    reason="the allocator change is for glibc on Linux")
def test_freed_memory_is_kept_instead_of_faulted_in_again() -> None:
    out = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True, check=True, timeout=120)
    plain, kept, after = out.stdout.split()
    assert kept == "True"
    assert float(plain) > 10_000  # 64 MB of 4 kB pages, faulted in on every cycle
    assert float(after) < 100
