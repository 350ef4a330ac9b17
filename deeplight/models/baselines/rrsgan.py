"""Reference-based SR with deformable alignment, after RRSGAN.

Dong, Zhang, Fu, "RRSGAN: Reference-Based Super-Resolution for Remote Sensing Image", IEEE TGRS 60,
2021 (co-authors of DeepLight): features of a high-resolution reference image are aligned to the
low-resolution features by deformable convolution guided by gradient information, then fused and
up-sampled. Here the reference is the auxiliary stack (DMO + DEM) plus its gradient magnitude
(Sobel, per band - the "gradient assistance"), encoded down to the LR grid, aligned by DCNv2
(:class:`~deeplight.models.deformable.DeformableAlignment`), fused with the night-light features,
and decoded with the EDSR body and up-sampler. Differences from RRSGAN, stated: one alignment scale
instead of a multi-scale one, and trained with L1 only (the adversarial and perceptual losses of
RRSGAN are not used, as for every model here).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from deeplight.models.baselines.common import BaselineSize, ResidualSRModel, SubPixelUpsampler, resolve_size
from deeplight.models.blocks import ResidualBlock, activation, conv1x1, conv3x3
from deeplight.models.deformable import DeformableAlignment
from deeplight.contracts import DMO_BANDS
from deeplight.models.inputs import ModelInputs

PRESETS = {"tiny": BaselineSize(8, 1), "demo": BaselineSize(32, 6), "paper": BaselineSize(64, 16)}

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Per-band Sobel gradient magnitude, (B, C, H, W) -> (B, C, H, W)."""
    c = x.shape[1]
    kx = _SOBEL_X.to(x.device, x.dtype).view(1, 1, 3, 3).expand(c, 1, 3, 3)
    ky = kx.transpose(-1, -2)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, kx, groups=c)
    gy = F.conv2d(padded, ky, groups=c)
    return torch.sqrt(gx * gx + gy * gy + 1e-12)


class RRSGANLike(ResidualSRModel):
    """Reference SR: gradient-assisted reference encoder, DCNv2 alignment, fusion, EDSR decoder.

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
        size = resolve_size(PRESETS, preset, channels, num_blocks, "rrsgan")
        c = size.channels
        ref_bands = 2 * (dmo_channels + 1)
        self.head = conv3x3(2, c)
        self.reference_encoder = nn.Sequential(
            nn.PixelUnshuffle(2),
            conv3x3(4 * ref_bands, c),
            activation(),
            conv3x3(c, c, stride=2),
            activation(),
            conv3x3(c, c, stride=2),
            activation(),
        )
        self.alignment = DeformableAlignment(c)
        self.fuse = conv1x1(2 * c, c)
        self.body = nn.Sequential(*[ResidualBlock(c) for _ in range(size.num_blocks)], conv3x3(c, c))
        self.upsampler = SubPixelUpsampler(c)

    def residual(self, inputs: ModelInputs, lr_calibrated: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """Align reference features to the LR features, fuse, decode."""
        x = self.head(torch.cat([inputs.lr, lr_calibrated.to(inputs.lr.dtype)], dim=1))
        reference = torch.cat([inputs.dmo * inputs.has_dmo, inputs.dem * inputs.has_dem], dim=1)
        ref_feats = self.reference_encoder(torch.cat([reference, gradient_magnitude(reference)], dim=1))
        present = torch.maximum(inputs.has_dmo, inputs.has_dem).to(x.dtype)
        aligned = self.alignment(ref_feats, x) * present
        fused = x + self.fuse(torch.cat([x, aligned], dim=1))
        return self.upsampler(fused + self.body(fused))
