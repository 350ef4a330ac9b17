"""Calibration-based baselines: radiometric calibration of the LR image, then interpolation.

The "calibration-based" family of Zhang et al. (DeepLight, IJCAI 2024): convert the coarse DN to the
fine sensor's radiance scale with a fitted curve and interpolate to the fine grid. Four variants:

- :class:`NominalBicubic`: the fixed nominal DN -> radiance response, then bicubic (no parameters).
- :class:`QuadraticCalibrationBicubic`: Elvidge et al. 2009-style second-order calibration
  ``y = c0 + c1 x + c2 x^2`` (Elvidge, Ziskin, Baugh et al., "A fifteen year record of global natural
  gas flaring derived from satellite data", Energies 2(3), 2009: quadratic intercalibration of DMSP
  DN), here fitted from normalised DN x to normalised radiance y.
- :class:`SigmoidCalibrationBicubic`: the sigmoid DMSP <-> VIIRS relation of Li, Zhou, Zhao & Zhao,
  "A harmonized global nighttime light dataset 1992-2018", Scientific Data 7, 168 (2020):
  ``x = lo + (hi - lo) sigmoid(k (u - u0))`` with u the (log-)normalised radiance, inverted here.
- :class:`GaussianDeblurBicubic`: Abrahams, Oram & Lozano-Gracia, "Deblurring DMSP nighttime
  lights: A new method using Gaussian filters and frequencies of illumination", Remote Sensing of
  Environment 210 (2018): blooming modelled as a Gaussian point-spread function and removed by
  deconvolution (a Wiener / Tikhonov inverse filter in the Fourier domain here), then bicubic.

Interpolation happens on the normalised (log) radiance scale. Every variant's few parameters are
``nn.Parameter`` (trainable by gradient descent like the rest of the zoo) and can also be fitted
directly with ``fit_calibration(lr, hr)`` on training pairs (closed-form least squares for the
quadratic, a short Adam fit of the L1 loss for the others).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from deeplight.contracts import denormalize_radiance, normalize_radiance
from deeplight.errors import DeepLightError
from deeplight.models.blocks import Interpolate, area_downsample
from deeplight.models.inputs import check_scale, read_inputs
from deeplight.models.radiometry import normalised_dn_to_normalised_radiance, normalised_dn_to_radiance

CALIBRATION_SCALES = tuple(range(1, 17))
"""Interpolation works at any integer factor; the project uses 8."""


def lr_targets(
    lr: torch.Tensor, hr: torch.Tensor, valid: torch.Tensor | None, scale: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pair each LR pixel with its HR block's mean radiance (normalised) and validity.

    Args:
        lr: (N, 1, h, w) normalised DN.
        hr: (N, 1, s h, s w) normalised radiance (NaN allowed where invalid).
        valid: (N, 1, s h, s w) 1 where HR is valid, or None.

    Returns:
        (x, y, weight) flattened 1-D tensors: normalised DN, normalised block-mean radiance, and 1
        where the whole block was valid.
    """
    if hr.shape[-2:] != (lr.shape[-2] * scale, lr.shape[-1] * scale):
        raise DeepLightError(
            f"hr has shape {tuple(hr.shape)}, expected {scale}x the lr shape {tuple(lr.shape)}"
        )
    v = torch.isfinite(hr).float() if valid is None else valid.float() * torch.isfinite(hr).float()
    radiance = denormalize_radiance(torch.nan_to_num(hr, nan=0.0)) * v
    block_valid = area_downsample(v, scale)
    mean = area_downsample(radiance, scale) / block_valid.clamp_min(1e-6)
    weight = (block_valid > 0.999).float() * torch.isfinite(lr).float()
    return torch.nan_to_num(lr, nan=0.0).flatten(), normalize_radiance(mean).flatten(), weight.flatten()


class CalibratedInterpolation(nn.Module):
    """Base class: ``sr = bicubic(calibrate(lr))``; subclasses define :meth:`calibrate`.

    Args:
        scale: up-sampling factor.
        preset: accepted for a uniform registry interface; these models have no size.
    """

    family = "calibration"

    def __init__(self, scale: int = 8, preset: str = "demo") -> None:
        super().__init__()
        self.scale = check_scale(scale, type(self).__name__, CALIBRATION_SCALES)
        self.upsample = Interpolate(self.scale, "bicubic")

    def calibrate(self, lr: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) normalised DN -> (B, 1, h, w) normalised radiance."""
        raise NotImplementedError

    def forward(self, batch: dict) -> dict:
        """``{"sr": (B, 1, s h, s w), "lr_calibrated": (B, 1, h, w)}`` on the normalised radiance scale."""
        inputs = read_inputs(batch, self.scale)
        lr_cal = self.calibrate(inputs.lr.float())
        return {"sr": self.upsample(lr_cal), "lr_calibrated": lr_cal}

    def fit_calibration(
        self,
        lr: torch.Tensor,
        hr: torch.Tensor,
        valid: torch.Tensor | None = None,
        steps: int = 300,
        learning_rate: float = 0.03,
    ) -> dict[str, float]:
        """Fit the calibration parameters on training pairs by minimising the L1 loss of the SR output.

        Args:
            lr: (N, 1, h, w) normalised DN.
            hr: (N, 1, s h, s w) normalised radiance.
            valid: (N, 1, s h, s w) validity, or None (finite HR counts as valid).
            steps: Adam iterations.
            learning_rate: Adam step size.

        Returns:
            The fitted parameters by name (floats).
        """
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            return {}
        v = torch.isfinite(hr).float() if valid is None else valid.float() * torch.isfinite(hr).float()
        target = torch.nan_to_num(hr, nan=0.0)
        optimiser = torch.optim.Adam(params, lr=learning_rate)
        for _ in range(steps):
            optimiser.zero_grad()
            sr = self.forward({"lr": lr})["sr"]
            loss = ((sr - target).abs() * v).sum() / v.sum().clamp_min(1)
            loss.backward()
            optimiser.step()
        return {name: float(p.detach().mean()) for name, p in self.named_parameters()}


class NominalBicubic(CalibratedInterpolation):
    """Bicubic interpolation after the fixed nominal DN -> radiance conversion (no parameters)."""

    def calibrate(self, lr: torch.Tensor) -> torch.Tensor:
        """Nominal response inverse (see :mod:`deeplight.models.radiometry`)."""
        return normalised_dn_to_normalised_radiance(lr)


def _nominal_quadratic() -> list[float]:
    """Least-squares quadratic through the nominal curve (the starting point before fitting)."""
    x = np.linspace(0, 1, 257)
    y = normalised_dn_to_normalised_radiance(torch.from_numpy(x)).numpy()
    c2, c1, c0 = np.polyfit(x, y, 2)
    return [float(c0), float(c1), float(c2)]


class QuadraticCalibrationBicubic(CalibratedInterpolation):
    """Elvidge-style quadratic calibration ``y = c0 + c1 x + c2 x^2`` then bicubic.

    Parameters: ``coefficients`` (c0, c1, c2), initialised to the best quadratic through the nominal
    response; :meth:`fit_calibration` solves the least-squares problem in closed form.
    """

    def __init__(self, scale: int = 8, preset: str = "demo") -> None:
        super().__init__(scale, preset)
        self.coefficients = nn.Parameter(torch.tensor(_nominal_quadratic(), dtype=torch.float32))

    def calibrate(self, lr: torch.Tensor) -> torch.Tensor:
        """Quadratic in normalised DN."""
        c0, c1, c2 = self.coefficients
        return c0 + c1 * lr + c2 * lr * lr

    def fit_calibration(
        self,
        lr: torch.Tensor,
        hr: torch.Tensor,
        valid: torch.Tensor | None = None,
        steps: int = 0,
        learning_rate: float = 0.0,
    ) -> dict[str, float]:
        """Closed-form weighted least squares on (LR DN, HR block-mean radiance) pairs.

        Raises:
            DeepLightError: fewer than 3 fully valid LR pixels.
        """
        x, y, w = lr_targets(lr, hr, valid, self.scale)
        keep = w > 0
        if int(keep.sum()) < 3:
            raise DeepLightError("fit_calibration needs at least 3 LR pixels whose HR block is fully valid")
        x, y = x[keep].double(), y[keep].double()
        design = torch.stack([torch.ones_like(x), x, x * x], dim=1)
        solution = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1)
        with torch.no_grad():
            self.coefficients.copy_(solution.float())
        return {f"c{i}": float(v) for i, v in enumerate(solution)}


class SigmoidCalibrationBicubic(CalibratedInterpolation):
    """Inverse of a sigmoid VIIRS -> DMSP relation (Li et al. 2020), then bicubic.

    Forward relation ``x = lo + (hi - lo) * sigmoid(k (u - u0))`` (x normalised DN, u normalised
    radiance); the calibration inverts it: ``u = u0 + logit((x - lo) / (hi - lo)) / k`` with the
    ratio clamped to [1e-4, 1 - 1e-4] (saturated and dark pixels map to finite values).
    Parameters: ``lo``, ``span`` (log of hi - lo), ``log_k``, ``u0``.
    """

    def __init__(self, scale: int = 8, preset: str = "demo") -> None:
        super().__init__(scale, preset)
        self.lo = nn.Parameter(torch.tensor(-0.05))
        self.log_span = nn.Parameter(torch.tensor(math.log(1.1)))
        self.log_k = nn.Parameter(torch.tensor(math.log(8.0)))
        self.u0 = nn.Parameter(torch.tensor(0.45))

    def calibrate(self, lr: torch.Tensor) -> torch.Tensor:
        """Inverse sigmoid in normalised units."""
        ratio = ((lr - self.lo) / torch.exp(self.log_span)).clamp(1e-4, 1 - 1e-4)
        return self.u0 + torch.logit(ratio) / torch.exp(self.log_k)


class GaussianDeblurBicubic(CalibratedInterpolation):
    """Gaussian-PSF deconvolution of blooming (Abrahams et al. 2018), then bicubic.

    Steps: nominal DN -> radiance with a learned gain; reflect-pad; Wiener/Tikhonov inverse filter
    ``X = Y * G / (|G|^2 + lambda)`` with G the Fourier transform of a Gaussian of learned width
    sigma (LR pixels); clamp at 0; normalise; bicubic. Parameters: ``log_sigma`` (init sigma =
    1 LR pixel), ``log_lambda`` (init 1e-2), ``log_gain`` (init 0).
    """

    def __init__(self, scale: int = 8, preset: str = "demo", pad: int = 8) -> None:
        super().__init__(scale, preset)
        self.pad = pad
        self.log_sigma = nn.Parameter(torch.tensor(0.0))
        self.log_lambda = nn.Parameter(torch.tensor(math.log(1e-2)))
        self.log_gain = nn.Parameter(torch.tensor(0.0))

    def _gaussian_otf(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        """Fourier transform (rfft2 layout) of a unit-sum Gaussian centred at (0, 0), (h, w//2+1)."""
        sigma = torch.exp(self.log_sigma)
        fy = torch.fft.fftfreq(h, device=device).view(h, 1)
        fx = torch.fft.rfftfreq(w, device=device).view(1, -1)
        return torch.exp(-2 * math.pi**2 * sigma**2 * (fy**2 + fx**2))

    def calibrate(self, lr: torch.Tensor) -> torch.Tensor:
        """Deblurred, calibrated LR on the normalised radiance scale."""
        radiance = normalised_dn_to_radiance(lr, gain=torch.exp(self.log_gain))
        h, w = radiance.shape[-2:]
        pad_h, pad_w = min(self.pad, h - 1), min(self.pad, w - 1)
        padded = (
            F.pad(radiance, (pad_w, pad_w, pad_h, pad_h), mode="reflect")
            if min(pad_h, pad_w) > 0
            else radiance
        )
        ph, pw = padded.shape[-2:]
        otf = self._gaussian_otf(ph, pw, lr.device)  # real, symmetric
        spectrum = torch.fft.rfft2(padded)
        restored = torch.fft.irfft2(spectrum * (otf / (otf * otf + torch.exp(self.log_lambda))), s=(ph, pw))
        if min(pad_h, pad_w) > 0:
            restored = restored[..., pad_h : pad_h + h, pad_w : pad_w + w]
        return normalize_radiance(restored.clamp_min(0))
