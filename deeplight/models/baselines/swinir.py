"""SwinIR-light (Liang, Cao, Sun, Zhang, Van Gool, Timofte, "SwinIR: Image Restoration Using Swin
Transformer", ICCVW 2021), with the window attention written here.

Shallow convolution; residual Swin transformer blocks (RSTB: Swin layers alternating regular and
shifted windows, then a 3x3 convolution, with a skip); layer norm; a convolution with the long
skip; the "pixel-shuffle direct" up-sampler of the lightweight model (one convolution to s^2
channels and a pixel shuffle). Window multi-head self-attention with a learned relative position
bias follows Liu et al., "Swin Transformer", ICCV 2021. Single-modal; the LR input is padded to a
multiple of the window size and the output cropped; predicts a residual over the base image.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplight.errors import ConfigError
from deeplight.models.baselines.common import BaselineSize, ResidualSRModel, resolve_size
from deeplight.models.blocks import conv3x3
from deeplight.models.inputs import ModelInputs, check_choice

PRESETS = {"tiny": BaselineSize(12, 2), "demo": BaselineSize(32, 2), "paper": BaselineSize(60, 6)}
"""channels, Swin layers per RSTB (num_blocks); RSTB count, heads and window are per preset below."""
LAYOUT = {"tiny": (1, 2, 4), "demo": (2, 4, 8), "paper": (4, 6, 8)}
"""preset -> (RSTBs, attention heads, window size); SwinIR-light is 60 channels, 4 x 6 layers, window 8."""


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, window * window, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c)


def window_reverse(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """(B * nW, window * window, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // window) * (w // window))
    x = windows.view(b, h // window, w // window, window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def shifted_window_mask(h: int, w: int, window: int, shift: int, device: torch.device) -> torch.Tensor:
    """Attention mask (nW, N, N): 0 within a region, -100 across the regions a cyclic shift joins."""
    region = torch.zeros(1, h, w, 1, device=device)
    count = 0
    for hs in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
        for ws in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
            region[:, hs, ws, :] = count
            count += 1
    ids = window_partition(region, window).squeeze(-1)
    mask = ids.unsqueeze(1) - ids.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside non-overlapping windows with relative position bias.

    Args:
        dim: channels C.
        window: window side (N = window^2 tokens).
        heads: attention heads (C divisible by heads).

    After each forward, ``attention_macs`` holds the MACs of the two attention products
    (``2 * windows * heads * N^2 * d``) for :mod:`deeplight.models.macs`.
    """

    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.window = window
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(
            torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
        ).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("relative_index", rel[..., 0] * (2 * window - 1) + rel[..., 1], persistent=False)
        self.attention_macs = 0

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """(B * nW, N, C), mask (nW, N, N) or None -> (B * nW, N, C)."""
        bw, n, c = x.shape
        d = c // self.heads
        q, k, v = self.qkv(x).view(bw, n, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.bias_table[self.relative_index.view(-1)].view(n, n, self.heads).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0).to(attn.dtype)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(bw // nw, nw, self.heads, n, n) + mask.view(1, nw, 1, n, n).to(attn.dtype)
            attn = attn.view(bw, self.heads, n, n)
        out = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(bw, n, c)
        self.attention_macs = 2 * bw * self.heads * n * n * d
        return self.proj(out)


class SwinLayer(nn.Module):
    """Pre-norm Swin transformer layer: (shifted) window attention and an MLP, each with a skip."""

    def __init__(self, dim: int, heads: int, window: int, shift: int, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attention = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C); H and W are multiples of the window."""
        h, w = x.shape[1:3]
        shift = self.shift if min(h, w) > self.window else 0
        y = self.norm1(x)
        if shift:
            y = torch.roll(y, shifts=(-shift, -shift), dims=(1, 2))
        mask = shifted_window_mask(h, w, self.window, shift, x.device) if shift else None
        y = window_reverse(self.attention(window_partition(y, self.window), mask), self.window, h, w)
        if shift:
            y = torch.roll(y, shifts=(shift, shift), dims=(1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class RSTB(nn.Module):
    """Residual Swin transformer block: Swin layers, a 3x3 convolution, a skip."""

    def __init__(self, dim: int, depth: int, heads: int, window: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [SwinLayer(dim, heads, window, 0 if i % 2 == 0 else window // 2) for i in range(depth)]
        )
        self.conv = conv3x3(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        y = x.permute(0, 2, 3, 1)
        for layer in self.layers:
            y = layer(y)
        return x + self.conv(y.permute(0, 3, 1, 2).contiguous())


class SwinIRLight(ResidualSRModel):
    """SwinIR-light x8 with the pixel-shuffle-direct up-sampler.

    Args:
        preset: "tiny", "demo" or "paper" (the published lightweight size).
        scale: must be 8.
        channels: override C (a multiple of the head count).
        num_blocks: override Swin layers per RSTB.
    """

    family = "single-modal"

    def __init__(
        self, preset: str = "demo", scale: int = 8, channels: int | None = None, num_blocks: int | None = None
    ) -> None:
        check_choice(preset, tuple(LAYOUT), "swinir-light preset")
        num_rstb, heads, window = LAYOUT[preset]
        super().__init__(scale, pad_multiple=window)
        size = resolve_size(PRESETS, preset, channels, num_blocks, "swinir-light")
        c = size.channels
        if c % heads:
            raise ConfigError(f"swinir-light: channels={c} must be a multiple of the {heads} attention heads")
        self.window = window
        self.head = conv3x3(2, c)
        self.blocks = nn.ModuleList([RSTB(c, size.num_blocks, heads, window) for _ in range(num_rstb)])
        self.norm = nn.LayerNorm(c)
        self.body_conv = conv3x3(c, c)
        self.upsampler = nn.Sequential(conv3x3(c, scale * scale), nn.PixelShuffle(scale))

    def residual(self, inputs: ModelInputs, lr_calibrated: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """Shallow conv, RSTBs, norm, conv with long skip, pixel-shuffle-direct up-sampling."""
        x = self.head(torch.cat([inputs.lr, lr_calibrated], dim=1))
        y = x
        for block in self.blocks:
            y = block(y)
        y = self.norm(y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.upsampler(x + self.body_conv(y.contiguous()))


__all__ = ["SwinIRLight", "WindowAttention"]
