"""Shared parts of the learned baselines: input handling, the bicubic base image, the x8 up-sampler.

Every learned baseline predicts a residual over ``bicubic(nominal_calibration(lr))`` (the fixed
nominal DN -> radiance response of :mod:`deeplight.models.radiometry`, interpolated on the
normalised scale). The original networks (SRCNN, EDSR, RCAN, SwinIR) map an image to an image of
the same domain; here input DN and output radiance differ, and the residual form lets every
baseline start from a sensible image and train in minutes on a CPU. This is a documented deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deeplight.errors import ConfigError
from deeplight.models.blocks import Interpolate, conv3x3
from deeplight.models.inputs import (
    DMO_BANDS,
    ModelInputs,
    check_choice,
    check_scale,
    crop_hr,
    pad_inputs,
    read_inputs,
)
from deeplight.models.radiometry import normalised_dn_to_normalised_radiance

PRESET_NAMES = ("tiny", "demo", "paper")


@dataclass(frozen=True)
class BaselineSize:
    """Width and depth of a baseline preset (each model reads what it needs)."""

    channels: int
    num_blocks: int
    num_groups: int = 1


def resolve_size(
    presets: dict[str, BaselineSize],
    preset: str,
    channels: int | None,
    num_blocks: int | None,
    model_name: str,
) -> BaselineSize:
    """Pick a preset and apply overrides.

    Raises:
        ConfigError: unknown preset (lists choices) or non-positive sizes.
    """
    check_choice(preset, tuple(presets), f"{model_name} preset")
    size = presets[preset]
    size = BaselineSize(
        int(channels) if channels is not None else size.channels,
        int(num_blocks) if num_blocks is not None else size.num_blocks,
        size.num_groups,
    )
    if size.channels < 1 or size.num_blocks < 1:
        raise ConfigError(
            f"{model_name}: channels={size.channels} and num_blocks={size.num_blocks} must be >= 1"
        )
    return size


class ResidualSRModel(nn.Module):
    """Base class: validates the batch, builds the base image, adds the network's residual.

    Subclasses implement :meth:`residual` returning (B, 1, 8h, 8w).

    Args:
        scale: must be 8.
        dmo_channels: DMO bands the model expects.
        pad_multiple: LR size multiple the network needs (inputs are replicate-padded, outputs cropped).
    """

    family = "single-modal"

    def __init__(self, scale: int = 8, dmo_channels: int = DMO_BANDS, pad_multiple: int = 1) -> None:
        super().__init__()
        self.scale = check_scale(scale, type(self).__name__)
        if not isinstance(dmo_channels, int) or dmo_channels < 1:
            raise ConfigError(
                f"dmo_channels={dmo_channels!r} must be a positive integer (7 for Landsat-8 bands 1-7)"
            )
        self.dmo_channels = dmo_channels
        self.pad_multiple = pad_multiple
        self.base_upsample = Interpolate(scale, "bicubic")

    def residual(self, inputs: ModelInputs, lr_calibrated: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """The network's correction of the base image, (B, 1, 8h, 8w)."""
        raise NotImplementedError

    def forward(self, batch: dict) -> dict:
        """``{"sr": (B, 1, 8h, 8w), "lr_calibrated": (B, 1, h, w)}`` (normalised radiance)."""
        inputs = read_inputs(batch, self.scale, self.dmo_channels)
        inputs, lr_size = pad_inputs(inputs, self.pad_multiple, self.scale)
        lr_cal = normalised_dn_to_normalised_radiance(inputs.lr.float())
        base = self.base_upsample(lr_cal)
        sr = base + self.residual(inputs, lr_cal, base).float()
        h, w = lr_size
        return {"sr": crop_hr(sr, lr_size, self.scale), "lr_calibrated": lr_cal[..., :h, :w]}


class SubPixelUpsampler(nn.Sequential):
    """EDSR's x8 up-sampler: three (conv C -> 4C, pixel shuffle x2) steps, then a 3x3 conv to 1 band."""

    def __init__(self, channels: int) -> None:
        layers: list[nn.Module] = []
        for _ in range(3):
            layers += [conv3x3(channels, 4 * channels), nn.PixelShuffle(2)]
        layers.append(conv3x3(channels, 1))
        super().__init__(*layers)
