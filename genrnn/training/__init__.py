"""Training: TBPTT loop, checkpoints, data-parallel helpers."""
