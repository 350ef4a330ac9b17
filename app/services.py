"""Cached services of the dashboard (the only place, with ``layout``, that knows Streamlit caching).

``st.cache_resource`` holds models (loaded once per process) and scenes/results shared by every
session; the inference engine's own disk cache and lock make concurrent sessions share one run.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app.colors import shared_vmax
from app.overlay import Overlay, radiance_overlay
from app.reconstruction import ModelChoice, Reconstruction, list_model_choices, load_model, reconstruct
from app.region_metrics import lr_nominal_radiance_on_hr_grid, region_metrics
from app.scene import RegionCrop, Scene, crop_scene
from app.settings import get_settings
from app.sources import DatasetInfo, list_datasets, load_scene_for


@st.cache_resource(show_spinner=False)
def uploaded_scenes() -> dict[str, Scene]:
    """Scenes built from uploads in this process, by ``upload:<sha256>`` id (shared by sessions)."""
    return {}


def datasets() -> list[DatasetInfo]:
    """Data sets of the picker: configured sets plus uploads of this process."""
    out = list_datasets(get_settings())
    for key, scene in uploaded_scenes().items():
        out.append(DatasetInfo(key, f"Upload: {scene.title}", (), "uploaded by a user"))
    return out


@st.cache_resource(show_spinner="Loading the scene...", max_entries=32)
def _scene(dataset_id: str, year: int | None, settings_key: str) -> Scene:
    return load_scene_for(get_settings(), dataset_id, year)


def scene(dataset_id: str, year: int | None) -> Scene:
    """The scene of a data set and year (loaded once per process)."""
    if dataset_id.startswith("upload:"):
        found = uploaded_scenes().get(dataset_id)
        if found is None:
            from deeplight.errors import RasterError

            raise RasterError(
                "this upload is no longer in memory (the server restarted): upload the file again"
            )
        return found
    settings = get_settings()
    return _scene(dataset_id, year, settings.cache_token())


@st.cache_resource(show_spinner=False)
def _model_choices(settings_token: str) -> list[ModelChoice]:
    return list_model_choices(get_settings())


def model_choices() -> list[ModelChoice]:
    """Available models (checkpoints and weight-free baselines), listed once per process and settings."""
    return _model_choices(get_settings().cache_token())


@st.cache_resource(show_spinner="Loading the model...")
def model(choice_id: str):
    """``(model, model_id)`` of a choice, loaded once per process."""
    choice = next(c for c in model_choices() if c.id == choice_id)
    return load_model(choice)


@dataclass(frozen=True)
class RegionView:
    """Everything the pages show about one region.

    Attributes:
        crop: the region crop (LR/HR/aux arrays, mask, geometry).
        lr_radiance: (8h, 8w) nominal radiance of the LR pixels (nW/cm^2/sr), for display/metrics.
        sr: the reconstruction or None when not requested.
        vmax: top of the shared colour scale (nW/cm^2/sr).
    """

    crop: RegionCrop
    lr_radiance: np.ndarray
    sr: Reconstruction | None
    vmax: float


@st.cache_resource(show_spinner=False, max_entries=256)
def _crop(scene_key: str, region: str, _scene: Scene, _geometry) -> RegionCrop:
    return crop_scene(_scene, _geometry, region)


def region_crop(scene_obj: Scene, region: str, geometry) -> RegionCrop:
    """Crop of a region (cached by scene key, region name and geometry)."""
    return _crop(scene_obj.key, f"{region}|{geometry.wkb_hex[:64]}|{hash(geometry.wkb)}", scene_obj, geometry)


@st.cache_resource(show_spinner=False)
def tile_cache():
    """The inference engine's content-addressed cache in DEEPLIGHT_HOME/cache (one per process)."""
    from deeplight.infer import TileCache

    return TileCache(get_settings().cache_dir)


@st.cache_resource(show_spinner=False)
def _results() -> tuple[dict, threading.Lock]:
    """Process-wide memo of reconstructions (key: crop, model, ensemble) and its lock."""
    return {}, threading.Lock()


MAX_MEMO_RESULTS = 128


def reconstruction(crop: RegionCrop, choice_id: str, self_ensemble: bool) -> Reconstruction:
    """SR of a region crop through the cached inference engine, with a progress bar.

    Results are memoised in memory for every session of the process; the engine's own cache and
    per-request lock make concurrent sessions asking for the same crop share one inference.
    """
    net, model_id = model(choice_id)
    key = (crop.scene.key, model_id, self_ensemble)
    memo, lock = _results()
    with lock:
        found = memo.get(key)
    if found is not None:
        return dataclasses.replace(found, from_cache=True)
    bar = st.progress(0.0, text="Reconstructing the region...")

    def _progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"Reconstructing: tile batch {done}/{total}")

    try:
        result = reconstruct(
            net, model_id, crop.scene, self_ensemble=self_ensemble, progress=_progress, cache=tile_cache()
        )
    finally:
        bar.empty()
    with lock:
        if len(memo) >= MAX_MEMO_RESULTS:
            memo.pop(next(iter(memo)))
        memo[key] = result
    return result


def region_view(crop: RegionCrop, sr: Reconstruction | None) -> RegionView:
    """Bundle a crop, its LR nominal radiance, its SR and the shared colour scale top."""
    lr_rad = _lr_radiance(crop.scene.key, crop)
    vmax = shared_vmax(crop.scene.hr, None if sr is None else sr.radiance, lr_rad)
    return RegionView(crop=crop, lr_radiance=lr_rad, sr=sr, vmax=vmax)


@st.cache_resource(show_spinner=False, max_entries=256)
def _lr_radiance(crop_key: str, _crop: RegionCrop) -> np.ndarray:
    return lr_nominal_radiance_on_hr_grid(_crop.scene.lr)


@st.cache_resource(show_spinner=False, max_entries=512)
def _overlay(key: str, _array: np.ndarray, _crs, _transform, vmax: float) -> Overlay:
    return radiance_overlay(_array, _crs, _transform, vmax)


def lr_overlay(key: str, array: np.ndarray, scene_obj: Scene, vmax: float) -> Overlay:
    """PNG overlay of an LR-grid radiance array of ``scene_obj`` (cached by ``key`` and ``vmax``)."""
    return _overlay(key, array, scene_obj.crs, scene_obj.lr_transform, round(vmax, 3))


def overlay(key: str, array: np.ndarray, scene_obj: Scene, vmax: float) -> Overlay:
    """PNG overlay of an HR-grid radiance array of ``scene_obj`` (cached by ``key`` and ``vmax``)."""
    return _overlay(key, array, scene_obj.crs, scene_obj.hr_transform, round(vmax, 3))


@st.cache_resource(show_spinner=False, max_entries=256)
def _metrics(key: str, with_ssim: bool, _products: dict, _hr: np.ndarray, _mask: np.ndarray):
    return region_metrics(_products, _hr, _mask, with_ssim=with_ssim)


def metrics(view: RegionView, products: dict[str, np.ndarray], with_ssim: bool):
    """Region metrics (see :func:`app.region_metrics.region_metrics`), cached by crop, model and products."""
    model_id = view.sr.model_id if view.sr is not None else "-"
    key = f"{view.crop.scene.key}|{model_id}|{'/'.join(products)}"
    return _metrics(key, with_ssim, products, view.crop.scene.hr, view.crop.mask)


@st.cache_resource(show_spinner=False, max_entries=128)
def _sdg_outputs(key: str, _crop: RegionCrop, _sr: Reconstruction | None, _regions, thresholds, model_name):
    from app.sdg_view import csv_bytes, geo_bytes, indicators_for, sr_geotiff_bytes

    table = indicators_for(
        _crop.scene, None if _sr is None else _sr.radiance, None, _regions, thresholds, model_name
    )
    return {
        "table": table,
        "csv": csv_bytes(table, _crop.scene),
        "geojson": geo_bytes(table, _regions, "GeoJSON"),
        "gpkg": geo_bytes(table, _regions, "GPKG"),
        "sr_tif": None if _sr is None else sr_geotiff_bytes(_sr.radiance, _crop.scene, model_name or "model"),
    }


def sdg_outputs(
    crop: RegionCrop, sr: Reconstruction | None, regions, thresholds, model_name: str | None
) -> dict:
    """Indicator table and download bytes (CSV, GeoJSON, GeoPackage, SR GeoTIFF) of a crop, cached."""
    key = f"{crop.scene.key}|{'-' if sr is None else sr.model_id}|{'/'.join(regions['region'])}|{thresholds}"
    return _sdg_outputs(key, crop, sr, regions, thresholds, model_name)


@st.cache_resource(show_spinner=False, max_entries=64)
def _html(key: str, _build) -> str:
    return _build()


def cached_html(key: str, build) -> str:
    """Map HTML built by ``build()`` once per ``key`` (building 4 folium maps takes ~1 s)."""
    return _html(key, build)
