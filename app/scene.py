"""A georeferenced LR/HR scene held in memory, and cropping it to a region.

The grids follow docs/CONTRACTS.md: the HR grid is exactly 8x finer than the LR grid and shares its
corners (``hr_transform = lr_transform * Affine.scale(1/8)``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry.base import BaseGeometry

from deeplight.contracts import SCALE
from deeplight.errors import RegionError
from deeplight.io.coverage import MASK_MIN_FRACTION, Grid, coverage_fraction, membership_mask
from deeplight.io.regions import REGION_COLUMN


class LazyRaster:
    """A full-scene array read from disk on first use (thread-safe), then kept in memory.

    Big layers of the demo (HR, 7-band DMO, DEM, population: ~90 MB) are only needed once a region
    is cropped; loading them lazily keeps the first map fast. Indexing returns a plain ndarray.

    Args:
        loader: returns the (..., H, W) array.
    """

    def __init__(self, loader: Callable[[], np.ndarray]) -> None:
        self._loader = loader
        self._array: np.ndarray | None = None
        self._lock = threading.Lock()

    def load(self) -> np.ndarray:
        """The array (read on the first call)."""
        with self._lock:
            if self._array is None:
                self._array = self._loader()
            return self._array

    def __getitem__(self, item) -> np.ndarray:
        return self.load()[item]


def materialise(array: np.ndarray | LazyRaster | None) -> np.ndarray | None:
    """A plain ndarray (or None) from an array or a :class:`LazyRaster`."""
    return array.load() if isinstance(array, LazyRaster) else array


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
    def hr_shape(self) -> tuple[int, int]:
        """(8h, 8w) of the HR grid."""
        h, w = self.lr.shape
        return h * SCALE, w * SCALE

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
    pairs = zip(tuple(a.hr_transform)[:6], tuple(b.hr_transform)[:6])
    return (
        a.lr.shape == b.lr.shape
        and a.crs == b.crs
        and all(abs(x - y) <= 1e-9 * max(1.0, abs(x)) for x, y in pairs)
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
