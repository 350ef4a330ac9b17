"""Modulated deformable convolution (DCNv2) in plain PyTorch, on ``grid_sample``.

Dai et al., "Deformable Convolutional Networks", ICCV 2017; Zhu et al., "Deformable ConvNets v2:
More Deformable, Better Results", CVPR 2019. For output pixel p and kernel tap k:

    y(p) = sum_k w_k * m_k(p) * x(p + p_k + dp_k(p)) + b

with learned offsets dp_k and modulation masks m_k in (0, 1); x at fractional positions is
bilinearly interpolated, zero outside the image. The layout matches ``torchvision.ops.deform_conv2d``
(offset channels ``[dy_0, dx_0, dy_1, dx_1, ...]`` per offset group, kernel taps in row-major order),
so the two agree numerically; torchvision itself is never imported here.

Implementation: one ``grid_sample`` over a grid holding every kernel tap gathers the K*K shifted
copies of the input, the masks modulate them, and a single matrix product (a 1x1 convolution) with
the reshaped weight does the convolution. Stride 1 only.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def deform_conv2d(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    padding: int = 1,
    dilation: int = 1,
) -> torch.Tensor:
    """Functional modulated deformable convolution, stride 1, one offset group.

    Args:
        x: (B, C_in, H, W) input.
        offset: (B, 2 K K, H_out, W_out) offsets in pixels, ``[dy, dx]`` per tap.
        mask: (B, K K, H_out, W_out) modulation, or None for DCNv1 (all ones).
        weight: (C_out, C_in, K, K).
        bias: (C_out,) or None.
        padding: zero padding of the input (pixels).
        dilation: spacing of kernel taps (pixels).

    Returns:
        (B, C_out, H_out, W_out) with ``H_out = H + 2 padding - dilation (K - 1)``.
    """
    b, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    h_out = h + 2 * padding - dilation * (kh - 1)
    w_out = w + 2 * padding - dilation * (kw - 1)
    taps = kh * kw
    if offset.shape != (b, 2 * taps, h_out, w_out):
        raise ValueError(f"offset has shape {tuple(offset.shape)}, expected {(b, 2 * taps, h_out, w_out)}")
    if mask is not None and mask.shape != (b, taps, h_out, w_out):
        raise ValueError(f"mask has shape {tuple(mask.shape)}, expected {(b, taps, h_out, w_out)}")
    dtype = x.dtype
    # sampling positions of every tap at once: (B, K K, H_out, W_out) rows and columns
    tap_rows = torch.arange(kh, device=x.device, dtype=dtype).repeat_interleave(kw) * dilation
    tap_cols = torch.arange(kw, device=x.device, dtype=dtype).repeat(kh) * dilation
    rows = torch.arange(h_out, device=x.device, dtype=dtype) - padding
    cols = torch.arange(w_out, device=x.device, dtype=dtype) - padding
    offset = offset.to(dtype).view(b, taps, 2, h_out, w_out)
    py = rows.view(1, 1, h_out, 1) + tap_rows.view(1, taps, 1, 1) + offset[:, :, 0]
    px = cols.view(1, 1, 1, w_out) + tap_cols.view(1, taps, 1, 1) + offset[:, :, 1]
    # pixel centre i <-> normalised (2 i + 1) / size - 1 with align_corners=False; one grid_sample
    # over a (K K * H_out, W_out) grid gathers every tap
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], dim=-1).view(b, taps * h_out, w_out, 2)
    sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    sampled = sampled.view(b, c_in, taps, h_out, w_out)
    if mask is not None:
        sampled = sampled * mask.to(dtype).unsqueeze(1)
    # (B, C_in * K K, H, W) ordered like weight's (C_in, K, K) flattening
    stacked = sampled.reshape(b, c_in * taps, h_out, w_out)
    out = F.conv2d(
        stacked,
        weight.reshape(c_out, c_in * taps, 1, 1).to(stacked.dtype),
        None if bias is None else bias.to(stacked.dtype),
    )
    return out


class DeformConv2d(nn.Module):
    """A DCNv2 layer with weights only; offsets and masks are given at call time.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        kernel_size: K (square).
        dilation: tap spacing; padding keeps the size ("same").
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = dilation * (kernel_size - 1) // 2
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """(B, C_in, H, W), (B, 2KK, H, W), (B, KK, H, W) -> (B, C_out, H, W)."""
        return deform_conv2d(x, offset, mask, self.weight, self.bias, self.padding, self.dilation)


class DeformableAlignment(nn.Module):
    """Local alignment of auxiliary features to a reference stream by DCNv2.

    Offsets and masks are predicted from the concatenated (reference, auxiliary) features, as in
    the feature alignment of EDVR (Wang et al. 2019) and RRSGAN (Dong et al. 2021). The offset
    predictor is zero-initialised (no displacement at start) and the mask starts at 0.5, the DCNv2
    initialisation.

    Args:
        channels: width of both streams.
        kernel_size: K of the deformable kernel.
        max_offset: offsets are bounded to +-max_offset pixels by tanh (stability).
    """

    def __init__(self, channels: int, kernel_size: int = 3, max_offset: float = 4.0) -> None:
        super().__init__()
        taps = kernel_size * kernel_size
        self.max_offset = max_offset
        self.predictor = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 3, padding=1),
            nn.LeakyReLU(0.1),
            nn.Conv2d(channels, 3 * taps, 3, padding=1),
        )
        nn.init.zeros_(self.predictor[-1].weight)
        nn.init.zeros_(self.predictor[-1].bias)
        self.taps = taps
        self.deform = DeformConv2d(channels, channels, kernel_size)

    def forward(self, aux: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Warp ``aux`` (B, C, H, W) towards ``reference`` (B, C, H, W); returns (B, C, H, W)."""
        pred = self.predictor(torch.cat([reference, aux.to(reference.dtype)], dim=1))
        offset = self.max_offset * torch.tanh(pred[:, : 2 * self.taps] / self.max_offset)
        mask = torch.sigmoid(pred[:, 2 * self.taps :])
        return self.deform(aux.to(reference.dtype), offset, mask)
