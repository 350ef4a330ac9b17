"""SwinIR-light's window helpers and padding."""

from __future__ import annotations

import torch

from deeplight.models.baselines.swinir import shifted_window_mask, window_partition, window_reverse
from deeplight.models.registry import get_model


def test_window_partition_round_trip():
    x = torch.rand(2, 8, 12, 3)
    windows = window_partition(x, 4)
    assert windows.shape == (2 * 2 * 3, 16, 3)
    torch.testing.assert_close(window_reverse(windows, 4, 8, 12), x, rtol=0, atol=0)


def test_shift_mask_blocks_only_tokens_from_different_regions():
    mask = shifted_window_mask(8, 8, 4, 2, torch.device("cpu"))
    assert mask.shape == (4, 16, 16)
    assert torch.all(mask[0] == 0)  # the top-left window holds one region
    assert (mask[-1] < 0).any()  # the bottom-right window mixes four


def test_sizes_that_are_not_window_multiples_are_padded_and_cropped():
    model = get_model("swinir-light", preset="tiny").eval()
    lr = torch.rand(1, 1, 5, 6)
    with torch.no_grad():
        out = model({"lr": lr})
        grown = model({"lr": torch.nn.functional.pad(lr, (0, 2, 0, 3), mode="replicate")})
    assert out["sr"].shape == (1, 1, 40, 48)
    # padding is replicate, so the crop equals the corresponding part of an explicitly padded run
    torch.testing.assert_close(out["sr"], grown["sr"][..., :40, :48], rtol=0, atol=1e-6)
