"""Tiny georeferenced rasters made by code, shared by the io and data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

UTM50 = "EPSG:32650"
LR_TRANSFORM = Affine(1040.0, 0.0, 500_000.0, 0.0, -1040.0, 3_500_000.0)
HR_TRANSFORM = LR_TRANSFORM @ Affine.scale(1 / 8)


def write_plain_tif(
    path: Path,
    array: np.ndarray,
    *,
    crs: str | None = UTM50,
    transform: Affine = HR_TRANSFORM,
    nodata: float | None = None,
    dtype: str = "float32",
) -> Path:
    """Write a plain (non-COG) GeoTIFF with rasterio directly, bypassing the code under test."""
    bands = array[None] if array.ndim == 2 else array
    profile = {
        "driver": "GTiff",
        "height": bands.shape[1],
        "width": bands.shape[2],
        "count": bands.shape[0],
        "dtype": dtype,
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(bands.astype(dtype))
    return path


def tags(modality: str = "hr", simulated: bool = False) -> dict:
    """The four required tags."""
    return {
        "units": "test units",
        "modality": modality,
        "simulated": simulated,
        "provenance": "made by a test",
    }


def list_files(folder: Path) -> list[str]:
    """Every file below ``folder`` (relative names, sorted), hidden ones included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
