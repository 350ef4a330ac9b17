"""Full-resolution tile pyramid (app/tiles.py): levels, pixels, atomic sets, unguessable names, eviction."""

from __future__ import annotations

import math
import os
import shutil
import time

import numpy as np
import pytest
from affine import Affine
from PIL import Image
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

from app import tiles as tiles_mod
from app.colors import radiance_colours, radiance_index
from app.maps import Panel, compare_maps
from app.overlay import MAX_OVERLAY_PIXELS, radiance_overlay
from app.tiles import (
    EARTH_CIRCUMFERENCE_M,
    TILE_PX,
    WORLD_PX,
    evict,
    pyramid_zooms,
    render_tiles,
    tile_token,
    tiles_present,
)

WGS84 = CRS.from_epsg(4326)
UTM50 = CRS.from_epsg(32650)


def _colour(vmax: float = 100.0):
    return lambda a: radiance_index(a, vmax)


def _scene(size: int = 1600, res: float = 130.0) -> tuple[np.ndarray, Affine]:
    rng = np.random.default_rng(0)
    array = rng.gamma(0.5, 8.0, size=(size, size)).astype(np.float32)
    array[:40, :40] = np.nan
    return array, Affine(res, 0, 300_000.0, 0, -res, 3_500_000.0)


def test_zoom_range_runs_from_the_overlay_to_the_native_resolution():
    array, transform = _scene()
    min_zoom, max_zoom, native = pyramid_zooms(UTM50, transform, array.shape, MAX_OVERLAY_PIXELS)
    # 130 m UTM pixels near 31.6 N are ~153 m in Web Mercator: native zoom ceil(log2(C / (256 x 153)))
    assert (min_zoom, max_zoom, native) == (10, 11, True)
    metres = EARTH_CIRCUMFERENCE_M / (WORLD_PX * 2**max_zoom)  # one screen pixel at that zoom
    assert metres <= 130.0 / math.cos(math.radians(31.6)) < 2 * metres  # the finest level is the first as fine as the raster


def test_no_tiles_when_the_overlay_is_already_as_sharp_as_the_raster():
    array, transform = _scene(size=600)
    assert pyramid_zooms(UTM50, transform, array.shape, MAX_OVERLAY_PIXELS) is None
    assert radiance_overlay(array, UTM50, transform, 100.0, tile_key="small").tiles is None


def test_levels_are_capped_so_a_country_does_not_fill_the_disk(monkeypatch):
    monkeypatch.setattr(tiles_mod, "MAX_TILES_PER_LEVEL", 64 * 256**2 // TILE_PX**2)  # 4 Mpixel a level
    array, transform = _scene()
    min_zoom, max_zoom, native = pyramid_zooms(UTM50, transform, array.shape, MAX_OVERLAY_PIXELS)
    assert (min_zoom, max_zoom, native) == (10, 10, False)


def _tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int, int, int]:
    """Tile x, y and the pixel column/row inside it of a point (slippy-map formulas; a 512 px tile
    at ``zoom`` spans the 256 px tile of ``zoom - 1``)."""
    n = 2**zoom * WORLD_PX // TILE_PX
    fx = (lon + 180.0) / 360.0 * n
    lat_r = math.radians(lat)
    fy = (1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n
    return int(fx), int(fy), int((fx % 1) * TILE_PX), int((fy % 1) * TILE_PX)


def test_tiles_show_the_raster_pixels_at_full_resolution(tmp_path):
    array, transform = _scene()
    tiles = render_tiles("scene|hr", array, UTM50, transform, _colour(), radiance_colours(), 1200, root=tmp_path)
    assert tiles is not None and tiles.url.startswith("/app/static/tiles/")
    folder = tmp_path / tile_token("scene|hr")
    assert sorted(p.name for p in folder.iterdir()) == ["10", "11"]
    expected = radiance_index(array, 100.0)
    checked = 0
    for row, col in [(200, 300), (800, 800), (1500, 100), (1234, 1456)]:
        # the centre of a source pixel, in lon/lat
        x, y = transform @ (col + 0.5, row + 0.5)
        (lon,), (lat,) = warp_transform(UTM50, WGS84, [x], [y])
        tx, ty, px, py = _tile_of(lon, lat, tiles.max_zoom)
        image = Image.open(folder / str(tiles.max_zoom) / str(tx) / f"{ty}.png")
        assert image.size == (TILE_PX, TILE_PX) and image.mode == "P"
        assert image.getpixel((px, py)) == expected[row, col]
        checked += 1
    assert checked == 4
    # nodata is transparent (palette index 0, the PNG's transparent index)
    x, y = transform @ (5, 5)
    (lon,), (lat,) = warp_transform(UTM50, WGS84, [x], [y])
    tx, ty, px, py = _tile_of(lon, lat, tiles.max_zoom)
    image = Image.open(folder / str(tiles.max_zoom) / str(tx) / f"{ty}.png")
    assert image.getpixel((px, py)) == 0 and image.info["transparency"] == 0


def test_a_tile_set_is_rendered_once_and_never_left_half_written(tmp_path):
    array, transform = _scene()
    first = render_tiles("k", array, UTM50, transform, _colour(), radiance_colours(), 1200, root=tmp_path)
    some_tile = next((tmp_path / tile_token("k")).rglob("*.png"))
    stamp = some_tile.stat().st_mtime_ns
    again = render_tiles("k", array, UTM50, transform, _colour(), radiance_colours(), 1200, root=tmp_path)
    assert again == first and some_tile.stat().st_mtime_ns == stamp
    assert tiles_present(first, root=tmp_path)

    calls = {"n": 0}

    def failing(a):
        calls["n"] += 1
        if calls["n"] > 2:
            raise RuntimeError("disk full")
        return radiance_index(a, 100.0)

    with pytest.raises(RuntimeError, match="disk full"):
        render_tiles("broken", array, UTM50, transform, failing, radiance_colours(), 1200, root=tmp_path)
    assert not (tmp_path / tile_token("broken")).exists()
    assert [p.name for p in tmp_path.iterdir()] == [tile_token("k")]  # no partial folder left


def test_tile_folders_cannot_be_guessed_from_the_key(monkeypatch):
    token = tile_token("demo|hr")
    assert token != tile_token("demo|sr") and len(token) == 32
    monkeypatch.setattr(tiles_mod, "_SECRET", os.urandom(32))
    assert tile_token("demo|hr") != token  # a keyed hash: another server process, other names


def test_eviction_removes_the_least_recently_used_sets_first(tmp_path):
    old = time.time() - 3600
    for i, name in enumerate(["a", "b", "c", "d"]):
        folder = tmp_path / name / "10" / "1"
        folder.mkdir(parents=True)
        (folder / "1.png").write_bytes(b"x" * 1000)
        os.utime(tmp_path / name, (old + i, old + i))
    os.utime(tmp_path / "d")  # just used
    removed = evict(tmp_path, keep=tmp_path / "a", limit=2000)
    assert [p.name for p in removed] == ["b", "c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "d"]


def test_an_evicted_set_is_seen_as_missing_and_rendered_again(tmp_path):
    array, transform = _scene()
    tiles = render_tiles("k", array, UTM50, transform, _colour(), radiance_colours(), 1200, root=tmp_path)
    shutil.rmtree(tmp_path / tile_token("k"))
    assert not tiles_present(tiles, root=tmp_path)
    again = render_tiles("k", array, UTM50, transform, _colour(), radiance_colours(), 1200, root=tmp_path)
    assert again == tiles and tiles_present(again, root=tmp_path)


def test_compare_maps_draw_the_tiles_over_the_overlay(tmp_path, monkeypatch):
    import geopandas as gpd
    from shapely.geometry import box

    monkeypatch.setattr(tiles_mod, "TILE_DIR", tmp_path)
    array, transform = _scene()
    with_tiles = radiance_overlay(array, UTM50, transform, 100.0, tile_key="scene|sr")
    no_tiles = radiance_overlay(array, UTM50, transform, 100.0)
    assert with_tiles.tiles is not None and no_tiles.tiles is None
    regions = gpd.GeoDataFrame({"name": ["all"]}, geometry=[box(300_000, 3_292_000, 508_000, 3_500_000)], crs=UTM50)
    html = compare_maps(
        [Panel("SR", with_tiles, "panel-sr"), Panel("LR", no_tiles, "panel-lr")],
        (Panel("LR", no_tiles, "panel-lr"), Panel("SR", with_tiles, "panel-sr")),
        regions, "all", ["test"], "",
    )
    assert html.count("L.tileLayer(") == 2  # the SR panel and the swipe map's SR side
    assert with_tiles.tiles.url.replace("/", "\\/") in html or with_tiles.tiles.url in html
    assert f"maxNativeZoom: {with_tiles.tiles.max_zoom}" in html.replace('"', "")
