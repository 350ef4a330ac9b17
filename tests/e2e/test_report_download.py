"""The SDG page's report download in a real browser: the button gives one HTML file holding the
LR/SR/HR indicator table and the SIMULATED flags, and that file draws its maps and charts offline."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import geopandas as gpd
import pytest

from tests.e2e.browser_helpers import wait_for_text
from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e


def _url(base: str, path: str = "", **params: str) -> str:
    return f"{base}/{path}" + ("?" + urllib.parse.urlencode(params) if params else "")


def test_report_download_is_html_with_the_table_and_the_simulated_flag(
    page, app_url, e2e_home, browser, tmp_path
):
    region = gpd.read_file(e2e_home / "demo" / "regions.geojson")["name"].iloc[0]
    page.goto(_url(app_url, "sdg", dataset="demo", region=region, model="bicubic"))
    wait_for_text(page, "Simulated LR")
    button = page.get_by_role("button", name="Report (HTML)")
    button.wait_for(timeout=120_000)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename.startswith("deeplight_report_demo_")
    assert download.suggested_filename.endswith(".html")
    saved = tmp_path / download.suggested_filename  # Playwright keeps downloads under a name without suffix
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert 'id="indicator-table"' in text and f"<td>{region}</td>" in text
    for column in ("lr (simulated)", "sr (from simulated LR)", "hr (synthetic)"):
        assert f"<th>{column}</th>" in text
    assert 'id="simulated-flags"' in text and "SIMULATED LR" in text and "SYNTHETIC HR" in text
    assert "bicubic" in text and 'id="metadata-table"' in text

    # The file on its own, with the network cut off: maps and charts draw, nothing is fetched.
    context = browser.new_context(viewport={"width": 1300, "height": 1000}, offline=True)
    try:
        tab = context.new_page()
        requests, errors = [], []
        tab.on(
            "request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None
        )
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(saved.resolve().as_uri())
        tab.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
        assert tab.locator(".js-plotly-plot").count() >= 3
        images = tab.evaluate(
            "() => Array.from(document.querySelectorAll('figure.map img'))"
            ".map(i => i.complete && i.naturalWidth)"
        )
        assert len(images) == 3 and all(images)  # LR, SR and HR maps decoded
        assert requests == [] and errors == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / "report_download.png"))
    finally:
        context.close()
