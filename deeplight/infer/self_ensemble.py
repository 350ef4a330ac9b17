"""The x8 geometric self-ensemble: the dihedral group of flips and 90-degree rotations.

Each member transforms every spatial input of the batch the same way, runs the model, and maps the
output back with the inverse transform (Timofte, Rothe & Van Gool, "Seven ways to improve example-based
single image super resolution", CVPR 2016; used as "x8 self-ensemble" by EDSR, Lim et al. 2017).
The mean of the 8 members is the prediction; their per-pixel standard deviation is an uncertainty
layer (a cheap spread estimate, not a calibrated confidence interval).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SPATIAL_KEYS = ("lr", "dmo", "dem")
"""Batch keys whose last two dimensions are spatial (transformed by each member)."""


@dataclass(frozen=True)
class DihedralTransform:
    """``x -> rot90(flip_w(x) if flip else x, k)`` on the last two dimensions."""

    rotations: int
    flip: bool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the transform to a (..., H, W) tensor."""
        if self.flip:
            x = torch.flip(x, dims=(-1,))
        return torch.rot90(x, self.rotations, dims=(-2, -1)) if self.rotations else x

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`forward` on a (..., H', W') tensor."""
        if self.rotations:
            y = torch.rot90(y, -self.rotations, dims=(-2, -1))
        return torch.flip(y, dims=(-1,)) if self.flip else y


DIHEDRAL_GROUP: tuple[DihedralTransform, ...] = tuple(
    DihedralTransform(rotations=k, flip=f) for f in (False, True) for k in range(4)
)
"""The 8 members; the first is the identity."""


def transform_batch(batch: dict[str, torch.Tensor], member: DihedralTransform) -> dict[str, torch.Tensor]:
    """A copy of ``batch`` with every spatial tensor transformed by ``member``."""
    return {key: member.forward(value) if key in SPATIAL_KEYS else value for key, value in batch.items()}
