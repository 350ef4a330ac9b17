"""DeepLightSR stage 1b: global alignment of an auxiliary modality by a spatial transformer.

Jaderberg et al., "Spatial Transformer Networks", NeurIPS 2015, used as the global step of the
calibration-aware alignment of Zhang et al. (DeepLight, IJCAI 2024): a localisation network looks
at the main night-light stream and the auxiliary image (area-averaged to the LR grid), predicts an
affine transform per sample, and a grid generator plus bilinear sampler warps the auxiliary image.
The last layer is zero-initialised with an identity bias, so at start the warp is the identity and
returns its input exactly (pixel centres map onto pixel centres with ``align_corners=False``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from deeplight.models.blocks import activation, area_downsample, conv3x3, fast_path

IDENTITY_THETA = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
REFERENCE_LR_SIZE = 16
"""LR width/height (pixels) in whose normalised units the translation is predicted (the training
clips of the shipped checkpoint are 16x16): keeps a learned shift size-independent."""
"""Row-major 2x3 affine matrix of the identity (normalised coordinates)."""


def affine_warp(x: torch.Tensor, theta: torch.Tensor, separable_grid: bool = False) -> torch.Tensor:
    """Warp (B, C, H, W) by (B, 2, 3) affine matrices in normalised coordinates.

    Outside samples repeat the border (aux layers have no "outside" value that means nothing).
    ``separable_grid``: build the sampling grid as ``theta[:, :, 0] x + (theta[:, :, 1] y + theta[:, :, 2])``
    from the row and column coordinates (one full-size pass per coordinate) instead of
    ``F.affine_grid``'s matrix product over an (H W, 3) base grid; the same grid to rounding.
    """
    theta = theta.to(x.dtype)
    if separable_grid:
        grid = _separable_affine_grid(theta, x.shape[-2], x.shape[-1])
    else:
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _separable_affine_grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``F.affine_grid(theta, (B, C, h, w), align_corners=False)`` from its separable form."""
    xs = torch.linspace(-1, 1, w, dtype=theta.dtype, device=theta.device) * (w - 1) / w
    ys = torch.linspace(-1, 1, h, dtype=theta.dtype, device=theta.device) * (h - 1) / h
    coords = []
    for row in range(2):
        along_x = theta[:, row, 0, None, None] * xs[None, None, :]  # (B, 1, w)
        along_y = theta[:, row, 1, None, None] * ys[None, :, None]  # (B, h, 1)
        # summed in the matrix product's order, (x t0 + y t1) + t2
        coords.append((along_x + along_y).add_(theta[:, row, 2, None, None]))
    return torch.stack(coords, dim=-1)


class SpatialTransformer(nn.Module):
    """Predict an affine transform from (main LR, aux) and warp the auxiliary image with it.

    Args:
        aux_channels: channels of the auxiliary image.
        scale: the auxiliary grid is ``scale`` times finer than the LR grid.
        hidden: width of the localisation network.
    """

    def __init__(self, aux_channels: int, scale: int = 8, hidden: int = 16) -> None:
        super().__init__()
        self.scale = scale
        self.localisation = nn.Sequential(
            conv3x3(1 + aux_channels, hidden),
            activation(),
            conv3x3(hidden, hidden, stride=2),
            activation(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(16 * hidden, 2 * hidden),
            activation(),
            nn.Linear(2 * hidden, 6),
        )
        nn.init.zeros_(self.localisation[-1].weight)
        with torch.no_grad():
            self.localisation[-1].bias.copy_(torch.tensor(IDENTITY_THETA))

    def predict_theta(self, main_lr: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) main, (B, C, s h, s w) aux -> (B, 2, 3) float32 affine matrices.

        The predicted translation is in units of a ``REFERENCE_LR_SIZE``-pixel clip and rescaled to
        this input's size, so a shift means the same number of pixels on a training clip and on a
        large inference tile (``affine_grid`` coordinates span the whole input: an unscaled
        translation of 0.1 is 0.8 LR px on a 16-px clip but 6.4 LR px on a 128-px tile).
        """
        return self._theta(main_lr, area_downsample(aux, self.scale))

    def _theta(self, main_lr: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """:meth:`predict_theta` from the auxiliary image already averaged to the LR grid."""
        pooled = pooled.to(main_lr.dtype)
        theta = self.localisation(torch.cat([main_lr, pooled], dim=1)).float().view(-1, 2, 3)
        size = torch.tensor([main_lr.shape[-1], main_lr.shape[-2]], dtype=theta.dtype, device=theta.device)
        shift = theta[:, :, 2] * (REFERENCE_LR_SIZE / size)
        return torch.cat([theta[:, :, :2], shift.unsqueeze(-1)], dim=2)

    def forward(self, main_lr: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """Return ``aux`` (B, C, s h, s w) warped onto the main stream's geometry."""
        return affine_warp(aux, self.predict_theta(main_lr, aux), separable_grid=fast_path(self))

    def warp_covered(self, main_lr: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` for an image whose coverage channels (the second half) are all 1, given
        only its values (B, C/2, s h, s w): returns the warped values. The coverage is not warped
        (a warp of ones is ones, to rounding) and enters the localisation network as its exact LR
        mean, 1."""
        pooled = area_downsample(values, self.scale)
        pooled = torch.cat([pooled, torch.ones_like(pooled)], dim=1)
        return affine_warp(values, self._theta(main_lr, pooled), separable_grid=fast_path(self))

    fast = True
    """Without autograd, build the sampling grid in separable form (:func:`affine_warp`)."""
