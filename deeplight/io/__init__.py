"""Georeferenced raster I/O and the multi-modal scene model (see docs/data.md).

Public API:
    read_raster, raster_grid: read a GeoTIFF (float32, NaN nodata, CRS/transform kept).
    write_cog: atomic Cloud-Optimized GeoTIFF writer with the project's tags.
    reproject_to, reproject_array: warping with per-modality resampling.
    The geospatial toolbox every caller shares (the CLI, the indicators and the dashboard alike):
    pixel_area_m2: cell areas on the WGS84 ellipsoid (deeplight.io.pixel_area);
    warp_population: the total-conserving population warp (deeplight.io.population);
    load_regions: the region loader and its one name-column rule (deeplight.io.regions);
    region_coverage, coverage_fraction, membership_mask: fractional region membership and the yes/no
    mask derived from it (deeplight.io.coverage).
    clip_to_region: clip to a bbox, geometry or GeoDataFrame.
    read_netcdf_cube: NetCDF cubes.
    inspect_raster, check_values: the one validator of every raster input (deeplight.io.validation);
    size limits from the environment in deeplight.io.limits (DEEPLIGHT_MAX_PIXELS ...).
    Scene, open_scene, crop_scene, LazyRaster: THE scene type (deeplight.io.scene) and its reader;
    GeoRaster, read_georaster: one band with its grid, what the indicators compute on
    (deeplight.io.georaster; ``Scene.georaster(name)`` makes one from a scene layer);
    read_window, read_dataset_window: the one window reader (deeplight.io.raster);
    check_lr_hr_grids, hr_transform_from_lr, lr_transform_from_hr: the LR/HR grid contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deeplight.lazy import lazy_exports

if TYPE_CHECKING:  # the eager imports, for type checkers and editors; at run time each loads on first use
    from deeplight.io.clip import clip_to_region
    from deeplight.io.cog import write_cog
    from deeplight.io.modalities import DMO_BAND_NAMES, MODALITIES, SCENE_MODALITIES, get_modality
    from deeplight.io.netcdf import read_netcdf_cube
    from deeplight.io.georaster import GeoRaster, read_georaster
    from deeplight.io.raster import raster_grid, read_dataset_window, read_raster, read_window
    from deeplight.io.coverage import coverage_fraction, membership_mask, region_coverage
    from deeplight.io.pixel_area import pixel_area_m2
    from deeplight.io.population import warp_population
    from deeplight.io.regions import load_regions
    from deeplight.io.reproject import reproject_array, reproject_to
    from deeplight.io.scene import (
        LazyRaster,
        RegionCrop,
        Scene,
        check_lr_hr_grids,
        crop_scene,
        hr_transform_from_lr,
        lr_transform_from_hr,
        open_scene,
    )
    from deeplight.io.validation import check_values, inspect_raster

_PROVIDERS = {
    "clip_to_region": "deeplight.io.clip",
    "write_cog": "deeplight.io.cog",
    "DMO_BAND_NAMES": "deeplight.io.modalities",
    "MODALITIES": "deeplight.io.modalities",
    "SCENE_MODALITIES": "deeplight.io.modalities",
    "get_modality": "deeplight.io.modalities",
    "read_netcdf_cube": "deeplight.io.netcdf",
    "GeoRaster": "deeplight.io.georaster",
    "read_georaster": "deeplight.io.georaster",
    "raster_grid": "deeplight.io.raster",
    "read_dataset_window": "deeplight.io.raster",
    "read_raster": "deeplight.io.raster",
    "read_window": "deeplight.io.raster",
    "coverage_fraction": "deeplight.io.coverage",
    "membership_mask": "deeplight.io.coverage",
    "region_coverage": "deeplight.io.coverage",
    "pixel_area_m2": "deeplight.io.pixel_area",
    "warp_population": "deeplight.io.population",
    "load_regions": "deeplight.io.regions",
    "reproject_array": "deeplight.io.reproject",
    "reproject_to": "deeplight.io.reproject",
    "LazyRaster": "deeplight.io.scene",
    "RegionCrop": "deeplight.io.scene",
    "Scene": "deeplight.io.scene",
    "check_lr_hr_grids": "deeplight.io.scene",
    "crop_scene": "deeplight.io.scene",
    "hr_transform_from_lr": "deeplight.io.scene",
    "lr_transform_from_hr": "deeplight.io.scene",
    "open_scene": "deeplight.io.scene",
    "check_values": "deeplight.io.validation",
    "inspect_raster": "deeplight.io.validation",
}
__getattr__, __dir__ = lazy_exports("deeplight.io", _PROVIDERS)

__all__ = sorted(_PROVIDERS)
