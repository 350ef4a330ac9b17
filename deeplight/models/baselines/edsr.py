"""EDSR (Lim, Son, Kim, Nah, Lee, "Enhanced Deep Residual Networks for Single Image
Super-Resolution", CVPRW 2017).

Head convolution, residual blocks without batch normalisation (residual scaling 0.1 for wide
networks), a body convolution with a long skip, and the sub-pixel x2 x2 x2 up-sampler. Single-modal;
predicts a residual over the base image (see :mod:`deeplight.models.baselines.common`).
"""

from __future__ import annotations

import torch
from torch import nn

from deeplight.models.baselines.common import BaselineSize, ResidualSRModel, SubPixelUpsampler, resolve_size
from deeplight.models.blocks import ResidualBlock, conv3x3
from deeplight.models.inputs import ModelInputs

PRESETS = {"tiny": BaselineSize(8, 1), "demo": BaselineSize(32, 8), "paper": BaselineSize(64, 16)}
"""EDSR-baseline is 64 channels x 16 blocks; the demo width equals DeepLightSR demo's (32)."""


class EDSR(ResidualSRModel):
    """EDSR x8.

    Args:
        preset: "tiny", "demo" or "paper".
        scale: must be 8.
        channels, num_blocks: override the preset.
    """

    family = "single-modal"

    def __init__(
        self, preset: str = "demo", scale: int = 8, channels: int | None = None, num_blocks: int | None = None
    ) -> None:
        super().__init__(scale)
        size = resolve_size(PRESETS, preset, channels, num_blocks, "edsr")
        c = size.channels
        res_scale = 0.1 if c >= 128 else 1.0
        self.head = conv3x3(2, c)
        self.body = nn.Sequential(
            *[ResidualBlock(c, res_scale) for _ in range(size.num_blocks)], conv3x3(c, c)
        )
        self.upsampler = SubPixelUpsampler(c)

    def residual(self, inputs: ModelInputs, lr_calibrated: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """Head on (DN, nominal radiance), body with long skip, x8 up-sampler."""
        x = self.head(torch.cat([inputs.lr, lr_calibrated], dim=1))
        return self.upsampler(x + self.body(x))
