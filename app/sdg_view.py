"""The SDG page's adapter to :func:`deeplight.report.region_report` (pure, no Streamlit).

The pipeline (indicators, Gini, SDG 11.3.1, units, export metadata) lives in ``deeplight.report``,
and so does the step from a :class:`deeplight.io.scene.Scene` to products
(:class:`deeplight.io.georaster.GeoRaster`, :meth:`Scene.georaster <deeplight.io.scene.Scene.georaster>`) and labels
(:func:`deeplight.report.scene_report`, the one ``deeplight sdg --dataset`` runs too); here the
on-screen tables (wide summary, change, significant digits) and the CO2 cell map are shaped. The LR
product is passed in its own units (DMSP-like DN on the LR grid): ``deeplight.sdg`` converts it to
nominal radiance for sums and uses ``DN > threshold`` for the lit area, and flags it simulated.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from deeplight.io.scene import Scene
from deeplight.report import (  # noqa: F401  (re-exported: the pages and tests import them from here)
    GINI_INDICATOR,
    MIN_VALID_FRACTION,
    PROVENANCE_SYNTHETIC_HR,
    READABLE_UNITS,
    DatasetLabels,
    RegionReport,
    Thresholds,
    land_consumption_rows,
    period_label,
    population_inputs,
    products_of,
    readable_units,
    region_report,
    region_table,
    scene_labels,
    scene_report,
    series_table,
)
from deeplight.report import export_metadata as report_export_metadata
from deeplight.report import product_provenance as report_provenance
from deeplight.sdg import (
    indicators_to_csv_bytes,
    indicators_to_geojson_bytes,
    indicators_to_geopackage_bytes,
)
from deeplight.sdg.compute import GINI_UNIT  # noqa: F401


def product_provenance(scene: Scene, model_name: str | None = None) -> dict[str, str]:
    """Where each product of ``scene`` comes from, in words (for the downloads' metadata)."""
    return report_provenance(scene_labels(scene), model_name, has_hr=scene.hr is not None)


def export_metadata(
    scene: Scene, model_name: str | None = None, thresholds: Thresholds | None = None
) -> dict:
    """The metadata every download of the SDG page carries beyond the table's own
    (:func:`deeplight.report.export_metadata` of the scene's labels)."""
    return report_export_metadata(scene_labels(scene), model_name, thresholds, has_hr=scene.hr is not None)


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
    """ODIAC-style per-cell emissions E_i = E_total R_i A_i c_i / sum_j R_j A_j c_j inside ``geometry``.

    ``A_i`` is the cell's area on the ellipsoid (:func:`deeplight.io.pixel_area.pixel_area_m2`) and
    ``c_i`` the covered fraction of the cell by the region (:func:`deeplight.io.coverage.coverage_fraction`):
    the membership and areas the indicators use, so a cell cut by the boundary carries only its part.

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
    from deeplight.io.coverage import Grid, coverage_fraction
    from deeplight.io.pixel_area import pixel_area_m2
    from deeplight.sdg.indicators import co2_pixel_disaggregation
    from deeplight.sdg.radiance import dn_to_radiance

    products = products_of(scene, sr, scene.lr_simulated)
    if product not in products:
        return None
    raster = products[product]
    values = raster.values
    radiance = dn_to_radiance(values)[0] if product == "lr" else values
    transform = raster.transform
    fraction = coverage_fraction(geometry, Grid(values.shape, transform, scene.crs, scene.title))
    radiance = np.where(fraction > 0, radiance, np.nan)
    area = pixel_area_m2(transform, scene.crs.to_wkt(), values.shape) / 1e6 * fraction
    return co2_pixel_disaggregation(radiance, area, emissions_total)
