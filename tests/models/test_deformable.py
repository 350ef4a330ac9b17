"""The plain-PyTorch DCNv2 against a naive per-pixel loop (and torchvision when installed)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from deeplight.models.deformable import DeformableAlignment, deform_conv2d


def _bilinear_zero_outside(image: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """Value of (C, H, W) ``image`` at fractional (y, x), zero outside (torchvision's convention)."""
    c, h, w = image.shape
    y0, x0 = math.floor(y), math.floor(x)
    value = torch.zeros(c, dtype=image.dtype)
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < h and 0 <= xx < w:
                value = value + wy * wx * image[:, yy, xx]
    return value


def naive_deform_conv2d(x, offset, mask, weight, bias, padding, dilation):
    """Per-pixel, per-tap loop written from the DCNv2 formula y(p) = sum_k w_k m_k x(p + p_k + dp_k)."""
    b, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    h_out = h + 2 * padding - dilation * (kh - 1)
    w_out = w + 2 * padding - dilation * (kw - 1)
    out = torch.zeros(b, c_out, h_out, w_out, dtype=x.dtype)
    for n in range(b):
        for i in range(h_out):
            for j in range(w_out):
                acc = bias.clone() if bias is not None else torch.zeros(c_out, dtype=x.dtype)
                for ki in range(kh):
                    for kj in range(kw):
                        k = ki * kw + kj
                        y = i - padding + ki * dilation + float(offset[n, 2 * k, i, j])
                        xx = j - padding + kj * dilation + float(offset[n, 2 * k + 1, i, j])
                        sample = _bilinear_zero_outside(x[n], y, xx)
                        m = float(mask[n, k, i, j]) if mask is not None else 1.0
                        acc = acc + m * weight[:, :, ki, kj] @ sample
                out[n, :, i, j] = acc
    return out


def _case(seed: int, dilation: int = 1, h: int = 5, w: int = 6):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, h, w, generator=gen, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, generator=gen, dtype=torch.float64)
    bias = torch.randn(4, generator=gen, dtype=torch.float64)
    # offsets up to +-3 px: many samples fall between pixels and some outside the image
    offset = 3 * (2 * torch.rand(2, 18, h, w, generator=gen, dtype=torch.float64) - 1)
    mask = torch.rand(2, 9, h, w, generator=gen, dtype=torch.float64)
    return x, offset, mask, weight, bias, dilation, dilation


@pytest.mark.parametrize("dilation", [1, 2])
def test_matches_naive_loop(dilation):
    x, offset, mask, weight, bias, padding, dil = _case(0, dilation)
    fast = deform_conv2d(x, offset, mask, weight, bias, padding, dil)
    slow = naive_deform_conv2d(x, offset, mask, weight, bias, padding, dil)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-5)


def test_matches_naive_loop_in_float32():
    x, offset, mask, weight, bias, padding, dil = (t.float() if torch.is_tensor(t) else t for t in _case(1))
    fast = deform_conv2d(x, offset, mask, weight, bias, padding, dil)
    slow = naive_deform_conv2d(
        x.double(), offset.double(), mask.double(), weight.double(), bias.double(), padding, dil
    )
    torch.testing.assert_close(fast.double(), slow, rtol=0, atol=1e-5)


def test_zero_offsets_and_unit_mask_equal_an_ordinary_convolution():
    x, offset, mask, weight, bias, padding, dil = _case(2)
    fast = deform_conv2d(x, torch.zeros_like(offset), torch.ones_like(mask), weight, bias, padding, dil)
    torch.testing.assert_close(fast, F.conv2d(x, weight, bias, padding=1), rtol=0, atol=1e-10)


def test_integer_offset_shifts_the_sampling():
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    weight = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    weight[0, 0, 1, 1] = 1  # centre tap only: output = input sampled at p + offset
    offset = torch.zeros(1, 18, 6, 6, dtype=torch.float64)
    offset[:, 2 * 4 + 1] = 1.0  # centre tap, dx = +1
    out = deform_conv2d(x, offset, None, weight, None, 1, 1)
    torch.testing.assert_close(out[..., :-1], x[..., 1:])
    assert torch.all(out[..., -1] == 0)


def test_matches_torchvision_when_installed():
    ops = pytest.importorskip(
        "torchvision.ops", reason="torchvision is not installed (deliberately; see docs/DESIGN.md)"
    )
    x, offset, mask, weight, bias, padding, dil = _case(3)
    expected = ops.deform_conv2d(
        x, offset, weight, bias, padding=(padding, padding), dilation=(dil, dil), mask=mask
    )
    torch.testing.assert_close(
        deform_conv2d(x, offset, mask, weight, bias, padding, dil), expected, rtol=0, atol=1e-5
    )


def test_alignment_starts_as_half_masked_convolution_and_learns_offsets():
    torch.manual_seed(0)
    align = DeformableAlignment(4)
    aux, ref = torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6)
    expected = F.conv2d(aux, 0.5 * align.deform.weight, align.deform.bias, padding=1)
    torch.testing.assert_close(align(aux, ref), expected, rtol=1e-5, atol=1e-5)
    align(aux, ref).square().sum().backward()
    assert align.predictor[-1].weight.grad.abs().sum() > 0, "offset/mask predictor receives no gradient"


def test_bad_offset_shape_is_an_error():
    x, offset, mask, weight, bias, padding, dil = _case(4)
    with pytest.raises(ValueError, match="offset has shape"):
        deform_conv2d(x, offset[:, :10], mask, weight, bias, padding, dil)
