"""Learning-rate schedule: linear warm-up followed by cosine decay (Loshchilov & Hutter 2017)."""

from __future__ import annotations

import math

import torch


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """Multiplier of the peak learning rate at optimiser step ``step`` (0-based).

    Linear from ``1 / (warmup_steps + 1)`` to 1 over the warm-up, then
    ``min_ratio + (1 - min_ratio) * (1 + cos(pi * t)) / 2`` with t going 0 -> 1 over the remaining steps.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    decay_steps = max(1, total_steps - warmup_steps)
    t = min(1.0, (step - warmup_steps) / decay_steps)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


def build_scheduler(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` applying :func:`warmup_cosine_factor` (its state is just the step counter)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine_factor(step, warmup_steps, total_steps, min_ratio)
    )
