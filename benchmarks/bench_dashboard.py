"""Dashboard benchmark in a real browser (Playwright + Debian Chromium), on the built-in demo.

Measures, on this machine:
1. time from server start (process launch) to the first drawn map on Home (target < 10 s);
2. time to switch the Compare page to a region already reconstructed (cached) (target < 1 s);
3. time to reconstruct an uncached region with the demo checkpoint (target < 5 s), from the click in
   the region picker to the SR panel drawn;
4. whether 5 concurrent sessions asking for the same uncached region trigger exactly one inference
   (counted two ways: pages saying "SR computed now", and new entries in the inference cache);
5. the report download on the SDG page (target < 5 s): click on "Report (HTML)" -> the whole file
   saved by the browser, for a region already reconstructed;
6. on the real data of ``../shared/data`` (when present): a time-slider step to a year already
   shown, the before/after difference map switched on again (both cached, target < 1 s), and a
   full-resolution zoom (three zoom clicks -> finer tiles drawn, target < 1 s) on Cote d'Ivoire.

Writes benchmarks/results/dashboard.md and dashboard.csv and prints the table.
Run: ``.venv/bin/python benchmarks/bench_dashboard.py`` (``make bench`` prepares the demo first);
``--only report`` (or ``--only analyst``: step 6) measures that step alone and replaces (or adds) its
row(s) in the existing tables.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from app.tiles import TILE_PX  # noqa: E402
from tests.e2e.browser_helpers import find_in_selectbox, map_frames, wait_for_map
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app, wait_healthy

RESULTS = REPO_ROOT / "benchmarks" / "results"
MACHINE = "2-core x86 CPU, no GPU"
DEMO_CHECKPOINT = REPO_ROOT / "data" / "checkpoints" / "deeplightsr_demo.safetensors"


def _demo_dir() -> Path:
    from deeplight.data.demo import make_demo

    home = Path(os.environ.get("DEEPLIGHT_HOME", REPO_ROOT / "data" / "runtime"))
    make_demo(home / "demo")  # no-op when an up-to-date demo is there
    return home / "demo"


def _cache_entries(home: Path) -> int:
    return len(list((home / "cache" / "entries").glob("*/*.dlc")))


def _wait_changed(page, before: list[str], timeout_s: float = 120.0) -> dict:
    return wait_for_map(
        page,
        min_rasters=3,
        timeout_s=timeout_s,
        predicate=lambda s: s["rasterSources"] != before and "panel-sr" in s["titles"],
    )


def _server_side_switch(demo: Path, model: str) -> tuple[str, str, str, str]:
    """Script time alone (Streamlit AppTest, no browser) of switching the Compare page to a cached region."""
    from streamlit.testing.v1 import AppTest

    home = Path(tempfile.mkdtemp(prefix="deeplight-bench-apptest-"))
    (home / "demo").symlink_to(demo.resolve(), target_is_directory=True)
    os.environ["DEEPLIGHT_HOME"] = str(home)
    try:
        app = AppTest.from_file(str(REPO_ROOT / "app" / "main.py"), default_timeout=300)
        app.query_params["model"] = model
        app.run()
        app.switch_page(str(REPO_ROOT / "pages" / "compare.py"))
        app.run()

        def region_box():
            return next(s for s in app.sidebar.selectbox if s.label.startswith("Region"))

        first, second = region_box().options[:2]
        region_box().set_value(second).run()
        start = time.perf_counter()
        region_box().set_value(first).run()
        elapsed = time.perf_counter() - start
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return (
        "switch to a cached region, server script only (AppTest, no browser)",
        f"{elapsed:.2f}",
        "-",
        "the rest of the browser figure is websocket transfer and the iframe's map rebuild",
    )


REPORT_MEASURE = "report download (SDG page, one region, HTML)"


def _report_download(page, url: str, region: str, model: str) -> tuple[str, str, str, str]:
    """Click the SDG page's "Report (HTML)" button and time it until the browser has the whole file."""
    page.goto(f"{url}/sdg?dataset=demo&region={region}&model={model}")
    button = page.get_by_role("button", name="Report (HTML)")
    button.wait_for(timeout=240_000)
    page.wait_for_timeout(500)  # let the page settle (the button is drawn before the charts)
    start = time.perf_counter()
    with page.expect_download(timeout=120_000) as info:
        button.click()
    path = Path(info.value.path())  # waits for the download to finish
    elapsed = time.perf_counter() - start
    size_mb = path.stat().st_size / 1e6
    text = path.read_text(encoding="utf-8")
    ok = 'id="indicator-table"' in text and "SIMULATED" in text
    return (
        REPORT_MEASURE,
        f"{elapsed:.2f}",
        "< 5",
        f"{'PASS' if ok else 'FAIL'}: click -> file saved ({size_mb:.1f} MB: 3 maps, table, 3 charts, "
        f"plotly.js inlined); region {region}, SR already cached",
    )


SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TILES_JS = f"""() => Array.from(document.querySelectorAll('.deeplight-tiles img.leaflet-tile'))
  .filter(img => img.complete && img.naturalWidth === {TILE_PX}).map(img => new URL(img.src).pathname)"""


ZOOM_JS = """() => {
  const maps = Object.values(window).filter(v => v instanceof L.Map);
  const layers = [];
  maps.forEach(m => m.eachLayer(l => { if (l instanceof L.TileLayer) layers.push(l); }));
  let pending = layers.length;
  window.__zoomDone = null;
  const t0 = performance.now();
  layers.forEach(l => l.once('load', () => { pending -= 1; if (pending === 0) window.__zoomDone = performance.now() - t0; }));
  maps[0].setZoom(maps[0].getZoom() + 3);
}"""


def _slider_step(page, key: str, state: dict) -> tuple[float, dict]:
    """Press ``key`` on the Compare page's year slider; seconds until the maps show new rasters."""
    slider = page.locator('[data-testid="stMain"] [data-testid="stSlider"]').filter(has_text="Year").first
    slider.locator('input[type="range"]').focus()
    start = time.perf_counter()
    page.keyboard.press(key)
    new = wait_for_map(page, min_rasters=4, timeout_s=240, predicate=lambda s: s["rasterSources"] != state["rasterSources"])
    return time.perf_counter() - start, new


def _analyst_rows(browser, home: Path) -> list[tuple[str, str, str, str]]:
    """Time-slider step, difference map and full-resolution zoom on the real data (all cached)."""
    import urllib.parse

    rows = []
    process, url = start_app({"DEEPLIGHT_HOME": str(home), "DEEPLIGHT_DATA_DIR": str(SHARED_DATA)}, home / "analyst.log")
    context = browser.new_context(viewport={"width": 1500, "height": 1300})
    page = context.new_page()
    page.set_default_timeout(240_000)
    try:
        wait_healthy(url, process, 120)
        query = urllib.parse.urlencode(
            {"dataset": "shanghai_npp_viirs", "region": "Huangpu (黄浦区)", "model": "bicubic", "year": "2018"}
        )
        page.goto(f"{url}/compare?{query}")
        state = wait_for_map(page, min_rasters=4, timeout_s=240)
        _, state = _slider_step(page, "ArrowLeft", state)  # 2017, reconstructed once
        t_back, state = _slider_step(page, "ArrowRight", state)  # back to 2018: cached
        page.wait_for_timeout(3000)  # let the first return's page run finish
        t_step, state = _slider_step(page, "ArrowLeft", state)  # 2017 again: both years shown
        rows.append(
            (
                "time-slider step to a year already shown (Compare, Shanghai, Huangpu)",
                f"{t_step:.2f}",
                "< 1",
                "key press on the year slider -> the maps show the other year's rasters, swapped in place "
                f"(same maps, same zoom); bicubic SR; the first step back took {t_back:.2f} s",
            )
        )
        toggle = page.get_by_text("Before/after difference map")
        toggle.click()  # first time: the "before" year is read and reconstructed
        wait_for_map(page, min_rasters=3, timeout_s=240, predicate=lambda s: "panel-diff-hr" in s["titles"])
        toggle.click()
        # switched off: the difference map is gone or kept hidden (0 px) in the page
        page.wait_for_function(
            "() => !Array.from(document.querySelectorAll('iframe')).some(f => {"
            " try { const inner = f.contentDocument.querySelector('iframe');"
            " return inner && inner.getBoundingClientRect().height > 0 &&"
            " inner.contentDocument.getElementById('panel-diff-hr'); }"
            " catch (e) { return false; } })",
            timeout=120_000,
        )
        start = time.perf_counter()
        toggle.click()
        # on again: three drawn panels in a visible frame (a kept map only has to be shown and refitted)
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('iframe')).some(f => {"
            " try { const inner = f.contentDocument.querySelector('iframe');"
            " if (!inner || inner.getBoundingClientRect().height < 300) return false;"
            " const d = inner.contentDocument; return !!d.getElementById('panel-diff-hr') &&"
            " Array.from(d.querySelectorAll('img.leaflet-image-layer')).filter(i => i.complete && i.naturalWidth > 0).length >= 3; }"
            " catch (e) { return false; } })",
            timeout=240_000,
            polling=20,
        )
        t_diff = time.perf_counter() - start
        rows.append(
            (
                "difference map switched on again (Shanghai, 2013 vs 2018)",
                f"{t_diff:.2f}",
                "< 1",
                "toggle -> three diverging-scale panels drawn and visible; both dates already reconstructed; the map "
                "switched off was kept hidden in the page",
            )
        )
        aoi = "-8.7,4.2;-2.4,4.2;-2.4,10.8;-8.7,10.8"  # the whole of Cote d'Ivoire, 1420 x 1361 HR cells
        query = urllib.parse.urlencode({"dataset": "cote_divoire", "aoi": aoi, "model": "bicubic"})
        page.goto(f"{url}/compare?{query}")
        start = time.perf_counter()
        wait_for_map(page, min_rasters=4, timeout_s=400)
        t_first = time.perf_counter() - start
        # the zoom is measured on a page whose script run has finished (the metrics under the maps
        # keep the server busy for a while after the maps are drawn)
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=240_000)
        frame = next(f for f in map_frames(page) if f.locator("#panel-hr").count())
        before = set(frame.evaluate(TILES_JS))
        # zoom in by 3 levels at once on the first panel (as a mouse wheel or a double click does; the
        # synchronised maps follow), timed inside the page: from setZoom to the moment every tile layer
        # of every map has loaded all the tiles of its new view (Leaflet's 'load' event per layer)
        frame.evaluate(ZOOM_JS)
        start = time.perf_counter()
        while time.perf_counter() - start < 60 and frame.evaluate("() => window.__zoomDone") is None:
            time.sleep(0.02)
        done_ms = frame.evaluate("() => window.__zoomDone")
        t_zoom = (done_ms if done_ms is not None else 60_000) / 1000
        tiles = set(frame.evaluate(TILES_JS)) - before
        rows.append(
            (
                "full-resolution zoom (Cote d'Ivoire, whole country)",
                f"{t_zoom:.2f}",
                "< 1",
                f"zoom in by 3 levels -> every tile layer's new view loaded ({len(tiles)} new {TILE_PX} px tiles: LR, "
                "SR, HR, swipe; timed in the page); the page with "
                f"its tile pyramids was first drawn in {t_first:.1f} s (bicubic SR)",
            )
        )
    finally:
        context.close()
        stop_app(process)
    return rows


def _merge_rows(new_rows: list[tuple[str, str, str, str]], mode: str) -> str:
    """Replace (or append) rows of the existing dashboard.md / dashboard.csv by measure name."""
    md_path, csv_path = RESULTS / "dashboard.md", RESULTS / "dashboard.csv"
    lines = md_path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    mark = f"measured alone (`--only {mode}`)"
    lines = [text for text in lines if not (text.startswith("Row(s) ") and mark in text)]  # this mode's last note
    while lines and not lines[-1].strip():
        lines.pop()
    for row in new_rows:
        line = "| " + " | ".join(row) + " |"
        hits = [i for i, text in enumerate(lines) if text.startswith(f"| {row[0]} |")]
        if hits:
            lines[hits[0]] = line
        else:  # a new row goes at the end of the table, before the notes under it
            last = max(i for i, text in enumerate(lines) if text.startswith("| "))
            lines.insert(last + 1, line)
    lines.append(
        f"\nRow(s) {', '.join(r[0] for r in new_rows)} {mark}, 1-min load "
        f"average {os.getloadavg()[0]:.2f}."
    )
    text = "\n".join(lines) + "\n"
    md_path.write_text(text, encoding="utf-8")
    with open(csv_path, encoding="utf-8") as fh:
        header = [fh.readline()]
        rows = list(csv.reader(fh))
    names = {r[0] for r in new_rows}
    rows = [r for r in rows if r and r[0] not in names] + [list(r) for r in new_rows]
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        fh.write(header[0])
        csv.writer(fh).writerows(rows)
    return text


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["report", "analyst"], help="measure one step and merge its row(s)")
    args = parser.parse_args()

    if not CHROMIUM.exists():
        print(f"Chromium not found at {CHROMIUM}: cannot run the browser benchmark")
        return 1
    demo = _demo_dir()
    model = "ckpt:deeplightsr_demo" if DEMO_CHECKPOINT.exists() else "bicubic"
    model_note = (
        "DeepLightSR demo checkpoint"
        if DEMO_CHECKPOINT.exists()
        else ("bicubic baseline (demo checkpoint data/checkpoints/deeplightsr_demo.safetensors not present)")
    )
    home = Path(tempfile.mkdtemp(prefix="deeplight-bench-home-"))
    (home / "demo").symlink_to(demo.resolve(), target_is_directory=True)  # fresh, empty cache
    rows: list[tuple[str, str, str, str]] = []
    import geopandas as gpd

    names = list(gpd.read_file(demo / "regions.geojson")["name"])
    log = home / "streamlit.log"
    if args.only == "analyst":
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                analyst = _analyst_rows(browser, home)
            finally:
                browser.close()
                shutil.rmtree(home, ignore_errors=True)
        print(_merge_rows(analyst, "analyst"))
        return 0
    if args.only == "report":
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1500, "height": 1300}, accept_downloads=True)
            page = context.new_page()
            page.set_default_timeout(240_000)
            process, url = start_app({"DEEPLIGHT_HOME": str(home)}, log)
            try:
                wait_healthy(url, process, 120)
                page.goto(f"{url}/compare?dataset=demo&region={names[0]}&model={model}")  # reconstruct once
                wait_for_map(
                    page, min_rasters=3, timeout_s=240, predicate=lambda s: "panel-sr" in s["titles"]
                )
                row = _report_download(page, url, names[0], model)
            finally:
                stop_app(process)
                browser.close()
                shutil.rmtree(home, ignore_errors=True)
        print(_merge_rows([row], "report"))
        return 0
    with sync_playwright() as playwright:
        # The browser is started first: the measure is the app's start, not Chromium's.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1300}, accept_downloads=True)
        page.set_default_timeout(120_000)
        page.goto("about:blank")
        t0 = time.perf_counter()
        process, url = start_app({"DEEPLIGHT_HOME": str(home)}, log)
        try:
            wait_healthy(url, process, 120)
            t_health = time.perf_counter() - t0
            page.goto(f"{url}/?dataset=demo&model={model}")
            wait_for_map(page, min_rasters=1, timeout_s=120)
            t_first_map = time.perf_counter() - t0
            rows.append(
                (
                    "server start -> first drawn map (Home)",
                    f"{t_first_map:.2f}",
                    "< 10",
                    f"process launch to Leaflet raster drawn; server healthy after {t_health:.2f} s",
                )
            )

            # Compare page: region A, then B (both reconstructed once), then back to A (cached).
            page.goto(f"{url}/compare?dataset=demo&region={names[0]}&model={model}")
            state_a = wait_for_map(
                page, min_rasters=3, timeout_s=180, predicate=lambda s: "panel-sr" in s["titles"]
            )
            option = find_in_selectbox(page, "Region", names[1])
            start = time.perf_counter()
            option.click()
            state_b = _wait_changed(page, state_a["rasterSources"], 180)
            t_uncached = time.perf_counter() - start
            option = find_in_selectbox(page, "Region", names[0])
            start = time.perf_counter()
            option.click()
            _wait_changed(page, state_b["rasterSources"], 60)
            t_cached = time.perf_counter() - start
            rows.append(
                (
                    "switch to a cached region (Compare, 3 synced maps + swipe)",
                    f"{t_cached:.2f}",
                    "< 1",
                    "click on the region in the picker -> new SR raster drawn in the browser",
                )
            )
            rows.append(
                (
                    f"reconstruct an uncached region ({names[1]})",
                    f"{t_uncached:.2f}",
                    "< 5",
                    f"{model_note}; pick -> SR drawn, CPU",
                )
            )

            # 5 concurrent sessions, same uncached region.
            target = names[2]
            entries_before = _cache_entries(home)
            contexts = [browser.new_context(viewport={"width": 1400, "height": 1200}) for _ in range(5)]
            pages = [c.new_page() for c in contexts]
            start = time.perf_counter()
            for tab in pages:
                tab.goto(f"{url}/compare?dataset=demo&region={target}&model={model}", wait_until="commit")
            computed = cached = 0
            for tab in pages:
                tab.set_default_timeout(180_000)
                wait_for_map(tab, min_rasters=3, timeout_s=240, predicate=lambda s: "panel-sr" in s["titles"])
                text = tab.inner_text("body")
                computed += "SR computed now" in text
                cached += "SR served from the cache" in text
            t_concurrent = time.perf_counter() - start
            new_entries = _cache_entries(home) - entries_before
            ok = computed == 1 and new_entries == 1
            rows.append(
                (
                    "5 concurrent sessions, same uncached region: inferences",
                    str(computed),
                    "exactly 1",
                    (
                        f"{'PASS' if ok else 'FAIL'}: {computed} page(s) computed, {cached} served from "
                        f"cache, {new_entries} new cache entry; all 5 drawn in {t_concurrent:.1f} s"
                    ),
                )
            )
            for context in contexts:
                context.close()
            rows.append(_report_download(page, url, names[0], model))
            if (SHARED_DATA / "README.md").exists():
                rows.extend(_analyst_rows(browser, home))
        finally:
            stop_app(process)
            browser.close()
            shutil.rmtree(home, ignore_errors=True)
    rows.append(_server_side_switch(demo, model))
    header = (
        f"# Dashboard benchmark\n\nMachine: {MACHINE}, 1-min load average {os.getloadavg()[0]:.2f} at the end "
        f"({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical CPUs). Browser: Debian Chromium (headless) via Playwright. Data: built-in "
        f"demo (synthetic; LR simulated). Model: {model_note}.\n\n"
    )
    table = ["| measure | value (s) | target (s) | notes |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    text = header + "\n".join(table) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.md").write_text(text, encoding="utf-8")
    with open(RESULTS / "dashboard.csv", "w", newline="", encoding="utf-8") as fh:
        fh.write(f"# machine: {MACHINE}; model: {model_note}\n")
        writer = csv.writer(fh)
        writer.writerow(["measure", "value", "target", "notes"])
        writer.writerows(rows)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
