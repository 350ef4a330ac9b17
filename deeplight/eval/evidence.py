"""Is a reconstruction better *evidence* than its input? Measures beyond PSNR (issue 10).

Every function takes ONE image (``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)``, numpy or torch) on
the project's normalised radiance scale ``log1p(r) / log1p(1000)`` (docs/CONTRACTS.md) and converts
to radiance in nW/cm^2/sr with :func:`deeplight.contracts.denormalize_radiance` where a threshold
or a flux is in physical units. Like :mod:`deeplight.eval.metrics`, a border of
:data:`~deeplight.eval.metrics.BORDER_PX` = 8 HR pixels (one LR cell) is cropped and only valid
pixels are used: ``valid`` (nonzero = valid) and finite HR values.

Measures (each function documents its own definition):

* :func:`flux_error`: does ``avgpool8(SR)`` give back the calibrated LR the model says it observed
  (flux consistency, SCIENCE.md section 3); relative L1 over cells and the worst cell.
* :func:`lit_area_error`: relative error of the lit share (radiance >= tau) against HR.
* :func:`dark_floor`: mean SR radiance where HR is dark (a floor of light over dark land).
* :func:`period8_peak_db`: spectral peak at the LR-grid period (the "waffle" of an x8 upsampler).
* :func:`cap_violation`: share of pixels above a plausible cap.
* :func:`evidence_row` gathers them with PSNR, SSIM, CC and PIQE of :mod:`deeplight.eval.metrics`;
  :func:`reference_row` gives what the HR image itself scores (period-8 peak, dark floor, PIQE).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from deeplight.contracts import SCALE, denormalize_radiance, normalize_radiance
from deeplight.eval import metrics
from deeplight.eval.metrics import BORDER_PX, _as_image, prepare_pair

LIT_TAU = 1.0
"""Radiance (nW/cm^2/sr) at or above which a pixel counts as lit for :func:`lit_area_error`: the
VIIRS background level (SCIENCE.md section 4; Black Marble treats <= 2 as noise, ``metrics`` uses 2)."""
DARK_RADIANCE = 0.5
"""HR radiance (nW/cm^2/sr) below which a pixel counts as dark land for :func:`dark_floor`."""
FLUX_MIN_CELL = 0.5
"""Calibrated LR radiance (nW/cm^2/sr) from which a cell enters the worst-cell flux error (a relative
error of a nearly dark cell says nothing)."""
PERIOD = 8
"""The LR grid's period in HR pixels (the scale factor)."""
HARMONICS = (1,)
"""Harmonics of 1/period examined by default by :func:`period8_peak_db`: the fundamental only.
Interpolators (bicubic) leave images of the LR spectrum at 2/8 and 3/8 that stand 6-13 dB above a
spectrum that is 30 dB down there, invisible in the image; ``ALL_HARMONICS`` looks at them too."""
ALL_HARMONICS = (1, 2, 3)
"""1/8, 2/8 and 3/8 (4/8 is the Nyquist frequency)."""
NEIGHBOUR_BINS = (2, 5)
"""Offsets (in frequency bins, both sides) of the neighbours a spectral peak is compared with; +-1
is excluded because the Hann window leaks a bin-centred peak into it."""
CAP_TOLERANCE = 1e-6
"""Slack on the normalised scale before a pixel counts as above the cap (float rounding)."""


def _crop(x: torch.Tensor, pixels: int) -> torch.Tensor:
    """``x`` without ``pixels`` rows/columns on every side."""
    return x[pixels:-pixels, pixels:-pixels] if pixels > 0 else x


def flux_error(
    sr,
    lr_calibrated,
    scale: int = SCALE,
    valid=None,
    border: int = BORDER_PX,
    min_cell: float = FLUX_MIN_CELL,
) -> dict[str, float]:
    """Flux consistency of SR with the calibrated LR, in linear radiance (nW/cm^2/sr).

    With ``R = denormalize_radiance(SR)`` and ``L = denormalize_radiance(lr_calibrated)``:

    * ``flux_error = sum_c |mean_8x8(R)_c - L_c| / sum_c L_c`` over the LR cells c (the relative L1
      of :func:`deeplight.eval.metrics.flux_consistency`, the evaluation twin of the training-time
      :func:`deeplight.models.flux.flux_error`); 0 when SR redistributes, never creates, flux, so
      sums of lights over any union of cells are kept;
    * ``flux_error_max_cell = max_c |mean_8x8(R)_c - L_c| / L_c`` over cells with ``L_c >= min_cell``
      (the "1% per LR cell" target of issue 10); nan when no cell is that bright.

    The border of ``border`` HR pixels is cropped as ``ceil(border / scale)`` whole LR cells; a cell
    counts only when all its HR pixels are valid and its LR value is finite.

    Args:
        sr: (s h, s w) SR image, normalised radiance.
        lr_calibrated: (h, w) the model's calibrated LR, normalised radiance (NaN = no data).
        scale: s, HR pixels per LR pixel.
        valid: optional (s h, s w) mask of valid HR pixels.
        border: HR pixels cropped on every side.
        min_cell: radiance (nW/cm^2/sr) from which a cell enters the worst-cell error.

    Returns:
        ``{"flux_error": ..., "flux_error_max_cell": ..., "flux_total": ...}``: the two errors
        (relative, 0.01 = 1%) and ``sum_c L_c`` over the counted cells (nW/cm^2/sr x cells), so the
        error of a region made of several images pools as ``sum(error x total) / sum(total)``.

    Raises:
        ValueError: ``sr`` is not ``scale`` times ``lr_calibrated``, or ``valid`` does not match ``sr``.
    """
    s = _as_image(sr, "sr")
    lr = _as_image(lr_calibrated, "lr_calibrated")
    if s.shape != (lr.shape[0] * scale, lr.shape[1] * scale):
        raise ValueError(f"sr {tuple(s.shape)} must be {scale}x lr_calibrated {tuple(lr.shape)}")
    ref = torch.where(
        torch.isfinite(lr), denormalize_radiance(lr.nan_to_num(0.0)), torch.full_like(lr, math.nan)
    )
    if valid is not None:
        v = _as_image(valid, "valid")
        if v.shape != s.shape:
            raise ValueError(f"valid {tuple(v.shape)} must match sr {tuple(s.shape)}")
        full = F.avg_pool2d((v > 0).to(torch.float64)[None, None], scale)[0, 0] >= 1.0
        ref = torch.where(full, ref, torch.full_like(ref, math.nan))
    cells = -(-border // scale) if border > 0 else 0
    if cells > 0 and min(lr.shape) <= 2 * cells:
        raise ValueError(f"lr_calibrated {tuple(lr.shape)} is too small for a {border}-pixel border crop")
    s_c, ref_c = _crop(s, cells * scale), _crop(ref, cells)
    relative_l1 = metrics.flux_consistency(s_c, ref_c, scale)
    pooled = F.avg_pool2d(denormalize_radiance(s_c.nan_to_num(0.0))[None, None], scale)[0, 0]
    bright = torch.isfinite(ref_c) & (ref_c >= min_cell)
    worst = (
        float(((pooled[bright] - ref_c[bright]).abs() / ref_c[bright]).max()) if bright.any() else math.nan
    )
    total = float(ref_c[torch.isfinite(ref_c)].sum())
    return {"flux_error": relative_l1, "flux_error_max_cell": worst, "flux_total": total}


def lit_area_error(sr, hr, tau: float = LIT_TAU, valid=None, border: int = BORDER_PX) -> float:
    """Signed relative error of the lit share: ``(share_SR - share_HR) / share_HR``.

    ``share = #{valid pixels with radiance >= tau} / #{valid pixels}`` (radiance in nW/cm^2/sr, the
    lit-area indicator of SCIENCE.md section 4 on equal-area pixels); both shares have the same
    denominator, so this is :func:`deeplight.eval.metrics.indicator_fidelity`'s ``lit_area_error``
    at threshold ``tau``. Negative: SR loses lit area (e.g. village lights dropped); positive: SR
    spreads light (blooming kept). nan when HR has no lit pixel.
    """
    return metrics.indicator_fidelity(sr, hr, valid, border, lit_threshold=tau)["lit_area_error"]


def dark_floor(sr, hr, dark: float = DARK_RADIANCE, valid=None, border: int = BORDER_PX) -> float:
    """Mean SR radiance (nW/cm^2/sr) over the valid pixels whose HR radiance is below ``dark``.

    Dark land should stay dark: a floor here inflates sums of lights over rural regions and hides
    the contrast of village lights. nan when no valid pixel is dark in HR. ``dark_floor(hr, hr)``
    is the reference value (at most ``dark``).
    """
    s, h, m = prepare_pair(sr, hr, valid, border)
    sel = m & (denormalize_radiance(h) < dark)
    if not sel.any():
        return math.nan
    return float(denormalize_radiance(s)[sel].mean())


def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (a bin-centred sinusoid leaks into the +-1 bins only)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def _line_peaks_db(
    image: np.ndarray, period: int, harmonics: Sequence[int], neighbours: tuple[int, int]
) -> list[float]:
    """Peak-to-neighbours ratio (dB) of the row-averaged power spectrum at each harmonic of 1/period."""
    lines, n = image.shape
    if not (np.ptp(image, axis=1) > 0).any():
        return [0.0 for _ in harmonics]  # every line constant: no periodic component at all
    x = image - image.mean(axis=1, keepdims=True)
    power = (np.abs(np.fft.rfft(x * _hann(n), axis=1)) ** 2).mean(axis=0)
    power = power + 1e-12 * power.sum() / power.size  # keeps the logarithms finite
    last = n // 2
    out = []
    for h in harmonics:
        k0 = n * h / period
        if k0 + neighbours[1] > last or k0 - neighbours[1] < 1:  # too close to 0 or Nyquist
            continue
        peak_bins = sorted({math.floor(k0), math.ceil(k0)})
        kc = round(k0)
        near = [kc + sign * d for d in range(neighbours[0], neighbours[1] + 1) for sign in (-1, 1)]
        near = [k for k in near if 1 <= k <= last and k not in peak_bins]
        # reference: the arithmetic mean power of the neighbour bins (on a steep spectrum it is
        # dominated by the brighter side, so a smooth fall through f, e.g. the roll-off of an
        # interpolator, is not mistaken for a peak; a power-law spectrum reads ~0 dB)
        reference = float(power[near].mean())
        out.append(10 * math.log10(float(power[peak_bins].max()) / reference))
    return out


def period8_peak_db(
    image,
    period: int = PERIOD,
    valid=None,
    border: int = BORDER_PX,
    harmonics: Sequence[int] = HARMONICS,
    neighbours: tuple[int, int] = NEIGHBOUR_BINS,
) -> float:
    """Spectral power at a period of ``period`` HR pixels relative to the neighbouring frequencies (dB).

    The x8 checkerboard ("waffle") of an upsampler or an LR-grid calibration is periodic on the LR
    grid. For the rows of the (border-cropped) image: each row has its mean removed and a periodic
    Hann window applied; the power spectra ``|FFT|^2`` are averaged over rows. At ``f = h / period``
    for each harmonic h (default the fundamental 1/8 only; :data:`ALL_HARMONICS` adds 2/8, 3/8) the
    peak power (the bin at ``f``, or the larger of
    the two bins around it) is compared with the mean power of the bins at +-2..+-5 from it (+-1
    excluded: the window leaks a bin-centred peak into them); the row value is the largest ratio
    over harmonics, ``10 log10(peak / mean_neighbours)`` in dB. The same on the columns; the result
    is the mean of both.

    About 0 dB on white noise and on a natural-like image (1/f amplitude spectrum); a smoother,
    steeper spectrum reads slightly negative (down to about -1.5 dB: the neighbours' mean lies above
    a convex spectrum), the maximum over several harmonics adds a few tenths of a dB on noise; an added pattern of
    period 8 stands out by its power over the local background. On real VIIRS tiles: HR about 0 dB,
    bicubic x8 0-5 dB at 1/8, a visible "waffle" about 10 dB.
    Computed on the values given (the normalised radiance scale for SR/HR); invalid pixels are set
    to the mean of the valid ones before the transform. Peak-to-background ratios of this kind are
    the usual detector of periodic (blocking) artefacts, e.g. Wang, Bovik & Evans 2000, "Blind
    measurement of blocking artifacts in images" (ICIP), which looks at the harmonics of 1/8.

    Args:
        image: (H, W) image.
        period: the period in pixels.
        valid: optional (H, W) mask.
        border: pixels cropped on every side.
        harmonics: multiples of ``1/period`` examined (those too close to 0 or Nyquist are skipped).
        neighbours: (first, last) bin offsets of the reference bins.

    Raises:
        ValueError: not one 2-D image, or too small for any harmonic on either axis.
    """
    img = _as_image(image, "image")
    mask = torch.isfinite(img)
    if valid is not None:
        v = _as_image(valid, "valid")
        if v.shape != img.shape:
            raise ValueError(f"valid {tuple(v.shape)} must match image {tuple(img.shape)}")
        mask &= v > 0
    if border > 0:
        if min(img.shape) <= 2 * border:
            raise ValueError(f"image {tuple(img.shape)} is too small for a {border}-pixel border crop")
        img, mask = img[border:-border, border:-border], mask[border:-border, border:-border]
    a, m = img.numpy().copy(), mask.numpy()
    if not m.any():
        return math.nan
    a[~m] = a[m].mean()
    per_axis = [
        _line_peaks_db(a, period, harmonics, neighbours),
        _line_peaks_db(a.T, period, harmonics, neighbours),
    ]
    if not per_axis[0] or not per_axis[1]:
        raise ValueError(
            f"image {tuple(a.shape)} (after the border crop) is too small to resolve a period of {period} px"
        )
    return float(np.mean([max(v) for v in per_axis]))


def cap_violation(sr, cap, valid=None, border: int = BORDER_PX, scale: int = SCALE) -> float:
    """Share (0..1) of valid pixels whose SR value exceeds ``cap`` (by more than 1e-6).

    Args:
        sr: (H, W) SR image, normalised radiance.
        cap: the bound on the same normalised scale: a scalar, an (H, W) map, or an LR-grid
            (H / scale, W / scale) map (each cell's cap holds for its HR pixels).
        valid: optional (H, W) mask.
        border: pixels cropped on every side.
        scale: HR pixels per LR cell for an LR-grid cap.

    Raises:
        ValueError: a cap map of any other shape.
    """
    s = _as_image(sr, "sr")
    c = (
        torch.as_tensor(np.asarray(cap) if not isinstance(cap, torch.Tensor) else cap)
        .detach()
        .cpu()
        .to(torch.float64)
    )
    if c.numel() == 1:
        c_map = torch.full_like(s, float(c.reshape(())))
    else:
        c = _as_image(c, "cap")
        if c.shape == s.shape:
            c_map = c
        elif (c.shape[0] * scale, c.shape[1] * scale) == s.shape:
            c_map = c.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
        else:
            raise ValueError(
                f"cap {tuple(c.shape)} must be a scalar, {tuple(s.shape)} or the LR grid of sr {tuple(s.shape)}"
            )
    # prepare_pair crops and masks the (sr, cap) pair exactly like an (sr, hr) pair
    s_c, c_c, m = prepare_pair(s, c_map, valid, border)
    if not m.any():
        return math.nan
    return float((s_c[m] > c_c[m] + CAP_TOLERANCE).to(torch.float64).mean())


def evidence_row(
    sr,
    hr,
    lr_calibrated,
    valid=None,
    cap=None,
    *,
    tau: float = LIT_TAU,
    dark: float = DARK_RADIANCE,
    border: int = BORDER_PX,
    with_piqe: bool = True,
) -> dict[str, float]:
    """Every measure of one SR image against its HR reference.

    Args:
        sr: (8h, 8w) SR image, normalised radiance.
        hr: (8h, 8w) reference, normalised radiance, NaN = nodata.
        lr_calibrated: (h, w) the model's calibrated LR (normalised radiance).
        valid: optional (8h, 8w) mask of valid HR pixels.
        cap: optional cap of :func:`cap_violation` (nan in the row when None).
        tau: lit threshold (nW/cm^2/sr); dark: dark threshold (nW/cm^2/sr).
        border: border crop in HR pixels.
        with_piqe: compute PIQE (:func:`deeplight.eval.metrics.piqe`) on the cropped SR image.

    Returns:
        ``psnr`` (dB), ``ssim``, ``cc``, ``piqe`` (0..100, lower = better), ``flux_error`` and
        ``flux_error_max_cell`` and ``flux_total`` (vs ``lr_calibrated``), ``flux_error_hr`` and
        ``flux_hr_total`` (the same relative L1
        against HR's own 8x8 means: are the sums of lights right), ``lit_area_error`` with the lit
        shares it compares, ``lit_share`` and ``lit_share_hr`` (pooled over a region's images),
        ``dark_floor`` (nW/cm^2/sr), ``period8_peak_db`` (dB, at 1/8), ``period8_harmonics_db``
        (dB, the largest at 1/8, 2/8, 3/8), ``cap_violation`` (share).
    """
    s, h = _as_image(sr, "sr"), _as_image(hr, "hr")
    if s.shape != h.shape:
        raise ValueError(f"sr {tuple(s.shape)} and hr {tuple(h.shape)} must have the same shape")
    v = None if valid is None else _as_image(valid, "valid")
    h_valid = h if v is None else torch.where(v > 0, h, torch.full_like(h, math.nan))
    row = {
        "psnr": metrics.psnr(s, h, v, border),
        "ssim": metrics.ssim(s, h, v, border),
        "cc": metrics.correlation(s, h, v, border),
        "piqe": metrics.piqe(_crop(s, border)) if with_piqe else math.nan,
    }
    row.update(flux_error(s, lr_calibrated, SCALE, v, border))
    hr_cells = normalize_radiance(metrics.coarse_flux(h_valid))  # NaN where a block has nodata
    against_hr = flux_error(s, hr_cells, SCALE, v, border)
    row["flux_error_hr"], row["flux_hr_total"] = against_hr["flux_error"], against_hr["flux_total"]
    row["lit_area_error"] = lit_area_error(s, h, tau, v, border)
    s_c, h_c, m = prepare_pair(s, h, v, border)
    if m.any():
        row["lit_share"] = float((denormalize_radiance(s_c)[m] >= tau).to(torch.float64).mean())
        row["lit_share_hr"] = float((denormalize_radiance(h_c)[m] >= tau).to(torch.float64).mean())
    else:
        row["lit_share"] = row["lit_share_hr"] = math.nan
    row["dark_floor"] = dark_floor(s, h, dark, v, border)
    row["period8_peak_db"] = period8_peak_db(s, PERIOD, v, border)
    row["period8_harmonics_db"] = period8_peak_db(s, PERIOD, v, border, harmonics=ALL_HARMONICS)
    row["cap_violation"] = cap_violation(s, cap, v, border) if cap is not None else math.nan
    return row


def reference_row(
    hr, valid=None, *, dark: float = DARK_RADIANCE, border: int = BORDER_PX, with_piqe: bool = True
) -> dict[str, float]:
    """What the HR image itself scores: ``period8_peak_db``, ``dark_floor`` (HR over its own dark
    pixels) and ``piqe``; the comparative measures are nan. The targets of issue 10 read "period-8
    peak at most HR's + 1 dB"."""
    h = _as_image(hr, "hr")
    v = None if valid is None else _as_image(valid, "valid")
    row = dict.fromkeys(EVIDENCE_KEYS, math.nan)
    row["piqe"] = metrics.piqe(_crop(h.nan_to_num(0.0), border)) if with_piqe else math.nan
    row["dark_floor"] = dark_floor(h.nan_to_num(0.0), h, dark, v, border)
    row["period8_peak_db"] = period8_peak_db(h, PERIOD, v, border)
    row["period8_harmonics_db"] = period8_peak_db(h, PERIOD, v, border, harmonics=ALL_HARMONICS)
    return row


EVIDENCE_KEYS = (
    "psnr",
    "ssim",
    "cc",
    "flux_error",
    "flux_error_max_cell",
    "flux_total",
    "flux_error_hr",
    "flux_hr_total",
    "lit_area_error",
    "lit_share",
    "lit_share_hr",
    "dark_floor",
    "period8_peak_db",
    "period8_harmonics_db",
    "piqe",
    "cap_violation",
)
"""Keys of :func:`evidence_row` in table order."""
