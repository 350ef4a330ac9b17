"""Per-model size and cost figures: parameters and MACs per HR pixel (for the CLI and docs)."""

from __future__ import annotations

import torch

from deeplight.models.macs import macs_per_hr_pixel
from deeplight.models.registry import get_model, list_models


def count_parameters(model: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_table(preset: str = "demo", lr_size: int = 32, names: list[str] | None = None) -> list[dict]:
    """One row per model: name, family, trainable parameters, MACs per HR pixel.

    Args:
        preset: size preset of the learned models.
        lr_size: LR tile side for counting MACs.
        names: a subset of registered names (default: all).

    Returns:
        list of ``{"name", "family", "params", "macs_per_hr_pixel"}``.
    """
    rows = []
    for name in names or list_models():
        torch.manual_seed(0)
        model = get_model(name, preset=preset).eval()
        rows.append(
            {
                "name": name,
                "family": model.family,
                "params": count_parameters(model),
                "macs_per_hr_pixel": macs_per_hr_pixel(model, lr_size),
            }
        )
    return rows
