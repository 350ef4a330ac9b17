"""SRCNN (Dong, Loy, He, Tang, "Image Super-Resolution Using Deep Convolutional Networks", TPAMI 2016).

Three convolutions on the bicubic-interpolated image, the 9-5-5 variant: patch extraction (9x9,
n1 filters), non-linear mapping (5x5, n2 filters), reconstruction (5x5). Single-modal. Runs at HR
resolution, as in the paper, so it is the slowest per parameter. Predicts a residual over the base
image (see :mod:`deeplight.models.baselines.common`).
"""

from __future__ import annotations

import torch
from torch import nn

from deeplight.models.baselines.common import BaselineSize, ResidualSRModel, resolve_size
from deeplight.models.inputs import ModelInputs

PRESETS = {"tiny": BaselineSize(8, 1), "demo": BaselineSize(32, 1), "paper": BaselineSize(64, 1)}
"""channels = n1 (n2 = n1 / 2); num_blocks is unused (SRCNN has a fixed depth)."""


class SRCNN(ResidualSRModel):
    """SRCNN 9-5-5 on the bicubic base image.

    Args:
        preset: "tiny", "demo" (n1 = 32) or "paper" (n1 = 64, as in Dong et al.).
        scale: must be 8.
        channels: override n1.
    """

    family = "single-modal"

    def __init__(self, preset: str = "demo", scale: int = 8, channels: int | None = None) -> None:
        super().__init__(scale)
        size = resolve_size(PRESETS, preset, channels, None, "srcnn")
        n1, n2 = size.channels, max(1, size.channels // 2)
        self.net = nn.Sequential(
            nn.Conv2d(1, n1, 9, padding=4),
            nn.ReLU(),
            nn.Conv2d(n1, n2, 5, padding=2),
            nn.ReLU(),
            nn.Conv2d(n2, 1, 5, padding=2),
        )

    def residual(self, inputs: ModelInputs, lr_calibrated: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """SRCNN on the base image."""
        return self.net(base)
