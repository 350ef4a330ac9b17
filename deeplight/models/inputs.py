"""Reading and checking the sample dict a model receives (see docs/CONTRACTS.md).

Every model calls :func:`read_inputs` first, so all of them accept the same batches, fill in
absent auxiliary modalities with zeros (``present`` = 0), and reject malformed tensors with an
error that names the key, the shape found and the shape expected.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from deeplight.contracts import DMO_BANDS, PRESENT_INDEX, PRESENT_ORDER, SCALE
from deeplight.errors import ConfigError, DeepLightError

SUPPORTED_SCALE = SCALE
"""The only super-resolution factor of DeepLightMD (LR 256 -> HR 2048)."""


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
        dmo: (B, 7, 8h, 8w) reflectance, zeros where absent or not covered.
        dem: (B, 1, 8h, 8w) normalised elevation, zeros where absent or not covered.
        present: (B, 4) float presence of hr, dmo, dem, isp (a modality counts as present when it
            was given, whatever its coverage).
        dmo_mask: (B, 7, 8h, 8w) per-band, per-pixel coverage of the DMO (1 = observed): a band
            that was not given (a 3-band RGB gives bands 2-4 only), a NaN pixel or a pixel outside
            the layer's footprint is 0, never a 0 value marked present.
        dem_mask: (B, 1, 8h, 8w) coverage of the DEM, likewise.
        dmo_full, dem_full: the mask is known to be 1 everywhere (given, no NaN, no mask given).
    """

    lr: torch.Tensor
    dmo: torch.Tensor
    dem: torch.Tensor
    present: torch.Tensor
    dmo_mask: torch.Tensor | None = None
    dem_mask: torch.Tensor | None = None
    dmo_full: bool = False
    dem_full: bool = False

    def fully_covered(self, name: str) -> bool:
        """True when every band and pixel of ``"dmo"`` / ``"dem"`` is observed in every sample
        (coverage exactly 1 everywhere; False when unknown)."""
        return self.dmo_full if name == "dmo" else self.dem_full

    def coverage(self, name: str) -> torch.Tensor:
        """(B, bands, 8h, 8w) coverage of ``"dmo"`` or ``"dem"`` (presence broadcast when no mask)."""
        mask = self.dmo_mask if name == "dmo" else self.dem_mask
        image = self.dmo if name == "dmo" else self.dem
        if mask is None:
            present = self.has_dmo if name == "dmo" else self.has_dem
            return present.to(image.dtype).expand_as(image)
        return mask

    @property
    def has_dmo(self) -> torch.Tensor:
        """(B, 1, 1, 1) presence of DMO."""
        return self.present[:, PRESENT_INDEX["dmo"]].view(-1, 1, 1, 1)

    @property
    def has_dem(self) -> torch.Tensor:
        """(B, 1, 1, 1) presence of the DEM."""
        return self.present[:, PRESENT_INDEX["dem"]].view(-1, 1, 1, 1)


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
    dmo_mask = _check_aux(batch, "dmo_mask", dmo_channels, lr, scale) if dmo is not None else None
    dem_mask = _check_aux(batch, "dem_mask", 1, lr, scale) if dem is not None else None
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
        present[:, PRESENT_INDEX["dmo"]] = 0
    if dem is None:
        dem = lr.new_zeros(b, 1, scale * h, scale * w)
        present = present.clone()
        present[:, PRESENT_INDEX["dem"]] = 0
    # Coverage per band and pixel: NaN (nodata, outside the footprint) or a band not given is
    # absent, never a zero marked present. Absent pixels carry 0 in the image as well.
    dmo, dmo_mask, dmo_full = _covered(dmo, dmo_mask, present[:, PRESENT_INDEX["dmo"]], lr.dtype)
    dem, dem_mask, dem_full = _covered(dem, dem_mask, present[:, PRESENT_INDEX["dem"]], lr.dtype)
    lr = torch.nan_to_num(lr, nan=0.0, posinf=0.0, neginf=0.0)
    return ModelInputs(
        lr=lr, dmo=dmo, dem=dem, present=present, dmo_mask=dmo_mask, dem_mask=dem_mask,
        dmo_full=dmo_full, dem_full=dem_full,
    )


def _covered(
    image: torch.Tensor, mask: torch.Tensor | None, present: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(image with uncovered pixels zeroed, coverage mask, whether that mask is 1 everywhere)."""
    if not bool(present.any()):
        # absent from the whole batch (the inference engine passes zeros marked absent): every
        # pixel is uncovered, so both are zeros; skip the full-resolution passes over the layer
        zeros = torch.zeros((), dtype=dtype, device=image.device).expand(image.shape)  # read-only
        return zeros, zeros, False
    if mask is None and bool((present == 1).all()) and bool(torch.isfinite(image.sum())):
        # given in every sample and every value finite (a finite sum has no NaN or inf term):
        # covered everywhere, the values unchanged; the mask is a broadcast 1 (read-only)
        image = image.to(dtype)
        return image, torch.ones((), dtype=dtype, device=image.device).expand_as(image), True
    finite = torch.isfinite(image)
    cover = finite.to(dtype) * present.to(dtype).view(-1, 1, 1, 1)
    full = mask is None and bool((present == 1).all()) and bool(finite.all())
    if mask is not None:
        cover = cover * (torch.nan_to_num(mask.to(dtype), nan=0.0) > 0.5).to(dtype)
    clean = torch.where(finite, image.to(dtype), torch.zeros((), dtype=dtype, device=image.device))
    return clean * cover, cover, full


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
        lr=pad(inputs.lr, 1),
        dmo=pad(inputs.dmo, scale),
        dem=pad(inputs.dem, scale),
        present=inputs.present,
        dmo_mask=None if inputs.dmo_mask is None else pad(inputs.dmo_mask, scale),
        dem_mask=None if inputs.dem_mask is None else pad(inputs.dem_mask, scale),
    )
    return padded, (h, w)


def crop_hr(x: torch.Tensor, lr_size: tuple[int, int], factor: int) -> torch.Tensor:
    """Crop a map at ``factor`` times the LR resolution back to the unpadded LR size."""
    h, w = lr_size
    return x[..., : h * factor, : w * factor]
