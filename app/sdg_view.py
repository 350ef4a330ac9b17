"""Indicators of the selected regions on LR, SR and HR, via ``deeplight.sdg`` (pure, no Streamlit).

The LR product is passed in its own units (DMSP-like DN on the LR grid): ``deeplight.sdg`` converts it
to nominal radiance for sums and uses ``DN > threshold`` for the lit area, and flags it simulated.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from app.scene import Scene
from deeplight.sdg import compute_indicators, indicators_to_csv_bytes, indicators_to_geodataframe
from deeplight.sdg.regions import REGION_COLUMN


@dataclass(frozen=True)
class Thresholds:
    """User-adjustable thresholds of the indicators.

    Attributes:
        lit_radiance: lit if radiance >= this (nW/cm^2/sr); default 1 (Roman et al. 2018).
        lit_dn: lit if DMSP-like DN > this; default 7 (Li et al. 2020).
        urban_method: "otsu" or "fixed".
        urban_radiance: urban threshold of the "fixed" method (nW/cm^2/sr).
    """

    lit_radiance: float = 1.0
    lit_dn: float = 7.0
    urban_method: str = "otsu"
    urban_radiance: float = 10.0


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
    return compute_indicators(
        products,
        regions,
        population=population,
        uncertainty=uncertainty,
        year=scene.year,
        # an SR reconstructed from a simulated LR is flagged too (the same rule as `deeplight predict`)
        simulated={"lr": scene.lr_simulated, "sr": scene.lr_simulated, "hr": False},
        lit_threshold=thresholds.lit_radiance,
        lit_threshold_dn=thresholds.lit_dn,
        urban_method=thresholds.urban_method,
        urban_threshold=thresholds.urban_radiance,
        model_info={"model": model_name} if model_name else None,
    )


def csv_bytes(table: pd.DataFrame, scene: Scene) -> bytes:
    """The indicators CSV (``#`` metadata header: data set, credits, simulated flags, thresholds)."""
    return indicators_to_csv_bytes(
        table, {"dataset": scene.title, "credits": list(scene.credits), "notes": list(scene.notes)}
    )


def geo_bytes(table: pd.DataFrame, regions: gpd.GeoDataFrame, driver: str) -> bytes:
    """Wide indicator table joined to the polygons, as GeoJSON (``"GeoJSON"``) or GeoPackage (``"GPKG"``)."""
    geo = indicators_to_geodataframe(table, regions).to_crs("EPSG:4326")
    suffix = ".geojson" if driver == "GeoJSON" else ".gpkg"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"indicators{suffix}"
        geo.to_file(path, driver=driver)
        return path.read_bytes()


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
