"""Small typed building blocks shared by DeepLightSR and the baselines.

Everything here works on ``(B, C, H, W)`` float tensors. The interpolation modules exist as
modules (not bare ``F.interpolate`` calls) so that :mod:`deeplight.models.macs` can count their
multiply-accumulates with forward hooks like any convolution.

Fast inference paths (issue 14): a module with a ``fast`` attribute may compute the same function in
a cheaper way when no gradient is being recorded (:func:`fast_path`); with gradients (training) or
with ``fast = False`` it runs the reference computation. Both are tested equal to rounding
(``tests/models/test_fast_paths.py``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from functools import lru_cache
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


def fast_path(module: nn.Module) -> bool:
    """True when ``module`` may take its fast inference path: ``module.fast`` and no autograd recording."""
    return bool(getattr(module, "fast", False)) and not torch.is_grad_enabled()


@contextlib.contextmanager
def float32_region(x: torch.Tensor, active: bool = True) -> Iterator[None]:
    """Autocast switched off on ``x``'s device while the block runs (when ``active`` and autocast is on),
    so the block computes in float32 under a bf16 / fp16 autocast; its callers cast its inputs with
    ``.float()``. Used where the output amplifies rounding (DeepLightSR's auxiliary fusion and LR body,
    which feed the flux transport)."""
    if active and torch.is_autocast_enabled(x.device.type):
        with torch.autocast(x.device.type, enabled=False):
            yield
    else:
        yield


def pointwise_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """A 1x1 convolution that takes oneDNN's kernel on a CPU whatever the thread count.

    PyTorch sends an undilated 1x1 convolution on one CPU thread to its generic ("slow_conv2d")
    kernel, which is 2-3x slower than oneDNN on the thin, large maps of DeepLightSR (measured: 8 -> 6
    channels at 1024^2, 34 vs 10 ms). A dilation has no effect on a 1x1 kernel (the same single tap),
    but it selects oneDNN: same function, same output to rounding.
    """
    if x.device.type == "cpu" and weight.shape[-2:] == (1, 1):
        return F.conv2d(x, weight, bias, dilation=2)
    return F.conv2d(x, weight, bias)


class PointwiseConv2d(nn.Conv2d):
    """``nn.Conv2d`` with a 1x1 kernel (same parameters and state-dict keys) and a fast CPU path.

    With :func:`fast_path` it runs :func:`pointwise_conv2d`; otherwise it is ``nn.Conv2d``.
    """

    fast = True

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> (B, C_out, H, W)."""
        if fast_path(self):
            return pointwise_conv2d(x, self.weight, self.bias)
        return super().forward(x)


def pointwise(in_channels: int, out_channels: int, bias: bool = True) -> PointwiseConv2d:
    """A pointwise convolution with the fast CPU inference path (used by DeepLightSR's modules)."""
    return PointwiseConv2d(in_channels, out_channels, bias=bias)


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
    fast = False
    """When set (DeepLightSR sets it on its own modules), bicubic or bilinear by >= 4 takes
    :func:`upsample_polyphase` on a CPU without autograd (bicubic x8 3-9x faster, bilinear x8 of 7
    channels 1.5x; equal to rounding); x2 (measured slower that way) always calls ``F.interpolate``."""

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
        if self.scale >= 4 and x.device.type == "cpu" and fast_path(self):
            return upsample_polyphase(x, self.scale, self.mode)
        return F.interpolate(x, scale_factor=self.scale, mode=self.mode, align_corners=False)


@lru_cache(maxsize=16)
def _phase_weights(scale: int, mode: str) -> tuple[tuple[float, ...], ...]:
    """Per output phase ``r`` (0..scale-1), the weights of the input taps ``k - p .. k + p``.

    They reproduce ``F.interpolate(scale_factor=scale, align_corners=False)``: output pixel
    ``scale k + r`` samples the input at ``k + (r + 0.5) / scale - 0.5``; bilinear weights, or
    PyTorch's cubic convolution (A = -0.75) on 4 taps. Taps outside the input repeat its border
    (replicate padding by ``p``), which is what PyTorch's clamped indices do.
    """
    a = -0.75
    pad = 2 if mode == "bicubic" else 1

    def near(x: float) -> float:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: float) -> float:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    rows = []
    for r in range(scale):
        real = (r + 0.5) / scale - 0.5
        floor = math.floor(real)
        t = real - floor
        row = [0.0] * (2 * pad + 1)
        if mode == "bicubic":
            for j, w in enumerate((far(t + 1), near(t), near(1 - t), far(2 - t))):
                row[floor - 1 + j + pad] += w
        else:
            row[floor + pad] += 1 - t
            row[floor + 1 + pad] += t
        rows.append(tuple(row))
    return tuple(rows)


def upsample_polyphase(x: torch.Tensor, scale: int, mode: str = "bicubic") -> torch.Tensor:
    """``F.interpolate(x, scale_factor=scale, mode=mode, align_corners=False)`` as two small matmuls.

    Separable polyphase form: each axis is replicate-padded and every output phase is a fixed
    combination of ``2p + 1`` neighbouring inputs, applied to the channels-last view with one
    matrix product per axis. Equal to ``F.interpolate`` to float rounding (tested); returns a
    channels-last tensor.

    Args:
        x: (B, C, h, w) float.
        scale: integer factor.
        mode: "bicubic" or "bilinear".

    Returns:
        (B, C, scale h, scale w), channels-last.
    """
    with torch.autocast(x.device.type, enabled=False):  # interpolation stays in x's precision
        return _upsample_polyphase(x, scale, mode)


def _upsample_polyphase(x: torch.Tensor, scale: int, mode: str) -> torch.Tensor:
    weights = torch.tensor(_phase_weights(scale, mode), dtype=x.dtype, device=x.device)  # (s, T)
    taps = weights.shape[1]
    pad = taps // 2
    b, c, h, w = x.shape
    y = F.pad(x, (pad, pad, pad, pad), mode="replicate").permute(0, 2, 3, 1).contiguous()  # (b, h', w', c)
    # along the width: (b, h', w, c, T) @ (T, s) -> (b, h', w, s, c)
    y = (y.unfold(2, taps, 1) @ weights.t()).transpose(-1, -2).reshape(b, h + 2 * pad, w * scale, c)
    # along the height: (s, T) @ (b, h, T, W c) -> (b, h, s, W c)
    width = w * scale
    y = y.unfold(1, taps, 1).permute(0, 1, 4, 2, 3).reshape(b, h, taps, width * c)
    y = torch.matmul(weights, y).reshape(b, h * scale, width, c)
    return y.permute(0, 3, 1, 2)


def area_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Mean over non-overlapping ``factor x factor`` blocks: (B, C, fH, fW) -> (B, C, H, W)."""
    return F.avg_pool2d(x, factor) if factor > 1 else x
