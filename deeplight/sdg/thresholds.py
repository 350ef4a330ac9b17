"""Thresholds that separate lit / urban cells from background, per sensor and method.

Defaults (see ../shared/docs/SCIENCE.md section 4):
- VIIRS-class radiance (nW/cm2/sr): lit when R >= 1.0. The VIIRS DNB background after stray-light
  correction is of the order of 1 nW/cm2/sr; NASA Black Marble examples treat <= 2 as noise
  (Roman et al. 2018, Remote Sens. Environ. 210:113).
- DMSP-like DN (0..63): lit when DN > 7, the commonly used background cut (Li et al. 2020,
  Sci. Data 7:168, "A harmonized global nighttime light dataset 1992-2018").
- Urban extent: ``fixed`` (default 10 nW/cm2/sr: our choice, in the 5-20 range used for VIIRS urban
  mapping), ``otsu`` (Otsu 1979 on log1p radiance over the scene's valid cells), or ``calibrated``
  (the "optimal threshold" that makes the scene's urban area equal a reference map's urban area,
  e.g. Imhoff et al. 1997; Zhou et al. 2014).
"""

from __future__ import annotations

import numpy as np

from deeplight.errors import DeepLightError

VIIRS_LIT_THRESHOLD = 1.0
"""nW/cm2/sr: radiance at or above which a VIIRS-class cell counts as lit."""
DMSP_LIT_THRESHOLD_DN = 7.0
"""DN: a DMSP-like cell is lit when its DN is strictly above this."""
DEFAULT_URBAN_THRESHOLD = 10.0
"""nW/cm2/sr: fixed urban threshold (our choice, documented in docs/sdg.md)."""
URBAN_METHODS = ("fixed", "otsu", "calibrated")


def lit_mask(values: np.ndarray, threshold: float, *, is_dn: bool = False) -> np.ndarray:
    """Boolean mask of lit cells.

    Args:
        values: radiance (nW/cm2/sr) or DN, NaN for nodata (never lit).
        threshold: radiance threshold (``R >= threshold``) or DN threshold (``DN > threshold``).
        is_dn: whether ``values`` are DMSP-like DN.
    """
    with np.errstate(invalid="ignore"):
        return (values > threshold) if is_dn else (values >= threshold)


def otsu_threshold(radiance: np.ndarray, weights: np.ndarray | None = None, bins: int = 256) -> float:
    """Otsu's threshold on log1p(radiance), returned in radiance units (nW/cm2/sr).

    Maximises the between-class variance of a histogram (Otsu 1979, IEEE Trans. SMC 9(1):62) of
    ``log1p(R)`` over the finite, non-negative cells, optionally weighted by cell area.

    Raises:
        DeepLightError: fewer than two distinct finite values.
    """
    values = np.asarray(radiance, dtype=np.float64).ravel()
    w = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    keep = np.isfinite(values) & np.isfinite(w) & (w > 0)
    log_values = np.log1p(np.maximum(values[keep], 0.0))
    w = w[keep]
    if log_values.size == 0 or log_values.min() == log_values.max():
        raise DeepLightError(
            "Otsu threshold needs at least two distinct radiance values; use a fixed threshold"
        )
    hist, edges = np.histogram(log_values, bins=bins, weights=w)
    centres = 0.5 * (edges[:-1] + edges[1:])
    weight_below = np.cumsum(hist)
    weight_above = weight_below[-1] - weight_below
    mean_below = np.cumsum(hist * centres) / np.where(weight_below > 0, weight_below, 1)
    total_mean_sum = np.sum(hist * centres)
    mean_above = (total_mean_sum - np.cumsum(hist * centres)) / np.where(weight_above > 0, weight_above, 1)
    between = weight_below * weight_above * (mean_below - mean_above) ** 2
    best = int(np.argmax(between[:-1]))
    return float(np.expm1(edges[best + 1]))


def calibrated_threshold(radiance: np.ndarray, area: np.ndarray, target_area: float) -> float:
    """Threshold tau whose lit area ``sum A_i [R_i >= tau]`` best matches ``target_area``.

    The "optimal threshold" method: tau is the area-weighted (1 - s) quantile of radiance, with
    s = target_area / total valid area.

    Args:
        radiance: (N,) or any shape, nW/cm2/sr, NaN ignored.
        area: cell areas (same shape), any unit.
        target_area: reference urban area, same unit as ``area``.

    Returns:
        tau in nW/cm2/sr.

    Raises:
        DeepLightError: no valid cell, or a target outside (0, total area].
    """
    values = np.asarray(radiance, dtype=np.float64).ravel()
    weights = np.asarray(area, dtype=np.float64).ravel()
    keep = np.isfinite(values) & (weights > 0)
    values, weights = values[keep], weights[keep]
    total = weights.sum()
    if total <= 0 or not (0 < target_area <= total):
        raise DeepLightError(
            f"calibrated threshold: reference urban area {target_area:.4g} must lie in (0, {total:.4g}] "
            "(the valid area of the scene)"
        )
    order = np.argsort(values)[::-1]
    cumulative = np.cumsum(weights[order])
    position = int(np.searchsorted(cumulative, target_area))
    position = min(position, values.size - 1)
    if position > 0 and abs(cumulative[position - 1] - target_area) < abs(cumulative[position] - target_area):
        position -= 1
    return float(values[order][position])
