"""Rasters to PNG overlays on the Web Mercator map (no tile server), plus full-resolution tiles.

A raster in any CRS is warped to EPSG:3857 (nearest neighbour, so pixels stay visible) and its
bounds are given in latitude/longitude, as Leaflet's ``ImageOverlay`` expects. The overlay is one
in-memory PNG capped at ``MAX_OVERLAY_PIXELS``; when the raster is finer than that, the zoom levels
above it come as a tile pyramid (:mod:`app.tiles`) drawn over the overlay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject, transform_bounds

from app.colors import palette_png_data_url, radiance_colours, radiance_index
from app.tiles import ColourIndex, TileSet, render_tiles

WEB_MERCATOR = CRS.from_epsg(3857)
MAX_OVERLAY_PIXELS = 1200
"""Longest side of an overlay image; larger rasters are shown decimated (display only)."""


@dataclass(frozen=True)
class Overlay:
    """A coloured raster ready for ``L.imageOverlay``.

    Attributes:
        url: PNG data URL.
        bounds: ``[[south, west], [north, east]]`` in degrees.
        tiles: the full-resolution pyramid above the overlay's resolution, or None (the overlay is
            as sharp as the raster, or no tiles were asked for).
    """

    url: str
    bounds: list[list[float]]
    tiles: TileSet | None = None


def warp_to_web_mercator(
    array: np.ndarray, crs: CRS, transform: Affine
) -> tuple[np.ndarray, list[list[float]]]:
    """Warp a (H, W) float raster (NaN = nodata) to EPSG:3857.

    Returns:
        The warped array and its ``[[south, west], [north, east]]`` bounds in degrees.
    """
    h, w = array.shape
    left, top = transform @ (0, 0)
    right, bottom = transform @ (w, h)
    west, east = sorted((left, right))
    south, north = sorted((bottom, top))
    dst_transform, dst_w, dst_h = calculate_default_transform(
        crs, WEB_MERCATOR, w, h, west, south, east, north
    )
    scale = max(dst_w, dst_h) / MAX_OVERLAY_PIXELS
    if scale > 1:
        dst_w, dst_h = max(1, int(dst_w / scale)), max(1, int(dst_h / scale))
        dst_transform = dst_transform @ Affine.scale(scale)
    out = np.full((dst_h, dst_w), np.nan, dtype=np.float32)
    reproject(
        source=array.astype(np.float32),
        destination=out,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=dst_transform,
        dst_crs=WEB_MERCATOR,
        dst_nodata=np.nan,
        resampling=Resampling.nearest,
    )
    x0, y0 = dst_transform @ (0, 0)
    x1, y1 = dst_transform @ (dst_w, dst_h)
    w_deg, s_deg, e_deg, n_deg = transform_bounds(
        WEB_MERCATOR, "EPSG:4326", min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
    )
    return out, [[s_deg, w_deg], [n_deg, e_deg]]


def palette_overlay(
    array: np.ndarray,
    crs: CRS,
    transform: Affine,
    colour: ColourIndex,
    colours: np.ndarray,
    tile_key: str | None = None,
) -> Overlay:
    """A raster coloured by ``colour`` (float -> palette index, 0 transparent) over ``colours``.

    With ``tile_key`` (the raster's cache key, colour scale included) the zoom levels finer than the
    overlay are rendered as tiles too.
    """
    warped, bounds = warp_to_web_mercator(array, crs, transform)
    tiles = None
    if tile_key is not None:
        tiles = render_tiles(tile_key, array, crs, transform, colour, colours, MAX_OVERLAY_PIXELS)
    return Overlay(url=palette_png_data_url(colour(warped), colours), bounds=bounds, tiles=tiles)


def radiance_overlay(
    array: np.ndarray, crs: CRS, transform: Affine, vmax: float, tile_key: str | None = None
) -> Overlay:
    """Colour a radiance raster (nW/cm^2/sr) on the shared log scale as a PNG overlay (and tiles when
    ``tile_key`` is given)."""
    return palette_overlay(
        array, crs, transform, lambda a: radiance_index(a, vmax), radiance_colours(),
        None if tile_key is None else f"{tile_key}|radiance|{vmax:.6g}",
    )
