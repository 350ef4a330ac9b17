"""Full-resolution map tiles: an XYZ PNG pyramid rendered from a raster into the static folder.

The map's :class:`app.overlay.Overlay` is one image capped at ``MAX_OVERLAY_PIXELS`` on its longest
side, so on a large region the 8x detail of SR and HR is decimated away. A :class:`TileSet` adds the
zoom levels above the overlay's resolution, up to the raster's native one (a screen pixel per HR
pixel), as 512 px Web Mercator tiles that Leaflet's ``L.tileLayer`` (``tileSize: 512``) loads only
where the view is. 512 px rather than the usual 256: a zoom into four synchronised maps asks for a
quarter as many files, and the browser fetches at most six at a time from one server.

Serving: Streamlit serves ``app/static`` at ``/app/static`` (``server.enableStaticServing``), so the
tiles are plain files under ``app/static/tiles/<token>/{z}/{x}/{y}.png``; no tile server, no network.
The token is a keyed hash (a secret drawn once per server process) of the raster's cache key, so a
tile set cannot be guessed from a data set's name, and one user's upload is reachable only from the
pages that were given its URL. Tile sets are written to a temporary folder and renamed into place
(a set is complete or absent), and the folder is kept under ``MAX_TILE_BYTES`` by evicting the
least recently used sets.

Tiles show the raster with nearest-neighbour resampling (pixels stay visible), coloured by the same
palette function as the overlay, so a tile and the overlay under it agree.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import math
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from PIL import Image
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds

from app.settings import STATIC_DIR, STATIC_URL

TILE_PX = 512
"""Side of a tile image (Leaflet's ``tileSize``)."""
WORLD_PX = 256
"""Width of the world at zoom 0 in screen pixels (Leaflet's CRS): zoom ``z`` has ``256 * 2**z`` pixels
across the world whatever the tile size, so a 512 px tile at zoom ``z`` spans a 256 px tile of ``z - 1``."""
EARTH_CIRCUMFERENCE_M = 2 * math.pi * 6378137.0
"""Width of the Web Mercator world (EPSG:3857 metres)."""
MAX_TILES_PER_LEVEL = 256
"""Tiles one zoom level may hold (about 67 Mpixel); beyond it the finest level is dropped, so the
deepest zoom is a little coarser than native rather than the pyramid unbounded."""
MAX_TILE_BYTES = 1024**3
"""Disk the tile folder may use; the least recently used tile sets go first."""
TILE_DIR = STATIC_DIR / "tiles"
TILE_URL = f"{STATIC_URL}/tiles"
_SECRET = os.urandom(32)
_LOCK = threading.Lock()

ColourIndex = Callable[[np.ndarray], np.ndarray]
"""Maps a float raster (NaN = nodata) to uint8 palette indices, 0 = transparent."""


@dataclass(frozen=True)
class TileSet:
    """A rendered pyramid, as ``L.tileLayer`` wants it.

    Attributes:
        url: URL template ``.../{z}/{x}/{y}.png``.
        min_zoom: first zoom with tiles (below it the overlay is as sharp as the screen).
        max_zoom: native zoom: the finest level (Leaflet enlarges it beyond, pixelated).
        bounds: ``[[south, west], [north, east]]`` in degrees; no tile is asked for outside.
        native: True when ``max_zoom`` reaches the raster's own resolution (False when capped).
    """

    url: str
    min_zoom: int
    max_zoom: int
    bounds: list[list[float]]
    native: bool


def mercator_bounds(crs: CRS, transform: Affine, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of a raster in EPSG:3857 metres."""
    h, w = shape
    x0, y0 = transform @ (0, 0)
    x1, y1 = transform @ (w, h)
    return transform_bounds(crs, "EPSG:3857", min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), densify_pts=21)


def zoom_for_resolution(metres_per_pixel: float) -> float:
    """The (fractional) zoom at which one screen (and tile) pixel spans ``metres_per_pixel`` Mercator metres."""
    return math.log2(EARTH_CIRCUMFERENCE_M / (WORLD_PX * metres_per_pixel))


def tile_span(zoom: int) -> float:
    """Mercator metres one tile spans at ``zoom``."""
    return EARTH_CIRCUMFERENCE_M * TILE_PX / (WORLD_PX * 2**zoom)


def tile_range(bounds: tuple[float, float, float, float], zoom: int) -> tuple[int, int, int, int]:
    """Tile columns x0..x1 and rows y0..y1 (inclusive) covering Mercator ``bounds`` at ``zoom``."""
    left, bottom, right, top = bounds
    size = tile_span(zoom)
    half = EARTH_CIRCUMFERENCE_M / 2
    n = max(1, 2**zoom * WORLD_PX // TILE_PX)
    x0 = int(math.floor((left + half) / size))
    x1 = int(math.ceil((right + half) / size)) - 1
    y0 = int(math.floor((half - top) / size))
    y1 = int(math.ceil((half - bottom) / size)) - 1
    clamp = lambda v: min(max(v, 0), n - 1)  # noqa: E731
    return clamp(x0), clamp(max(x1, x0)), clamp(y0), clamp(max(y1, y0))


def pyramid_zooms(
    crs: CRS, transform: Affine, shape: tuple[int, int], overlay_px: int
) -> tuple[int, int, bool] | None:
    """(min_zoom, max_zoom, native) of the tiles a raster needs, or None when the overlay suffices.

    ``min_zoom`` is the first zoom at which the overlay (``overlay_px`` on its longest side) would be
    enlarged on screen; ``max_zoom`` the first at which the raster's own pixel is at least a screen
    pixel, lowered until a level holds at most ``MAX_TILES_PER_LEVEL`` tiles.
    """
    if max(shape) <= overlay_px:
        return None  # the overlay holds every pixel
    bounds = mercator_bounds(crs, transform, shape)
    left, bottom, right, top = bounds
    span = max(right - left, top - bottom)
    native_res = min((right - left) / shape[1], (top - bottom) / shape[0])
    overlay_res = span / overlay_px
    max_zoom = math.ceil(zoom_for_resolution(native_res) - 1e-6)
    min_zoom = math.floor(zoom_for_resolution(overlay_res)) + 1
    native = True
    while max_zoom >= min_zoom:
        x0, x1, y0, y1 = tile_range(bounds, max_zoom)
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= MAX_TILES_PER_LEVEL:
            break
        max_zoom -= 1
        native = False
    if max_zoom < min_zoom:
        return None
    return min_zoom, max_zoom, native


def tile_token(key: str) -> str:
    """Unguessable folder name of a raster's tiles (keyed hash of its cache key, per server process)."""
    return hmac.new(_SECRET, key.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _png(index: np.ndarray, palette: list[int]) -> bytes:
    image = Image.fromarray(index, mode="P")
    image.putpalette(palette)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0, compress_level=3)
    return buffer.getvalue()


def _render_level(
    array: np.ndarray, crs: CRS, transform: Affine, bounds, zoom: int, colour: ColourIndex,
    palette: list[int], out: Path,
) -> int:
    """Warp ``array`` onto the tile grid of ``zoom`` one row of tiles at a time; returns tiles written."""
    x0, x1, y0, y1 = tile_range(bounds, zoom)
    size = tile_span(zoom)
    half = EARTH_CIRCUMFERENCE_M / 2
    res = size / TILE_PX
    ntx = x1 - x0 + 1
    row = np.empty((TILE_PX, ntx * TILE_PX), dtype=np.float32)
    written = 0
    for ty in range(y0, y1 + 1):
        row.fill(np.nan)
        dst_transform = Affine(res, 0.0, -half + x0 * size, 0.0, -res, half - ty * size)
        reproject(
            source=array,
            destination=row,
            src_transform=transform,
            src_crs=crs,
            src_nodata=np.nan,
            dst_transform=dst_transform,
            dst_crs="EPSG:3857",
            dst_nodata=np.nan,
            resampling=Resampling.nearest,
        )
        index = colour(row)
        for k in range(ntx):
            folder = out / str(zoom) / str(x0 + k)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{ty}.png").write_bytes(_png(index[:, k * TILE_PX : (k + 1) * TILE_PX], palette))
            written += 1
    return written


def render_tiles(
    key: str,
    array: np.ndarray,
    crs: CRS,
    transform: Affine,
    colour: ColourIndex,
    colours: np.ndarray,
    overlay_px: int,
    root: Path | None = None,
    url_root: str = TILE_URL,
) -> TileSet | None:
    """Render (once) the tile pyramid of ``array`` above the overlay's resolution.

    Args:
        key: the raster's cache key (scene, product, model, colour scale): same key, same tiles.
        array: (H, W) float raster, NaN = nodata.
        crs, transform: its georeference.
        colour: float raster -> uint8 palette index (0 transparent).
        colours: (N, 3) uint8 RGB of palette indices 1..N.
        overlay_px: longest side of the overlay drawn under the tiles.
        root, url_root: the tile folder and the URL it is served at (``app/static/tiles``,
            ``/app/static/tiles``).

    Returns:
        The tile set, or None when the overlay is already as sharp as the raster.
    """
    zooms = pyramid_zooms(crs, transform, array.shape, overlay_px)
    if zooms is None:
        return None
    min_zoom, max_zoom, native = zooms
    root = TILE_DIR if root is None else root
    token = tile_token(key)
    final = root / token
    url = f"{url_root}/{token}/{{z}}/{{x}}/{{y}}.png"
    x0, y0 = transform @ (0, 0)
    x1, y1 = transform @ (array.shape[1], array.shape[0])
    w, s, e, n = transform_bounds(crs, "EPSG:4326", min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), densify_pts=21)
    tiles = TileSet(url=url, min_zoom=min_zoom, max_zoom=max_zoom, bounds=[[s, w], [n, e]], native=native)
    if final.is_dir():
        os.utime(final)  # most recently used
        return tiles
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".partial-{token}-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(partial, ignore_errors=True)
    palette = np.vstack([[0, 0, 0], colours]).astype(np.uint8).ravel().tolist()
    source = np.ascontiguousarray(array, dtype=np.float32)
    bounds = mercator_bounds(crs, transform, array.shape)
    try:
        for zoom in range(min_zoom, max_zoom + 1):
            _render_level(source, crs, transform, bounds, zoom, colour, palette, partial)
        with _LOCK:
            if final.is_dir():  # another session rendered the same set meanwhile
                shutil.rmtree(partial, ignore_errors=True)
            else:
                os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    evict(root, keep=final)
    return tiles


def tiles_present(tiles: TileSet, root: Path | None = None) -> bool:
    """Whether the folder of ``tiles`` is still on disk (eviction may have removed it)."""
    token = tiles.url.rstrip("/").split("/{z}")[0].rsplit("/", 1)[-1]
    return ((TILE_DIR if root is None else root) / token).is_dir()


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*.png"))


def evict(root: Path, keep: Path | None = None, limit: int = MAX_TILE_BYTES) -> list[Path]:
    """Delete the least recently used tile sets until the folder holds at most ``limit`` bytes.

    ``keep`` (the set just rendered) is never deleted, nor is a set used in the last minute (a page
    may be loading it). Returns the folders removed.
    """
    sets = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")] if root.is_dir() else []
    sizes = {p: _folder_bytes(p) for p in sets}
    total = sum(sizes.values())
    removed = []
    now = time.time()
    for folder in sorted(sets, key=lambda p: p.stat().st_mtime):
        if total <= limit:
            break
        if folder == keep or now - folder.stat().st_mtime < 60:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= sizes[folder]
        removed.append(folder)
    return removed
