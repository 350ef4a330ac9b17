"""Reading and checking the sample dict a model receives (see docs/CONTRACTS.md).

Every model calls :func:`read_inputs` first, so all of them accept the same batches, fill in
absent auxiliary modalities with zeros (``present`` = 0), and reject malformed tensors with an
error that names the key, the shape found and the shape expected.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from deeplight.errors import ConfigError, DeepLightError

SUPPORTED_SCALE = 8
"""The only super-resolution factor of DeepLightMD (LR 256 -> HR 2048)."""
DMO_BANDS = 7
"""Landsat-8 surface reflectance bands 1-7."""
PRESENT_ORDER = ("hr", "dmo", "dem", "isp")
"""Column order of ``batch["present"]``."""


def check_scale(scale: int, model_name: str, supported: tuple[int, ...] = (SUPPORTED_SCALE,)) -> int:
    """Validate a constructor's ``scale`` argument.

    Raises:
        ConfigError: ``scale`` is not one of ``supported`` (the message lists them).
    """
    if not isinstance(scale, int) or isinstance(scale, bool) or scale not in supported:
        raise ConfigError(
            f"{model_name}: scale={scale!r} is not supported; valid choices: {list(supported)} "
            "(DeepLightMD pairs are 8x apart)"
        )
    return scale


def check_choice(value: str, choices: tuple[str, ...] | list[str], field: str) -> str:
    """Validate a string option against its choices.

    Raises:
        ConfigError: ``value`` is not in ``choices`` (the message lists them).
    """
    if value not in choices:
        raise ConfigError(f"{field}={value!r} is not valid; choose one of {list(choices)}")
    return value


@dataclass
class ModelInputs:
    """The tensors a model uses, validated and completed.

    Attributes:
        lr: (B, 1, h, w) normalised DN.
        dmo: (B, 7, 8h, 8w) reflectance, zeros where absent.
        dem: (B, 1, 8h, 8w) normalised elevation, zeros where absent.
        present: (B, 4) float presence of hr, dmo, dem, isp.
    """

    lr: torch.Tensor
    dmo: torch.Tensor
    dem: torch.Tensor
    present: torch.Tensor

    @property
    def has_dmo(self) -> torch.Tensor:
        """(B, 1, 1, 1) presence of DMO."""
        return self.present[:, 1].view(-1, 1, 1, 1)

    @property
    def has_dem(self) -> torch.Tensor:
        """(B, 1, 1, 1) presence of the DEM."""
        return self.present[:, 2].view(-1, 1, 1, 1)


def _check_aux(batch: dict, key: str, channels: int, lr: torch.Tensor, scale: int) -> torch.Tensor | None:
    value = batch.get(key)
    if value is None:
        return None
    b, _, h, w = lr.shape
    expected = (b, channels, scale * h, scale * w)
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != expected:
        found = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise DeepLightError(
            f"batch[{key!r}] has shape {found}, expected {expected} ({channels} channels on the grid "
            f"{scale}x finer than 'lr'); fix the data or build the model with the matching channel count"
        )
    return value


def read_inputs(batch: dict, scale: int = SUPPORTED_SCALE, dmo_channels: int = DMO_BANDS) -> ModelInputs:
    """Validate ``batch`` and complete it with zero tensors for absent auxiliary modalities.

    Args:
        batch: sample dict with at least ``lr`` (B, 1, h, w); optionally ``dmo``, ``dem``, ``present``.
        scale: HR/LR ratio the model was built for.
        dmo_channels: DMO band count the model was built for.

    Returns:
        :class:`ModelInputs` on ``lr``'s device and dtype. When ``present`` is missing, a modality
        counts as present when its key is in the batch.

    Raises:
        DeepLightError: a tensor is missing or has the wrong shape (the message names the key).
    """
    if not isinstance(batch, dict) or "lr" not in batch:
        raise DeepLightError(
            "a model batch must be a dict with at least the key 'lr' (B, 1, h, w), see docs/CONTRACTS.md"
        )
    lr = batch["lr"]
    if not isinstance(lr, torch.Tensor) or lr.ndim != 4 or lr.shape[1] != 1:
        found = tuple(lr.shape) if isinstance(lr, torch.Tensor) else type(lr).__name__
        raise DeepLightError(f"batch['lr'] has shape {found}, expected (B, 1, h, w): one night-light band")
    if not lr.is_floating_point():
        lr = lr.float()
    b, _, h, w = lr.shape
    dmo = _check_aux(batch, "dmo", dmo_channels, lr, scale)
    dem = _check_aux(batch, "dem", 1, lr, scale)
    present = batch.get("present")
    if present is None:
        present = torch.tensor(
            [[1.0, float(dmo is not None), float(dem is not None), 0.0]], device=lr.device
        ).expand(b, 4)
    elif not isinstance(present, torch.Tensor) or tuple(present.shape) != (b, 4):
        found = tuple(present.shape) if isinstance(present, torch.Tensor) else type(present).__name__
        raise DeepLightError(f"batch['present'] has shape {found}, expected ({b}, 4) for {PRESENT_ORDER}")
    present = present.to(device=lr.device, dtype=lr.dtype)
    if dmo is None:
        dmo = lr.new_zeros(b, dmo_channels, scale * h, scale * w)
        present = present.clone()
        present[:, 1] = 0
    if dem is None:
        dem = lr.new_zeros(b, 1, scale * h, scale * w)
        present = present.clone()
        present[:, 2] = 0
    # NaN nodata in auxiliary layers must not poison the features: zero them.
    dmo = torch.nan_to_num(dmo.to(lr.dtype), nan=0.0)
    dem = torch.nan_to_num(dem.to(lr.dtype), nan=0.0)
    lr = torch.nan_to_num(lr, nan=0.0)
    return ModelInputs(lr=lr, dmo=dmo, dem=dem, present=present)


def pad_inputs(
    inputs: ModelInputs, multiple: int, scale: int = SUPPORTED_SCALE
) -> tuple[ModelInputs, tuple[int, int]]:
    """Replicate-pad the LR grid (and the aux grids by ``scale`` times as much) to a multiple.

    Args:
        inputs: validated inputs.
        multiple: LR height and width are padded up to a multiple of this (bottom/right edges).
        scale: HR/LR ratio.

    Returns:
        ``(padded inputs, (h, w) of the original LR grid)``; crop outputs back with :func:`crop_hr`.
    """
    h, w = inputs.lr.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return inputs, (h, w)

    def pad(x: torch.Tensor, f: int) -> torch.Tensor:
        return F.pad(x, (0, pw * f, 0, ph * f), mode="replicate")

    padded = ModelInputs(
        lr=pad(inputs.lr, 1), dmo=pad(inputs.dmo, scale), dem=pad(inputs.dem, scale), present=inputs.present
    )
    return padded, (h, w)


def crop_hr(x: torch.Tensor, lr_size: tuple[int, int], factor: int) -> torch.Tensor:
    """Crop a map at ``factor`` times the LR resolution back to the unpadded LR size."""
    h, w = lr_size
    return x[..., : h * factor, : w * factor]
