"""The DMSP-like forward model: how a coarse, degraded LR image is made from HR radiance.

Implements the degradation model of docs SCIENCE.md section 2 (DeepLight, Zhang et al., IJCAI 2024,
motivates it: DMSP-OLS images are blurred, bloom around bright sources, saturate at DN 63, drift in
gain between satellites and years, and are misregistered against other layers). The signal path:

1. geolocation error - the scene is resampled with a random shift (sub-pixel to about one LR pixel)
   and a small rotation about its centre, so LR and the HR-grid layers are misregistered;
2. point-spread function with brightness-dependent blooming - each HR pixel spreads a fraction
   ``1 - f(R)`` of its flux with a narrow Gaussian core and ``f(R) = bloom_max * R / (R + R_half)``
   with a wide Gaussian tail (both kernels normalised, so flux is conserved);
3. area aggregation by ``scale`` (8x8 HR pixels -> one LR pixel, mean of valid pixels);
4. radiometric response ``DN = offset + gain * drift * R**gamma`` with a per-scene log-normal gain
   drift and an offset drift (inter-calibration problem; Elvidge et al. 2009 intercalibration of
   DMSP satellites);
5. saturation at DN 63 (6-bit DMSP-OLS, Elvidge et al. 1997);
6. additive and signal-proportional Gaussian noise, then 6-bit quantisation (rounding, 0..63).

SCIENCE.md lists the steps by concept; the order above is the order in which a sensor applies
them. Every number is a field of :class:`DegradationParams` with its default and source; where no
source fixes a value, the default is our choice and says so. The ``bicubic`` preset replaces all of
it with bicubic down-sampling plus the noise-free nominal response, to show how much the realistic
model matters. Everything made here is *simulated* and labelled so.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from deeplight.contracts import DN_MAX, NOMINAL_DN_GAIN, NOMINAL_DN_GAMMA, SCALE
from deeplight.errors import ConfigError, RasterError


@dataclass(frozen=True)
class DegradationParams:
    """Parameters of the DMSP-like forward model (defaults = the ``realistic`` preset).

    Attributes:
        scale: HR pixels per LR pixel along each axis (8: DeepLightMD 2048 -> 256).
        gain: DN per (nW/cm^2/sr)^gamma of the nominal response; default
            :data:`deeplight.contracts.NOMINAL_DN_GAIN` (our choice, saturation near 50 nW/cm^2/sr).
        gamma: exponent of the nominal response; default :data:`deeplight.contracts.NOMINAL_DN_GAMMA`.
        offset_dn: nominal DN offset (0: dark scene gives DN 0).
        gain_drift_sigma: sigma of the per-scene log-normal gain drift; 0.15 (about +-15 %,
            the order of the inter-satellite DMSP differences that intercalibration corrects,
            Elvidge et al. 2009; value our choice).
        offset_drift_sigma_dn: sigma (DN) of the per-scene offset drift; 0.5 (our choice).
        psf_core_sigma_lr: Gaussian core of the PSF in LR pixels; 0.35 (DMSP "smooth" pixels
            average 5x5 fine pixels of 0.56 km into 2.7 km, Elvidge et al. 1997/2004; our reading).
        psf_tail_sigma_lr: Gaussian tail (blooming) in LR pixels; 1.5 (blooming extends lit areas
            by a few km around cities, Small et al. 2005; value our choice).
        bloom_max_fraction: largest share of a pixel's flux that goes to the tail; 0.5 (our choice).
        bloom_half_radiance: radiance (nW/cm^2/sr) at which half of ``bloom_max_fraction`` is
            reached; 20 (our choice: blooming grows with brightness).
        aggregation: ``"area"`` (mean of each 8x8 block) or ``"bicubic"`` (antialiased bicubic).
        saturation_dn: DN cap; 63 (DMSP-OLS 6-bit, Elvidge et al. 1997).
        shift_sigma_lr: sigma of the random geolocation shift per axis, in LR pixels; 0.5
            (DMSP geolocation errors of the order of one 2.7 km pixel, Elvidge et al. 2004; our
            choice). Shifts are clipped to ``max_shift_lr``.
        max_shift_lr: largest shift per axis in LR pixels; 1.5.
        max_rotation_deg: rotation drawn uniformly in +-this, degrees; 0.5 (our choice).
        noise_sigma_dn: additive Gaussian noise, DN; 0.5 (our choice).
        noise_relative: signal-proportional Gaussian noise (fraction of DN); 0.02 (our choice).
        quantize: round to integer DN (6-bit quantisation).
        min_valid_fraction: an LR pixel is valid when at least this share of its HR pixels is.
        preset: name of the preset these values came from (for labels).
    """

    scale: int = SCALE
    gain: float = NOMINAL_DN_GAIN
    gamma: float = NOMINAL_DN_GAMMA
    offset_dn: float = 0.0
    gain_drift_sigma: float = 0.15
    offset_drift_sigma_dn: float = 0.5
    psf_core_sigma_lr: float = 0.35
    psf_tail_sigma_lr: float = 1.5
    bloom_max_fraction: float = 0.5
    bloom_half_radiance: float = 20.0
    aggregation: str = "area"
    saturation_dn: float = DN_MAX
    shift_sigma_lr: float = 0.5
    max_shift_lr: float = 1.5
    max_rotation_deg: float = 0.5
    noise_sigma_dn: float = 0.5
    noise_relative: float = 0.02
    quantize: bool = True
    min_valid_fraction: float = 0.5
    preset: str = "realistic"

    def __post_init__(self) -> None:
        if self.scale < 1 or int(self.scale) != self.scale:
            raise ConfigError(f"degradation scale must be a positive integer, got {self.scale}")
        if self.aggregation not in ("area", "bicubic"):
            raise ConfigError(
                f"degradation aggregation must be 'area' or 'bicubic', got {self.aggregation!r}"
            )
        for name in ("gain", "gamma", "saturation_dn"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"degradation {name} must be > 0, got {getattr(self, name)}")
        for name in (
            "gain_drift_sigma",
            "offset_drift_sigma_dn",
            "psf_core_sigma_lr",
            "psf_tail_sigma_lr",
            "shift_sigma_lr",
            "max_shift_lr",
            "max_rotation_deg",
            "noise_sigma_dn",
            "noise_relative",
            "bloom_half_radiance",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"degradation {name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.bloom_max_fraction <= 1:
            raise ConfigError("degradation bloom_max_fraction must be within 0..1")
        if not 0 < self.min_valid_fraction <= 1:
            raise ConfigError("degradation min_valid_fraction must be within (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field (for tags and manifests)."""
        return dataclasses.asdict(self)


def preset_params(name: str = "realistic", **overrides: Any) -> DegradationParams:
    """Parameters of a named preset, with optional field overrides.

    Presets:
        ``realistic``: the full DMSP-like model (the dataclass defaults).
        ``bicubic``: antialiased bicubic down-sampling + noise-free nominal response, no drift,
        blur, blooming, misregistration, noise or quantisation (DN still capped at 63, the
        range of the LR input).

    Raises:
        ConfigError: unknown preset or field.
    """
    presets: dict[str, dict[str, Any]] = {
        "realistic": {},
        "bicubic": {
            "gain_drift_sigma": 0.0,
            "offset_drift_sigma_dn": 0.0,
            "psf_core_sigma_lr": 0.0,
            "psf_tail_sigma_lr": 0.0,
            "bloom_max_fraction": 0.0,
            "aggregation": "bicubic",
            "shift_sigma_lr": 0.0,
            "max_rotation_deg": 0.0,
            "noise_sigma_dn": 0.0,
            "noise_relative": 0.0,
            "quantize": False,
        },
    }
    if name not in presets:
        raise ConfigError(f"unknown degradation preset {name!r}; choose one of {sorted(presets)}")
    values = {**presets[name], **overrides, "preset": name}
    known = {f.name for f in dataclasses.fields(DegradationParams)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown degradation parameter(s) {unknown}; known: {sorted(known)}")
    return DegradationParams(**values)


@dataclass
class DegradationInfo:
    """What one call of :func:`degrade_dmsp_like` drew and produced.

    Attributes:
        params: the parameters used.
        seed: the seed.
        gain_drift: multiplicative gain drift drawn for this scene.
        offset_drift_dn: additive DN drift drawn for this scene.
        shift_lr: (dy, dx) geolocation shift in LR pixels (content moved by this much).
        rotation_deg: rotation about the scene centre, degrees.
        lr_radiance: ``(h, w)`` radiance after misregistration, PSF and aggregation, before the
            radiometric response (nW/cm^2/sr): the forward model's noise-free LR radiance.
        valid: ``(h, w)`` bool, LR pixels with enough valid HR pixels.
        saturated_fraction: share of valid LR pixels at the DN cap.
    """

    params: DegradationParams
    seed: int
    gain_drift: float
    offset_drift_dn: float
    shift_lr: tuple[float, float]
    rotation_deg: float
    lr_radiance: np.ndarray = field(repr=False)
    valid: np.ndarray = field(repr=False)
    saturated_fraction: float = 0.0

    def to_tags(self) -> dict[str, str]:
        """Raster tags describing this degradation (all strings)."""
        return {
            "simulated": "true",
            "degradation_preset": self.params.preset,
            "degradation_seed": str(self.seed),
            "degradation_gain_drift": f"{self.gain_drift:.6f}",
            "degradation_offset_drift_dn": f"{self.offset_drift_dn:.6f}",
            "degradation_shift_lr_yx": f"{self.shift_lr[0]:.4f},{self.shift_lr[1]:.4f}",
            "degradation_rotation_deg": f"{self.rotation_deg:.4f}",
            "degradation_params": json.dumps(self.params.to_dict(), sort_keys=True),
        }


def _misregister(
    values: np.ndarray, valid: np.ndarray, shift_hr: tuple[float, float], rotation_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Resample with a rotation about the centre and a shift (HR pixels); bilinear."""
    if shift_hr == (0.0, 0.0) and rotation_deg == 0.0:
        return values, valid
    theta = math.radians(rotation_deg)
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    centre = (np.asarray(values.shape, dtype=np.float64) - 1) / 2
    # output pixel p samples input at R (p - c) + c - shift, so content moves by +shift
    offset = centre - rotation @ centre - np.asarray(shift_hr)
    warped = ndimage.affine_transform(values, rotation, offset=offset, order=1, mode="nearest")
    warped_valid = ndimage.affine_transform(
        valid.astype(np.float32), rotation, offset=offset, order=1, mode="nearest"
    )
    return warped, warped_valid


def _gaussian(values: np.ndarray, sigma_hr: float) -> np.ndarray:
    if sigma_hr <= 0:
        return values
    return ndimage.gaussian_filter(values, sigma_hr, mode="nearest", truncate=3.0)


def _psf(radiance: np.ndarray, weight: np.ndarray, p: DegradationParams) -> np.ndarray:
    """Brightness-dependent PSF by normalised convolution (flux-conserving where valid)."""
    scale = p.scale
    if p.bloom_max_fraction > 0 and p.psf_tail_sigma_lr > 0:
        bloom = p.bloom_max_fraction * radiance / (radiance + p.bloom_half_radiance)
    else:
        bloom = np.zeros_like(radiance)
    flux = radiance * weight
    core = _gaussian(flux * (1 - bloom), p.psf_core_sigma_lr * scale)
    tail = _gaussian(flux * bloom, p.psf_tail_sigma_lr * scale) if bloom.any() else 0.0
    norm = _gaussian(weight, p.psf_core_sigma_lr * scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 1e-6, (core + tail) / np.maximum(norm, 1e-6), 0.0)


def _aggregate(values: np.ndarray, weight: np.ndarray, p: DegradationParams) -> tuple[np.ndarray, np.ndarray]:
    """Mean of valid HR pixels per LR pixel, and the valid share of each LR pixel."""
    s = p.scale
    h, w = values.shape[0] // s, values.shape[1] // s
    weighted = (values * weight)[: h * s, : w * s].reshape(h, s, w, s).sum(axis=(1, 3))
    share = weight[: h * s, : w * s].reshape(h, s, w, s).mean(axis=(1, 3))
    if p.aggregation == "bicubic":
        import torch
        import torch.nn.functional as F

        tensor = torch.from_numpy((values * weight).astype(np.float32))[None, None]
        down = (
            F.interpolate(tensor, size=(h, w), mode="bicubic", antialias=True, align_corners=False)[0, 0]
            .numpy()
            .astype(np.float64)
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(share > 0, np.maximum(down, 0) / np.maximum(share, 1e-9), 0.0)
        return mean, share
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(share > 0, weighted / (share * s * s), 0.0)
    return mean, share


def degrade_dmsp_like(
    hr_radiance: np.ndarray,
    params: DegradationParams | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, DegradationInfo]:
    """Simulate a DMSP-like LR image (DN) from an HR radiance image.

    Args:
        hr_radiance: ``(H, W)`` radiance in nW/cm^2/sr, NaN = nodata; ``H`` and ``W`` must be
            multiples of ``params.scale``.
        params: model parameters (default: the ``realistic`` preset).
        seed: seed of every random draw (drift, misregistration, noise); same seed, same output.

    Returns:
        ``(lr_dn, info)``: ``lr_dn`` is ``(H/scale, W/scale)`` float32 DN in 0..saturation, NaN
        where fewer than ``min_valid_fraction`` of the HR pixels are valid; ``info`` is a
        :class:`DegradationInfo`.

    Raises:
        RasterError: not 2-D, size not a multiple of the scale, or no valid pixel.
    """
    p = params or DegradationParams()
    hr = np.asarray(hr_radiance, dtype=np.float64)
    if hr.ndim != 2:
        raise RasterError(f"HR radiance must be 2-D (H, W), got shape {hr.shape}")
    s = p.scale
    if hr.shape[0] % s or hr.shape[1] % s or hr.shape[0] < s or hr.shape[1] < s:
        raise RasterError(
            f"HR radiance shape {hr.shape} is not a multiple of the scale {s}; crop "
            f"it to {(hr.shape[0] // s) * s}x{(hr.shape[1] // s) * s}"
        )
    valid = np.isfinite(hr)
    if not valid.any():
        raise RasterError("HR radiance has no valid pixel (all nodata)")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xD3A5]))
    gain_drift = float(np.exp(rng.normal(0.0, p.gain_drift_sigma))) if p.gain_drift_sigma else 1.0
    offset_drift = float(rng.normal(0.0, p.offset_drift_sigma_dn)) if p.offset_drift_sigma_dn else 0.0
    shift_lr = (
        tuple(
            float(np.clip(v, -p.max_shift_lr, p.max_shift_lr))
            for v in rng.normal(0.0, p.shift_sigma_lr, size=2)
        )
        if p.shift_sigma_lr
        else (0.0, 0.0)
    )
    rotation = float(rng.uniform(-p.max_rotation_deg, p.max_rotation_deg)) if p.max_rotation_deg else 0.0
    radiance = np.where(valid, np.maximum(hr, 0.0), 0.0)
    weight = valid.astype(np.float64)
    radiance, weight = _misregister(radiance, weight, (shift_lr[0] * s, shift_lr[1] * s), rotation)
    weight = np.clip(weight, 0.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        radiance = np.where(weight > 1e-6, radiance / np.maximum(weight, 1e-6), 0.0)
    weight = (weight > 0.5).astype(np.float64)
    radiance = _psf(radiance, weight, p)
    lr_radiance, share = _aggregate(radiance, weight, p)
    lr_valid = share >= p.min_valid_fraction
    dn = p.offset_dn + offset_drift + p.gain * gain_drift * np.power(np.maximum(lr_radiance, 0), p.gamma)
    if p.noise_sigma_dn or p.noise_relative:
        noise = rng.standard_normal((2, *dn.shape))
        dn = dn + p.noise_sigma_dn * noise[0] + p.noise_relative * np.abs(dn) * noise[1]
    dn = np.clip(dn, 0.0, p.saturation_dn)
    if p.quantize:
        dn = np.round(dn)
    lr = np.where(lr_valid, dn, np.nan).astype(np.float32)
    saturated = float(np.mean(lr[lr_valid] >= p.saturation_dn)) if lr_valid.any() else 0.0
    info = DegradationInfo(
        params=p,
        seed=int(seed),
        gain_drift=gain_drift,
        offset_drift_dn=offset_drift,
        shift_lr=shift_lr,
        rotation_deg=rotation,
        lr_radiance=np.where(lr_valid, lr_radiance, np.nan).astype(np.float32),
        valid=lr_valid,
        saturated_fraction=saturated,
    )
    return lr, info


def lr_dn_to_radiance(lr_dn: np.ndarray, info: DegradationInfo) -> np.ndarray:
    """Invert the radiometric response of one degradation (its drawn drift included).

    Exact for noise-free, unsaturated pixels; saturated pixels give the saturation radiance (a
    lower bound). Useful to check flux: the mean over lit pixels should match
    ``info.lr_radiance``.
    """
    p = info.params
    dn = np.asarray(lr_dn, dtype=np.float64) - p.offset_dn - info.offset_drift_dn
    with np.errstate(invalid="ignore"):
        return np.power(np.maximum(dn, 0) / (p.gain * info.gain_drift), 1.0 / p.gamma)
