"""Urban extent from night lights and its accuracy against a reference urban map.

The urban mask is ``R >= tau`` with tau from a fixed value, Otsu on log1p(R), or calibrated so the
scene's urban area equals the reference's (see :mod:`deeplight.sdg.thresholds`). Accuracy is
measured per region on area-weighted confusion counts (cell area x covered fraction, km^2):
- F1 = 2 TP / (2 TP + FP + FN), IoU = TP / (TP + FP + FN),
- Cohen's kappa = (p_o - p_e) / (1 - p_e) (Cohen 1960), p_o observed agreement, p_e chance agreement.
The reference is moved onto the product grid with area-weighted averaging (its urban fraction per
cell) and a cell counts as urban when that fraction is >= 0.5; on the same grid it is used as is.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio.warp import Resampling

from deeplight.io.coverage import region_coverage
from deeplight.io.pixel_area import pixel_area_m2
from deeplight.io.georaster import GeoRaster, RasterInput, read_georaster, reproject_like
from deeplight.sdg.radiance import dn_to_radiance, is_dn_product
from deeplight.io.regions import as_regions
from deeplight.sdg.thresholds import (
    DEFAULT_URBAN_THRESHOLD,
    URBAN_METHODS,
    calibrated_threshold,
    otsu_threshold,
)

ALL_REGIONS = "ALL"
"""Name of the row that sums the confusion counts of every region."""


def read_urban_reference(reference: RasterInput) -> GeoRaster:
    """A reference urban map as float: 1 urban, 0 not urban, NaN for every other value (nodata, 255...)."""
    raster = read_georaster(reference, name="urban reference")
    values = np.where(np.isin(raster.values, (0.0, 1.0)), raster.values, np.nan)
    return raster.with_values(values)


def confusion_scores(tp: float, fp: float, fn: float, tn: float) -> dict[str, float]:
    """F1, IoU, Cohen's kappa, precision and recall from (area-weighted) confusion counts."""
    total = tp + fp + fn + tn
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) > 0 else float("nan")
    iou = tp / (tp + fp + fn) if (tp + fp + fn) > 0 else float("nan")
    precision = tp / (tp + fp) if (tp + fp) > 0 else float("nan")
    recall = tp / (tp + fn) if (tp + fn) > 0 else float("nan")
    if total > 0:
        observed = (tp + tn) / total
        chance = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / total**2
        kappa = (observed - chance) / (1 - chance) if chance < 1 else float("nan")
    else:
        kappa = float("nan")
    return {"f1": f1, "iou": iou, "kappa": kappa, "precision": precision, "recall": recall}


def urban_threshold_for(
    radiance: np.ndarray,
    area_km2: np.ndarray,
    method: str,
    *,
    fixed: float = DEFAULT_URBAN_THRESHOLD,
    reference_fraction: np.ndarray | None = None,
) -> float:
    """Scene-level urban threshold (nW/cm2/sr) by ``method`` ("fixed", "otsu", "calibrated")."""
    if method == "fixed":
        return float(fixed)
    if method == "otsu":
        return otsu_threshold(radiance, area_km2)
    if method == "calibrated":
        if reference_fraction is None:
            raise ValueError("the calibrated method needs a reference urban map")
        both = np.isfinite(reference_fraction) & np.isfinite(radiance)
        target = float(np.sum(np.clip(reference_fraction[both], 0, 1) * area_km2[both]))
        return calibrated_threshold(radiance[both], area_km2[both], target)
    raise ValueError(f"urban method {method!r} unknown: choose one of {', '.join(URBAN_METHODS)}")


def urban_extent_accuracy(
    product: RasterInput,
    reference: RasterInput,
    regions: gpd.GeoDataFrame | object,
    *,
    methods: tuple[str, ...] = URBAN_METHODS,
    fixed_threshold: float = DEFAULT_URBAN_THRESHOLD,
    thresholds: Mapping[str, float] | None = None,
    product_name: str = "hr",
    name_column: str | None = None,
) -> pd.DataFrame:
    """Per-region accuracy of the night-light urban extent against a reference urban map.

    Args:
        product: night-light raster (radiance, or DN converted to nominal radiance).
        reference: urban map, 1 = urban, 0 = not urban, anything else nodata (e.g. MGUP's 255).
        regions: output of ``load_regions`` or anything it accepts.
        methods: threshold methods to evaluate.
        fixed_threshold: tau of the "fixed" method (nW/cm2/sr).
        thresholds: method -> tau to use instead of computing it (e.g. from another scene).
        product_name: label of the product in the table.

    Returns:
        DataFrame with columns region, product, method, threshold (nW/cm2/sr), urban_area_km2,
        reference_area_km2, tp_km2, fp_km2, fn_km2, tn_km2, f1, iou, kappa, precision, recall;
        one row per region and method plus a row ``ALL`` (all regions' counts summed).
    """
    regions = as_regions(regions, name_column)
    raster = read_georaster(product, name=f"{product_name.upper()} raster")
    radiance = (
        dn_to_radiance(raster.values)[0] if is_dn_product(raster, product=product_name) else raster.values
    )
    fraction = reproject_like(read_urban_reference(reference), raster, Resampling.average).values
    reference_urban = np.where(np.isfinite(fraction), fraction >= 0.5, False)
    area_km2 = pixel_area_m2(raster.transform, raster.crs, raster.shape) / 1e6
    valid = np.isfinite(fraction) & np.isfinite(radiance)
    coverages = region_coverage(regions, raster)
    rows = []
    for method in methods:
        if thresholds and method in thresholds:
            tau = float(thresholds[method])
        else:
            tau = urban_threshold_for(
                radiance, area_km2, method, fixed=fixed_threshold, reference_fraction=fraction
            )
        with np.errstate(invalid="ignore"):
            predicted = radiance >= tau
        totals = np.zeros(4)
        for coverage in coverages:
            cells = coverage.cells
            weight = area_km2.ravel()[cells] * coverage.fraction * valid.ravel()[cells]
            p = predicted.ravel()[cells]
            r = reference_urban.ravel()[cells]
            counts = np.array(
                [
                    np.sum(weight[p & r]),
                    np.sum(weight[p & ~r]),
                    np.sum(weight[~p & r]),
                    np.sum(weight[~p & ~r]),
                ]
            )
            totals += counts
            rows.append(_row(coverage.region, product_name, method, tau, counts))
        rows.append(_row(ALL_REGIONS, product_name, method, tau, totals))
    return pd.DataFrame(rows)


def _row(region: str, product: str, method: str, tau: float, counts: np.ndarray) -> dict:
    tp, fp, fn, tn = (float(c) for c in counts)
    return {
        "region": region,
        "product": product,
        "method": method,
        "threshold": tau,
        "urban_area_km2": tp + fp,
        "reference_area_km2": tp + fn,
        "tp_km2": tp,
        "fp_km2": fp,
        "fn_km2": fn,
        "tn_km2": tn,
        **confusion_scores(tp, fp, fn, tn),
    }
