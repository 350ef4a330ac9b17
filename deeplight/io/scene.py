"""THE scene of DeepLight: one place (and date) on an LR grid and the 8x finer HR grid, in memory.

A :class:`Scene` holds the LR image (DMSP-like DN 0..63) and any of the HR radiance, the 7-band DMO,
the DEM, the ISP and the population on the HR grid, plus its CRS and HR transform, a stable ``key``
(for caches), the simulated / synthetic flags, credits, notes and named regions. Big layers may be
:class:`LazyRaster` (read on first use); a crop (:func:`crop_scene`) always holds plain arrays.
:meth:`Scene.read` gives a window of a layer (a lazy HR not yet in memory is read for just that
window, through :func:`deeplight.io.raster.read_window`, the package's one window reader), and
:meth:`Scene.georaster` a single-band layer as the :class:`deeplight.io.georaster.GeoRaster` the
indicators compute on.

:func:`open_scene` reads files through :mod:`deeplight.io` into a Scene (the one reader of the command
line, the data catalogue :mod:`deeplight.catalog` and the dashboard's uploads); the grid helpers
(:func:`check_lr_hr_grids`, :func:`hr_transform_from_lr`, :func:`lr_transform_from_hr`) hold the grid
contract of docs/CONTRACTS.md: the HR grid is exactly 8x finer than the LR grid and shares its corners
(``hr_transform = lr_transform * Affine.scale(1/8)``).
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import xarray as xr
from affine import Affine
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from rasterio.windows import Window
from shapely.geometry.base import BaseGeometry

from deeplight.contracts import SCALE, radiance_to_nominal_dn, tag_is_true
from deeplight.errors import RasterError, RegionError
from deeplight.io.coverage import MASK_MIN_FRACTION, Grid, coverage_fraction, grids_match, membership_mask
from deeplight.io.georaster import GeoRaster
from deeplight.io.modalities import MODALITIES
from deeplight.io.raster import raster_grid, read_raster, read_window
from deeplight.io.regions import REGION_COLUMN, load_regions
from deeplight.io.reproject import reproject_array
from deeplight.io.validation import check_values, emit
from deeplight.io.value_ranges import check_value_range

Layer = str | os.PathLike[str] | xr.DataArray
"""A layer given to :func:`open_scene`: a raster path, or a DataArray from :func:`~deeplight.io.read_raster`."""


def hr_transform_from_lr(lr_transform: Affine, scale: int = SCALE) -> Affine:
    """HR transform of the grid ``scale`` times finer sharing the LR grid's corners."""
    return lr_transform @ Affine.scale(1.0 / scale)


def lr_transform_from_hr(hr_transform: Affine, scale: int = SCALE) -> Affine:
    """LR transform of the grid ``scale`` times coarser sharing the HR grid's corners."""
    return hr_transform @ Affine.scale(scale)


def _close(a: Affine, b: Affine, pixel: float) -> bool:
    tol = 1e-6 * max(abs(pixel), 1e-12)
    return all(
        abs(x - y) <= tol * (1 if i in (0, 1, 3, 4) else 1e3)
        for i, (x, y) in enumerate(zip(tuple(a)[:6], tuple(b)[:6]))
    )


def check_lr_hr_grids(
    lr_crs: CRS,
    lr_transform: Affine,
    lr_shape: tuple[int, int],
    hr_crs: CRS,
    hr_transform: Affine,
    hr_shape: tuple[int, int],
    *,
    lr_name: str = "LR",
    hr_name: str = "HR",
    scale: int = SCALE,
) -> None:
    """Check that HR is exactly ``scale`` times finer than LR and shares its corners.

    Raises:
        RasterError: different CRS, shape not ``scale`` x, or misaligned transform; the message
            names both rasters and the numbers that disagree.
    """
    if CRS.from_user_input(lr_crs) != CRS.from_user_input(hr_crs):
        raise RasterError(
            f"LR/HR pair is not on one CRS: {lr_name} has {lr_crs}, {hr_name} has "
            f"{hr_crs}; reproject one onto the other first"
        )
    want = (lr_shape[0] * scale, lr_shape[1] * scale)
    if tuple(hr_shape) != want:
        raise RasterError(
            f"LR/HR pair is not {scale}x: {lr_name} is {lr_shape[0]}x{lr_shape[1]} pixels, so "
            f"{hr_name} must be {want[0]}x{want[1]} but is {hr_shape[0]}x{hr_shape[1]}"
        )
    expected = hr_transform_from_lr(lr_transform, scale)
    if not _close(expected, hr_transform, hr_transform.a):
        raise RasterError(
            f"LR/HR pair is not {scale}x aligned: {hr_name} transform {tuple(hr_transform)[:6]} should "
            f"be {lr_name} transform scaled by 1/{scale} = {tuple(expected)[:6]}"
        )


def _window_slices(window: Window | None, shape: tuple[int, ...], where: str) -> tuple[slice, slice]:
    """Row and column slices of ``window`` on a grid of ``shape`` (..., H, W); the window must fit."""
    height, width = shape[-2:]
    if window is None:
        return slice(0, height), slice(0, width)
    r0, c0 = int(window.row_off), int(window.col_off)
    r1, c1 = r0 + int(window.height), c0 + int(window.width)
    if r0 < 0 or c0 < 0 or r1 > height or c1 > width:
        raise RasterError(f"{where}: window {window} is outside the grid ({height}x{width} pixels)")
    return slice(r0, r1), slice(c0, c1)


class LazyRaster:
    """A full-scene array read from disk on first use (thread-safe), then kept in memory.

    Big layers of the demo (HR, 7-band DMO, DEM, population: ~90 MB) are only needed once a region
    is cropped; loading them lazily keeps the first map fast. Indexing returns a plain ndarray.

    Args:
        loader: returns the (..., H, W) array.
        window_reader: returns the pixels of one ``Window`` of that array straight from its file,
            the same values ``loader`` would give there (None: a window is cut from the loaded array).
    """

    def __init__(
        self,
        loader: Callable[[], np.ndarray],
        window_reader: Callable[[Window], np.ndarray] | None = None,
    ) -> None:
        self._loader = loader
        self._window_reader = window_reader
        self._array: np.ndarray | None = None
        self._lock = threading.Lock()

    def load(self) -> np.ndarray:
        """The array (read on the first call)."""
        with self._lock:
            if self._array is None:
                self._array = self._loader()
            return self._array

    @property
    def loaded(self) -> bool:
        """Whether the whole array is in memory."""
        return self._array is not None

    def read(self, window: Window | None = None) -> np.ndarray:
        """The pixels of ``window`` (None: all): from memory once loaded, else from the file when a
        window reader was given (nothing else is read), else from the loaded array."""
        if window is not None and self._window_reader is not None and not self.loaded:
            return self._window_reader(window)
        array = self.load()
        rows, cols = _window_slices(window, array.shape, "layer")
        return array[..., rows, cols]

    def __getitem__(self, item) -> np.ndarray:
        return self.load()[item]


def materialise(array: np.ndarray | LazyRaster | None) -> np.ndarray | None:
    """A plain ndarray (or None) from an array or a :class:`LazyRaster`."""
    return array.load() if isinstance(array, LazyRaster) else array


SCENE_LAYERS = ("lr", "hr", "dmo", "dem", "isp", "population")
"""The layers a :class:`Scene` may hold (``lr`` on the LR grid, the others on the HR grid)."""


@dataclass(frozen=True)
class Scene:
    """Night-time light layers of one place (and year), on an LR grid and the 8x finer HR grid.

    Attributes:
        key: stable identifier (data set, product, year or upload hash) used for caching.
        title: human-readable name shown in the UI.
        lr: (h, w) float32 DMSP-like DN 0..63, NaN = nodata.
        hr: (8h, 8w) float32 radiance in nW/cm^2/sr, NaN = nodata; None when no reference exists.
            Full scenes may hold :class:`LazyRaster` in ``hr``/``dmo``/``dem``/``population``; a crop
            (:func:`crop_scene`) always holds plain arrays.
        crs: coordinate reference system of both grids.
        hr_transform: affine transform of the HR grid.
        lr_simulated: True when ``lr`` was made from ``hr`` by the degradation model.
        regions: named regions (column ``name``) in ``crs``; from a file through the one region loader
            (:func:`deeplight.io.regions.load_regions`, then :func:`scene_regions`).
        dmo: (7, 8h, 8w) surface reflectance 0..1 or None.
        dem: (8h, 8w) elevation in metres or None.
        population: (8h, 8w) people per HR pixel or None.
        year: acquisition year or None.
        month: ``"YYYY-MM"`` of a monthly layer, or None for an annual or undated scene.
        credits: data-source attributions shown on the maps and pages.
        notes: honest remarks for the UI (what is simulated, what is missing).
        hr_synthetic: True when ``hr`` was generated (the built-in demo), not observed: the exports
            flag it simulated and say "synthetic".
        isp: (8h, 8w) impervious fraction 0..1 or None.
        sources: where each layer came from (``{"lr": path, "hr": path, ...}``; empty for arrays).
    """

    key: str
    title: str
    lr: np.ndarray
    hr: np.ndarray | LazyRaster | None
    crs: CRS
    hr_transform: Affine
    lr_simulated: bool
    regions: gpd.GeoDataFrame
    dmo: np.ndarray | LazyRaster | None = None
    dem: np.ndarray | LazyRaster | None = None
    population: np.ndarray | LazyRaster | None = None
    year: int | None = None
    credits: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    month: str | None = None
    hr_synthetic: bool = False
    isp: np.ndarray | LazyRaster | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def time_label(self) -> str:
        """The scene's date as shown and keyed in tables: its month, its year, or "" when undated."""
        if self.month:
            return self.month
        return "" if self.year is None else str(self.year)

    @property
    def lr_transform(self) -> Affine:
        """Affine transform of the LR grid (HR pixels scaled by 8)."""
        return self.hr_transform @ Affine.scale(SCALE)

    @property
    def present(self) -> dict[str, bool]:
        """``{"hr", "dmo", "dem", "isp", "population"}`` -> whether the scene has that layer."""
        return {name: getattr(self, name) is not None for name in ("hr", "dmo", "dem", "isp", "population")}

    @property
    def hr_shape(self) -> tuple[int, int]:
        """(8h, 8w) of the HR grid."""
        h, w = self.lr.shape
        return h * SCALE, w * SCALE

    def _layer(self, name: str) -> np.ndarray | LazyRaster:
        if name not in SCENE_LAYERS:
            raise ValueError(f"unknown layer {name!r}: choose one of {', '.join(SCENE_LAYERS)}")
        layer = getattr(self, name)
        if layer is None:
            raise RasterError(f"{self.title} has no {name} layer")
        return layer

    def read(self, name: str, window: Window | None = None) -> np.ndarray:
        """The pixels of layer ``name`` in ``window`` of its grid (the LR grid for ``"lr"``, else the HR grid).

        A layer in memory is sliced (a view: do not write into it). A lazy HR read from a file and not
        yet loaded is read for just that window (:func:`deeplight.io.raster.read_window`) and its values
        judged by the same rules as the whole read (:func:`deeplight.io.validation.check_values`, on the
        window's pixels); any other lazy layer is loaded whole first (it may have been warped onto the
        HR grid).

        Args:
            name: ``"lr"``, ``"hr"``, ``"dmo"``, ``"dem"``, ``"isp"`` or ``"population"``.
            window: a rasterio ``Window`` inside the layer's grid (None: the whole layer).

        Returns:
            float32 ``(h, w)``, or ``(7, h, w)`` for ``"dmo"``; NaN = nodata.

        Raises:
            ValueError: an unknown layer name.
            RasterError: the scene has no such layer, or the window is outside its grid.
        """
        layer = self._layer(name)
        if isinstance(layer, LazyRaster):
            if window is not None:
                _window_slices(window, self.hr_shape, f"{self.title} {name}")
            return layer.read(window)
        rows, cols = _window_slices(window, layer.shape, f"{self.title} {name}")
        return layer[..., rows, cols]

    def georaster(self, name: str, tags: Mapping[str, str] | None = None) -> GeoRaster:
        """A single-band layer as a :class:`~deeplight.io.georaster.GeoRaster` on its grid.

        ``"lr"`` lies on the LR grid (``lr_transform``), the others on the HR grid; the values are the
        layer's float32 pixels as float64, the source ``"<array>"``.

        Args:
            name: ``"lr"``, ``"hr"``, ``"dem"``, ``"isp"`` or ``"population"`` (``"dmo"`` has 7 bands).
            tags: the raster's tags (e.g. ``{"units": "DN", "simulated": "true"}``).

        Raises:
            ValueError: an unknown or multi-band layer.
            RasterError: the scene has no such layer.
        """
        values = np.asarray(materialise(self._layer(name)), dtype=np.float32)
        if values.ndim != 2:
            raise ValueError(f"layer {name!r} has {values.shape[0]} bands; a GeoRaster holds one")
        transform = self.lr_transform if name == "lr" else self.hr_transform
        return GeoRaster(values.astype(np.float64), transform, ProjCRS.from_user_input(self.crs), "<array>",
                         dict(tags or {}))

    def region_geometry(self, name: str) -> BaseGeometry:
        """Geometry (in ``crs``) of the region called ``name``.

        Raises:
            RegionError: no region has that name (the message lists a few that exist).
        """
        match = self.regions[self.regions["name"] == name]
        if match.empty:
            known = ", ".join(map(str, self.regions["name"].head(8)))
            raise RegionError(f"region {name!r} not found in {self.title}; known regions: {known}")
        return match.geometry.union_all()


@dataclass(frozen=True)
class RegionCrop:
    """A scene cropped to a region's bounding box (plus a margin), aligned on LR pixels.

    Region membership follows the project's one rule (:mod:`deeplight.io.coverage`): ``fraction`` is
    the exactextract covered fraction of every HR cell, the same numbers the indicators weight cells
    by; ``mask`` is derived from it for what needs a yes/no answer (the region's pixels of the
    full-reference metrics): a cell is in when at least half of it is covered
    (:data:`~deeplight.io.coverage.MASK_MIN_FRACTION`), or, for a region smaller than half a cell,
    when any part of it is (:func:`~deeplight.io.coverage.membership_mask`).

    Attributes:
        scene: the cropped scene (same fields, smaller arrays).
        mask: (8h, 8w) bool, ``membership_mask(fraction)``.
        geometry: the region geometry in the scene CRS.
        name: the region name.
        fraction: (8h, 8w) float64 in [0, 1], the covered fraction of each HR cell.
    """

    scene: Scene
    mask: np.ndarray
    geometry: BaseGeometry
    name: str
    fraction: np.ndarray


MAX_CROP_HR_PIXELS = 4096 * 4096
"""Largest region the dashboard reconstructs in memory (about 64 MiB per float32 layer)."""


def crop_scene(
    scene: Scene,
    geometry: BaseGeometry,
    name: str,
    margin_lr: int = 2,
    max_hr_pixels: int = MAX_CROP_HR_PIXELS,
) -> RegionCrop:
    """Crop ``scene`` to the bounding box of ``geometry`` plus ``margin_lr`` LR pixels.

    The window is aligned on LR pixel edges, so the HR crop stays exactly 8x the LR crop.

    Args:
        scene: the full scene.
        geometry: region geometry in the scene CRS.
        name: region name (kept on the result).
        margin_lr: LR pixels added on each side (context for the model), clipped to the scene.
        max_hr_pixels: largest accepted crop (HR pixels).

    Returns:
        The crop with the (8h, 8w) covered fractions of the region and the mask derived from them.

    Raises:
        RegionError: the geometry does not overlap the scene, or the crop is too large.
    """
    inv = ~scene.lr_transform
    minx, miny, maxx, maxy = geometry.bounds
    cols, rows = zip(*(inv @ (x, y) for x, y in ((minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy))))
    h, w = scene.lr.shape
    c0 = max(0, math.floor(min(cols)) - margin_lr)
    c1 = min(w, math.ceil(max(cols)) + margin_lr)
    r0 = max(0, math.floor(min(rows)) - margin_lr)
    r1 = min(h, math.ceil(max(rows)) + margin_lr)
    if c1 - c0 < 1 or r1 - r0 < 1:
        raise RegionError(
            f"region {name!r} does not overlap the scene {scene.title}: pick a region inside the raster"
        )
    s = SCALE
    hr_pixels = (r1 - r0) * (c1 - c0) * s * s
    if hr_pixels > max_hr_pixels:
        raise RegionError(
            f"region {name!r} covers {hr_pixels / 1e6:.0f} M output pixels, more than the dashboard's "
            f"{max_hr_pixels / 1e6:.0f} M: pick a smaller region or draw one, or run "
            "`deeplight predict` on the whole raster"
        )
    hr_slice = (slice(r0 * s, r1 * s), slice(c0 * s, c1 * s))

    def _hr(arr: np.ndarray | LazyRaster | None) -> np.ndarray | None:
        if arr is None:
            return None
        return np.asarray(materialise(arr)[(..., *hr_slice)])

    transform = scene.hr_transform @ Affine.translation(c0 * s, r0 * s)
    cropped = replace(
        scene,
        key=f"{scene.key}|{name}|{r0}:{r1},{c0}:{c1}",
        lr=scene.lr[r0:r1, c0:c1],
        hr=_hr(scene.hr),
        dmo=_hr(scene.dmo),
        dem=_hr(scene.dem),
        population=_hr(scene.population),
        isp=_hr(scene.isp),
        hr_transform=transform,
    )
    out_shape = ((r1 - r0) * s, (c1 - c0) * s)
    fraction = coverage_fraction(geometry, Grid(out_shape, transform, scene.crs, scene.title))
    mask = membership_mask(fraction, MASK_MIN_FRACTION)
    return RegionCrop(scene=cropped, mask=mask, geometry=geometry, name=name, fraction=fraction)


def whole_scene_region(
    crs: CRS, hr_transform: Affine, hr_shape: tuple[int, int], name: str
) -> gpd.GeoDataFrame:
    """A one-row region table covering the whole raster (used when no region file is given)."""
    from shapely.geometry import box

    h, w = hr_shape
    x0, y0 = hr_transform @ (0, 0)
    x1, y1 = hr_transform @ (w, h)
    geom = box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    return gpd.GeoDataFrame({"name": [name]}, geometry=[geom], crs=crs)


def scene_regions(regions: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """A Scene's region table from the output of :func:`deeplight.io.regions.load_regions`.

    The loader's ``region`` column (its one name rule) becomes the Scene's ``name`` column, the label
    the pages and maps show and select by, and the polygons move to the scene's CRS.
    """
    frame = regions[[REGION_COLUMN, "geometry"]].rename(columns={REGION_COLUMN: "name"}).to_crs(crs)
    return frame.reset_index(drop=True)


def same_grid(a: Scene, b: Scene) -> bool:
    """Whether two (cropped) scenes lie on the same LR/HR grid (CRS, transform and shape)."""
    return a.lr.shape == b.lr.shape and grids_match(
        Grid(a.hr_shape, a.hr_transform, a.crs), Grid(b.hr_shape, b.hr_transform, b.crs)
    )


def change_between(before: np.ndarray | None, after: np.ndarray | None) -> np.ndarray | None:
    """``after - before`` (nW/cm^2/sr) on one grid; NaN where either date has no data; None when
    either is missing.

    Raises:
        RegionError: the two arrays are not on the same grid.
    """
    if before is None or after is None:
        return None
    if before.shape != after.shape:
        raise RegionError(
            f"the two dates are on different grids ({before.shape} vs {after.shape}): no difference map"
        )
    return (np.asarray(after, dtype=np.float32) - np.asarray(before, dtype=np.float32)).astype(np.float32)


def _read_layer(layer: Layer, modality: str, label: str | None = None) -> xr.DataArray:
    """A layer as a DataArray, through the shared validator (deeplight.io.validation)."""
    if isinstance(layer, xr.DataArray):
        return layer
    # the LR's units are decided by open_scene itself
    bands = MODALITIES[modality].bands if modality in MODALITIES else 1
    return read_raster(layer, expected_bands=bands, role="any" if modality == "lr" else modality, label=label)


def _layer_name(layer: Layer, fallback: str) -> str:
    if isinstance(layer, xr.DataArray):
        return str(layer.attrs.get("source_path", fallback))
    return str(layer)


def _default_key(sources: Mapping[str, str]) -> str:
    """``scene:<hash>`` of the source paths and their modification times (same files, same key)."""
    digest = hashlib.sha256()
    for name, path in sorted(sources.items()):
        stamp = Path(path).stat().st_mtime_ns if Path(path).is_file() else ""
        digest.update(f"{name}={path}@{stamp}|".encode())
    return "scene:" + digest.hexdigest()[:16]


def _scene_regions_of(
    regions: str | os.PathLike[str] | gpd.GeoDataFrame | None,
    region_column: str | None,
    crs: CRS,
    hr_transform: Affine,
    hr_shape: tuple[int, int],
    whole_name: str,
) -> gpd.GeoDataFrame:
    if regions is None:
        return whole_scene_region(crs, hr_transform, hr_shape, whole_name)
    if isinstance(regions, gpd.GeoDataFrame) and "name" in regions.columns and region_column is None:
        return regions[["name", "geometry"]].to_crs(crs).reset_index(drop=True)  # already a Scene's table
    return scene_regions(load_regions(regions, name_column=region_column), crs)


def open_scene(
    lr: Layer,
    *,
    hr: Layer | None = None,
    dmo: Layer | None = None,
    dem: Layer | None = None,
    isp: Layer | None = None,
    population: Layer | None = None,
    regions: str | os.PathLike[str] | gpd.GeoDataFrame | None = None,
    region_column: str | None = None,
    lr_units: str = "auto",
    lazy: bool = False,
    key: str | None = None,
    title: str | None = None,
    lr_simulated: bool | None = None,
    hr_synthetic: bool = False,
    year: int | None = None,
    month: str | None = None,
    credits: Sequence[str] = (),
    notes: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    whole_region_name: str | None = None,
) -> Scene:
    """Read a scene: the LR raster plus any of HR, DMO, DEM, ISP and population, onto one LR/HR grid.

    The LR grid defines the scene. HR must already be exactly 8x finer and aligned (it is the
    target; resampling it would change what is measured). DMO, DEM, ISP and population on any other
    grid or CRS are warped onto the HR grid with their modality's resampling (bilinear for DMO and
    DEM, average for ISP, totals conserved for population: :func:`deeplight.io.reproject_array`).

    Args:
        lr: LR raster path or DataArray (DMSP-like DN 0..63, or radiance - see ``lr_units``).
        hr, dmo, dem, isp, population: optional layers (paths or DataArrays).
        regions: region file, GeoDataFrame (a loader's output with ``region``, or a Scene's table with
            ``name``) or None (one region covering the whole raster).
        region_column: the region file's name column (guessed by the loader when None).
        lr_units: ``"dn"``, ``"radiance"`` (converted to nominal DN with
            :func:`deeplight.contracts.radiance_to_nominal_dn`) or ``"auto"`` (radiance when the
            file's ``units`` tag mentions nW, else DN; a DN raster with values above 63 raises).
        lazy: read the HR-grid layers given as paths on first use (:class:`LazyRaster`; their
            value checks then run at that time); the HR grid is checked now from its header.
        key: the scene's cache key (default ``scene:<hash of the paths and modification times>``).
        title: the name shown (default: the LR file's name).
        lr_simulated: whether the LR was made by the degradation model (default: its ``simulated`` tag).
        hr_synthetic, year, month, credits, notes: copied onto the Scene (see :class:`Scene`).
        labels: how messages name each layer (``{"dmo": "DMO raster 'x.tif'"}``; default: its path).
        whole_region_name: name of the one region made when ``regions`` is None (default
            ``"<title> whole raster"``).

    Returns:
        The Scene.

    Raises:
        RasterError: unreadable files, no CRS, wrong band counts, an LR/HR pair that is not 8x, an
            auxiliary layer that does not overlap, LR values out of the DN range.
        RegionError: an unusable region file.
    """
    labels = dict(labels or {})
    lr_name = labels.get("lr") or _layer_name(lr, "lr")
    lr_da = _read_layer(lr, "lr", labels.get("lr"))
    if lr_da.ndim != 2:
        raise RasterError(f"{lr_name}: LR must have one band; pick one first, e.g. gdal_translate -b 1 in.tif out.tif")
    if lr_units not in ("auto", "dn", "radiance"):
        raise ValueError(f"lr_units must be 'auto', 'dn' or 'radiance', got {lr_units!r}")
    crs = lr_da.rio.crs
    lr_tf = lr_da.rio.transform(recalc=False)
    lr_values = np.asarray(lr_da.values, dtype=np.float32)
    units = str(lr_da.attrs.get("units", "")).lower()
    as_radiance = lr_units == "radiance" or (lr_units == "auto" and "nw" in units)
    sources = {"lr": lr_name}
    if as_radiance:
        lr_values = radiance_to_nominal_dn(lr_values).astype(np.float32)
        sources["lr_conversion"] = "radiance_to_nominal_dn"
    elif np.nanmax(lr_values) > 63.0 + 1e-3:
        raise RasterError(
            f"{lr_name}: LR values reach {np.nanmax(lr_values):.1f}, above the DMSP DN cap 63; if it "
            "is a radiance raster (e.g. VIIRS), pass lr_units='radiance' (CLI: --lr-units radiance)"
        )
    h, w = lr_values.shape
    hr_tf = hr_transform_from_lr(lr_tf)
    hr_shape = (h * SCALE, w * SCALE)

    hr_layer: np.ndarray | LazyRaster | None = None
    if hr is not None:
        hr_name = labels.get("hr") or _layer_name(hr, "hr")
        if isinstance(hr, xr.DataArray):
            hr_crs, hr_grid_tf, hr_grid_shape = hr.rio.crs, hr.rio.transform(recalc=False), hr.shape[-2:]
        else:
            grid = raster_grid(hr)
            hr_crs = CRS.from_wkt(grid["crs"]) if grid["crs"] else None
            hr_grid_tf, hr_grid_shape = grid["transform"], (grid["height"], grid["width"])
        check_lr_hr_grids(crs, lr_tf, (h, w), hr_crs, hr_grid_tf, hr_grid_shape, lr_name=lr_name, hr_name=hr_name)

        def _hr(hr=hr) -> np.ndarray:
            return np.asarray(_read_layer(hr, "hr", labels.get("hr")).values, dtype=np.float32)

        def _hr_window(window: Window, hr=hr, label=labels.get("hr") or str(hr)) -> np.ndarray:
            values, notes = check_values(read_window(hr, window, band=1), "hr", label, allow_all_nodata=True)
            emit(notes)
            return values

        hr_layer = LazyRaster(_hr, _hr_window) if lazy and not isinstance(hr, xr.DataArray) else _hr()
        sources["hr"] = hr_name

    def _on_hr_grid(layer: Layer, name: str) -> np.ndarray:
        label = labels.get(name) or _layer_name(layer, name)
        da = _read_layer(layer, name, labels.get(name))
        values = np.asarray(da.values, dtype=np.float32)
        if name != "population":
            check_value_range(name, values, label)
        if da.rio.crs is None:
            raise RasterError(f"{label}: has no CRS; assign one first (e.g. gdal_edit.py -a_srs EPSG:4326)")
        on_grid = (
            da.rio.crs == crs and da.shape[-2:] == hr_shape and _close(da.rio.transform(recalc=False), hr_tf, hr_tf.a)
        )
        if on_grid:
            return values
        warped = reproject_array(values, da.rio.crs, da.rio.transform(recalc=False), crs, hr_tf, hr_shape, name)
        if not np.isfinite(warped).any():
            raise RasterError(
                f"{label}: does not overlap {lr_name} (no valid pixel after warping it onto the HR grid): "
                "give a layer that covers the same area, or leave it out"
            )
        return warped

    aux: dict[str, np.ndarray | LazyRaster] = {}
    for name, layer in (("dmo", dmo), ("dem", dem), ("isp", isp), ("population", population)):
        if layer is None:
            continue
        if lazy and not isinstance(layer, xr.DataArray):
            aux[name] = LazyRaster(lambda layer=layer, name=name: _on_hr_grid(layer, name))
        else:
            aux[name] = _on_hr_grid(layer, name)
        sources[name] = labels.get(name) or _layer_name(layer, name)
    shown = title or Path(lr_name).name
    if lr_simulated is None:
        lr_simulated = tag_is_true(lr_da.attrs)
    return Scene(
        key=key or _default_key(sources),
        title=shown,
        lr=lr_values,
        hr=hr_layer,
        crs=crs,
        hr_transform=hr_tf,
        lr_simulated=bool(lr_simulated),
        regions=_scene_regions_of(regions, region_column, crs, hr_tf, hr_shape, whole_region_name or f"{shown} whole raster"),
        dmo=aux.get("dmo"),
        dem=aux.get("dem"),
        population=aux.get("population"),
        isp=aux.get("isp"),
        year=year,
        month=month,
        credits=tuple(credits),
        notes=tuple(notes),
        hr_synthetic=hr_synthetic,
        sources=sources,
    )
