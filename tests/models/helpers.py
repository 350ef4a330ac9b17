"""Tiny batches made by code for the model tests."""

from __future__ import annotations

import torch


def tiny_batch(
    batch_size: int = 2, h: int = 6, w: int = 7, seed: int = 0, aux: bool = True, dmo_channels: int = 7
) -> dict[str, torch.Tensor]:
    """A random batch on an LR grid of h x w with every key of docs/CONTRACTS.md."""
    gen = torch.Generator().manual_seed(seed)
    hh, ww = 8 * h, 8 * w
    batch = {
        "lr": torch.rand(batch_size, 1, h, w, generator=gen),
        "hr": torch.rand(batch_size, 1, hh, ww, generator=gen) * 0.6,
        "isp": torch.rand(batch_size, 1, hh, ww, generator=gen),
        "valid": torch.ones(batch_size, 1, hh, ww),
        "present": torch.ones(batch_size, 4),
    }
    batch["lr"][:, :, 0, :] = 1.0  # a row of saturated LR cells (DN 63), as every bright real scene has
    if aux:
        batch["dmo"] = torch.rand(batch_size, dmo_channels, hh, ww, generator=gen)
        batch["dem"] = torch.rand(batch_size, 1, hh, ww, generator=gen)
    else:
        batch["present"][:, 1:3] = 0
    return batch


def scalar_of_outputs(outputs: dict) -> torch.Tensor:
    """A scalar that depends on every tensor output (for gradient checks)."""
    total = torch.zeros(())
    for value in outputs.values():
        tensors = value if isinstance(value, list) else [value]
        for t in tensors:
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                # weights that vary by position so no gradient cancels by symmetry
                weights = torch.linspace(0.5, 1.5, t.numel()).view_as(t)
                total = total + (t * weights).mean()
    return total
