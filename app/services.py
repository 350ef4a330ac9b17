"""Cached services of the dashboard (the only place, with ``layout``, that knows Streamlit caching).

``st.cache_resource`` holds models (loaded once per process) and scenes/results shared by every
session; the inference engine's own disk cache and lock make concurrent sessions share one run.
Uploads are the exception: each browser session keeps its own, in ``st.session_state``
(:class:`SessionUploads`, bounded in count and bytes, least recently used evicted), so one user's file
is never listed to, or opened by, another. A click on a map reloads the page (a new Streamlit
session); so that the same browser finds its uploads again, its store is also kept on a bounded
process-wide shelf under an id only that browser can present (:func:`browser_owner`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from app.colors import shared_vmax
from app.overlay import Overlay, radiance_overlay
from app.reconstruction import ModelChoice, Reconstruction, list_model_choices, load_model, reconstruct
from app.region_metrics import lr_nominal_radiance_on_hr_grid, region_metrics
from deeplight.io.scene import RegionCrop, Scene, crop_scene
from app.settings import get_settings
from app.sources import list_datasets, load_scene_for
from deeplight.catalog import DatasetInfo
from app.tiles import tiles_present
from app.uploads import MAX_SESSION_UPLOAD_BYTES, UploadSeries

MAX_SESSION_UPLOADS = 3
"""Uploaded scenes one browser session keeps in memory (least recently used evicted first)."""
MAX_SHELVED_BROWSERS = 16
"""Browsers whose uploads the process keeps between page reloads (least recently active dropped)."""
MAX_SHELVED_BYTES = 2 * 1024**3
"""Memory all shelved browsers' uploads may hold together (least recently active dropped first)."""
SESSION_UPLOADS_KEY = "_deeplight_uploads"
XSRF_COOKIE = "_streamlit_xsrf"


def scene_nbytes(scene_obj: Scene | UploadSeries) -> int:
    """Bytes of the in-memory layers (LR, HR, DMO, DEM, ISP, population) and regions of a scene, or of
    every step of a time-series upload (arrays the steps share, and their one region table, counted once)."""
    steps = list(scene_obj.steps.values()) if isinstance(scene_obj, UploadSeries) else [scene_obj]
    arrays = {
        id(layer): layer.nbytes
        for step in steps
        for layer in (step.lr, step.hr, step.dmo, step.dem, step.isp, step.population)
        if isinstance(layer, np.ndarray)
    }
    total = sum(arrays.values())
    try:
        total += int(steps[-1].regions.memory_usage(deep=True).sum())
    except (AttributeError, TypeError, ValueError):
        pass
    return total


class SessionUploads:
    """The uploaded scenes of one browser session, by ``upload:<sha256>`` id, bounded and evicted (LRU).

    See :func:`uploaded_scenes`: an upload is visible only to the browser session that made it; another
    user never sees it in the data-set picker and cannot open it by its id (``?dataset=upload:...``).

    Args:
        max_count: most scenes kept.
        max_bytes: most bytes (:func:`scene_nbytes`) kept together; the newest scene is always kept.
    """

    def __init__(self, max_count: int = MAX_SESSION_UPLOADS, max_bytes: int = MAX_SESSION_UPLOAD_BYTES) -> None:
        if max_count < 1 or max_bytes < 1:
            raise ValueError("an upload store keeps at least one scene and one byte")
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._scenes: OrderedDict[str, Scene] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()  # two tabs of one browser share a store
        self.shelf: UploadShelf | None = None
        """The shelf this store is kept on (its bounds are re-checked after every upload), if any."""
        self.evicted: list[str] = []
        """Ids evicted lately (the last 32, oldest first), so a page can say why an upload is gone."""

    def __setitem__(self, key: str, scene_obj: Scene | UploadSeries) -> None:
        size = scene_nbytes(scene_obj)
        with self._lock:
            self._scenes.pop(key, None)
            self._scenes[key] = scene_obj
            self._sizes[key] = size
            while len(self._scenes) > 1 and (len(self._scenes) > self.max_count or self._nbytes() > self.max_bytes):
                old, _ = self._scenes.popitem(last=False)
                self._sizes.pop(old, None)
                self.evicted = [*self.evicted[-31:], old]
        if self.shelf is not None:  # outside our lock: the shelf asks every store for its size
            self.shelf.trim()

    def get(self, key: str) -> Scene | UploadSeries | None:
        """The scene or time series (marked as the most recently used), or None."""
        with self._lock:
            found = self._scenes.get(key)
            if found is not None:
                self._scenes.move_to_end(key)
            return found

    def __contains__(self, key: object) -> bool:
        return key in self._scenes

    def __len__(self) -> int:
        return len(self._scenes)

    def items(self) -> list[tuple[str, Scene | UploadSeries]]:
        """``(id, scene or series)`` pairs, oldest upload first (listing does not count as a use)."""
        with self._lock:
            return list(self._scenes.items())

    def keys(self) -> list[str]:
        """Ids, least recently used first."""
        with self._lock:
            return list(self._scenes)

    def _nbytes(self) -> int:
        return sum(self._sizes.values())

    @property
    def nbytes(self) -> int:
        """Bytes held by the kept scenes together."""
        with self._lock:
            return self._nbytes()


def xsrf_token(cookie: str | None) -> bytes | None:
    """The secret of Streamlit's (Tornado's) XSRF cookie, stable for one browser across page reloads.

    Version 2 cookies are ``2|<mask>|<masked token>|<time>`` with a fresh mask per page load; the
    token is the masked part XOR the mask. Anything else (no cookie, another format) gives None.
    """
    if not cookie:
        return None
    parts = cookie.strip('"').split("|")
    try:
        if len(parts) == 4 and parts[0] == "2":
            mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
            if len(mask) != 4 or len(masked) < 16:
                return None
            return bytes(b ^ mask[i % 4] for i, b in enumerate(masked))
        if len(parts) == 1 and len(parts[0]) >= 32:  # version 1: the raw hex token
            return bytes.fromhex(parts[0])
    except ValueError:
        return None
    return None


def browser_owner(cookies: dict[str, str] | None = None) -> str | None:
    """An id of the browser behind this session (a hash of its XSRF secret, which only that browser
    holds), or None when there is none (XSRF protection off, AppTest): then uploads live and die
    with the Streamlit session."""
    if cookies is None:
        try:
            cookies = dict(st.context.cookies)
        except Exception:  # noqa: BLE001 - no request context (bare mode, tests)
            return None
    token = xsrf_token(cookies.get(XSRF_COOKIE))
    if token is None:
        return None
    return hashlib.sha256(b"deeplight-uploads|" + token).hexdigest()


class UploadShelf:
    """The upload stores of recently active browsers, so a page reload (a click on the map reloads
    the page, which starts a new Streamlit session) finds the browser's own uploads again.

    Bounded: at most ``max_browsers`` stores and ``max_bytes`` together; the least recently active
    browser's store is dropped first (never the one being asked for).
    """

    def __init__(self, max_browsers: int = MAX_SHELVED_BROWSERS, max_bytes: int = MAX_SHELVED_BYTES) -> None:
        self.max_browsers = max_browsers
        self.max_bytes = max_bytes
        self._stores: OrderedDict[str, SessionUploads] = OrderedDict()
        self._lock = threading.Lock()

    def store_for(self, owner: str) -> SessionUploads:
        """The store of browser ``owner`` (created when new), marked as the most recently active."""
        with self._lock:
            store = self._stores.get(owner)
            if store is None:
                store = self._stores[owner] = SessionUploads()
                store.shelf = self
            self._stores.move_to_end(owner)
            self._trim(keep=owner)
            return store

    def trim(self) -> None:
        """Drop the least recently active browsers' stores beyond the bounds."""
        with self._lock:
            self._trim(keep=next(reversed(self._stores), None))

    def _trim(self, keep: str | None) -> None:
        def total() -> int:
            return sum(store.nbytes for store in self._stores.values())

        while len(self._stores) > 1 and (len(self._stores) > self.max_browsers or total() > self.max_bytes):
            oldest = next(iter(self._stores))
            if oldest == keep:
                self._stores.move_to_end(oldest)
                oldest = next(iter(self._stores))
                if oldest == keep:
                    break
            self._stores.pop(oldest)

    def __len__(self) -> int:
        return len(self._stores)


@st.cache_resource(show_spinner=False)
def _upload_shelf() -> UploadShelf:
    return UploadShelf()


def uploaded_scenes() -> SessionUploads:
    """Scenes uploaded in this browser session (never listed to, or opened by, another user).

    Kept in ``st.session_state``; when the browser can be told apart (Streamlit's XSRF cookie, see
    :func:`browser_owner`), the store is also kept on a bounded process-wide shelf under that
    browser's id only, so that a page reload by the same browser finds its uploads again.
    """
    store = st.session_state.get(SESSION_UPLOADS_KEY)
    if isinstance(store, SessionUploads):
        return store
    owner = browser_owner()
    store = _upload_shelf().store_for(owner) if owner is not None else SessionUploads()
    st.session_state[SESSION_UPLOADS_KEY] = store
    return store


def data_dir_warning() -> str | None:
    """What is wrong with ``DEEPLIGHT_DATA_DIR`` (it names no shared data folder), or None."""
    from deeplight.utils_io import data_dir_problem

    problem = data_dir_problem()
    return f"{problem}. The real data sets are not listed." if problem else None


def datasets() -> list[DatasetInfo]:
    """Data sets of the picker: configured sets plus this session's uploads (a misconfigured
    ``DEEPLIGHT_DATA_DIR`` is reported in the sidebar instead of being ignored silently)."""
    warning = data_dir_warning()
    if warning:
        st.sidebar.warning(warning)
    out = list_datasets(get_settings())
    for key, scene_obj in uploaded_scenes().items():
        if isinstance(scene_obj, UploadSeries):
            dates = tuple(scene_obj.steps)
            out.append(
                DatasetInfo(
                    key, f"Upload: {scene_obj.title}", tuple(sorted({int(str(d)[:4]) for d in dates})),
                    "time series uploaded in this session", months=dates if scene_obj.monthly else (),
                    lr_simulated=scene_obj.lr_simulated,
                )
            )
            continue
        out.append(
            DatasetInfo(
                key, f"Upload: {scene_obj.title}", (), "uploaded in this session", lr_simulated=scene_obj.lr_simulated
            )
        )
    return out


@st.cache_resource(show_spinner="Loading the scene...", max_entries=32)
def _scene(dataset_id: str, year: int | None, settings_key: str) -> Scene:
    return load_scene_for(get_settings(), dataset_id, year)


def scene(dataset_id: str, year: int | None) -> Scene:
    """The scene of a data set and year (loaded once per process)."""
    if dataset_id.startswith("upload:"):
        store = uploaded_scenes()
        found = store.get(dataset_id)
        if found is None:
            from deeplight.errors import RasterError

            why = (
                f"it was dropped to make room (a session keeps its {store.max_count} most recent uploads)"
                if dataset_id in store.evicted
                else "uploads are kept only in the browser session that made them, until it ends or "
                "the server restarts"
            )
            raise RasterError(f"this upload is not in this session ({why}): upload the file again on the Data page")
        return found.step(year) if isinstance(found, UploadSeries) else found
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
        return replace(found, from_cache=True)
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
def _overlay(key: str, _array: np.ndarray, _crs, _transform, vmax: float, tiles: bool) -> Overlay:
    return radiance_overlay(_array, _crs, _transform, vmax, tile_key=key if tiles else None)


def lr_overlay(key: str, array: np.ndarray, scene_obj: Scene, vmax: float) -> Overlay:
    """PNG overlay of an LR-grid radiance array of ``scene_obj`` (cached by ``key`` and ``vmax``)."""
    return _overlay(key, array, scene_obj.crs, scene_obj.lr_transform, round(vmax, 3), False)


def overlay(key: str, array: np.ndarray, scene_obj: Scene, vmax: float) -> Overlay:
    """PNG overlay of an HR-grid radiance array of ``scene_obj`` (cached by ``key`` and ``vmax``), with
    its full-resolution tiles when the region is larger than the overlay (:mod:`app.tiles`)."""
    result = _overlay(key, array, scene_obj.crs, scene_obj.hr_transform, round(vmax, 3), True)
    if result.tiles is not None and not tiles_present(result.tiles):
        # evicted from disk since it was cached: render again (same key, same URL)
        tiles = radiance_overlay(array, scene_obj.crs, scene_obj.hr_transform, round(vmax, 3), tile_key=key).tiles
        result = replace(result, tiles=tiles)
    return result


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
    from app.sdg_view import geo_bytes, scene_report, sr_geotiff_bytes

    report = scene_report(
        _crop.scene, None if _sr is None else _sr.radiance, None, _regions, thresholds, model_name
    )
    table, metadata = report.table, report.metadata
    return {
        "table": table,
        "metadata": metadata,
        "csv": report.csv_bytes(),  # the bytes `deeplight sdg --out` writes for the same inputs
        "geojson": geo_bytes(table, _regions, "GeoJSON", metadata),
        "gpkg": geo_bytes(table, _regions, "GPKG", metadata),
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
