"""The spatial transformer's learned shift means the same number of pixels at every input size."""

from __future__ import annotations

import torch

from deeplight.models.global_alignment import REFERENCE_LR_SIZE, SpatialTransformer


def _shift_in_lr_pixels(stn: SpatialTransformer, size: int) -> torch.Tensor:
    theta = stn.predict_theta(torch.rand(1, 1, size, size), torch.rand(1, 2, 8 * size, 8 * size))
    return theta[0, :, 2] * size / 2  # normalised coordinates span 2 units over the input


def test_translation_is_size_independent_and_unchanged_at_the_reference_size():
    stn = SpatialTransformer(2, 8, hidden=4)
    with torch.no_grad():
        stn.localisation[-1].bias.copy_(torch.tensor([1.0, 0.0, 0.1, 0.0, 1.0, -0.05]))
    at_reference = _shift_in_lr_pixels(stn, REFERENCE_LR_SIZE)
    torch.testing.assert_close(at_reference, torch.tensor([0.1, -0.05]) * REFERENCE_LR_SIZE / 2)
    for size in (8, 64, 128):
        torch.testing.assert_close(_shift_in_lr_pixels(stn, size), at_reference)
