"""RCAN (Zhang, Li, Li, Wang, Zhong, Fu, "Image Super-Resolution Using Very Deep Residual Channel
Attention Networks", ECCV 2018).

Residual-in-residual structure: residual groups of residual channel-attention blocks (RCAB: conv,
ReLU, conv, channel attention by global pooling and a bottleneck of ratio r, sigmoid gating), a
long skip, and the sub-pixel up-sampler. Single-modal; predicts a residual over the base image.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplight.models.baselines.common import BaselineSize, ResidualSRModel, SubPixelUpsampler, resolve_size
from deeplight.models.blocks import conv3x3
from deeplight.models.inputs import ModelInputs

PRESETS = {"tiny": BaselineSize(8, 1, 1), "demo": BaselineSize(32, 3, 2), "paper": BaselineSize(64, 20, 10)}
"""channels, RCABs per group (num_blocks), groups; the paper's RCAN is 64 x 20 x 10."""


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation channel attention (global average pool, C -> C/r -> C, sigmoid)."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(4, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W) re-weighted by channel."""
        return x * self.gate(x)


class RCAB(nn.Module):
    """Residual channel attention block."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(channels, channels),
            nn.ReLU(),
            conv3x3(channels, channels),
            ChannelAttention(channels, reduction),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return x + self.body(x)


class ResidualGroup(nn.Module):
    """RCABs, a convolution, and a short skip."""

    def __init__(self, channels: int, num_blocks: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *[RCAB(channels, reduction) for _ in range(num_blocks)], conv3x3(channels, channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return x + self.body(x)


class RCAN(ResidualSRModel):
    """RCAN x8.

    Args:
        preset: "tiny", "demo" or "paper".
        scale: must be 8.
        channels, num_blocks: override width / RCABs per group.
        reduction: channel-attention bottleneck ratio r (16 in the paper; 8 for the narrow presets).
    """

    family = "single-modal"

    def __init__(
        self,
        preset: str = "demo",
        scale: int = 8,
        channels: int | None = None,
        num_blocks: int | None = None,
        reduction: int = 8,
    ) -> None:
        super().__init__(scale)
        size = resolve_size(PRESETS, preset, channels, num_blocks, "rcan")
        c = size.channels
        self.head = conv3x3(2, c)
        self.body = nn.Sequential(
            *[ResidualGroup(c, size.num_blocks, reduction) for _ in range(size.num_groups)], conv3x3(c, c)
        )
        self.upsampler = SubPixelUpsampler(c)

    def residual(self, inputs: ModelInputs, lr_calibrated: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """Head, residual groups with long skip, x8 up-sampler."""
        x = self.head(torch.cat([inputs.lr, lr_calibrated], dim=1))
        return self.upsampler(x + self.body(x))
