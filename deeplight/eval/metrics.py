"""Image-quality and indicator-fidelity metrics for night-time-light super-resolution.

Every full-reference metric compares a super-resolved image ``sr`` with the reference ``hr`` on the
project's FIXED radiometric scale (docs/CONTRACTS.md): normalised radiance
``log1p(r) / log1p(1000)``, data range 1.0, identical for every method. Before any metric, a border
of :data:`BORDER_PX` = 8 HR pixels is cropped and only valid pixels (HR not nodata) are used.

Definitions (SCIENCE.md section 3):

* PSNR = 10 log10(L^2 / MSE) over valid pixels, L = 1 (torchmetrics ``peak_signal_noise_ratio``).
* SSIM (Wang et al. 2004): Gaussian 11x11 window, sigma 1.5, K1 = 0.01, K2 = 0.03; the SSIM map of
  torchmetrics ``structural_similarity_index_measure`` averaged over window centres whose whole
  window lies inside the image and on valid pixels (identical to scikit-image's
  ``structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``).
* UIQI / Q (Wang & Bovik 2002, IEEE SPL 9(3):81-84): SSIM with C1 = C2 = 0,
  ``Q = 4 s_xy mu_x mu_y / ((s_x^2 + s_y^2)(mu_x^2 + mu_y^2))``, on the same Gaussian 11x11 windows
  as torchmetrics ``universal_image_quality_index``; windows where the denominator vanishes (both
  windows flat and dark) are skipped, because Q is undefined there.
* CC: Pearson correlation over valid pixels.
* SAM (spectral angle mapper): the angle between the per-pixel spectra of SR and HR. For a single
  band, every spectrum is a positive scalar, so the angle is always 0: the metric is degenerate and
  reported as N/A (``nan``). :func:`spectral_angle` computes it for multi-band inputs only.
* PIQE (Venkatanath et al. 2015, "Blind image quality evaluation using perception based features",
  NCC 2015): no-reference, 16x16 blocks, in [0, 100], lower is better; see :func:`piqe`.
* Flux consistency: ``|avgpool8(SR) - F|_1 / |F|_1`` in radiance units (nW/cm^2/sr), F the coarse
  reference flux (the HR image area-averaged onto the LR grid); 0 when SR conserves flux.
* Indicator fidelity: urban extent (radiance >= :data:`URBAN_THRESHOLD`) of SR against that of HR as
  F1 and IoU; lit area (radiance >= :data:`LIT_THRESHOLD`) relative error of SR vs HR.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from deeplight.contracts import BORDER_PX, SCALE, denormalize_radiance

DATA_RANGE = 1.0
"""Data range L of the normalised radiance scale."""
SSIM_KERNEL = 11
SSIM_SIGMA = 1.5
LIT_THRESHOLD = 2.0
"""Radiance (nW/cm^2/sr) at or above which a pixel counts as lit: Black Marble treats <= 2 as noise."""
URBAN_THRESHOLD = 10.0
"""Radiance (nW/cm^2/sr) at or above which a pixel counts as urban (fixed-threshold urban extent)."""

PIQE_BLOCK = 16
"""Side of the square, non-overlapping PIQE blocks (pixels)."""
PIQE_ACTIVITY_THRESHOLD = 0.1
"""A block is spatially active when the variance of its MSCN coefficients exceeds this (T_A)."""
PIQE_IMPAIRED_THRESHOLD = 0.1
"""An edge segment is impaired (flat) when the std of its MSCN coefficients is below this."""
PIQE_SEGMENT = 6
"""Length of the edge segments of the noticeable-distortion criterion (11 per 16-pixel edge)."""
PIQE_POOL_C = 1.0
"""Pooling constant C of ``(sum D + C) / (N_active + C)``; it makes the score 100 with no active block."""
PIQE_GREY_LEVELS = 255
"""The paper works on 8-bit grey levels: normalised radiance [0, DATA_RANGE] maps to 0..255."""
PIQE_MSCN_WINDOW = 7
PIQE_MSCN_SIGMA = 7 / 6
PIQE_MSCN_C = 1.0
"""MSCN stabilising constant, in grey levels."""


def _as_image(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    """A 2-D float64 tensor from an (H, W), (1, H, W) or (1, 1, H, W) array."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().cpu()
    while t.ndim > 2 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 2:
        raise ValueError(f"{name} must be one image of shape (H, W) or (1, 1, H, W), got {tuple(t.shape)}")
    return t.to(torch.float64)


def prepare_pair(
    sr: torch.Tensor | np.ndarray,
    hr: torch.Tensor | np.ndarray,
    valid: torch.Tensor | np.ndarray | None = None,
    border: int = BORDER_PX,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Crop the border and build the valid mask of one SR/HR pair.

    Args:
        sr: super-resolved image (H, W), normalised radiance.
        hr: reference image (H, W), normalised radiance; NaN marks nodata.
        valid: optional (H, W) mask, nonzero where HR is valid.
        border: pixels cropped on each side.

    Returns:
        ``(sr, hr, mask)``: cropped float64 images with invalid pixels set to 0, and the bool mask.
    """
    sr_t, hr_t = _as_image(sr, "sr"), _as_image(hr, "hr")
    if sr_t.shape != hr_t.shape:
        raise ValueError(f"sr {tuple(sr_t.shape)} and hr {tuple(hr_t.shape)} must have the same shape")
    mask = torch.isfinite(hr_t) & torch.isfinite(sr_t)
    if valid is not None:
        valid_t = _as_image(valid, "valid")
        if valid_t.shape != hr_t.shape:
            raise ValueError(f"valid {tuple(valid_t.shape)} must match hr {tuple(hr_t.shape)}")
        mask &= valid_t > 0
    if border > 0:
        if min(hr_t.shape) <= 2 * border:
            raise ValueError(f"image {tuple(hr_t.shape)} is too small for a {border}-pixel border crop")
        sl = (slice(border, -border), slice(border, -border))
        sr_t, hr_t, mask = sr_t[sl], hr_t[sl], mask[sl]
    sr_t = torch.where(mask, sr_t, torch.zeros_like(sr_t))
    hr_t = torch.where(mask, hr_t, torch.zeros_like(hr_t))
    return sr_t, hr_t, mask


def psnr(sr, hr, valid=None, border: int = BORDER_PX) -> float:
    """Peak signal-to-noise ratio (dB) over valid pixels, data range 1 (nan if no valid pixel)."""
    s, h, m = prepare_pair(sr, hr, valid, border)
    if not m.any():
        return math.nan
    return float(peak_signal_noise_ratio(s[m], h[m], data_range=DATA_RANGE))


def _window_valid(mask: torch.Tensor, kernel: int) -> torch.Tensor:
    """Window centres whose whole ``kernel`` x ``kernel`` window is inside the image and valid."""
    pad = (kernel - 1) // 2
    invalid = (~mask).to(torch.float64)[None, None]
    touched = F.max_pool2d(invalid, kernel, stride=1, padding=pad)[0, 0] > 0
    keep = ~touched
    keep[:pad, :] = False
    keep[-pad:, :] = False
    keep[:, :pad] = False
    keep[:, -pad:] = False
    return keep


def ssim(sr, hr, valid=None, border: int = BORDER_PX) -> float:
    """Structural similarity (Gaussian 11x11, sigma 1.5) averaged over fully valid windows."""
    s, h, m = prepare_pair(sr, hr, valid, border)
    _, full = structural_similarity_index_measure(
        s[None, None], h[None, None], data_range=DATA_RANGE, kernel_size=SSIM_KERNEL, sigma=SSIM_SIGMA,
        return_full_image=True,
    )
    keep = _window_valid(m, SSIM_KERNEL)
    if not keep.any():
        return math.nan
    return float(full[0, 0][keep].mean())


def _gaussian_kernel(size: int = SSIM_KERNEL, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Normalised 2-D Gaussian window, shape (1, 1, size, size), float64."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g)[None, None]


def uiqi_map(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Wang-Bovik Q per window centre (valid convolution, Gaussian 11x11 window, sigma 1.5).

    Args:
        x, y: (H, W) float64 images.

    Returns:
        ``(q, defined)``: maps of shape (H - 10, W - 10); ``defined`` is False where the denominator
        is zero (Q undefined) and ``q`` is 0 there.
    """
    w = _gaussian_kernel()
    xb, yb = x[None, None], y[None, None]
    mu_x, mu_y = F.conv2d(xb, w), F.conv2d(yb, w)
    var_x = F.conv2d(xb * xb, w) - mu_x**2
    var_y = F.conv2d(yb * yb, w) - mu_y**2
    cov = F.conv2d(xb * yb, w) - mu_x * mu_y
    num = 4 * cov * mu_x * mu_y
    den = (var_x + var_y) * (mu_x**2 + mu_y**2)
    defined = den.abs() > 1e-12
    q = torch.where(defined, num / torch.where(defined, den, torch.ones_like(den)), torch.zeros_like(den))
    return q[0, 0], defined[0, 0]


def uiqi(sr, hr, valid=None, border: int = BORDER_PX) -> float:
    """Universal image quality index Q (Wang & Bovik 2002) over fully valid, defined windows."""
    s, h, m = prepare_pair(sr, hr, valid, border)
    if min(s.shape) < SSIM_KERNEL:
        return math.nan
    q, defined = uiqi_map(s, h)
    pad = (SSIM_KERNEL - 1) // 2
    keep = _window_valid(m, SSIM_KERNEL)[pad:-pad, pad:-pad] & defined
    if not keep.any():
        return math.nan
    return float(q[keep].mean())


def correlation(sr, hr, valid=None, border: int = BORDER_PX) -> float:
    """Pearson correlation coefficient over valid pixels (nan when either image is constant)."""
    s, h, m = prepare_pair(sr, hr, valid, border)
    a, b = s[m], h[m]
    if a.numel() < 2:
        return math.nan
    a, b = a - a.mean(), b - b.mean()
    den = torch.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else math.nan


def spectral_angle(sr: torch.Tensor, hr: torch.Tensor) -> float:
    """Mean spectral angle (radians) between (C, H, W) images; N/A (nan) for a single band.

    With one band, each pixel's "spectrum" is a non-negative scalar and the angle between two such
    vectors is 0 (or undefined for 0), so SAM carries no information: DeepLight's models predict a
    single NTL band, and SAM is reported as N/A.
    """
    x = torch.as_tensor(sr, dtype=torch.float64)
    y = torch.as_tensor(hr, dtype=torch.float64)
    if x.ndim != 3 or x.shape != y.shape:
        raise ValueError(f"spectral_angle needs two (C, H, W) images of one shape, got {tuple(x.shape)}, {tuple(y.shape)}")
    if x.shape[0] < 2:
        return math.nan
    dot = (x * y).sum(0)
    norms = x.norm(dim=0) * y.norm(dim=0)
    ok = norms > 0
    if not ok.any():
        return math.nan
    return float(torch.arccos((dot[ok] / norms[ok]).clamp(-1, 1)).mean())


def _mscn(image: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients, 7x7 Gaussian (sigma 7/6), replicate padding.

    ``(I - mu) / (sigma + 1)`` with mu and sigma the Gaussian-weighted local mean and std
    (Mittal et al. 2012, as used by PIQE); the window is sampled at -3..3 and normalised to sum 1.
    """
    from scipy.ndimage import correlate

    half = PIQE_MSCN_WINDOW // 2
    coords = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(coords**2) / (2 * PIQE_MSCN_SIGMA**2))
    window = np.outer(g, g)
    window /= window.sum()
    mu = correlate(image, window, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(image * image, window, mode="nearest") - mu * mu))
    return (image - mu) / (sigma + PIQE_MSCN_C)


def _piqe_grey(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """Normalised radiance -> 8-bit grey levels as float: ``round(255 * clip(x, 0, 1))``, NaN -> 0.

    The scale is fixed (0 -> 0, DATA_RANGE -> 255, rounding half up), so every method's image is
    scored on the same grey scale; it is not stretched to the image's own maximum.
    """
    img = _as_image(image, "image").numpy().copy()
    img[~np.isfinite(img)] = 0.0
    img = np.clip(img / DATA_RANGE, 0.0, 1.0)
    return np.floor(PIQE_GREY_LEVELS * img + 0.5)


def _piqe_blocks(grey: np.ndarray) -> dict[str, np.ndarray]:
    """Per-block PIQE features of a grey-level image (0..255), in row-major block order.

    The image is padded at its bottom and right by edge replication to a multiple of
    :data:`PIQE_BLOCK`. Returns ``variance`` (MSCN block variance), ``active``, ``artifact``
    (noticeable distortion), ``noise`` and ``distortion`` (D_k, 0 for inactive blocks), each of
    length ``n_blocks``, and ``grid`` (block rows, block columns). Sample statistics (N - 1) are used
    for every variance and std.
    """
    b = PIQE_BLOCK
    rows, cols = grey.shape
    padded = np.pad(grey, ((0, (-rows) % b), (0, (-cols) % b)), mode="edge")
    norm = _mscn(padded)
    nr, nc = norm.shape[0] // b, norm.shape[1] // b
    blocks = norm.reshape(nr, b, nc, b).transpose(0, 2, 1, 3).reshape(nr * nc, b, b)
    n = blocks.shape[0]
    variance = blocks.reshape(n, -1).var(axis=1, ddof=1)
    active = variance > PIQE_ACTIVITY_THRESHOLD

    # Noticeable distortion (blockiness, ringing): some 6-pixel segment of one of the four block
    # edges (top, right, bottom, left) is flat.
    edges = np.stack([blocks[:, 0, :], blocks[:, :, -1], blocks[:, -1, :], blocks[:, :, 0]], axis=1)
    segments = np.lib.stride_tricks.sliding_window_view(edges, PIQE_SEGMENT, axis=2)
    artifact = (segments.std(axis=-1, ddof=1) < PIQE_IMPAIRED_THRESHOLD).any(axis=(1, 2))

    # Noise: sigma > 2 beta, beta = |sigma - r| / max(sigma, r), r = std(centre) / std(surround),
    # the centre being the two central columns and the surround the other b - 2 columns.
    sigma = np.sqrt(variance)
    c = b // 2
    centre_std = blocks[:, :, c - 1 : c + 1].reshape(n, -1).std(axis=1, ddof=1)
    surround = np.concatenate([blocks[:, :, : c - 1], blocks[:, :, c + 1 :]], axis=2)
    surround_std = surround.reshape(n, -1).std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(surround_std > 0, centre_std / surround_std, np.where(centre_std > 0, np.inf, 0.0))
        top = np.maximum(sigma, ratio)
        # beta -> 1 as r -> inf; beta is irrelevant (0) when sigma = r = 0, an inactive block.
        beta = np.where(np.isinf(ratio), 1.0, np.where(top > 0, np.abs(sigma - ratio) / top, 0.0))
    noise = sigma > 2 * beta

    artifact &= active
    noise &= active
    distortion = np.where(active, artifact * (1.0 - variance) + noise * variance, 0.0)
    return {
        "variance": variance, "active": active, "artifact": artifact, "noise": noise,
        "distortion": distortion, "grid": np.array([nr, nc]),
    }


def piqe(image: torch.Tensor | np.ndarray) -> float:
    """Perception-based Image Quality Evaluator (Venkatanath et al. 2015), no reference, lower = better.

    The published algorithm, on 8-bit grey levels as in the paper:

    1. The image (normalised radiance, data range 1) becomes grey levels
       ``round(255 * clip(x, 0, 1))`` on that FIXED scale (NaN -> 0), padded at the bottom/right by
       edge replication to a multiple of 16, and turned into MSCN coefficients
       ``(I - mu) / (sigma + 1)`` (7x7 Gaussian window, sigma 7/6).
    2. Each 16x16 block whose MSCN variance v exceeds 0.1 is spatially active.
    3. An active block has a *noticeable artifact* (blockiness, ringing) when one of its four edges
       holds a 6-pixel segment whose std is below 0.1; it is *noisy* when ``sigma > 2 beta`` with
       ``sigma = sqrt(v)``, ``beta = |sigma - r| / max(sigma, r)`` and r the ratio of the std of
       the two centre columns to that of the other 14 columns.
    4. Its distortion is ``D = artifact (1 - v) + noise v`` (1 when both), and
       ``PIQE = 100 (sum D + C) / (N_active + C)`` with C = 1, clipped to [0, 100] (a D leaves
       [0, 1] only for a block with v > 1 and one criterion met).

    With no active block (a constant image, all-zero included) the score is 100, the worst: the
    paper's and the reference implementation's convention. Variances and stds are sample (N - 1)
    estimates. For an image whose maximum is 1.0 this agrees with the ``pypiqe`` package except
    for its surround columns (see tests/eval/test_piqe.py).

    Args:
        image: one band (H, W), e.g. an SR image on the normalised radiance scale.

    Returns:
        The score in [0, 100].
    """
    blocks = _piqe_blocks(_piqe_grey(image))
    n_active = int(blocks["active"].sum())
    score = 100.0 * (float(blocks["distortion"].sum()) + PIQE_POOL_C) / (n_active + PIQE_POOL_C)
    return float(min(max(score, 0.0), 100.0))


def flux_consistency(sr, coarse_radiance, scale: int = SCALE) -> float:
    """Relative L1 flux error ``|avgpool(SR) - F|_1 / |F|_1`` in radiance units.

    Args:
        sr: (8h, 8w) SR image on the normalised radiance scale.
        coarse_radiance: (h, w) reference flux on the LR grid in nW/cm^2/sr (e.g. the HR image
            area-averaged by 8); NaN cells are ignored.
        scale: HR pixels per LR pixel.

    Returns:
        The relative error (0 = flux conserved); nan when the reference has no flux.
    """
    s = denormalize_radiance(_as_image(sr, "sr").nan_to_num(0.0))
    ref = _as_image(coarse_radiance, "coarse_radiance")
    if s.shape != (ref.shape[0] * scale, ref.shape[1] * scale):
        raise ValueError(f"sr {tuple(s.shape)} must be {scale}x coarse_radiance {tuple(ref.shape)}")
    pooled = F.avg_pool2d(s[None, None], scale)[0, 0]
    ok = torch.isfinite(ref)
    den = ref[ok].abs().sum()
    if den <= 0:
        return math.nan
    return float((pooled[ok] - ref[ok]).abs().sum() / den)


def coarse_flux(hr) -> torch.Tensor:
    """HR normalised radiance (8h, 8w) -> area-averaged radiance (h, w) in nW/cm^2/sr (NaN kept)."""
    h = _as_image(hr, "hr")
    r = denormalize_radiance(h.nan_to_num(0.0))
    r = torch.where(torch.isfinite(h), r, torch.full_like(r, math.nan))
    return F.avg_pool2d(r[None, None], SCALE)[0, 0]


def indicator_fidelity(
    sr, hr, valid=None, border: int = BORDER_PX, lit_threshold: float = LIT_THRESHOLD,
    urban_threshold: float = URBAN_THRESHOLD,
) -> dict[str, float]:
    """Agreement of NTL-derived indicators computed on SR with the same computed on HR.

    Args:
        sr, hr: (H, W) normalised radiance.
        valid: optional validity mask.
        border: border crop (pixels).
        lit_threshold: radiance (nW/cm^2/sr) for lit area.
        urban_threshold: radiance (nW/cm^2/sr) for urban extent.

    Returns:
        ``urban_f1``, ``urban_iou`` (1 when both extents are empty) and ``lit_area_error`` (relative
        error of the lit-pixel count, signed, nan when HR has no lit pixel).
    """
    s, h, m = prepare_pair(sr, hr, valid, border)
    r_sr, r_hr = denormalize_radiance(s)[m], denormalize_radiance(h)[m]
    urban_sr, urban_hr = r_sr >= urban_threshold, r_hr >= urban_threshold
    tp = float((urban_sr & urban_hr).sum())
    fp = float((urban_sr & ~urban_hr).sum())
    fn = float((~urban_sr & urban_hr).sum())
    union = tp + fp + fn
    f1 = 2 * tp / (2 * tp + fp + fn) if union > 0 else 1.0
    iou = tp / union if union > 0 else 1.0
    lit_sr, lit_hr = float((r_sr >= lit_threshold).sum()), float((r_hr >= lit_threshold).sum())
    lit_err = (lit_sr - lit_hr) / lit_hr if lit_hr > 0 else math.nan
    return {"urban_f1": f1, "urban_iou": iou, "lit_area_error": lit_err}


def image_metrics(sr, hr, valid=None, border: int = BORDER_PX, with_piqe: bool = True) -> dict[str, float]:
    """Every per-image metric of one SR/HR pair (see the module docstring).

    Args:
        sr: (H, W) or (1, 1, H, W) SR image, normalised radiance.
        hr: same shape, reference; NaN = nodata.
        valid: optional (H, W) validity mask.
        border: border crop in HR pixels.
        with_piqe: compute PIQE on the cropped SR image (the slowest metric).

    Returns:
        ``psnr, ssim, uiqi, cc, sam, piqe, flux_error, urban_f1, urban_iou, lit_area_error``.
    """
    out = {
        "psnr": psnr(sr, hr, valid, border),
        "ssim": ssim(sr, hr, valid, border),
        "uiqi": uiqi(sr, hr, valid, border),
        "cc": correlation(sr, hr, valid, border),
        "sam": math.nan,
    }
    s_img, h_img = _as_image(sr, "sr"), _as_image(hr, "hr")
    if valid is not None:
        h_img = torch.where(_as_image(valid, "valid") > 0, h_img, torch.full_like(h_img, math.nan))
    if with_piqe:
        cropped = s_img[border:-border, border:-border] if border > 0 else s_img
        out["piqe"] = piqe(cropped)
    out["flux_error"] = flux_consistency(s_img, coarse_flux(h_img))
    out.update(indicator_fidelity(sr, hr, valid, border))
    return out
