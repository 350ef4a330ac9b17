"""Small models with a known receptive field that follow the model interface of docs/CONTRACTS.md."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class TinyConvSR(nn.Module):
    """LR convs -> pixel shuffle x8 -> HR conv fused with dmo/dem; receptive field radius 3 LR px.

    Radius: two 3x3 LR convs (2 LR px) + two 3x3 HR convs (2 HR px < 1 LR px) -> 3 LR px, so the
    tiling rule ``overlap >= 4 * 3 = 12`` gives exact tiled output.
    """

    family = "single-modal"
    receptive_field_lr = 3

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.lr_body = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, 64, 3, padding=1)
        )
        self.shuffle = nn.PixelShuffle(8)
        self.aux = nn.Conv2d(8, 1, 3, padding=1)
        self.head = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        hr = self.shuffle(self.lr_body(batch["lr"]))
        present = batch["present"]
        aux = torch.cat(
            [batch["dmo"] * present[:, 1, None, None, None], batch["dem"] * present[:, 2, None, None, None]],
            dim=1,
        )
        x = hr + self.aux(aux)
        return {"sr": torch.sigmoid(self.head(x))}


class CountingModel(TinyConvSR):
    """:class:`TinyConvSR` that counts its forward calls (in this process)."""

    calls = 0

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        type(self).calls += 1
        return super().forward(batch)


def random_tile_inputs(seed: int = 0, h: int = 37, w: int = 45) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A random LR (DN, a nodata corner) of ``h x w`` with DMO and DEM on the 8x grid (for the tiled loop)."""
    rng = np.random.default_rng(seed)
    lr = rng.uniform(0, 63, (h, w)).astype(np.float32)
    lr[0, :3] = np.nan
    aux = {"dmo": rng.uniform(0, 0.4, (7, 8 * h, 8 * w)).astype(np.float32),
           "dem": rng.uniform(0, 400, (8 * h, 8 * w)).astype(np.float32)}
    return lr, aux
