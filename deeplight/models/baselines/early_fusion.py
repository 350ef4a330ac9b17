"""Early-fusion multi-modal SR: the guides are concatenated with the input at the very start.

The simplest multi-modal baseline (e.g. the input-level fusion of guided depth SR surveys, Zhong
et al., "Guided Depth Map Super-Resolution: A Survey", ACM CSUR 2023): the bicubic-interpolated
night-light image, the 7 DMO bands and the DEM are stacked at HR resolution into one 9-band image,
which a single CNN maps to the output. To keep it CPU-trainable the stack is rearranged losslessly by
space-to-depth (x4) and processed at twice the LR resolution, then returned to HR by depth-to-space.
Absent modalities are zeroed by their ``present`` flag.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplight.models.baselines.common import BaselineSize, ResidualSRModel, resolve_size
from deeplight.models.blocks import ResidualBlock, activation, conv3x3
from deeplight.contracts import DMO_BANDS
from deeplight.models.inputs import ModelInputs

PRESETS = {"tiny": BaselineSize(8, 1), "demo": BaselineSize(32, 4), "paper": BaselineSize(64, 12)}
SPACE_TO_DEPTH = 4


class EarlyFusionSR(ResidualSRModel):
    """Concatenate (bicubic NTL, DMO, DEM) at HR, CNN at HR/4 via space-to-depth, back to HR.

    Args:
        preset: "tiny", "demo" or "paper".
        scale: must be 8.
        dmo_channels: DMO bands.
        channels, num_blocks: override the preset.
    """

    family = "multi-modal"

    def __init__(
        self,
        preset: str = "demo",
        scale: int = 8,
        dmo_channels: int = DMO_BANDS,
        channels: int | None = None,
        num_blocks: int | None = None,
    ) -> None:
        super().__init__(scale, dmo_channels)
        size = resolve_size(PRESETS, preset, channels, num_blocks, "early-fusion")
        c, f = size.channels, SPACE_TO_DEPTH
        bands = 1 + dmo_channels + 1
        self.unshuffle = nn.PixelUnshuffle(f)
        self.head = nn.Sequential(conv3x3(bands * f * f, c), activation())
        self.body = nn.Sequential(*[ResidualBlock(c) for _ in range(size.num_blocks)])
        self.tail = nn.Sequential(conv3x3(c, f * f), nn.PixelShuffle(f))

    def residual(self, inputs: ModelInputs, lr_calibrated: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """CNN on the stacked modalities."""
        stack = torch.cat(
            [base.to(inputs.dmo.dtype), inputs.dmo * inputs.has_dmo, inputs.dem * inputs.has_dem], 1
        )
        x = self.head(self.unshuffle(stack))
        return self.tail(x + self.body(x))
