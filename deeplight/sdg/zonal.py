"""Zonal statistics of one product in one region, with fractional cell coverage and true cell areas.

Each cell i of the region has covered fraction c_i (exactextract) and ground area A_i (km^2); its
weight in the region is w_i = c_i A_i. Statistics over valid (non-NaN) cells:
- ``sum_of_lights`` sum R_i w_i (nW/cm2/sr x km^2), ``mean`` sum R_i w_i / sum w_i (area-weighted),
- ``min``, ``max`` over cells touched by the region, ``q25``, ``median``, ``q75`` area-weighted
  quantiles, ``std`` area-weighted standard deviation,
- ``count`` sum c_i (cells, fractional), ``valid_fraction`` sum w_i(valid) / sum w_i(all).
"""

from __future__ import annotations

import numpy as np

from deeplight.sdg.indicators import TNL_UNIT, sum_of_lights

STAT_UNITS = {
    "sum_of_lights": TNL_UNIT,
    "mean": "nW/cm2/sr",
    "min": "nW/cm2/sr",
    "max": "nW/cm2/sr",
    "q25": "nW/cm2/sr",
    "median": "nW/cm2/sr",
    "q75": "nW/cm2/sr",
    "std": "nW/cm2/sr",
    "count": "cells",
    "valid_fraction": "1",
    "valid_area": "km2",
}


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Weighted quantile (0 <= q <= 1) with linear interpolation between weighted mid-points.

    With equal weights it equals ``np.quantile(values, q)`` for the "hazen" definition.
    NaN when there is no positive weight.
    """
    keep = np.isfinite(values) & (weights > 0)
    if not keep.any():
        return float("nan")
    v = values[keep]
    w = weights[keep]
    order = np.argsort(v)
    v, w = v[order], w[order]
    cumulative = np.cumsum(w)
    positions = (cumulative - 0.5 * w) / cumulative[-1]
    return float(np.interp(q, positions, v))


def zonal_statistics(values: np.ndarray, fraction: np.ndarray, area_km2: np.ndarray) -> dict[str, float]:
    """Statistics of one product over one region.

    Args:
        values: (N,) radiance of the region's cells (nW/cm2/sr), NaN for nodata.
        fraction: (N,) covered fraction of each cell (0, 1].
        area_km2: (N,) ground area of each cell in km^2.

    Returns:
        dict with the keys of ``STAT_UNITS`` (NaN where undefined, e.g. no valid cell).
    """
    weights_all = fraction * area_km2
    valid = np.isfinite(values)
    weights = weights_all[valid]
    v = values[valid]
    total_all = float(weights_all.sum())
    valid_area = float(weights.sum())
    out = {key: float("nan") for key in STAT_UNITS}
    out["count"] = float(fraction[valid].sum())
    out["valid_area"] = valid_area
    out["valid_fraction"] = valid_area / total_all if total_all > 0 else float("nan")
    if v.size == 0 or valid_area <= 0:
        return out
    tnl = sum_of_lights(v, weights)
    mean = tnl / valid_area
    out.update(
        sum_of_lights=tnl,
        mean=mean,
        min=float(v.min()),
        max=float(v.max()),
        q25=weighted_quantile(v, weights, 0.25),
        median=weighted_quantile(v, weights, 0.5),
        q75=weighted_quantile(v, weights, 0.75),
        std=float(np.sqrt(np.sum(weights * (v - mean) ** 2) / valid_area)),
    )
    return out
