"""The HTML report of an SDG selection (issue 13 item 6): self-contained (images as data URLs,
plotly.js inlined, nothing fetched), the LR/SR/HR table, the charts, the metadata, the SIMULATED
flags, and hostile names escaped. Built by pure functions (no Streamlit)."""

from __future__ import annotations

import html.parser
import time

import geopandas as gpd
import pytest
from shapely.geometry import box

from app.report import (
    ReportContent,
    ReportTable,
    build_report,
    plotly_js,
    region_outline_svg,
    report_builder,
    report_file_name,
    simulated_banner,
)

HOSTILE = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'


class _Resources(html.parser.HTMLParser):
    """Collects every src / href and the tags of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]


@pytest.fixture(scope="module")
def selection(tiny_home):
    """Two demo regions (one renamed to a hostile name), their crop, an SR stand-in and the table."""
    from shapely.ops import unary_union

    from app import charts
    from app.colors import legend_html, shared_vmax
    from app.region_metrics import lr_nominal_radiance_on_hr_grid
    from deeplight.io.scene import crop_scene
    from app.sdg_view import Thresholds, export_metadata, scene_report, region_table
    from deeplight.catalog import load_demo_scene

    scene = load_demo_scene(tiny_home / "demo")
    names = list(scene.regions["name"].iloc[:2])
    geometries = [scene.region_geometry(n) for n in names]
    crop = crop_scene(scene, unary_union(geometries), "two")
    shown = [HOSTILE, names[1]]
    regions = region_table(shown, geometries, scene.crs)
    thresholds = Thresholds()
    sr = crop.scene.hr * 0.95
    with pytest.warns(UserWarning):
        table = scene_report(crop.scene, sr, None, regions, thresholds, "bicubic").table
    lr = lr_nominal_radiance_on_hr_grid(crop.scene.lr)
    vmax = shared_vmax(crop.scene.hr, sr, lr)
    figures = [
        ("lit area bars", charts.indicator_bars(table, "lit_area")),
        ("SR vs HR", charts.sr_vs_hr_scatter(table, "lit_area")),
        ("choropleth", charts.choropleth(table, regions.rename(columns={"region": "name"}), "lit_area", "sr")),
    ]
    build = report_builder(
        crop.scene, lr, sr, vmax, regions, table, export_metadata(crop.scene, "bicubic", thresholds),
        thresholds, "bicubic", legend_html(vmax), figures,
        [ReportTable("Change per region", table.head(3)[["region", "indicator", "value"]], "a caption")],
    )
    return {"scene": crop.scene, "table": table, "build": build, "regions": regions}


@pytest.fixture(scope="module")
def report(selection) -> str:
    start = time.perf_counter()
    data = selection["build"]()
    selection["seconds"] = time.perf_counter() - start
    return data.decode("utf-8")


def test_report_is_one_self_contained_file(report, selection):
    parser = _Resources()
    parser.feed(report)
    assert report.startswith("<!DOCTYPE html>")
    external = [u for u in parser.urls if not u.startswith("data:")]
    assert external == []  # no CDN, no file next to it: every image and script is inside
    assert "<script src" not in report
    # plotly.js names a topojson CDN for geo subplots, which no chart uses (choropleths are polygons)
    assert "cdn.plot.ly" not in report.replace(plotly_js(), "")
    assert report.replace(plotly_js(), "").count('src="data:image/png;base64,') == 3  # LR, SR, HR maps
    assert "Plotly.newPlot" in report and len(report) > 4_000_000  # plotly.js itself is inlined
    assert report.count('class="js-plotly-plot"') + report.count("report-chart-") >= 3
    assert selection["seconds"] < 5.0


def test_report_has_the_table_metadata_and_simulated_flags(report, selection):
    assert 'id="simulated-flags"' in report and "SIMULATED LR" in report and "SYNTHETIC HR" in report
    assert "from the synthetic HR" in report and "made from the real image" not in report
    assert 'id="indicator-table"' in report
    for column in ("lr (simulated)", "sr (from simulated LR)", "hr (synthetic)"):
        assert f"<th>{column}</th>" in report
    assert "lit_area" in report and "sum_of_lights" in report and "nW/cm2/sr x km2" in report
    assert 'id="metadata-table"' in report and "simulated_note" in report and "provenance" in report
    assert "bicubic" in report and "Change per region" in report and "a caption" in report
    assert "lit if radiance &gt;= (nW/cm2/sr)" in report
    assert "<svg class=\"outlines\"" in report  # region outlines over the maps


def test_hostile_region_names_are_escaped(report):
    assert HOSTILE not in report
    assert "<img src=x" not in report and '<script>alert("x")' not in report
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in report  # shown as text


def test_observed_data_gets_no_simulated_banner():
    assert simulated_banner(False, False, True) == ""
    real = simulated_banner(True, False, True)
    assert "SIMULATED LR" in real and "real HR image" in real and "SYNTHETIC" not in real


def test_minimal_report_without_maps_or_charts(selection):
    content = ReportContent(
        dataset="Upload: my.tif",
        regions=["Only"],
        time_label="",
        model=None,
        table=selection["table"][selection["table"]["product"] == "lr"],
        metadata={"dataset": "Upload: my.tif"},
        lr_simulated=False,
    )
    text = build_report(content)
    assert "SIMULATED" not in text and "<script" not in text  # no charts: no plotly.js
    assert 'id="indicator-table"' in text and "none (no reconstruction)" in text


def test_file_name_is_safe_ascii():
    assert report_file_name("demo", ["Brisk Vale"], "") == "deeplight_report_demo_Brisk-Vale.html"
    name = report_file_name("shanghai_npp_viirs", [HOSTILE], "2018")
    assert name.endswith("_2018.html") and all(c.isalnum() or c in "_-." for c in name)
    three = report_file_name("demo", ["a", "b", "c"], "2016-03")
    assert three == "deeplight_report_demo_3-regions_2016-03.html"


def test_outline_svg_matches_the_image_bounds():
    regions = gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(10.0, 40.0, 11.0, 41.0)], crs="EPSG:4326")
    svg = region_outline_svg(regions, [[40.0, 10.0], [41.0, 11.0]])
    assert svg.startswith("<svg") and "<path" in svg
    path = svg.split('d="')[1].split('"')[0].replace("Z", "")
    xs = [float(point.split(",")[0].lstrip("M")) for point in path.split("L")]
    assert min(xs) == pytest.approx(0.0, abs=0.2) and max(xs) == pytest.approx(1000.0, abs=0.2)
    assert region_outline_svg(None, [[40.0, 10.0], [41.0, 11.0]]) == ""
