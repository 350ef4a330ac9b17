"""The dashboard in a real browser: maps draw offline, region picking, swipe, CSV download, uploads."""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.browser_helpers import choose_in_selectbox, map_frames, wait_for_map, wait_for_text

pytestmark = pytest.mark.e2e

TOUGGOURT_VNL = "touggourt/VNL_v2_npp_2020_global_vcmslcfg_c202102150000.average_masked.tif"
DOCUMENTED_COLUMNS = [
    "region",
    "product",
    "year",
    "indicator",
    "value",
    "unit",
    "lower",
    "upper",
    "simulated",
    "method",
    "note",
]


def _url(base: str, path: str = "", **params: str) -> str:
    return f"{base}/{path}" + ("?" + urllib.parse.urlencode(params) if params else "")


def test_home_loads_and_the_map_draws_offline(page, app_url):
    external = []
    page.on(
        "request",
        lambda r: (
            external.append(r.url) if not r.url.startswith((app_url, "data:", "about:", "blob:")) else None
        ),
    )
    page.goto(_url(app_url, dataset="demo"))
    wait_for_text(page, "DeepLight - finer night-time lights")
    state = wait_for_map(page, min_rasters=1)
    assert state["leaflet"] and state["maps"] == 1 and state["selected"] >= 1
    assert external == []  # nothing fetched from the network


def test_clicking_a_region_on_the_map_selects_it(page, app_url):
    page.goto(_url(app_url, dataset="demo"))
    wait_for_map(page)
    frame = map_frames(page)[0]
    regions = frame.locator("path.leaflet-interactive")
    names = frame.evaluate(
        "() => Object.values(window).filter(v => v && v.eachLayer && v.getLayers && "
        "v.getLayers()[0] && v.getLayers()[0].feature).flatMap(g => g.getLayers()"
        ".map(l => l.feature.properties.name))"
    )
    target_index = len(names) - 1
    page.evaluate("window.deeplightNoReload = 42")  # a page reload would drop it
    regions.nth(target_index).click(force=True)
    page.wait_for_url(
        lambda url: (
            "region=" in url
            and (
                urllib.parse.quote(names[target_index]) in url
                or urllib.parse.quote_plus(names[target_index]) in url
            )
        ),
        timeout=30_000,
    )
    wait_for_map(page, predicate=lambda s: s["selected"] >= 1)
    assert page.evaluate("window.deeplightNoReload") == 42  # selected without reloading the page
    wait_for_text(page, f"Selected: {names[target_index]}")


def test_picking_a_shanghai_district_updates_the_compare_maps(page, app_url, shared_data):
    page.goto(
        # no model in the URL: the default, the DeepLightSR demo checkpoint when it is there
        _url(app_url, "compare", dataset="shanghai_npp_viirs", region="Pudong (浦东新区)")
    )
    before = wait_for_map(page, min_rasters=4)
    assert set(before["titles"]) >= {"panel-lr", "panel-sr", "panel-hr", "panel-swipe"}
    choose_in_selectbox(page, "Region", "Xuhui")
    after = wait_for_map(
        page, min_rasters=4, predicate=lambda s: s["rasterSources"] != before["rasterSources"]
    )
    assert after["rasterSources"] != before["rasterSources"]
    assert "Xuhui" in urllib.parse.unquote_plus(page.url)
    wait_for_text(page, "Region metrics vs HR")
    wait_for_text(page, "Simulated LR")


def test_the_swipe_control_is_there(page, app_url):
    page.goto(_url(app_url, "compare", dataset="demo", model="bicubic"))
    state = wait_for_map(page, min_rasters=4, predicate=lambda s: s["swipe"])
    assert state["swipe"] and "panel-swipe" in state["titles"]


def test_sdg_csv_download_has_the_district(page, app_url, shared_data):
    page.goto(_url(app_url, "sdg", dataset="shanghai_npp_viirs", region="Xuhui (徐汇区)", model="bicubic"))
    button = page.get_by_role("button", name="Indicators CSV")
    button.wait_for(timeout=90_000)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    path = info.value.path()
    frame = pd.read_csv(path, comment="#")
    assert list(frame.columns) == DOCUMENTED_COLUMNS
    assert set(frame["region"]) == {"Xuhui (徐汇区)"}
    assert {"lr", "sr", "hr"} == set(frame["product"])
    assert frame.loc[frame["product"] == "lr", "simulated"].all()
    assert frame.loc[frame["product"] == "sr", "simulated"].all()  # reconstructed from a simulated LR
    header = Path(path).read_text(encoding="utf-8").split("\n")[0]
    assert header.startswith("#")


def _upload(page, app_url, file_name: str, data: bytes, role_label: str | None = None) -> None:
    page.goto(_url(app_url, "data", model="bicubic"))
    wait_for_text(page, "Upload your own data")
    # by its label: the uploaders of the form do not always appear in page order while the page renders
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Night-light GeoTIFF").first
    uploader.locator('input[type="file"]').set_input_files({"name": file_name, "mimeType": "image/tiff", "buffer": data})
    page.get_by_text(file_name).first.wait_for()
    if role_label:
        page.get_by_text(role_label).first.click()
    page.get_by_role("button", name="Load the upload").click()


def test_uploading_touggourt_viirs_produces_a_reconstruction(page, app_url, shared_data):
    data = (shared_data / TOUGGOURT_VNL).read_bytes()
    _upload(page, app_url, "tgt_vnl.tif", data, role_label="Real LR to reconstruct")
    wait_for_text(page, "Loaded tgt_vnl.tif")
    page.get_by_text("Reconstruct and compare it").click()
    state = wait_for_map(page, min_rasters=2, timeout_s=120, predicate=lambda s: "panel-sr" in s["titles"])
    assert "panel-lr" in state["titles"] and "panel-hr" not in state["titles"]
    wait_for_text(page, "No HR reference for this data set")


def test_corrupt_upload_shows_an_error_and_the_app_still_answers(page, app_url):
    _upload(page, app_url, "corrupt.tif", b"II*\x00" + b"not really a tiff " * 200)
    wait_for_text(page, "Upload not usable")
    assert page.get_by_text("corrupt.tif").first.is_visible()
    with urllib.request.urlopen(f"{app_url}/_stcore/health", timeout=5) as response:
        assert response.read().strip() == b"ok"
    page.goto(_url(app_url, dataset="demo"))
    wait_for_map(page)


def test_drawing_a_rectangle_selects_that_area(page, app_url):
    page.goto(_url(app_url, dataset="demo", model="bicubic"))
    wait_for_map(page)
    frame = map_frames(page)[0]
    frame.locator("a.leaflet-draw-draw-rectangle").click()
    box = page.locator("iframe").first.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.35
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 80, y0 + 60, steps=8)
    page.mouse.up()
    page.evaluate("window.deeplightNoReload = 7")
    page.wait_for_url(lambda url: "aoi=" in url, timeout=30_000)
    wait_for_text(page, "Selected: Drawn area")
    assert page.evaluate("window.deeplightNoReload") == 7  # no page reload
    frame_state = wait_for_map(page, predicate=lambda s: s["selected"] == 1)
    assert frame_state["selected"] == 1  # the drawn area is outlined as the selection


def test_a_region_file_on_home_becomes_the_area(page, app_url, e2e_home):
    import geopandas as gpd

    regions = gpd.read_file(e2e_home / "demo" / "regions.geojson")
    page.goto(_url(app_url, dataset="demo", model="bicubic"))
    wait_for_map(page)
    page.get_by_text("Use a region file instead").click()
    page.locator('[data-testid="stFileUploader"]').first.locator('input[type="file"]').set_input_files(
        {
            "name": "area.geojson",
            "mimeType": "application/geo+json",
            "buffer": regions.iloc[[0]].to_json().encode(),
        }
    )
    page.get_by_role("button", name="Use this area").click()
    wait_for_text(page, "Selected: Drawn area")
    assert "aoi=" in page.url


def test_models_page_loads(page, app_url):
    page.goto(_url(app_url, "models"))
    wait_for_text(page, "Models and benchmarks")
    wait_for_text(page, "Model card")
