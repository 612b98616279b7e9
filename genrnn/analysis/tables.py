"""Figures as table cells, shared by the terminal (``genrnn eval``, ``classify train``), the
HTML report and the benchmarks: no plotting and no PyTorch here, so the CLI may import it at
start-up."""

from __future__ import annotations

import statistics
from typing import Any

from genrnn.music.metrics import by_abs_diff


def spread(values: list[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (n − 1; 0 for one value) of a figure over seeds."""
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": list(values)}


def metric_cells(name: str, row: dict[str, Any]) -> tuple[str, str, str, str]:
    """One ``metrics.compare`` row → (label, generated, real, difference): ``note_density/bass``
    reads "bass: note density"; the difference is absolute for shares and rates
    (``by_abs_diff``), relative for the rest."""
    label = name.replace("_", " ")
    if "/" in label:
        what, group = label.split("/", 1)
        label = f"{group}: {what}"
    diff = f"{row['abs_diff']:+.3f}" if by_abs_diff(name) else f"{row['rel_diff']:+.1%}"
    return label, f"{row['generated']:.3f}", f"{row['real']:.3f}", diff
