"""Spatial transformer: identity at start, and a known affine moves the image as expected."""

from __future__ import annotations

import torch

from deeplight.models.global_alignment import SpatialTransformer, affine_warp


def test_identity_theta_returns_the_input():
    image = torch.rand(2, 7, 16, 24)
    theta = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    torch.testing.assert_close(
        affine_warp(image, theta), image, rtol=0, atol=1e-5
    )  # float32 rounding of the sampling grid


def test_fresh_transformer_is_the_identity():
    stn = SpatialTransformer(aux_channels=7, scale=8)
    lr, aux = torch.rand(2, 1, 3, 4), torch.rand(2, 7, 24, 32)
    torch.testing.assert_close(
        stn.predict_theta(lr, aux), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    )
    torch.testing.assert_close(stn(lr, aux), aux, rtol=0, atol=1e-5)  # float32 rounding of the sampling grid


def test_translation_moves_the_image_by_whole_pixels():
    image = torch.rand(1, 1, 8, 10)
    # x_src = x_out + 2 * (2 / W) in normalised units -> shift left by 2 pixels
    theta = torch.tensor([[[1.0, 0, 2 * 2 / 10], [0, 1.0, 0]]])
    warped = affine_warp(image, theta)
    torch.testing.assert_close(warped[..., :-2], image[..., 2:], rtol=0, atol=1e-5)


def test_localisation_net_learns_from_the_warp():
    torch.manual_seed(0)
    stn = SpatialTransformer(aux_channels=1, scale=2)
    aux = torch.rand(1, 1, 8, 8)
    target = torch.roll(aux, 1, dims=-1)
    stn(torch.rand(1, 1, 4, 4), aux).sub(target).abs().mean().backward()
    assert stn.localisation[-1].bias.grad.abs().sum() > 0
