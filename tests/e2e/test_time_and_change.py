"""Time and change in a real browser: the time slider on the Compare maps, the before/after difference
map, the URL that keeps them, and the SDG page's CO2 input and readable series."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.e2e.browser_helpers import map_frames, wait_for_map, wait_for_text
from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

HUANGPU = "Huangpu (黄浦区)"
ZOOMS_JS = "() => Object.values(window).filter(v => v instanceof L.Map).map(m => m.getZoom())"


def _url(base: str, path: str = "", **params: str) -> str:
    return f"{base}/{path}" + ("?" + urllib.parse.urlencode(params) if params else "")


def _params(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlparse(url).query))


def _shot(locator, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(SCREENSHOTS / name))


def _main_slider(page, label: str):
    return page.locator('[data-testid="stMain"] [data-testid="stSlider"]').filter(has_text=label).first


def test_time_slider_steps_the_maps_and_the_url_keeps_the_year(page, app_url, shared_data):
    page.goto(_url(app_url, "compare", dataset="shanghai_npp_viirs", region=HUANGPU, model="bicubic", year="2018"))
    before = wait_for_map(page, min_rasters=4)
    slider = _main_slider(page, "Year")
    slider.wait_for()
    assert page.locator('[data-testid="stSidebar"] [data-testid="stSlider"]').count() == 0  # on the maps
    frame = next(f for f in map_frames(page) if f.locator("#panel-sr").count())
    frame.locator(".leaflet-control-zoom-in").first.click()  # the analyst zooms in, then steps in time
    frame.wait_for_timeout(600)
    zooms = frame.evaluate(ZOOMS_JS)
    frame.evaluate("window.deeplightSameDocument = 1")
    slider.locator('input[type="range"]').focus()  # react-aria's thumb
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(lambda url: _params(url).get("year") == "2017", timeout=60_000)
    after = wait_for_map(page, min_rasters=4, predicate=lambda s: s["rasterSources"] != before["rasterSources"])
    assert after["rasterSources"] != before["rasterSources"]
    # the new year's images were swapped into the same maps: same document, same zoom
    assert frame.evaluate("window.deeplightSameDocument") == 1
    assert frame.evaluate(ZOOMS_JS) == zooms
    wait_for_text(page, "Shanghai 2017")
    _shot(page.locator('[data-testid="stMain"]'), "time_slider_compare.png")
    shared = page.url
    page.goto(shared)  # the shared link opens the same year
    wait_for_map(page, min_rasters=4)
    wait_for_text(page, "Shanghai 2017")
    assert _params(page.url)["year"] == "2017"
    assert "2017" in _main_slider(page, "Year").inner_text()


def test_difference_map_draws_and_is_kept_in_the_url(page, app_url, shared_data):
    page.goto(_url(app_url, "compare", dataset="shanghai_npp_viirs", region=HUANGPU, model="bicubic", year="2020"))
    wait_for_map(page, min_rasters=4)
    page.get_by_text("Before/after difference map").click()
    page.wait_for_url(lambda url: _params(url).get("diff") == "1" and "before" in _params(url), timeout=60_000)
    state = wait_for_map(page, min_rasters=3, predicate=lambda s: "panel-diff-hr" in s["titles"])
    assert {"panel-diff-lr", "panel-diff-sr", "panel-diff-hr"} <= set(state["titles"])
    assert state["rasters"] >= 3  # each panel's image overlay is loaded (decoded, non-zero width)
    diff_frame = next(f for f in map_frames(page) if f.locator("#panel-diff-hr").count())
    assert diff_frame.locator(".deeplight-diff-legend").count() == 1
    wait_for_text(page, "Change of Huangpu")
    iframe = page.locator("iframe").nth(1)
    iframe.scroll_into_view_if_needed()
    _shot(iframe, "difference_map.png")
    params = _params(page.url)
    assert params["year"] == "2020" and params["before"] == "2013"
    page.goto(page.url)  # a reload keeps the toggle, the "before" date and the year
    state = wait_for_map(page, min_rasters=3, predicate=lambda s: "panel-diff-hr" in s["titles"])
    assert _params(page.url)["diff"] == "1" and _params(page.url)["year"] == "2020"
    # off and on again: the difference map stays loaded while hidden and comes back fitted, not rebuilt
    diff_frame = next(f for f in map_frames(page) if f.locator("#panel-diff-hr").count())
    zooms = diff_frame.evaluate(ZOOMS_JS)
    diff_frame.evaluate("window.deeplightKept = 1")
    toggle = page.get_by_text("Before/after difference map")
    toggle.click()
    page.wait_for_url(lambda url: "diff" not in _params(url), timeout=60_000)
    page.wait_for_function(
        "el => el.getBoundingClientRect().height === 0", arg=diff_frame.frame_element(), timeout=60_000
    )
    toggle.click()
    page.wait_for_url(lambda url: _params(url).get("diff") == "1", timeout=60_000)
    page.wait_for_function(
        "el => el.getBoundingClientRect().height > 300", arg=diff_frame.frame_element(), timeout=60_000
    )
    assert diff_frame.evaluate("window.deeplightKept") == 1  # the same map document
    page.wait_for_timeout(300)
    assert diff_frame.evaluate(ZOOMS_JS) == zooms  # fitted to its visible size again


def test_sdg_co2_input_and_small_multiples(page, app_url, shared_data):
    page.goto(
        _url(app_url, "sdg", dataset="shanghai_npp_viirs", region=HUANGPU, model="bicubic", co2="120000",
             series="small multiples")
    )
    wait_for_text(page, "co2_emissions")
    wait_for_text(page, "light_gini")
    page.get_by_text("CO2 per cell").first.wait_for()
    _shot(page.locator('[data-testid="stExpander"]').filter(has_text="CO2 emission proxy").first, "co2_inputs.png")
    page.get_by_role("button", name="Compute the time series").click()
    page.get_by_text("Change per region").first.wait_for(timeout=120_000)
    chart = page.locator('[data-testid="stPlotlyChart"]').last
    chart.scroll_into_view_if_needed()
    _shot(chart, "series_chart.png")
    assert _params(page.url)["co2"] == "120000"


def test_the_map_view_goes_into_the_url_and_a_shared_link_reopens_it(page, app_url, shared_data):
    page.goto(_url(app_url, "compare", dataset="shanghai_npp_viirs", region=HUANGPU, model="bicubic", year="2018"))
    wait_for_map(page, min_rasters=4)
    frame = next(f for f in map_frames(page) if f.locator("#panel-sr").count())
    frame.wait_for_timeout(800)  # the map reports moves once its fit has settled
    frame.locator(".leaflet-control-zoom-in").first.click()
    page.wait_for_url(lambda url: "view" in _params(url), timeout=60_000)
    zoom = frame.evaluate(ZOOMS_JS)[0]
    lat, lon, z = (float(v) for v in _params(page.url)["view"].split(","))
    assert z == zoom
    page.goto(page.url)  # the shared link
    wait_for_map(page, min_rasters=4)
    frame = next(f for f in map_frames(page) if f.locator("#panel-sr").count())
    frame.wait_for_timeout(800)
    assert frame.evaluate(ZOOMS_JS) == [zoom] * len(frame.evaluate(ZOOMS_JS))
    centre = frame.evaluate("() => { const m = Object.values(window).find(v => v instanceof L.Map);"
                            " const c = m.getCenter(); return [c.lat, c.lng]; }")
    assert abs(centre[0] - lat) < 1e-3 and abs(centre[1] - lon) < 1e-3


HIMALAYA = "real_hr/india-himalaya-viirs-monthly"
LEH_MONTHS = ("2023_07", "2024_01", "2026_01")
"""Leh months whose cloud-free counts have 6-7 % of cells never seen cloud-free (masked, not dark)."""


def _tiffs(paths) -> list[dict]:
    return [{"name": p.name, "mimeType": "image/tiff", "buffer": p.read_bytes()} for p in paths]


def test_a_monthly_series_upload_gets_a_month_slider(page, app_url, shared_data):
    folder = shared_data / HIMALAYA
    ntls = [folder / f"viirs_leh_{m}.tif" for m in LEH_MONTHS]
    counts = [folder / f"viirs_leh_{m}_cf.tif" for m in LEH_MONTHS]
    page.goto(_url(app_url, "data", model="bicubic"))
    wait_for_text(page, "Upload your own data")
    uploaders = page.locator('[data-testid="stFileUploader"]')
    uploaders.filter(has_text="Night-light GeoTIFF").first.locator('input[type="file"]').set_input_files(_tiffs(ntls))
    uploaders.filter(has_text="cloud-free observation counts").first.locator('input[type="file"]').set_input_files(
        _tiffs(counts)
    )
    # the chips show shortened names: wait until all six files are listed
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stFileChip\"]').length >= 6"
        " && !document.querySelector('[data-testid=\"stFileChipIconSpinner\"]')",
        timeout=60_000,
    )
    page.get_by_role("button", name="Load the upload").click()
    wait_for_text(page, "(3 months)")
    wait_for_text(page, "time series of 3 months, 2023-07 to 2026-01")
    wait_for_text(page, "cloud-free count of 0 are masked")
    page.get_by_text("Reconstruct and compare it").click()
    before = wait_for_map(page, min_rasters=3)
    slider = _main_slider(page, "Month")
    slider.wait_for()
    assert "2026-01" in slider.inner_text()
    slider.locator('input[type="range"]').focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(lambda url: _params(url).get("month") == "2024-01", timeout=60_000)
    after = wait_for_map(page, min_rasters=3, predicate=lambda s: s["rasterSources"] != before["rasterSources"])
    assert after["rasterSources"] != before["rasterSources"]
    wait_for_text(page, "(2024-01)")
    _shot(page.locator('[data-testid="stMain"]'), "upload_series_compare.png")
