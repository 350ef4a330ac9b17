"""Small typed building blocks shared by DeepLightSR and the baselines.

Everything here works on ``(B, C, H, W)`` float tensors. The interpolation modules exist as
modules (not bare ``F.interpolate`` calls) so that :mod:`deeplight.models.macs` can count their
multiply-accumulates with forward hooks like any convolution.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    """A 3x3 convolution with "same" zero padding (stride 1) or halving (stride 2)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)


def conv1x1(in_channels: int, out_channels: int, bias: bool = True) -> nn.Conv2d:
    """A pointwise convolution."""
    return nn.Conv2d(in_channels, out_channels, 1, bias=bias)


def activation() -> nn.Module:
    """The non-linearity used across the zoo (LeakyReLU 0.1: cheap on CPU, no dead units)."""
    return nn.LeakyReLU(0.1)


class ResidualBlock(nn.Module):
    """EDSR residual block: conv-act-conv, scaled, plus identity (Lim et al. 2017, no batch norm).

    Args:
        channels: feature width C (input and output).
        res_scale: multiplier of the residual branch (0.1 in EDSR for wide nets; 1 for small ones).
    """

    def __init__(self, channels: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(conv3x3(channels, channels), activation(), conv3x3(channels, channels))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return x + self.res_scale * self.body(x)


class PixelShuffleUp(nn.Module):
    """x2 sub-pixel up-sampling: conv C_in -> 4 C_out then pixel shuffle (Shi et al. 2016).

    Args:
        in_channels: C_in.
        out_channels: C_out after the shuffle.
        kernel_size: 3, or 1 where the following layers give the spatial context (cheaper).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 4 * out_channels, kernel_size, padding=kernel_size // 2)
        self.shuffle = nn.PixelShuffle(2)
        self.act = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> (B, C_out, 2H, 2W)."""
        return self.act(self.shuffle(self.conv(x)))


class Interpolate(nn.Module):
    """Resampling by a fixed integer factor as a module (its MACs are counted).

    Args:
        scale: up-sampling factor (> 1) of both axes.
        mode: "bicubic", "bilinear" or "nearest".
    """

    MACS_PER_OUTPUT: ClassVar[dict[str, int]] = {"bicubic": 16, "bilinear": 4, "nearest": 0}

    def __init__(self, scale: int, mode: str = "bicubic") -> None:
        super().__init__()
        if mode not in self.MACS_PER_OUTPUT:
            raise ValueError(
                f"interpolation mode {mode!r} unknown; choose one of {sorted(self.MACS_PER_OUTPUT)}"
            )
        self.scale = int(scale)
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, s H, s W)."""
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return F.interpolate(x, scale_factor=self.scale, mode=self.mode, align_corners=False)


def area_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Mean over non-overlapping ``factor x factor`` blocks: (B, C, fH, fW) -> (B, C, H, W)."""
    return F.avg_pool2d(x, factor) if factor > 1 else x
