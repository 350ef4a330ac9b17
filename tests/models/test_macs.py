"""MAC counting by forward hooks."""

from __future__ import annotations

import torch
from torch import nn

from deeplight.models.baselines.swinir import WindowAttention
from deeplight.models.macs import count_macs, macs_per_hr_pixel
from deeplight.models.registry import get_model, list_models


class _TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.linear = nn.Linear(4, 3)

    def forward(self, batch):
        x = self.conv(batch["lr"])  # (1, 4, 5, 6)
        return {"sr": self.linear(x.permute(0, 2, 3, 1))}


def test_conv_and_linear_counts_are_exact():
    macs = count_macs(_TwoLayers(), {"lr": torch.rand(1, 2, 5, 6)})
    assert macs == 4 * 5 * 6 * 2 * 9 + 5 * 6 * 3 * 4


def test_window_attention_reports_its_products():
    attention = WindowAttention(dim=8, window=4, heads=2)
    attention(torch.rand(3, 16, 8), None)
    assert attention.attention_macs == 2 * 3 * 2 * 16 * 16 * 4


def test_every_model_has_a_positive_cost_and_bicubic_the_interpolation_cost():
    for name in list_models():
        assert macs_per_hr_pixel(get_model(name, preset="tiny"), lr_size=8) > 0, name
    assert macs_per_hr_pixel(get_model("bicubic"), lr_size=8) == 16


def test_by_module_breakdown_sums_to_total():
    total, parts = count_macs(
        get_model("deeplightsr", preset="tiny"),
        {"lr": torch.rand(1, 1, 4, 4), "dmo": torch.rand(1, 7, 32, 32), "dem": torch.rand(1, 1, 32, 32)},
        by_module=True,
    )
    assert total == sum(parts.values())
    assert {"calibration", "encoders", "local_align", "refinement"} <= set(parts)
