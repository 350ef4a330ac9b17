"""DeepLightSR stage 3: auxiliary-embedded refinement (AER).

Zhang et al. (DeepLight, IJCAI 2024): the image is reconstructed progressively, x2 -> x4 -> x8 of
the LR grid, with an output at every scale (multi-scale supervision, the beta_j terms of the loss)
and an impervious-surface (ISP) prediction head at every scale (the BCE term). The ISP features
are embedded into the final x8 refinement, so knowledge of built-up surfaces shapes the detail
where light is emitted.

Each scale: sub-pixel x2 up-sampling of the features (Shi et al. 2016), gated SFT injection of
the auxiliary encoders' features at that resolution (:mod:`deeplight.models.fusion`), an ISP
branch and logit head, one residual refinement block and an output head predicting a residual
over the bilinearly up-sampled previous output (the calibrated LR at the first scale).
"""

from __future__ import annotations

import torch
from torch import nn

from deeplight.models.blocks import Interpolate, PixelShuffleUp, ResidualBlock, activation, conv1x1, conv3x3
from deeplight.models.fusion import GatedSFTFusion

SCALES = (2, 4, 8)
"""Output scales relative to the LR grid."""


class ScaleStage(nn.Module):
    """One x2 step of the progressive refinement.

    Args:
        in_channels: width of the incoming features.
        channels: width at this scale.
        aux_channels: modality -> auxiliary feature width at this scale ({} disables injection).
        isp_channels: width of the ISP branch (0 disables the ISP head).
        embed_isp: inject the ISP features back into the image features (final scale).
    """

    def __init__(self, in_channels: int, channels: int, aux_channels: dict[str, int], isp_channels: int,
                 embed_isp: bool, sft_kernel: int) -> None:
        super().__init__()
        self.up = PixelShuffleUp(in_channels, channels)
        self.fusion = GatedSFTFusion(channels, aux_channels, sft_kernel) if aux_channels else None
        self.isp_branch = (nn.Sequential(conv3x3(channels, isp_channels), activation())
                           if isp_channels > 0 else None)
        self.isp_head = conv1x1(isp_channels, 1) if isp_channels > 0 else None
        if embed_isp and isp_channels > 0:
            self.isp_gamma = conv1x1(isp_channels, channels, bias=False)
            self.isp_beta = conv1x1(isp_channels, channels, bias=False)
        else:
            self.isp_gamma = self.isp_beta = None
        self.refine = ResidualBlock(channels)
        self.out = conv3x3(channels, 1)
        self.base_up = Interpolate(2, "bilinear")

    def forward(self, feats: torch.Tensor, previous: torch.Tensor, aux: dict[str, torch.Tensor],
                present: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Returns (features (B, C, 2H, 2W), output (B, 1, 2H, 2W), ISP logits (B, 1, 2H, 2W) or None)."""
        x = self.up(feats)
        if self.fusion is not None:
            x = self.fusion(x, aux, present)
        logits = None
        if self.isp_branch is not None:
            isp_feats = self.isp_branch(x)
            logits = self.isp_head(isp_feats)
            if self.isp_gamma is not None:
                x = x * (1 + self.isp_gamma(isp_feats)) + self.isp_beta(isp_feats)
        x = self.refine(x)
        out = self.base_up(previous).to(x.dtype) + self.out(x)
        return x, out, logits


class ProgressiveRefinement(nn.Module):
    """x2 -> x4 -> x8 reconstruction with per-scale outputs and ISP heads.

    Args:
        in_channels: width of the LR features.
        widths: feature width at x2, x4, x8.
        aux_widths: modality -> (width at x2, x4, x8); empty disables auxiliary injection.
        isp_channels: ISP branch width (0: no ISP heads, no embedding).
    """

    def __init__(self, in_channels: int, widths: tuple[int, int, int], aux_widths: dict[str, tuple[int, int, int]],
                 isp_channels: int) -> None:
        super().__init__()
        stages = []
        prev = in_channels
        for i, (scale, width) in enumerate(zip(SCALES, widths)):
            aux = {m: w[i] for m, w in aux_widths.items()}
            stages.append(ScaleStage(prev, width, aux, isp_channels, embed_isp=(scale == SCALES[-1]),
                                     sft_kernel=3 if scale == 2 else 1))
            prev = width
        self.stages = nn.ModuleList(stages)

    def forward(self, feats: torch.Tensor, lr_calibrated: torch.Tensor, aux: dict[str, dict[int, torch.Tensor]],
                present: dict[str, torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Returns (outputs at x2, x4, x8; ISP logits at the same scales, empty without ISP heads)."""
        outputs, logits = [], []
        previous = lr_calibrated
        for scale, stage in zip(SCALES, self.stages):
            feats, previous, isp = stage(feats, previous, {m: pyr[scale] for m, pyr in aux.items()}, present)
            outputs.append(previous)
            if isp is not None:
                logits.append(isp)
        return outputs, logits
