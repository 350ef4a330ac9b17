"""Full resolution in a real browser: a region larger than the overlay cap gets its tile pyramid, and
zooming in loads 512 px tiles from /app/static/tiles in the synchronised panels and the swipe map."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from app.tiles import TILE_PX
from tests.e2e.browser_helpers import map_frames, wait_for_map
from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

# the whole of Cote d'Ivoire: 1420 x 1361 HR pixels, more than the 1200 px overlay holds
COTE_DIVOIRE_AOI = "-8.7,4.2;-2.4,4.2;-2.4,10.8;-8.7,10.8"

LOADED_TILES_JS = f"""() => Array.from(document.querySelectorAll('.deeplight-tiles img.leaflet-tile'))
  .filter(img => img.complete && img.naturalWidth === {TILE_PX})
  .map(img => new URL(img.src).pathname)"""


def test_zooming_in_loads_full_resolution_tiles(page, app_url, shared_data):
    query = urllib.parse.urlencode({"dataset": "cote_divoire", "aoi": COTE_DIVOIRE_AOI, "model": "bicubic"})
    page.goto(f"{app_url}/compare?{query}")
    wait_for_map(page, min_rasters=4, timeout_s=240)
    frame = next(f for f in map_frames(page) if f.locator("#panel-hr").count())
    fitted = frame.evaluate(LOADED_TILES_JS)
    fitted_zoom = max((int(t.split("/")[5]) for t in fitted), default=-1)
    zoom_in = frame.locator(".leaflet-control-zoom-in").first
    for _ in range(3):
        zoom_in.click()
        time.sleep(0.4)
    deadline = time.monotonic() + 60
    tiles: list[str] = []
    while time.monotonic() < deadline:
        tiles = [t for t in frame.evaluate(LOADED_TILES_JS) if int(t.split("/")[5]) > fitted_zoom]
        if len(tiles) >= 8:
            break
        time.sleep(0.2)
    assert len(tiles) >= 8, f"no finer tiles loaded after zooming in (fitted view: {fitted})"
    assert all(t.startswith("/app/static/tiles/") and t.endswith(".png") for t in tiles)
    # LR, SR and HR panels and both sides of the swipe map draw their own tile sets
    folders = {t.split("/")[4] for t in tiles}
    assert len(folders) >= 3, folders
    # no tile request outside the raster failed (a 404 would leave a broken image)
    broken = frame.evaluate(
        "() => Array.from(document.querySelectorAll('.deeplight-tiles img.leaflet-tile'))"
        ".filter(img => img.complete && img.naturalWidth === 0).length"
    )
    assert broken == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("iframe").first.screenshot(path=str(SCREENSHOTS / "full_resolution_zoom.png"))
