"""The map HTML is offline: vendored Leaflet and plugins from /app/static, no CDN, files present."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import box

from app.maps import Panel, compare_maps, picker_map
from app.overlay import radiance_overlay
from app.settings import STATIC_DIR, STATIC_URL

REGIONS = gpd.GeoDataFrame(
    {"name": ["North", "South's"]},
    geometry=[box(121.0, 31.2, 121.4, 31.4), box(121.0, 31.0, 121.4, 31.2)],
    crs="EPSG:4326",
)
OVERLAY = radiance_overlay(
    np.ones((20, 20)), CRS.from_epsg(4326), Affine(0.02, 0, 121.0, 0, -0.02, 31.4), 10.0
)


def _static_refs(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/app/static/[^"]+)"', html)


def _assert_offline(html: str) -> None:
    assert not re.search(r'(?:src|href)="https?://', html), (
        "a script or stylesheet would come from the network"
    )
    refs = _static_refs(html)
    assert refs
    for ref in refs:
        assert (STATIC_DIR / ref[len(STATIC_URL) + 1 :]).is_file(), ref


def test_picker_map_is_offline_with_draw_tools_and_click_navigation():
    html = picker_map(REGIONS, "North", ["Credit A", "Credit <B>"], overlay=OVERLAY)
    _assert_offline(html)
    assert "leaflet.draw.js" in html and "L.Control.Draw" in html
    assert "deeplightNavigate({region: feature.properties.name, aoi: null})" in html
    assert "Credit \\u0026lt;B\\u0026gt;" in html  # attribution is HTML-escaped, then JS-escaped
    assert '"South\'s"' in html or "South's" in html


def test_picker_map_online_basemap_only_when_asked():
    assert "tile.openstreetmap.org" not in picker_map(REGIONS, None, [])
    assert "tile.openstreetmap.org" in picker_map(REGIONS, None, [], basemap=True)


def test_compare_maps_sync_every_panel_and_swipe():
    panels = [
        Panel("LR", OVERLAY, "panel-lr"),
        Panel("SR", OVERLAY, "panel-sr"),
        Panel("HR", OVERLAY, "panel-hr"),
    ]
    html = compare_maps(panels, (panels[1], panels[2]), REGIONS, "North", ["credit"], "<div>legend</div>")
    _assert_offline(html)
    names = set(re.findall(r"(map_[0-9a-f]{32})\.sync\(", html))
    assert len(names) == 4  # three panels plus the swipe map, each synced with the others
    assert html.count(".sync(") == 12
    assert "L.control.sideBySide" in html and "leaflet-side-by-side.js" in html
    assert html.count("L.imageOverlay(DEEPLIGHT_IMAGES[") == 5
    assert html.count("data:image/png;base64,") == 1  # one shared image, written once
    assert "<div>legend</div>" in html


def test_vendored_licences_are_present():
    for folder in ("leaflet", "leaflet-draw", "leaflet-sync", "leaflet-side-by-side"):
        assert (STATIC_DIR / folder / "LICENSE").stat().st_size > 500


def test_names_from_user_files_are_neither_template_code_nor_html():
    evil = "{{ 7*7 }}{% raw %}</script><script>alert(1)</script>"
    regions = gpd.GeoDataFrame({"name": [evil]}, geometry=[box(121.0, 31.0, 121.4, 31.4)], crs="EPSG:4326")
    panels = [Panel(evil, OVERLAY, "panel-lr"), Panel("SR", OVERLAY, "panel-sr")]
    for html in (
        picker_map(regions, evil, [evil], overlay=OVERLAY),
        compare_maps(panels, (panels[0], panels[1]), regions, evil, [evil], "<div>legend</div>"),
    ):
        assert "alert(1)</script>" not in html
        assert "{\\u0025 raw %}\\u003c/script\\u003e" in html  # the whole name survives as data
        assert "{\\u007b 7*7 }}" in html  # kept as text (JS decodes it to "{{ 7*7 }}"), not evaluated


def test_js_literal_round_trips_through_json():
    from app.maps import js_literal

    value = {"name": "{{x}} {%y%} {#z#} </script> & <b>", "nested": {"a": [1, {}]}}
    assert json.loads(js_literal(value)) == value


HOSTILE = '<img src=x onerror="window.__pwned=1;window.parent.__pwned=1">'


def _tooltip_labels(html_text: str) -> list[str]:
    """The ``label`` properties of the region GeoJSON embedded in the map HTML (JS literals decoded)."""
    found = re.findall(r'"label": ("(?:[^"\\]|\\.)*")', html_text)
    return [json.loads(text) for text in found]


def test_a_hostile_region_name_is_escaped_in_every_map():
    import html as html_module

    regions = gpd.GeoDataFrame(
        {"name": [HOSTILE, "Plain"]},
        geometry=[box(121.0, 31.0, 121.4, 31.2), box(121.0, 31.2, 121.4, 31.4)],
        crs="EPSG:4326",
    )
    panels = [Panel(HOSTILE, OVERLAY, "panel-lr"), Panel("SR", OVERLAY, "panel-sr")]
    for page_html in (
        picker_map(regions, HOSTILE, [f"User upload: {HOSTILE}"], overlay=OVERLAY),
        compare_maps(panels, (panels[0], panels[1]), regions, HOSTILE, [HOSTILE], "<div>legend</div>"),
    ):
        assert "<img" not in page_html and "onerror=\"window" not in page_html  # never markup in the page
        # the tooltip gets the HTML-escaped label, never the raw name
        assert "bindTooltip(feature.properties.label" in page_html
        assert "bindTooltip(feature.properties.name" not in page_html
        labels = _tooltip_labels(page_html)
        assert html_module.escape(HOSTILE, quote=True) in labels and "Plain" in labels
        assert all("<" not in label and '"' not in label for label in labels)
        # title control and attribution: escaped text too
        assert "\\u0026lt;img src=x onerror=\\u0026quot;window.__pwned=1" in page_html
        # the raw name is kept as data for selection (compared, put into the URL, never into HTML)
        assert json.dumps(HOSTILE).replace("<", "\\u003c").replace(">", "\\u003e") in page_html


def test_maps_are_leafmap_maps_that_keep_their_own_height():
    """The maps are leafmap.foliumap maps (with the vendored Leaflet), and the map element keeps the
    height it is given (leafmap would otherwise size it 100% of a wrapping figure)."""
    import leafmap.foliumap

    from app.maps import OfflineMap

    assert issubclass(OfflineMap, leafmap.foliumap.Map)
    assert "height: 433.0px" in picker_map(REGIONS, None, [], height_px=433)


def _state(html: str) -> dict:
    found = re.search(r'<script id="deeplight-state" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the map page carries its state"
    return json.loads(found.group(1))


def test_a_time_step_keeps_the_signature_so_the_frame_swaps_images_in_place():
    grid = (CRS.from_epsg(4326), Affine(0.02, 0, 121.0, 0, -0.02, 31.4))
    year_a = radiance_overlay(np.ones((20, 20)), *grid, 10.0)
    year_b = radiance_overlay(np.full((20, 20), 5.0), *grid, 10.0)

    def page(overlay, selected="North", legend="<div>legend A</div>"):
        panels = [Panel("LR", overlay, "panel-lr"), Panel("SR", overlay, "panel-sr")]
        return compare_maps(panels, (panels[0], panels[1]), REGIONS, selected, ["credit"], legend)

    a, b = _state(page(year_a)), _state(page(year_b, legend="<div>legend B</div>"))
    assert a["signature"] == b["signature"]  # same region, panels and grid: update in place
    assert a["images"] != b["images"] and b["images"] == [year_b.url]
    assert [layer["image"] for layer in b["layers"]] == [0, 0, 0, 0]  # two panels + both swipe sides
    assert b["legend"] == "<div>legend B</div>"
    assert _state(page(year_a, selected="South's"))["signature"] != a["signature"]  # another region: rebuild
    html = page(year_a)
    assert "window.deeplightUpdate" in html and html.count(").push({overlay: ") == 4
    assert '<div id="deeplight-legend-slot"><div>legend A</div></div>' in html
