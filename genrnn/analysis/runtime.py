"""Run-time settings shared by the analyses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` intra-op threads inside the block (None or 0: leave torch's choice).

    Small recurrent models gain nothing from a second thread, and on a shared, busy CPU an
    OpenMP team waiting for a descheduled thread can be 10–100× slower than one thread.
    """
    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
