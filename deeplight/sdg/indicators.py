"""SDG indicator formulas from night-time lights, one small function per indicator.

Notation (../shared/docs/SCIENCE.md section 4): R_i radiance of cell i (nW/cm2/sr), A_i its ground
area, w_i = c_i A_i its area inside the region (c_i the covered fraction from exactextract).
Areas are in km^2; the sum of lights TNL_A = sum R_i w_i is in nW/cm2/sr x km^2 (a
resolution-independent "radiance x area", comparable between a 4 km and a 500 m grid).
"""

from __future__ import annotations

import warnings

import numpy as np

GDP_LIGHT_ELASTICITY_PRIOR = 0.3
"""Elasticity of GDP with respect to lights: a commonly quoted PRIOR (Henderson, Storeygard & Weil
2012, Am. Econ. Rev. 102(2):994), unverified here and labelled as a prior in every output."""

TNL_UNIT = "nW/cm2/sr*km2"
AREA_UNIT = "km2"


def sum_of_lights(radiance: np.ndarray, area_km2: np.ndarray) -> float:
    """TNL_A = sum R_i A_i over valid cells (nW/cm2/sr x km^2); NaN cells are skipped.

    Returns NaN when no cell is valid.
    """
    valid = np.isfinite(radiance)
    if not valid.any():
        return float("nan")
    return float(np.sum(radiance[valid] * area_km2[valid]))


def lit_area(lit: np.ndarray, area_km2: np.ndarray) -> float:
    """Lit area sum A_i [lit_i] in km^2 (``lit`` a boolean mask of the same shape)."""
    return float(np.sum(area_km2[lit]))


def lit_share(lit_area_km2: float, valid_area_km2: float) -> float:
    """Lit-area share (0..1): lit area / valid area; NaN when the valid area is 0."""
    return float(lit_area_km2 / valid_area_km2) if valid_area_km2 > 0 else float("nan")


def electricity_access_proxy(population: np.ndarray, lit: np.ndarray) -> float:
    """SDG 7.1.1 proxy: share of people living in lit cells, sum Pop_i [lit_i] / sum Pop_i (0..1).

    As in the NASA SEDAC 2023 "SDG 7.1.1 access to electricity" release (population in lit
    settlements over total population). ``population`` holds people per cell (already multiplied by
    the covered fraction); NaN cells are ignored. NaN when the region holds no people.
    """
    valid = np.isfinite(population)
    total = float(np.sum(population[valid]))
    if total <= 0:
        return float("nan")
    return float(np.sum(population[valid & lit]) / total)


def co2_disaggregation(tnl_region: float, tnl_total: float, emissions_total: float) -> float:
    """ODIAC-style share of a total: E_region = E_total * TNL_region / TNL_total.

    Oda & Maksyutov 2011 (Atmos. Chem. Phys. 11:543, ODIAC) distribute national emissions by
    night-light radiance x area. Units follow ``emissions_total`` (e.g. t CO2/yr).
    """
    if not np.isfinite(tnl_total) or tnl_total <= 0:
        return float("nan")
    return float(emissions_total * tnl_region / tnl_total)


def co2_pixel_disaggregation(
    radiance: np.ndarray, area_km2: np.ndarray, emissions_total: float
) -> np.ndarray:
    """Per-cell emissions E_i = E_total * R_i A_i / sum_j R_j A_j (same shape as ``radiance``, NaN kept)."""
    weights = np.where(np.isfinite(radiance), np.maximum(radiance, 0.0) * area_km2, 0.0)
    total = weights.sum()
    out = emissions_total * weights / total if total > 0 else np.zeros_like(weights)
    return np.where(np.isfinite(radiance), out, np.nan)


def co2_power_law(tnl: float, intercept: float, slope: float) -> float:
    """CO2 from the user's power law ln CO2 = a + b ln TNL (TNL in nW/cm2/sr x km^2).

    The coefficients are the user's (fitted elsewhere, e.g. Shi et al. 2016 for China); the
    output unit is whatever the fit used. NaN for TNL <= 0.
    """
    if not np.isfinite(tnl) or tnl <= 0:
        return float("nan")
    return float(np.exp(intercept + slope * np.log(tnl)))


def gdp_growth_from_lights(
    tnl_start: float, tnl_end: float, elasticity: float = GDP_LIGHT_ELASTICITY_PRIOR
) -> float:
    """Implied change in ln GDP: elasticity * (ln TNL_end - ln TNL_start) (a PRIOR, not a measurement).

    Henderson, Storeygard & Weil 2012 estimate an elasticity of about 0.3; treat the result as a
    labelled prior. NaN when either TNL is not positive.
    """
    if not (np.isfinite(tnl_start) and np.isfinite(tnl_end)) or tnl_start <= 0 or tnl_end <= 0:
        return float("nan")
    return float(elasticity * (np.log(tnl_end) - np.log(tnl_start)))


def land_consumption_rate(urban_start: float, urban_end: float, years: float) -> float:
    """SDG 11.3.1 land consumption rate LCR = ln(Urb_end / Urb_start) / y (per year).

    UN-Habitat 2018, SDG indicator 11.3.1 metadata. NaN when an area is not positive.
    """
    if years <= 0 or not (urban_start > 0 and urban_end > 0):
        return float("nan")
    return float(np.log(urban_end / urban_start) / years)


def population_growth_rate(population_start: float, population_end: float, years: float) -> float:
    """SDG 11.3.1 population growth rate PGR = ln(Pop_end / Pop_start) / y (per year)."""
    if years <= 0 or not (population_start > 0 and population_end > 0):
        return float("nan")
    return float(np.log(population_end / population_start) / years)


def lcr_pgr_ratio(lcr: float, pgr: float, region: str = "") -> float:
    """SDG 11.3.1 ratio LCRPGR = LCR / PGR; NaN with a warning when PGR <= 0 (ratio undefined).

    A shrinking or stable population makes the ratio meaningless (UN-Habitat's metadata says to
    report LCR and PGR separately then). NaN without a warning when LCR or PGR is unknown (NaN).
    """
    if not np.isfinite(pgr) or not np.isfinite(lcr):
        return float("nan")
    if pgr <= 0:
        where = f" for {region}" if region else ""
        warnings.warn(
            f"LCRPGR undefined{where}: population growth rate {pgr:.4g} <= 0; reported as NaN "
            "(see LCR and PGR separately)",
            RuntimeWarning,
            stacklevel=2,
        )
        return float("nan")
    return float(lcr / pgr)


def light_gini(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Gini coefficient of lights over the cells of a region (light-inequality index, 0..1).

    With cells sorted by radiance x_1 <= ... <= x_n and weights w_k (cell areas inside the region),
    p_k = w_k / sum w and L_k the cumulative share of light sum_{j<=k} w_j x_j / sum_j w_j x_j (the
    Lorenz curve), G = 1 - sum_k p_k (L_k + L_{k-1}). With equal weights this is the usual
    G = sum_i sum_j |x_i - x_j| / (2 n^2 mean x). 0: every cell equally bright; towards 1: all the
    light in one cell (Elvidge et al. 2012 use this "night-light Gini" as an inequality proxy).

    Args:
        values: radiance of the cells (any shape); NaN cells are skipped, negative radiance (sensor
            noise) counts as 0.
        weights: non-negative weight of each cell (same shape; e.g. area x covered fraction), or None
            for equal weights.

    Returns:
        G in [0, 1); NaN when no cell is valid, the weights sum to 0, or no cell is lit (G undefined).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != x.shape:
        raise ValueError(f"weights {w.shape} and values {x.shape} differ in size")
    keep = np.isfinite(x) & np.isfinite(w) & (w > 0)
    x, w = np.maximum(x[keep], 0.0), w[keep]
    total_weight, total_light = float(w.sum()), float(np.sum(w * x))
    if total_weight <= 0 or total_light <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    lorenz = np.cumsum(w * x) / total_light
    previous = np.concatenate([[0.0], lorenz[:-1]])
    return float(1.0 - np.sum((w / total_weight) * (lorenz + previous)))
