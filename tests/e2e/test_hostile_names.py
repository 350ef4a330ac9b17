"""A hostile region name in an uploaded file renders as text in a real browser, and no script runs.

The region file names a region ``<img src=x onerror=...>``; if any of it became markup (Leaflet
tooltips, map controls and attributions insert HTML), the ``onerror`` handler would set
``window.__pwned`` in the map frame and in the app page. The upload stays with the browser that made
it: a page reload (a click on the map) finds it again, another browser never sees it.
"""

from __future__ import annotations

import io
import json
import urllib.parse

import numpy as np
import pytest
import rasterio
from affine import Affine

from tests.e2e.browser_helpers import map_frames, wait_for_map, wait_for_text

pytestmark = pytest.mark.e2e

HOSTILE = '<img src=x onerror="window.__pwned=1;window.parent.__pwned=1">'
NO_SCRIPT_RAN_JS = "() => typeof window.__pwned === 'undefined' && !document.querySelector('img[src=\"x\"]')"


def _geotiff_bytes() -> bytes:
    values = np.random.default_rng(0).gamma(1.0, 8.0, (64, 64)).astype("f4")
    buffer = io.BytesIO()
    with rasterio.MemoryFile() as memfile:
        with memfile.open(driver="GTiff", width=64, height=64, count=1, dtype="float32", crs="EPSG:4326",
                          transform=Affine(0.004, 0, 5.0, 0, -0.004, 33.0)) as dst:
            dst.write(values, 1)
        buffer.write(memfile.read())
    return buffer.getvalue()


def _regions_bytes() -> bytes:
    def feature(name: str, south: float, north: float) -> dict:
        ring = [[5.0, south], [5.256, south], [5.256, north], [5.0, north], [5.0, south]]
        return {"type": "Feature", "properties": {"name": name}, "geometry": {"type": "Polygon", "coordinates": [ring]}}

    # "Plain" first: it is selected by default (drawn unfilled), the hostile one is an ordinary outline
    collection = {"type": "FeatureCollection",
                  "features": [feature("Plain", 32.87, 33.0), feature(HOSTILE, 32.744, 32.87)]}
    return json.dumps(collection).encode()


def _assert_no_script_ran(page) -> None:
    assert page.evaluate(NO_SCRIPT_RAN_JS), "the hostile name became markup in the app page"
    for frame in map_frames(page):
        assert frame.evaluate(NO_SCRIPT_RAN_JS), "the hostile name became markup in a map"


def _upload(page, app_url: str) -> None:
    page.goto(f"{app_url}/data?model=bicubic")
    wait_for_text(page, "Upload your own data")
    uploaders = page.locator('[data-testid="stFileUploader"]')
    # by its label: the form's uploaders do not always appear in page order while the page renders
    uploaders.filter(has_text="Night-light GeoTIFF").first.locator('input[type="file"]').set_input_files(
        {"name": "hostile.tif", "mimeType": "image/tiff", "buffer": _geotiff_bytes()}
    )
    page.get_by_text("hostile.tif").first.wait_for()
    uploaders.filter(has_text="Optional: regions").locator('input[type="file"]').set_input_files(
        {"name": "regions.geojson", "mimeType": "application/geo+json", "buffer": _regions_bytes()}
    )
    page.get_by_text("regions.geojson").first.wait_for()
    page.get_by_role("button", name="Load the upload").click()
    wait_for_text(page, "Loaded hostile.tif")


def test_a_hostile_region_name_renders_as_text_and_no_script_runs(page, app_url, browser):
    _upload(page, app_url)
    _assert_no_script_ran(page)
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Home").first.click()  # same session
    wait_for_map(page, min_rasters=1)
    frame = map_frames(page)[0]
    names = frame.evaluate(
        "() => Object.values(window).filter(v => v && v.eachLayer && v.getLayers && v.getLayers()[0] &&"
        " v.getLayers()[0].feature).flatMap(g => g.getLayers().map(l => l.feature.properties.name))"
    )
    assert HOSTILE in names and "Plain" in names
    hostile_path = frame.locator("path.leaflet-interactive").nth(names.index(HOSTILE))

    hostile_path.hover(force=True)  # shows the sticky tooltip with the region's name
    tooltip = frame.locator(".leaflet-tooltip")
    tooltip.first.wait_for(timeout=30_000)
    assert tooltip.first.inner_text().strip() == HOSTILE  # the name, shown as text
    assert frame.locator(".leaflet-tooltip img").count() == 0
    _assert_no_script_ran(page)

    # a click selects it: the page reloads (a new Streamlit session) and the same browser keeps its upload
    hostile_path.click(force=True)
    page.wait_for_url(lambda url: "region=" in url and "%3Cimg" in url.replace("%3c", "%3C"), timeout=60_000)
    wait_for_map(page, predicate=lambda s: s["selected"] >= 1)
    assert "dataset=upload%3A" in page.url or "dataset=upload:" in page.url
    wait_for_text(page, "Upload: hostile.tif")
    _assert_no_script_ran(page)
    shared_url = page.url

    # another browser, given the very same link, does not get this upload
    other_context = browser.new_context(viewport={"width": 1500, "height": 1300})
    try:
        other = other_context.new_page()
        other.set_default_timeout(120_000)
        other.goto(shared_url)
        wait_for_map(other)
        query = urllib.parse.parse_qs(urllib.parse.urlparse(other.url).query)
        assert query.get("dataset") == ["demo"], other.url
        assert other.get_by_text("Upload: hostile.tif").count() == 0
        _assert_no_script_ran(other)
    finally:
        other_context.close()
