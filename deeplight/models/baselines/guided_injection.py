"""Guided detail injection, pan-sharpening style (multiresolution analysis, MRA).

Vivone et al., "A Critical Comparison Among Pansharpening Algorithms", IEEE TGRS 53(5), 2015: the
MRA family sharpens an up-sampled low-resolution image by injecting the high-pass details of a
high-resolution guide with injection gains, ``SR = up(LR) + sum_b g_b (P_b - low_pass(P_b))``.
Here the guides P_b are the 7 DMO bands and the DEM, the low-pass is the bicubic up-sampling of the
guide's 8x8 area mean (the guide seen at the LR sensor's resolution), and the gains g_b are
spatially varying, predicted at LR resolution by a small CNN from the LR night light and the
area-averaged guides, then bilinearly up-sampled. The base is the LR image after a learned
calibration (quadratic on the normalised scale). Absent modalities inject nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplight.models.baselines.calibration_based import _nominal_quadratic
from deeplight.models.baselines.common import BaselineSize, ResidualSRModel, resolve_size
from deeplight.models.blocks import Interpolate, ResidualBlock, activation, area_downsample, conv3x3
from deeplight.contracts import DMO_BANDS
from deeplight.models.inputs import ModelInputs, read_inputs

PRESETS = {"tiny": BaselineSize(8, 1), "demo": BaselineSize(32, 3), "paper": BaselineSize(64, 8)}


class GuidedDetailInjection(ResidualSRModel):
    """MRA detail injection with learned, spatially varying gains.

    Args:
        preset: "tiny", "demo" or "paper" (width/depth of the gain network).
        scale: must be 8.
        dmo_channels: DMO bands.
        channels, num_blocks: override the preset.
    """

    family = "multi-modal"
    # Inherits input checks and the bicubic module from ResidualSRModel but overrides forward: its
    # base image uses its own learned calibration instead of the nominal one.

    def __init__(
        self,
        preset: str = "demo",
        scale: int = 8,
        dmo_channels: int = DMO_BANDS,
        channels: int | None = None,
        num_blocks: int | None = None,
    ) -> None:
        super().__init__(scale, dmo_channels)
        size = resolve_size(PRESETS, preset, channels, num_blocks, "guided-injection")
        c = size.channels
        guides = dmo_channels + 1
        self.coefficients = nn.Parameter(torch.tensor(_nominal_quadratic(), dtype=torch.float32))
        self.gain_net = nn.Sequential(
            conv3x3(2 + guides, c),
            activation(),
            *[ResidualBlock(c) for _ in range(size.num_blocks)],
            conv3x3(c, guides),
        )
        self.guide_up = Interpolate(scale, "bicubic")
        self.gain_up = Interpolate(scale, "bilinear")

    def forward(self, batch: dict) -> dict:
        """``{"sr", "lr_calibrated"}``: calibrated bicubic base plus injected guide details."""
        inputs = read_inputs(batch, self.scale, self.dmo_channels)
        x = inputs.lr.float()
        c0, c1, c2 = self.coefficients
        lr_cal = c0 + c1 * x + c2 * x * x
        base = self.base_upsample(lr_cal)
        return {"sr": base + self._details(inputs, lr_cal), "lr_calibrated": lr_cal}

    def _details(self, inputs: ModelInputs, lr_cal: torch.Tensor) -> torch.Tensor:
        guides = torch.cat([inputs.dmo * inputs.has_dmo, inputs.dem * inputs.has_dem], dim=1)
        presence = torch.cat([inputs.has_dmo.expand(-1, self.dmo_channels, 1, 1), inputs.has_dem], dim=1)
        guides_lr = area_downsample(guides, self.scale)
        detail = guides - self.guide_up(guides_lr)
        gains = self.gain_net(torch.cat([inputs.lr, lr_cal.to(inputs.lr.dtype), guides_lr], dim=1)) * presence
        return (self.gain_up(gains) * detail).sum(dim=1, keepdim=True).float()
