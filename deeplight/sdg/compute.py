"""Indicators per region for several night-light products (LR, SR, HR) -> one tidy table.

The table has one row per region x product x year x indicator with the columns of
:data:`TIDY_COLUMNS`. ``df.attrs["metadata"]`` carries what the CSV header and JSON sidecar need
(thresholds, units, products with their simulated flags and model/checkpoint tags, sources, issues).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio.warp import Resampling

from deeplight import __version__
from deeplight.errors import DeepLightError, RasterError, RegionError
from deeplight.io.validation import check_values, emit
from deeplight.io.coverage import RegionCoverage, region_coverage
from deeplight.sdg.indicators import (
    AREA_UNIT,
    TNL_UNIT,
    co2_disaggregation,
    co2_power_law,
    electricity_access_proxy,
    light_gini,
    lit_area,
    lit_share,
)
from deeplight.io.pixel_area import EQUAL_AREA_CRS, pixel_area_m2
from deeplight.sdg.population import population_on_grid
from deeplight.io.georaster import GeoRaster, RasterInput, read_georaster, reproject_like
from deeplight.sdg.radiance import dn_to_radiance, is_dn_product
from deeplight.io.regions import as_regions
from deeplight.sdg.thresholds import (
    DEFAULT_URBAN_THRESHOLD,
    DMSP_LIT_THRESHOLD_DN,
    URBAN_METHODS,
    VIIRS_LIT_THRESHOLD,
    lit_mask,
)
from deeplight.sdg.urban import read_urban_reference, urban_threshold_for
from deeplight.sdg.zonal import STAT_UNITS, zonal_statistics

TIDY_COLUMNS = (
    "region",
    "product",
    "year",
    "indicator",
    "value",
    "unit",
    "lower",
    "upper",
    "simulated",
    "method",
    "note",
)
"""Columns of the tidy table, in order (documented in docs/sdg.md)."""

MAX_NAMED_REGIONS = 10
"""Above this many regions with the same problem, one warning names the first ten."""

SOURCES = {
    "zonal statistics": "exactextract fractional coverage (Baston); cell areas on the ellipsoid "
    "(Snyder 1987)",
    "lit threshold": "VIIRS R >= 1 nW/cm2/sr (Roman et al. 2018); DMSP DN > 7 (Li et al. 2020)",
    "urban extent": "fixed / Otsu 1979 on log1p(R) / calibrated to a reference urban area",
    "electricity access": "population in lit cells / population (NASA SEDAC SDG 7.1.1 proxy, 2023)",
    "co2": "ODIAC-style disaggregation by radiance x area (Oda & Maksyutov 2011); optional user power law",
    "economic activity": "sum of lights; GDP elasticity 0.3 is a PRIOR (Henderson, Storeygard & Weil 2012)",
    "sdg 11.3.1": "LCR = ln(U2/U1)/y, PGR = ln(P2/P1)/y, LCRPGR = LCR/PGR (UN-Habitat 2018 metadata)",
}


@dataclass
class _Product:
    """One product ready for the indicators: radiance (H, W) in nW/cm2/sr, cell areas (H, W) in
    km2, the DN flag and calibration text, the simulated flag, and the std layer or None."""

    name: str
    raster: GeoRaster
    radiance: np.ndarray
    is_dn: bool
    calibration: str
    simulated: bool
    area_km2: np.ndarray
    std: np.ndarray | None


def _as_mapping(value: Any, names: list[str], default: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {name: value.get(name, default) for name in names}
    return {name: (default if value is None else value) for name in names}


def _describe_source(source: Any) -> str:
    """A path as text, or what an in-memory raster is (for the metadata)."""
    if isinstance(source, GeoRaster):
        return source.source
    if hasattr(source, "rio"):
        return str(getattr(source, "attrs", {}).get("source_path", "<array>"))
    return str(source)


def _grid_key(raster: GeoRaster) -> tuple:
    return (raster.crs.to_wkt(), raster.shape, tuple(round(v, 12) for v in tuple(raster.transform)[:6]))


def _urban_threshold(
    product: _Product, method: str, fixed: float, reference: GeoRaster | None
) -> tuple[float, str]:
    """Scene-level urban threshold (nW/cm2/sr) for a product and a description of how it was set."""
    if method == "calibrated" and reference is None:
        raise DeepLightError(
            "urban_method='calibrated' needs urban_reference (a reference urban-extent raster)"
        )
    fraction = None
    if method == "calibrated":
        fraction = reproject_like(reference, product.raster, Resampling.average).values
    tau = urban_threshold_for(
        product.radiance, product.area_km2, method, fixed=fixed, reference_fraction=fraction
    )
    if method == "fixed":
        return tau, f"fixed: R >= {tau:g} nW/cm2/sr"
    if method == "otsu":
        return tau, f"otsu on log1p(R): R >= {tau:.3g} nW/cm2/sr"
    return tau, f"calibrated to the reference urban area: R >= {tau:.3g} nW/cm2/sr"


def _load_product(
    name: str,
    source: RasterInput,
    declared_units: str | None,
    simulated: bool | None,
    std_source: RasterInput | None,
    window: tuple[tuple[float, float, float, float], Any] | None = None,
    band: int | None = None,
    time: str | None = None,
) -> _Product:
    bounds, bounds_crs = window if window is not None else (None, None)
    label = f"{name.upper()} raster"
    raster = read_georaster(source, name=label, bounds=bounds, bounds_crs=bounds_crs, band=band, time=time)
    is_dn = is_dn_product(raster, declared_units, name)
    if isinstance(source, (str, os.PathLike)):  # files: the value rules of the shared validator
        values, notes = check_values(raster.values, "lr" if is_dn else "radiance", f"{label} {raster.source}")
        emit(notes)
        raster = raster.with_values(values)
    if is_dn:
        radiance, calibration = dn_to_radiance(raster.values)
    else:
        radiance, calibration = raster.values, "radiance as given"
    std = None
    if std_source is not None:
        if is_dn:
            raise RasterError(
                f"uncertainty for product {name!r}: only radiance products (SR, HR) take an uncertainty layer"
            )
        std_raster = reproject_like(
            read_georaster(
                std_source, name=f"{name.upper()} uncertainty", bounds=bounds, bounds_crs=bounds_crs
            ),
            raster,
        )
        std = np.abs(std_raster.values)
    area_km2 = pixel_area_m2(raster.transform, raster.crs, raster.shape) / 1e6
    flag = raster.simulated if simulated is None else bool(simulated) or raster.simulated
    return _Product(name, raster, radiance, is_dn, calibration, flag, area_km2, std)


def _indicator_values(
    product: _Product,
    cells: np.ndarray,
    fraction: np.ndarray,
    lit_tau: float,
    urban_tau: float,
    population: np.ndarray | None,
    shift: float,
) -> dict[str, float]:
    """The threshold-based indicators for one region, with radiance shifted by ``shift`` x std."""
    area = product.area_km2.ravel()[cells] * fraction
    radiance = product.radiance.ravel()[cells]
    if shift != 0.0 and product.std is not None:
        radiance = np.maximum(radiance + shift * product.std.ravel()[cells], 0.0)
    valid = np.isfinite(radiance)
    valid_area = float(area[valid].sum())
    if product.is_dn:
        lit = lit_mask(product.raster.values.ravel()[cells], lit_tau, is_dn=True)
    else:
        lit = lit_mask(radiance, lit_tau)
    urban = lit_mask(radiance, urban_tau)
    out = {
        "sum_of_lights": float(np.sum(radiance[valid] * area[valid])) if valid.any() else float("nan"),
        "lit_area": lit_area(lit, area),
        "urban_area": lit_area(urban, area),
    }
    out["mean_radiance"] = out["sum_of_lights"] / valid_area if valid_area > 0 else float("nan")
    out["lit_share"] = lit_share(out["lit_area"], valid_area)
    out["urban_share"] = lit_share(out["urban_area"], valid_area)
    if population is not None:
        people = population.ravel()[cells] * fraction
        # people in cells without light data are unknown: left out of both sides of the ratio
        out["electricity_access"] = electricity_access_proxy(np.where(valid, people, np.nan), lit)
        out["population"] = float(np.nansum(people))
    return out


def _region_rows(
    product: _Product,
    coverage: RegionCoverage,
    region_area_km2: float,
    *,
    year: int | None,
    thresholds: tuple[float, str, float, str],
    population: np.ndarray | None,
    confidence_z: float,
    co2_power_law_coefficients: tuple[float, float] | None,
    co2_unit: str,
) -> list[dict[str, Any]]:
    """Tidy rows of one product in one region (see :data:`TIDY_COLUMNS`)."""
    lit_tau, lit_rule, urban_tau, urban_rule = thresholds
    cells, fraction = coverage.cells, coverage.fraction
    stats = zonal_statistics(product.radiance.ravel()[cells], fraction, product.area_km2.ravel()[cells])
    note = coverage.note
    if cells.size and stats["valid_fraction"] < 0.999:
        partial = f"valid data over {100 * stats['valid_fraction']:.1f}% of the covered area"
        note = f"{note}; {partial}" if note else partial
    central = _indicator_values(product, cells, fraction, lit_tau, urban_tau, population, 0.0)
    bounds = None
    if product.std is not None:
        bounds = tuple(
            _indicator_values(product, cells, fraction, lit_tau, urban_tau, population, shift)
            for shift in (-confidence_z, confidence_z)
        )
    rows: list[dict[str, Any]] = []

    def add(indicator: str, value: float, unit: str, method: str, with_interval: bool = False) -> None:
        lower = bounds[0][indicator] if with_interval and bounds is not None else np.nan
        upper = bounds[1][indicator] if with_interval and bounds is not None else np.nan
        rows.append(
            {
                "region": coverage.region,
                "product": product.name,
                "year": year,
                "indicator": indicator,
                "value": value,
                "unit": unit,
                "lower": lower,
                "upper": upper,
                "simulated": product.simulated,
                "method": method,
                "note": note,
            }
        )

    stat_method = "area-weighted, fractional coverage" + (f"; {product.calibration}" if product.is_dn else "")
    add("region_area", region_area_km2, AREA_UNIT, f"polygon area in {EQUAL_AREA_CRS}")
    add("sum_of_lights", stats["sum_of_lights"], STAT_UNITS["sum_of_lights"], stat_method, True)
    add("mean_radiance", stats["mean"], STAT_UNITS["mean"], stat_method, True)
    for stat in ("min", "q25", "median", "q75", "max", "std"):
        add(f"{stat}_radiance", stats[stat], STAT_UNITS[stat], stat_method)
    add("valid_pixel_count", stats["count"], "cells", "sum of covered fractions of valid cells")
    add("valid_fraction", stats["valid_fraction"], "1", "valid area / covered area")
    for indicator, unit, rule in (
        ("lit_area", AREA_UNIT, lit_rule),
        ("lit_share", "1", lit_rule),
        ("urban_area", AREA_UNIT, urban_rule),
        ("urban_share", "1", urban_rule),
    ):
        add(indicator, central[indicator], unit, rule, True)
    if population is not None:
        add(
            "population",
            central["population"],
            "people",
            "population raster on the product grid, totals conserved",
        )
        add(
            "electricity_access",
            central["electricity_access"],
            "1",
            f"people in lit cells / people ({lit_rule}); SDG 7.1.1 proxy",
            True,
        )
    if co2_power_law_coefficients is not None:
        a, b = co2_power_law_coefficients
        add(
            "co2_power_law",
            co2_power_law(stats["sum_of_lights"], a, b),
            co2_unit,
            f"ln CO2 = {a:g} + {b:g} ln TNL (user coefficients)",
        )
    return rows


GINI_INDICATOR = "light_gini"
GINI_UNIT = "index 0-1"
GINI_SOURCE = "Gini of radiance over the region's cells, area-weighted (deeplight.sdg.indicators.light_gini)"


def gini_rows(product: _Product, coverages: list[RegionCoverage], year: int | None) -> list[dict[str, Any]]:
    """Tidy ``light_gini`` rows of one product: the Gini of lights over each region's cells.

    Cells are weighted by their area inside the region (exactextract covered fraction x ellipsoidal
    cell area, as every other indicator); a DN product is taken as its nominal radiance.
    """
    radiance = product.radiance.ravel()
    area = product.area_km2.ravel()
    method = (
        "Gini of radiance over the region's cells, area-weighted (0 = evenly lit, 1 = all light in one cell)"
        + ("; nominal radiance of the DN" if product.is_dn else "")
    )
    rows = []
    for coverage in coverages:
        cells, fraction = coverage.cells, coverage.fraction
        value = light_gini(radiance[cells], area[cells] * fraction) if cells.size else np.nan
        rows.append(
            {
                "region": coverage.region,
                "product": product.name,
                "year": year,
                "indicator": GINI_INDICATOR,
                "value": value,
                "unit": GINI_UNIT,
                "lower": np.nan,
                "upper": np.nan,
                "simulated": product.simulated,
                "method": method,
                "note": coverage.note,
            }
        )
    return rows


def compute_indicators(
    products: Mapping[str, RasterInput],
    regions: gpd.GeoDataFrame | Any,
    *,
    population: RasterInput | None = None,
    uncertainty: Mapping[str, RasterInput] | None = None,
    year: int | None = None,
    simulated: Mapping[str, bool] | bool | None = None,
    units: Mapping[str, str] | None = None,
    lit_threshold: float = VIIRS_LIT_THRESHOLD,
    lit_threshold_dn: float = DMSP_LIT_THRESHOLD_DN,
    urban_method: str = "otsu",
    urban_threshold: float = DEFAULT_URBAN_THRESHOLD,
    urban_reference: RasterInput | None = None,
    co2_total: float | None = None,
    co2_unit: str = "t CO2",
    co2_power_law_coefficients: tuple[float, float] | None = None,
    confidence_z: float = 1.96,
    name_column: str | None = None,
    model_info: Mapping[str, Any] | None = None,
    keep_empty_regions: bool = True,
    crop_to_regions: bool = False,
    band: int | None = None,
    time: str | None = None,
    gini: bool = False,
) -> pd.DataFrame:
    """Zonal statistics and SDG indicators per region for each product.

    Args:
        products: product name ("lr", "sr", "hr" or any) -> GeoTIFF path or rioxarray DataArray.
            Radiance in nW/cm2/sr; DMSP-like DN (tag ``units=DN``, declared in ``units``, or
            integer 0..63) is converted to nominal radiance for sums (lit area uses DN > 7).
        regions: output of :func:`load_regions`, or anything it accepts (path, "naturalearth", bbox).
        population: people-per-cell raster in any CRS (reprojected onto each product grid with totals
            conserved); adds ``population`` and ``electricity_access``.
        uncertainty: product name -> per-pixel std raster (nW/cm2/sr); adds ``lower``/``upper``
            (radiance -/+ ``confidence_z`` std, errors taken as fully correlated: conservative).
        year: the year of the products (a column of the table).
        simulated: product name -> True when made by the degradation model (also read from the
            raster tag ``simulated=true``); a bool applies to every product.
        units: product name -> "DN" or "nW/cm2/sr" to override detection.
        lit_threshold: radiance threshold (nW/cm2/sr) for lit cells, ``R >= tau``.
        lit_threshold_dn: DN threshold for DN products, ``DN > tau``.
        urban_method: "fixed", "otsu" or "calibrated" (needs ``urban_reference``).
        urban_threshold: threshold of the "fixed" method (nW/cm2/sr).
        urban_reference: reference urban map (1 urban, 0 not, other values nodata) for "calibrated".
        co2_total: emissions of all regions together; each region gets its share of the sum of lights.
        co2_unit: unit of ``co2_total`` and of the power law's output.
        co2_power_law_coefficients: (a, b) of ln CO2 = a + b ln TNL (TNL in nW/cm2/sr x km2).
        confidence_z: z-score of the interval (1.96: about 95 % under a normal error).
        name_column: region name column when ``regions`` is a path.
        model_info: model name / checkpoint of the SR product, for the metadata.
        keep_empty_regions: keep NaN rows (with a ``note``) for regions that have an empty geometry
            or do not overlap any product; False drops them (e.g. world countries over one city).
        crop_to_regions: read only the window of each product file around the regions (large
            rasters, small regions). The "scene" of the Otsu and calibrated thresholds is then that
            window, not the whole raster.
        band, time: the band (1-based) or NetCDF time step to read from multi-band product files
            (a file with several bands needs one of them; see :func:`deeplight.io.georaster.read_georaster`).
        gini: also add ``light_gini`` rows (:func:`gini_rows`), after all the other rows.

    Returns:
        Tidy DataFrame (columns :data:`TIDY_COLUMNS`); ``attrs["metadata"]`` for the export.

    Raises:
        RegionError: no region overlaps any product; bad region input.
        RasterError: unreadable rasters. DeepLightError: bad method/threshold arguments.
    """
    if not products:
        raise DeepLightError("compute_indicators needs at least one product raster (e.g. {'hr': 'hr.tif'})")
    if urban_method not in URBAN_METHODS:
        raise DeepLightError(
            f"urban_method {urban_method!r} unknown: choose one of {', '.join(URBAN_METHODS)}"
        )
    regions = as_regions(regions, name_column)
    names = list(products)
    simulated_flags = _as_mapping(simulated, names, None)
    declared_units = _as_mapping(units, names, None)
    uncertainty = dict(uncertainty or {})
    unknown = set(uncertainty) - set(names)
    if unknown:
        raise DeepLightError(
            f"uncertainty given for unknown product(s) {sorted(unknown)}: products are {names}"
        )
    issues: list[str] = list(regions.attrs.get("issues", []))
    reference = read_urban_reference(urban_reference) if urban_reference is not None else None
    population_raster = (
        read_georaster(population, name="population raster", role="population")
        if population is not None
        else None
    )

    region_area = regions.to_crs(EQUAL_AREA_CRS).geometry.area.to_numpy() / 1e6
    window = (tuple(regions.total_bounds), regions.crs) if crop_to_regions else None
    coverage_cache: dict[tuple, list[RegionCoverage]] = {}
    population_cache: dict[tuple, Any] = {}
    rows: list[dict[str, Any]] = []
    metadata_products: dict[str, Any] = {}
    any_overlap = False
    gini_table: list[dict[str, Any]] = []

    for name in names:
        product = _load_product(
            name, products[name], declared_units[name], simulated_flags[name], uncertainty.get(name), window,
            band=band, time=time,
        )
        key = _grid_key(product.raster)
        if key not in coverage_cache:
            coverage_cache[key] = region_coverage(regions, product.raster)
        coverages = coverage_cache[key]
        lit_tau = lit_threshold_dn if product.is_dn else lit_threshold
        lit_rule = f"DN > {lit_tau:g}" if product.is_dn else f"R >= {lit_tau:g} nW/cm2/sr"
        urban_tau, urban_rule = _urban_threshold(product, urban_method, urban_threshold, reference)
        pop_values = None
        if population_raster is not None:
            if key not in population_cache:
                moved = population_on_grid(population_raster, product.raster)
                population_cache[key] = moved
                if moved.reprojected:
                    issues.append(moved.message)
            pop_values = population_cache[key].counts.values
        metadata_products[name] = {
            "source": product.raster.source,
            "units": "DN" if product.is_dn else "nW/cm2/sr",
            "calibration": product.calibration,
            "simulated": product.simulated,
            "crs": product.raster.crs.to_string(),
            "shape": list(product.raster.shape),
            "pixel_size": [product.raster.transform.a, -product.raster.transform.e],
            "lit_threshold": lit_rule,
            "urban_threshold": urban_rule,
            "uncertainty": _describe_source(uncertainty[name]) if name in uncertainty else None,
            **{
                k: v
                for k, v in product.raster.tags.items()
                if k in ("model", "checkpoint", "checkpoint_sha256", "provenance", "self_ensemble")
            },
        }
        for index, coverage in enumerate(coverages):
            any_overlap = any_overlap or bool(coverage.cells.size)
            rows.extend(
                _region_rows(
                    product,
                    coverage,
                    float(region_area[index]),
                    year=year,
                    thresholds=(lit_tau, lit_rule, urban_tau, urban_rule),
                    population=pop_values,
                    confidence_z=confidence_z,
                    co2_power_law_coefficients=co2_power_law_coefficients,
                    co2_unit=co2_unit,
                )
            )
        if gini:
            gini_table.extend(gini_rows(product, coverages, year))

        if co2_total is not None:
            product_rows = [r for r in rows if r["product"] == name and r["indicator"] == "sum_of_lights"]
            total_tnl = float(np.nansum([r["value"] for r in product_rows]))
            for r in product_rows:
                rows.append(
                    {
                        **r,
                        "indicator": "co2_emissions",
                        "unit": co2_unit,
                        "value": co2_disaggregation(r["value"], total_tnl, co2_total),
                        "lower": np.nan,
                        "upper": np.nan,
                        "method": f"share of {co2_total:g} {co2_unit} by sum of lights",
                    }
                )

    if not any_overlap:
        bounds = regions.total_bounds
        raise RegionError(
            f"no region of {regions.attrs.get('source', 'the regions')} overlaps the product rasters "
            f"(regions' bounds {np.round(bounds, 4).tolist()} in {regions.crs.to_string()}): "
            "check the CRS and extent"
        )
    empty: dict[str, list[str]] = {}
    for coverages in coverage_cache.values():
        for coverage in coverages:
            if coverage.note:
                empty.setdefault(coverage.note, [])
                if coverage.region not in empty[coverage.note]:
                    empty[coverage.note].append(coverage.region)
    for note, names_without in empty.items():
        if len(names_without) <= MAX_NAMED_REGIONS:
            issues.extend(f"region {name!r}: {note}; its indicators are NaN" for name in names_without)
        else:
            shown = ", ".join(repr(n) for n in names_without[:MAX_NAMED_REGIONS])
            issues.append(f"{len(names_without)} regions: {note} (e.g. {shown}); their indicators are NaN")
    rows.extend(gini_table)
    if not keep_empty_regions:
        covered = {c.region for coverages in coverage_cache.values() for c in coverages if c.cells.size}
        rows = [r for r in rows if r["region"] in covered]
    for message in issues:
        warnings.warn(message, UserWarning, stacklevel=2)

    table = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
    table["year"] = table["year"].astype("Int64")
    table.attrs["metadata"] = {
        "generator": f"deeplight {__version__} (deeplight.sdg.compute_indicators)",
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "year": year,
        "regions": {
            "source": regions.attrs.get("source", "regions"),
            "name_column": regions.attrs.get("name_column"),
            "count": int(len(regions)),
        },
        "products": metadata_products,
        "simulated_products": [n for n, p in metadata_products.items() if p["simulated"]],
        "thresholds": {
            "lit_radiance_nW_cm2_sr": lit_threshold,
            "lit_dn_strictly_above": lit_threshold_dn,
            "urban_method": urban_method,
            "urban_fixed_nW_cm2_sr": urban_threshold,
        },
        "interval": f"radiance -/+ {confidence_z:g} x per-pixel std, errors fully correlated"
        if uncertainty
        else None,
        "units": {"sum_of_lights": TNL_UNIT, "area": AREA_UNIT, "radiance": "nW/cm2/sr", "co2": co2_unit},
        "model": dict(model_info or {}),
        "population": population_raster.source if population_raster is not None else None,
        "sources": SOURCES,
        "issues": issues,
    }
    return table
