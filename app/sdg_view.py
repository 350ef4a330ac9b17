"""Indicators of the selected regions on LR, SR and HR, via ``deeplight.sdg`` (pure, no Streamlit).

The LR product is passed in its own units (DMSP-like DN on the LR grid): ``deeplight.sdg`` converts it
to nominal radiance for sums and uses ``DN > threshold`` for the lit area, and flags it simulated.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from app.scene import Scene
from deeplight.sdg import (
    TIDY_COLUMNS,
    compute_indicators,
    indicators_to_csv_bytes,
    indicators_to_geojson_bytes,
    indicators_to_geopackage_bytes,
)
from deeplight.sdg.regions import REGION_COLUMN


@dataclass(frozen=True)
class Thresholds:
    """User-adjustable settings of the indicators (thresholds and the CO2 proxy's inputs).

    Attributes:
        lit_radiance: lit if radiance >= this (nW/cm^2/sr); default 1 (Roman et al. 2018).
        lit_dn: lit if DMSP-like DN > this; default 7 (Li et al. 2020).
        urban_method: "otsu" or "fixed".
        urban_radiance: urban threshold of the "fixed" method (nW/cm^2/sr).
        co2_total: emissions of all the selected regions together, typed in by the user; each region
            then gets its ODIAC-style share by sum of lights (``co2_emissions``). None: no CO2 rows.
        co2_unit: unit of ``co2_total`` and of the power law's output.
        co2_power_law: the user's (a, b) of ln CO2 = a + b ln TNL (``co2_power_law`` rows), or None.
    """

    lit_radiance: float = 1.0
    lit_dn: float = 7.0
    urban_method: str = "otsu"
    urban_radiance: float = 10.0
    co2_total: float | None = None
    co2_unit: str = "t CO2"
    co2_power_law: tuple[float, float] | None = None


GINI_INDICATOR = "light_gini"
GINI_UNIT = "index 0-1"
READABLE_UNITS = {
    "1": "share",
    "1/yr": "per year",
    "nW/cm2/sr*km2": "nW/cm2/sr x km2",
}
"""Units of ``deeplight.sdg`` written as words for the dashboard's tables, charts and downloads."""
RATIO_INDICATORS = {"lcrpgr": "ratio"}
MIN_VALID_FRACTION = 0.5
"""A region's value at a date is masked in series and change tables when less than this share of
its area has valid data (no cloud-free coverage, nodata): a sum over half a region is not a value."""


def as_dataarray(array: np.ndarray, crs: CRS, transform: Affine, units: str, simulated: bool) -> xr.DataArray:
    """Wrap a (H, W) array with its grid as a rioxarray DataArray (tags ``units`` and ``simulated``)."""
    h, w = array.shape
    xs = transform.c + transform.a * (np.arange(w) + 0.5)
    ys = transform.f + transform.e * (np.arange(h) + 0.5)
    da = xr.DataArray(
        array.astype(np.float32),
        dims=("y", "x"),
        coords={"y": ys, "x": xs},
        attrs={"units": units, "simulated": "true" if simulated else "false"},
    )
    da = da.rio.write_crs(crs).rio.write_transform(transform)
    return da.rio.write_nodata(np.nan, encoded=False)


def region_table(names: list[str], geometries: list, crs: CRS) -> gpd.GeoDataFrame:
    """Regions in the form ``deeplight.sdg`` expects (column ``region``)."""
    return gpd.GeoDataFrame({REGION_COLUMN: names}, geometry=geometries, crs=crs)


def products_of(scene: Scene, sr: np.ndarray | None, lr_simulated: bool) -> dict[str, xr.DataArray]:
    """LR (DN, LR grid), SR and HR (radiance, HR grid) of a scene as DataArrays."""
    products = {"lr": as_dataarray(scene.lr, scene.crs, scene.lr_transform, "DN", lr_simulated)}
    if sr is not None:
        products["sr"] = as_dataarray(sr, scene.crs, scene.hr_transform, "nW/cm2/sr", False)
    if scene.hr is not None:
        products["hr"] = as_dataarray(scene.hr, scene.crs, scene.hr_transform, "nW/cm2/sr", False)
    return products


def indicators_for(
    scene: Scene,
    sr: np.ndarray | None,
    sr_uncertainty: np.ndarray | None,
    regions: gpd.GeoDataFrame,
    thresholds: Thresholds,
    model_name: str | None,
) -> pd.DataFrame:
    """Tidy indicator table (``deeplight.sdg.TIDY_COLUMNS``) of ``regions`` on LR, SR and HR.

    Args:
        scene: the (cropped) scene; ``scene.population`` adds electricity-access indicators.
        sr: (8h, 8w) SR radiance or None.
        sr_uncertainty: (8h, 8w) SR std (nW/cm^2/sr) or None; adds lower/upper bounds.
        regions: output of :func:`region_table`.
        thresholds: the user's thresholds.
        model_name: model of the SR product (metadata).
    """
    products = products_of(scene, sr, scene.lr_simulated)
    population = None
    if scene.population is not None:
        population = as_dataarray(scene.population, scene.crs, scene.hr_transform, "persons", False)
    uncertainty = None
    if sr is not None and sr_uncertainty is not None:
        uncertainty = {"sr": as_dataarray(sr_uncertainty, scene.crs, scene.hr_transform, "nW/cm2/sr", False)}
    # a generated HR (the demo's) is flagged too: "simulated" = not observed by a sensor
    simulated = {"lr": scene.lr_simulated, "sr": scene.lr_simulated, "hr": scene.hr_synthetic}
    table = compute_indicators(
        products,
        regions,
        population=population,
        uncertainty=uncertainty,
        year=scene.year,
        # an SR reconstructed from a simulated LR is flagged too (the same rule as `deeplight predict`)
        simulated=simulated,
        lit_threshold=thresholds.lit_radiance,
        lit_threshold_dn=thresholds.lit_dn,
        urban_method=thresholds.urban_method,
        urban_threshold=thresholds.urban_radiance,
        co2_total=thresholds.co2_total,
        co2_unit=thresholds.co2_unit or "t CO2",
        co2_power_law_coefficients=thresholds.co2_power_law,
        model_info={"model": model_name} if model_name else None,
    )
    metadata = dict(table.attrs.get("metadata", {}))
    gini = gini_rows(products, regions, scene.year, simulated)
    if gini:
        table = pd.concat([table, pd.DataFrame(gini, columns=table.columns)], ignore_index=True)
        table["year"] = table["year"].astype("Int64")
    table = readable_units(table)
    metadata.setdefault("sources", {})
    metadata["sources"] = {
        **metadata["sources"],
        "light inequality": "Gini of radiance over the region's cells, area-weighted "
        "(deeplight.sdg.indicators.light_gini)",
    }
    if scene.hr_synthetic and "hr" in metadata.get("products", {}):
        metadata["products"] = {
            **metadata["products"],
            "hr": {**metadata["products"]["hr"], "synthetic": True, "origin": PROVENANCE_SYNTHETIC_HR},
        }
    table.attrs["metadata"] = metadata
    return table


PROVENANCE_SYNTHETIC_HR = (
    "synthetic: generated by the DeepLight scene generator (a fictional country), not observed"
)


def product_provenance(scene: Scene, model_name: str | None = None) -> dict[str, str]:
    """Where each product of ``scene`` comes from, in words (for the downloads' metadata)."""
    hr_source = "the synthetic HR" if scene.hr_synthetic else "the data set's HR image"
    if scene.lr_simulated:
        lr = (
            f"SIMULATED: made by the DeepLight DMSP-like degradation model from {hr_source}; "
            "not an observation"
        )
    else:
        lr = "as given by the data set (not simulated); DMSP-like DN"
    provenance = {"lr": lr}
    if model_name:
        provenance["sr"] = f"reconstructed by {model_name} from the LR" + (
            " (a simulated LR)" if scene.lr_simulated else ""
        )
    if scene.hr is not None:
        provenance["hr"] = (
            PROVENANCE_SYNTHETIC_HR if scene.hr_synthetic else "reference image of the data set (see credits)"
        )
    return provenance


def export_metadata(
    scene: Scene, model_name: str | None = None, thresholds: Thresholds | None = None
) -> dict:
    """The metadata every download of the SDG page carries beyond the table's own (thresholds, units,
    products, sources): data set, date, credits, notes, provenance per product, which products are
    synthetic, the model, and the dashboard's settings (thresholds and CO2 inputs)."""
    metadata: dict = {
        "dataset": scene.title,
        "date": scene.time_label or None,
        "credits": list(scene.credits),
        "notes": list(scene.notes),
        "provenance": product_provenance(scene, model_name),
        "lr_simulated": bool(scene.lr_simulated),
        "hr_synthetic": bool(scene.hr_synthetic),
    }
    if scene.hr_synthetic:
        metadata["synthetic_products"] = ["hr"]
    if model_name:
        metadata["sr_model"] = model_name
    if thresholds is not None:
        metadata["dashboard_settings"] = asdict(thresholds)
    return metadata


def readable_units(table: pd.DataFrame) -> pd.DataFrame:
    """The table with units written as words ("share" for a 0-1 fraction, "per year"...), not "1"."""
    frame = table.copy()
    units = [
        RATIO_INDICATORS.get(indicator, "share") if unit == "1" else READABLE_UNITS.get(unit, unit)
        for indicator, unit in zip(frame["indicator"], frame["unit"].astype(str))
    ]
    frame["unit"] = units
    frame.attrs = dict(table.attrs)
    return frame


def gini_rows(
    products: dict[str, xr.DataArray], regions: gpd.GeoDataFrame, year: int | None, simulated: dict[str, bool]
) -> list[dict]:
    """Tidy ``light_gini`` rows: the Gini of lights over each region's cells, per product.

    Cells are weighted by their area inside the region (exactextract covered fraction x ellipsoidal
    cell area, as every other indicator); the LR's DN is taken as its nominal radiance.
    """
    from pyproj import CRS as ProjCRS

    from deeplight.sdg.coverage import region_coverage
    from deeplight.sdg.indicators import light_gini
    from deeplight.sdg.pixel_area import pixel_area_m2
    from deeplight.sdg.rasters import GridRaster, dn_to_radiance

    rows = []
    for name, da in products.items():
        values = np.asarray(da.values, dtype=np.float64)
        is_dn = str(da.attrs.get("units", "")).upper().startswith("DN")
        radiance = dn_to_radiance(values)[0] if is_dn else values
        crs = ProjCRS.from_user_input(da.rio.crs.to_wkt())
        transform = da.rio.transform(recalc=False)
        grid = GridRaster(values, transform, crs, "<array>")
        area = pixel_area_m2(transform, crs, values.shape).ravel() / 1e6
        for coverage in region_coverage(regions, grid):
            cells, fraction = coverage.cells, coverage.fraction
            value = light_gini(radiance.ravel()[cells], area[cells] * fraction) if cells.size else np.nan
            rows.append(
                {
                    "region": coverage.region,
                    "product": name,
                    "year": year,
                    "indicator": GINI_INDICATOR,
                    "value": value,
                    "unit": GINI_UNIT,
                    "lower": np.nan,
                    "upper": np.nan,
                    "simulated": bool(simulated.get(name, False)),
                    "method": "Gini of radiance over the region's cells, area-weighted (0 = evenly lit, "
                    "1 = all light in one cell)" + ("; nominal radiance of the DN" if is_dn else ""),
                    "note": coverage.note,
                }
            )
    return rows


def period_label(time) -> str:
    """A time step as text: ``"2018"`` or ``"2016-03"``."""
    return str(time)


def series_table(tables: dict, min_valid_fraction: float = MIN_VALID_FRACTION) -> pd.DataFrame:
    """One tidy table over several dates, with a ``period`` column and gaps where data are missing.

    Args:
        tables: time step (year or ``"YYYY-MM"``) -> the tidy indicator table of that date.
        min_valid_fraction: a region's values at a date are masked (NaN, ``masked`` True) when less
            than this share of its area has valid data there (e.g. no cloud-free coverage): a month
            with no coverage must show as a gap, never as zero light.

    Returns:
        The rows of every date (TIDY_COLUMNS + ``period`` text + ``masked`` bool), sorted by period.
    """
    frames = []
    for time, table in tables.items():
        frame = table.copy()
        frame["period"] = period_label(time)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*TIDY_COLUMNS, "period", "masked"])
    frame = pd.concat(frames, ignore_index=True)
    valid = frame[frame["indicator"] == "valid_fraction"].set_index(["region", "product", "period"])["value"]
    key = list(zip(frame["region"], frame["product"], frame["period"]))
    coverage = np.array([valid.get(k, np.nan) for k in key], dtype=float)
    masked = ~(coverage >= min_valid_fraction) & (frame["indicator"] != "region_area").to_numpy()
    masked &= (frame["indicator"] != "valid_fraction").to_numpy()
    frame["masked"] = masked
    frame.loc[masked, ["value", "lower", "upper"]] = np.nan
    note = f"masked: valid data over less than {100 * min_valid_fraction:.0f}% of the region"
    frame.loc[masked, "note"] = [f"{n}; {note}" if n else note for n in frame.loc[masked, "note"]]
    frame["year"] = frame["year"].astype("Int64")
    return frame.sort_values(["period", "region", "product"], kind="stable").reset_index(drop=True)


CHANGE_INDICATORS = ("sum_of_lights", "mean_radiance", "lit_area", "urban_area", GINI_INDICATOR)
"""Indicators of the change tables (the additive ones and the mean / inequality)."""


def change_table(
    series: pd.DataFrame, before, after, indicators: tuple[str, ...] = CHANGE_INDICATORS
) -> pd.DataFrame:
    """Change per region from ``before`` (A) to ``after`` (B), per product, in a long tidy table.

    Args:
        series: output of :func:`series_table` (holding both periods).
        before, after: the two time steps (A and B).
        indicators: which indicators.

    Returns:
        Columns region, indicator, unit, product, before, after, change (B - A), change_pct
        (100 (B - A) / A; NaN when A is 0 or unknown), simulated.
    """
    a, b = period_label(before), period_label(after)
    frame = series[series["indicator"].isin(indicators) & series["period"].isin([a, b])]
    keys = ["region", "indicator", "unit", "product"]
    out = frame[keys].drop_duplicates().reset_index(drop=True)
    for column, period in (("before", a), ("after", b)):
        values = frame[frame["period"] == period].drop_duplicates(keys).set_index(keys)["value"]
        out[column] = [values.get(tuple(k), np.nan) for k in out[keys].itertuples(index=False)]
    out[["before", "after"]] = out[["before", "after"]].astype(float)
    out["change"] = out["after"] - out["before"]
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * out["change"] / out["before"]
    out["change_pct"] = pct.where(np.isfinite(pct) & (out["before"] != 0))
    flags = frame.groupby("product")["simulated"].any()
    out["simulated"] = out["product"].map(flags).fillna(False).astype(bool)
    order = {name: i for i, name in enumerate(indicators)}
    products = {"lr": 0, "sr": 1, "hr": 2}
    ranks = {"indicator": order, "product": products}
    out = out.sort_values(
        ["region", "indicator", "product"],
        key=lambda col: col.map(ranks[col.name]) if col.name in ranks else col,
        kind="stable",
    )
    out.attrs["periods"] = (a, b)
    return out.reset_index(drop=True)


def significant(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """The frame with every float column rounded to ``digits`` significant digits (for display)."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            values = out[column].to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(np.isfinite(values) & (values != 0), np.floor(np.log10(np.abs(values))), 0)
            factor = 10.0 ** (digits - 1 - scale)
            out[column] = np.where(np.isfinite(values), np.round(values * factor) / factor, np.nan)
    return out


def change_summary(change: pd.DataFrame) -> pd.DataFrame:
    """The on-screen change table: one row per region x indicator, change and % per product, and
    the spread of the % change between LR, SR and HR (max - min, percentage points)."""
    if change.empty:
        return pd.DataFrame(columns=["region", "indicator", "unit"])
    rows = []
    for (region, indicator, unit), group in change.groupby(["region", "indicator", "unit"], sort=False):
        row = {"region": region, "indicator": indicator, "unit": unit}
        pcts = []
        for product in ("lr", "sr", "hr"):
            match = group[group["product"] == product]
            if match.empty:
                continue
            change_value, pct = float(match["change"].iloc[0]), float(match["change_pct"].iloc[0])
            row[f"{product} change"] = change_value
            row[f"{product} change %"] = pct
            if np.isfinite(pct):
                pcts.append(pct)
        row["spread of % (LR/SR/HR, points)"] = max(pcts) - min(pcts) if len(pcts) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def land_consumption_rows(
    series: pd.DataFrame, year_a: int, year_b: int, population: pd.DataFrame | None
) -> pd.DataFrame:
    """SDG 11.3.1 rows (LCR, PGR, LCRPGR) per region and product between two years.

    Uses ``deeplight.sdg.land_consumption_table`` on the urban extent of the series. ``population``
    (columns region, year, population: people, e.g. typed in from a census) is used when given;
    otherwise the series' own population rows (a data set with a population raster per year).

    Returns:
        Tidy rows with readable units; empty when neither gives people for both years.
    """
    import warnings

    from deeplight.sdg import land_consumption_table

    table = series.copy()
    table = table[table["period"].isin([str(year_a), str(year_b)])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "PGR <= 0": the note column says it
        rows = land_consumption_table(table, int(year_a), int(year_b), population=population)
    return readable_units(rows)


def population_inputs(
    regions: list[str], year_a: int, year_b: int, typed: pd.DataFrame | None
) -> pd.DataFrame | None:
    """The typed population table (region, year, population) for :func:`land_consumption_rows`, or
    None when no region has a positive population for both years."""
    if typed is None or typed.empty:
        return None
    rows = []
    for _, row in typed.iterrows():
        region = row.get("region")
        if region not in regions:
            continue
        for year, column in ((year_a, f"people {year_a}"), (year_b, f"people {year_b}")):
            value = pd.to_numeric(row.get(column), errors="coerce")
            if pd.notna(value) and value > 0:
                rows.append({"region": region, "year": int(year), "population": float(value)})
    frame = pd.DataFrame(rows, columns=["region", "year", "population"])
    complete = frame.groupby("region")["year"].nunique()
    if not (complete == 2).any():
        return None
    return frame


def csv_bytes(
    table: pd.DataFrame, scene: Scene, model_name: str | None = None, thresholds: Thresholds | None = None
) -> bytes:
    """The indicators CSV (``#`` metadata header: data set, credits, simulated flags, provenance,
    thresholds; :func:`export_metadata`)."""
    return indicators_to_csv_bytes(table, export_metadata(scene, model_name, thresholds))


def geo_bytes(
    table: pd.DataFrame, regions: gpd.GeoDataFrame, driver: str, metadata: dict | None = None
) -> bytes:
    """Indicators joined to the polygons (longitude/latitude), with units in the column names and the
    metadata inside: GeoJSON (``"GeoJSON"``: a top-level ``metadata`` member) or GeoPackage
    (``"GPKG"``: non-spatial ``metadata`` and ``columns`` tables beside the ``indicators`` layer)."""
    if driver == "GeoJSON":
        return indicators_to_geojson_bytes(table, regions, metadata)
    if driver == "GPKG":
        return indicators_to_geopackage_bytes(table, regions, metadata, crs="EPSG:4326")
    raise ValueError(f"driver {driver!r}: GeoJSON or GPKG")


def sr_geotiff_bytes(sr: np.ndarray, scene: Scene, model_name: str) -> bytes:
    """The SR radiance of the region as a GeoTIFF (COG, tags units/modality/simulated/provenance)."""
    from deeplight.io import write_cog

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sr.tif"
        write_cog(
            sr.astype(np.float32),
            path,
            crs=scene.crs,
            transform=scene.hr_transform,
            tags={
                "units": "nW/cm2/sr",
                "modality": "sr",
                "simulated": "true" if scene.lr_simulated else "false",
                "provenance": f"DeepLight dashboard: {model_name} on {scene.title}"
                + (" (from a simulated LR)" if scene.lr_simulated else ""),
            },
        )
        return path.read_bytes()


def wide_summary(table: pd.DataFrame, synthetic_hr: bool = False) -> pd.DataFrame:
    """Region x indicator rows with one column per product (for the on-screen table).

    A product flagged simulated in the tidy table gets " (simulated)" in its column name (the SR:
    " (from simulated LR)"), and the HR column " (synthetic)" when ``synthetic_hr`` (the demo's
    generated reference).
    """
    frame = table.pivot_table(
        index=["region", "indicator", "unit"], columns="product", values="value", aggfunc="first"
    ).reset_index()
    frame.columns.name = None
    simulated = set(table.loc[table["simulated"].astype(bool), "product"])
    order = [p for p in ("lr", "sr", "hr") if p in frame.columns]
    frame = frame[["region", "indicator", "unit", *order, *[c for c in frame.columns[3:] if c not in order]]]
    names = {p: f"{p} (from simulated LR)" if p == "sr" else f"{p} (simulated)" for p in simulated}
    if synthetic_hr:
        names["hr"] = "hr (synthetic)"
    return frame.rename(columns=names)


def co2_cell_map(
    scene: Scene, sr: np.ndarray | None, product: str, geometry, emissions_total: float
) -> np.ndarray | None:
    """ODIAC-style per-cell emissions E_i = E_total R_i A_i / sum_j R_j A_j inside ``geometry``.

    Args:
        scene: the (cropped) scene.
        sr: (8h, 8w) SR radiance or None.
        product: "lr" (on the LR grid, DN taken as nominal radiance), "sr" or "hr".
        geometry: the selected region(s) in the scene CRS; cells outside are NaN.
        emissions_total: the user's total for the area (its unit is the user's).

    Returns:
        The per-cell emissions (NaN outside the region or where the product has no data), or None
        when the product is absent.
    """
    from rasterio.features import geometry_mask

    from deeplight.sdg.indicators import co2_pixel_disaggregation
    from deeplight.sdg.pixel_area import pixel_area_m2
    from deeplight.sdg.rasters import dn_to_radiance

    products = products_of(scene, sr, scene.lr_simulated)
    if product not in products:
        return None
    da = products[product]
    values = np.asarray(da.values, dtype=np.float64)
    radiance = dn_to_radiance(values)[0] if product == "lr" else values
    transform = da.rio.transform(recalc=False)
    inside = geometry_mask(
        [geometry], out_shape=values.shape, transform=transform, invert=True, all_touched=True
    )
    radiance = np.where(inside, radiance, np.nan)
    area = pixel_area_m2(transform, scene.crs.to_wkt(), values.shape) / 1e6
    return co2_pixel_disaggregation(radiance, area, emissions_total)
