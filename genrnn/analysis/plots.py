"""PNG figures with matplotlib's object API (Agg canvas, no pyplot global state)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from genrnn.errors import ConfigError


def save(fig: Figure, path: str | Path) -> Path:
    p = Path(path)
    if p.exists() and p.is_dir():
        raise ConfigError(f"{p}: is a folder; expected a .png file name")
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110, bbox_inches="tight")
    return p


def loss_vs_time(curves: dict[str, dict[str, list[tuple[float, float]]]], path: str | Path,
                 title: str = "") -> Path:
    """curves[label] = {"train": [(t, loss)], "val": [(t, loss)]} → one PNG, log-free axes."""
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    for i, (label, curve) in enumerate(curves.items()):
        color = f"C{i}"
        if curve.get("train"):
            t, y = zip(*curve["train"], strict=True)
            ax.plot(t, y, color=color, alpha=0.35, lw=1)
        if curve.get("val"):
            t, y = zip(*curve["val"], strict=True)
            ax.plot(t, y, color=color, marker="o", ms=4, lw=2, label=f"{label} (val)")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("loss (nats/token); thin = train, dots = validation")
    ax.set_title(title or "loss against wall time, same data and seed")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)


def gradient_decay(panels: dict[str, dict[str, Sequence[float | None]]], path: str | Path,
                   title: str = "") -> Path:
    """panels[phase][cell] = norms indexed by k → one log-scale panel per phase."""
    fig = Figure(figsize=(5 * max(len(panels), 1), 4.5))
    axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
    cells = sorted({c for p in panels.values() for c in p})
    for ax, (phase, curves) in zip(axes, panels.items(), strict=False):
        for cell, norms in curves.items():
            pts = [(k, v) for k, v in enumerate(norms) if v is not None and math.isfinite(v) and v > 0]
            if pts:
                ks, vs = zip(*pts, strict=True)
                ax.semilogy(ks, vs, color=f"C{cells.index(cell)}", label=cell)
        ax.set_title(phase)
        ax.set_xlabel("k (steps back from the prediction)")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    axes[0].set_ylabel("‖∂ loss_t / ∂ h_(t−k)‖")
    fig.suptitle(title or "vanishing gradients: how far back the loss reaches")
    return save(fig, path)


def recall_accuracy(table: dict[str, dict[int, float]], chance: float, path: str | Path) -> Path:
    """table[cell][lag] = accuracy → grouped bars with the chance line."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    cells = list(table)
    lags = sorted({lag for row in table.values() for lag in row})
    width = 0.8 / max(len(cells), 1)
    for i, cell in enumerate(cells):
        xs = [j + i * width for j in range(len(lags))]
        ax.bar(xs, [table[cell].get(lag, 0.0) for lag in lags], width, label=cell, color=f"C{i}")
    ax.axhline(chance, color="k", ls="--", lw=1, label="chance")
    ax.set_xticks([j + width * (len(cells) - 1) / 2 for j in range(len(lags))], [str(lag) for lag in lags])
    ax.set_xlabel("lag k (steps between the token and its recall)")
    ax.set_ylabel("recall accuracy")
    ax.set_ylim(0, 1.18)  # room for the legend above the bars
    ax.legend(loc="upper center", ncol=len(cells) + 1, fontsize="small")
    ax.set_title("long-range memory: recall a token seen k steps earlier")
    return save(fig, path)

