"""Counting multiply-accumulates (MACs) per HR pixel with forward hooks (no thop/fvcore).

Counted: ``nn.Conv2d`` (output elements x C_in/groups x k x k), ``nn.Linear`` (output elements x
in_features), the attention products of modules that report them (``attention_macs`` attribute set
during forward, e.g. SwinIR's window attention), deformable convolutions (the matrix product plus 4
MACs per bilinear sample), the affine warps of spatial transformers (4 MACs per output value), and
:class:`~deeplight.models.blocks.Interpolate` (16 per output value for bicubic, 4 for bilinear).
Not counted: element-wise operations, activations, normalisation and the FFTs of the Gaussian
deblurring baseline (documented as a known under-count).
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn

from deeplight.models.blocks import Interpolate
from deeplight.models.deformable import DeformConv2d
from deeplight.models.global_alignment import SpatialTransformer


def _module_macs(module: nn.Module, inputs: tuple, output) -> int:
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        return output.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, DeformConv2d):
        taps = module.kernel_size**2
        return (
            output.numel() * module.in_channels * taps
            + 4 * inputs[0].shape[0] * module.in_channels * taps * output.shape[-2] * output.shape[-1]
        )
    if isinstance(module, SpatialTransformer):
        return 4 * output.numel()
    if isinstance(module, Interpolate):
        return Interpolate.MACS_PER_OUTPUT[module.mode] * output.numel()
    return int(getattr(module, "attention_macs", 0) or 0)


def count_macs(model: nn.Module, batch: dict, by_module: bool = False) -> int | tuple[int, dict[str, int]]:
    """Total MACs of one forward pass on ``batch``.

    Args:
        model: any registered model.
        batch: a sample dict.
        by_module: also return MACs per top-level child module name.

    Returns:
        Total MACs, or ``(total, {child name: MACs})``.
    """
    per_child: dict[str, int] = defaultdict(int)
    handles = []
    for name, module in model.named_modules():
        if name == "" and not isinstance(module, (Interpolate, SpatialTransformer)):
            continue
        child = name.split(".")[0] if name else "(self)"

        def hook(mod, inp, out, child=child):
            per_child[child] += _module_macs(mod, inp, out)

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            model(batch)
    finally:
        for handle in handles:
            handle.remove()
    total = int(sum(per_child.values()))
    return (total, dict(per_child)) if by_module else total


def example_batch(
    lr_size: int = 32, scale: int = 8, dmo_channels: int = 7, batch_size: int = 1, seed: int = 0
) -> dict[str, torch.Tensor]:
    """A random batch with every modality present (for cost measurements, not for quality)."""
    gen = torch.Generator().manual_seed(seed)
    h = w = lr_size
    return {
        "lr": torch.rand(batch_size, 1, h, w, generator=gen),
        "dmo": torch.rand(batch_size, dmo_channels, scale * h, scale * w, generator=gen),
        "dem": torch.rand(batch_size, 1, scale * h, scale * w, generator=gen),
        "present": torch.ones(batch_size, 4),
    }


def macs_per_hr_pixel(model: nn.Module, lr_size: int = 32, scale: int = 8) -> float:
    """MACs of one forward pass divided by the number of HR pixels (batch 1, square LR tile)."""
    return count_macs(model, example_batch(lr_size, scale)) / float((scale * lr_size) ** 2)
