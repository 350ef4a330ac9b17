"""AppTest tests of every page and its main interactions (data set, region, model, thresholds).

They run the real app on a tiny demo scene made by the project's demo generator (HR 128x128) with
the weight-free bicubic baseline; browser-only checks (does a map draw?) live in tests/e2e.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from deeplight.errors import DeepLightError
from tests.app.apptest_helpers import click_on_map, iframe_html, run_page, texts


def _sidebar_box(at, label):
    return next(s for s in at.sidebar.selectbox if s.label == label)


def test_home_draws_offline_picker_map_with_regions(app_env):
    at = run_page()
    assert not at.exception
    html = iframe_html(at)
    assert len(html) == 1
    assert "/app/static/leaflet/leaflet.js" in html[0]
    assert "/app/static/leaflet-draw/leaflet.draw.js" in html[0]
    assert "cdn.jsdelivr" not in html[0] and "cdnjs" not in html[0]
    assert 'L.imageOverlay("data:image/png;base64,' in html[0]
    assert "Simulated LR" in texts(at)
    regions = _sidebar_box(at, "Region (type to search)").options
    assert len(regions) >= 8
    assert at.query_params["dataset"] == "demo"


def test_region_choice_updates_url_and_map_highlight(app_env):
    at = run_page()
    box = _sidebar_box(at, "Region (type to search)")
    target = box.options[3]
    box.select(target).run()
    assert not at.exception
    assert at.query_params["region"] == target
    assert json.dumps(target) in iframe_html(at)[0]  # the highlighted region in the map script


def test_url_query_selects_region_and_reports_bad_values(app_env):
    at = run_page()
    second = _sidebar_box(at, "Region (type to search)").options[1]
    at2 = run_page(query={"dataset": "demo", "region": second, "year": "abc"})
    assert _sidebar_box(at2, "Region (type to search)").value == second
    assert any("not a number" in w.value for w in at2.sidebar.warning)
    assert not any("not available here" in w.value for w in at2.sidebar.warning)  # a valid link: no swap


def test_unknown_data_set_region_or_model_in_a_link_is_a_visible_warning(app_env):
    at = run_page(query={"dataset": "atlantis", "region": "Nowhere <b>", "model": "no-such-model"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.sidebar.warning)
    for asked in ("`atlantis`", "`Nowhere <b>`", "`no-such-model`"):
        assert asked in warnings and "not available here" in warnings, warnings
    assert at.query_params["dataset"] == "demo"  # shown instead, and said so
    at.run()  # the warning is shown once, not on every rerun
    assert not any("not available here" in w.value for w in at.sidebar.warning)


def test_drawn_area_from_url_becomes_the_region(app_env, tiny_home):
    import geopandas as gpd

    regions = gpd.read_file(tiny_home / "demo" / "regions.geojson")
    minx, miny, maxx, maxy = regions.total_bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    d = (maxx - minx) / 6
    aoi = f"{cx - d:.5f},{cy - d:.5f};{cx + d:.5f},{cy - d:.5f};{cx + d:.5f},{cy + d:.5f};{cx - d:.5f},{cy + d:.5f}"
    at = run_page("compare", query={"dataset": "demo", "aoi": aoi})
    assert not at.exception
    assert _sidebar_box(at, "Region (type to search)").value == "Drawn area"
    assert "Drawn area" in texts(at)


def test_compare_shows_synced_panels_swipe_legend_and_metrics(app_env):
    at = run_page("compare")
    assert not at.exception
    html = iframe_html(at)[0]
    for needle in (
        "panel-lr",
        "panel-sr",
        "panel-hr",
        "panel-swipe",
        "L.Map.Sync.js",
        "sideBySide",
        "nW/cm²/sr",
        ".sync(",
    ):
        assert needle in html, needle
    metrics = at.dataframe[0].value
    assert list(metrics["product"]) == ["LR (simulated, nominal radiance)", "SR - quadratic-calibration"]
    assert metrics["PSNR (dB)"].between(5, 60).all()
    assert metrics["CC"].between(-1, 1).all()


def test_compare_swipe_choice_and_uncertainty_toggle(app_env):
    at = run_page("compare")
    at.radio(key="swipe").set_value("LR | SR").run()
    assert "Swipe: LR (simulated, nominal radiance)  |  SR - quadratic-calibration" in iframe_html(at)[0]
    at.toggle(key="uncertainty").set_value(True).run()
    assert not at.exception
    assert "panel-uncertainty" in iframe_html(at)[0]


def test_model_choice_lists_baselines_and_is_kept_in_url(app_env):
    at = run_page("compare")
    model_box = _sidebar_box(at, "Model")
    assert model_box.options == [
        "quadratic-calibration (checkpoint quadratic_test)",
        "bicubic (baseline, no weights)",
    ]
    model_box.set_value("bicubic").run()
    assert not at.exception
    assert at.query_params["model"] == "bicubic"
    assert "SR - bicubic" in iframe_html(at)[0]
    _sidebar_box(at, "Model").set_value("ckpt:quadratic_test").run()
    assert not at.exception
    assert at.query_params["model"] == "ckpt:quadratic_test"
    assert "SR - quadratic-calibration" in iframe_html(at)[0]


def test_sdg_page_table_charts_and_threshold(app_env):
    at = run_page("sdg")
    assert not at.exception
    table = at.dataframe[0].value
    assert {"lr (simulated)", "sr (from simulated LR)", "hr (synthetic)"} <= set(table.columns)
    charts = at.get("plotly_chart")
    assert len(charts) == 3
    spec = json.loads(charts[0].proto.spec)
    assert {trace["name"] for trace in spec["data"]} >= {"lr", "sr", "hr"}
    at.slider(key="lit_threshold").set_value(0.1).run()
    low = at.dataframe[0].value
    at.slider(key="lit_threshold").set_value(15.0).run()
    high = at.dataframe[0].value
    lit_low = low.loc[low["indicator"] == "lit_area", "hr (synthetic)"].iloc[0]
    lit_high = high.loc[high["indicator"] == "lit_area", "hr (synthetic)"].iloc[0]
    assert lit_low > 0 and lit_high < lit_low
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Indicators CSV", "GeoJSON", "GeoPackage", "SR GeoTIFF", "Report (HTML)"]


def test_sdg_several_regions_and_sidebar_region_change(app_env):
    at = run_page("sdg")
    picker = at.multiselect[0]
    names = picker.options[:3]
    picker.set_value(names).run()
    assert not at.exception
    assert set(at.dataframe[0].value["region"]) == set(names)
    other = _sidebar_box(at, "Region (type to search)").options[5]
    _sidebar_box(at, "Region (type to search)").set_value(other).run()
    assert not at.exception
    assert set(at.dataframe[0].value["region"]) == {other}


def test_sdg_time_series_on_shanghai(app_env, shared_data, monkeypatch):
    monkeypatch.setenv("DEEPLIGHT_DATA_DIR", str(shared_data))
    at = run_page(
        "sdg", query={"dataset": "shanghai_npp_viirs", "region": "Huangpu (黄浦区)", "model": "bicubic"}
    )
    assert not at.exception
    at.multiselect(key="sdg_years|shanghai_npp_viirs").set_value([2014, 2022]).run()
    at.button(key="run_time_series").click().run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    years = {int(x) for trace in spec["data"] for x in _plotly_values(trace["x"])}
    assert years == {2014, 2022}
    assert {trace["name"].split(",")[0] for trace in spec["data"]} == {"lr", "sr", "hr"}


def _plotly_values(values):
    """Plotly >= 6 writes numeric arrays as {"dtype", "bdata" (base64)}; plain lists otherwise."""
    import base64

    import numpy as np

    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def test_models_page_without_results_says_so(app_env):
    at = run_page("models")
    assert not at.exception
    text = texts(at)
    assert "No benchmark table yet" in text and "No model card yet" in text


def test_models_page_shows_tables_and_card(app_env, tiny_home):
    (tiny_home / "results" / "quality_demo.csv").write_text("# machine: test\nmodel,psnr\nbicubic,20.5\n")
    (tiny_home / "results" / "quality_ablation_alpha.md").write_text(
        "| alpha | psnr |\n|---|---|\n| 0.9 | 21 |\n"
    )
    (tiny_home / "checkpoints" / "README.md").write_text("# Model card\nTrained on synthetic data.")
    try:
        at = run_page("models")
        assert not at.exception
        assert at.dataframe[0].value["psnr"].iloc[0] == pytest.approx(20.5)
        text = texts(at)
        assert "Trained on synthetic data." in text and "| 0.9 | 21 |" in text
    finally:
        for path in (tiny_home / "results").iterdir():
            path.unlink()
        (tiny_home / "checkpoints" / "README.md").unlink()


def test_data_page_rejects_a_corrupt_upload_and_keeps_working(app_env):
    at = run_page("data")
    assert not at.exception
    assert at.get("file_uploader") or True  # the uploader renders (bytes cannot be set from AppTest)
    at.button[0].click().run()  # submit without a file
    assert "Choose a night-light GeoTIFF first" in texts(at)


def test_sdg_csv_bytes_read_back_with_documented_columns(app_env, tiny_home):
    from deeplight.io.scene import crop_scene
    from app.sdg_view import Thresholds, csv_bytes, scene_report, region_table
    from deeplight.catalog import load_demo_scene

    scene = load_demo_scene(tiny_home / "demo")
    name = scene.regions["name"].iloc[0]
    geometry = scene.region_geometry(name)
    crop = crop_scene(scene, geometry, name)
    table = scene_report(
        crop.scene, crop.scene.hr, None, region_table([name], [geometry], scene.crs), Thresholds(), "test"
    ).table
    frame = pd.read_csv(io.BytesIO(csv_bytes(table, crop.scene)), comment="#")
    assert list(frame.columns) == [
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
    assert set(frame["region"]) == {name}
    assert bool(frame.loc[frame["product"] == "lr", "simulated"].all())
    assert bool(frame.loc[frame["product"] == "sr", "simulated"].all())  # reconstructed from a simulated LR
    # the demo's HR is generated, not observed: flagged too, and the metadata says it is synthetic
    assert bool(frame.loc[frame["product"] == "hr", "simulated"].all())


def test_region_file_on_home_becomes_the_drawn_area(app_env, tiny_home):
    """The pure parser behind Home's region-file uploader (AppTest cannot upload bytes)."""
    import geopandas as gpd

    from app.uploads import UploadedFile, region_from_upload

    regions = gpd.read_file(tiny_home / "demo" / "regions.geojson")
    two = regions.iloc[[0, 1]]
    polygon, note = region_from_upload(UploadedFile("two.geojson", two.to_json().encode()))
    assert polygon.is_valid and polygon.area >= two.geometry.union_all().area * 0.999
    assert note == "" or "convex hull" in note
    with pytest.raises(DeepLightError, match="unsupported file type"):
        region_from_upload(UploadedFile("regions.kml", b"<kml/>"))


def test_sdg_all_regions_checkbox(app_env):
    at = run_page("sdg")
    at.checkbox[0].check().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["region"]) == set(_sidebar_box(at, "Region (type to search)").options)
    assert list(table.columns[:6]) == [
        "region",
        "indicator",
        "unit",
        "lr (simulated)",
        "sr (from simulated LR)",
        "hr (synthetic)",
    ]
    charts = at.get("plotly_chart")
    scatter = json.loads(charts[1].proto.spec)
    assert len(_plotly_values(scatter["data"][0]["x"])) == len(table["region"].unique())


def test_a_click_on_the_compare_map_selects_the_region_and_keeps_the_controls(app_env):
    at = run_page("compare")
    at.radio(key="swipe").set_value("LR | SR").run()
    names = list(at.selectbox(key="region").options)
    target = names[-1]
    click_on_map(at, "map_compare", region=target, aoi=None)
    assert not at.exception
    assert at.session_state["region"] == target and at.query_params["region"] == target
    assert at.radio(key="swipe").value == "LR | SR"  # the page's controls survive the selection
    assert "Swipe: LR (simulated, nominal radiance)" in iframe_html(at)[0]
    # the same value again (a rerun for another reason) does not undo a later sidebar choice
    at.selectbox(key="region").set_value(names[0]).run()
    assert at.session_state["region"] == names[0]


def test_a_drawing_on_the_home_map_selects_the_area_and_a_bad_one_is_refused(app_env):
    at = run_page()
    click_on_map(at, "map_home", aoi="116.5,31.2;117.0,31.2;117.0,31.6;116.5,31.6", region=None)
    assert not at.exception
    assert at.session_state["region"] == "Drawn area" and "aoi" in at.query_params
    click_on_map(at, "map_home", aoi="116.5,31.2;abc", region=None)
    assert not at.exception
    assert any("drawn area was not used" in w.value for w in at.sidebar.warning)
    assert at.session_state["region"] == "Drawn area"  # the earlier area is kept


def test_swipe_uncertainty_and_thresholds_come_from_and_go_to_the_url(app_env):
    at = run_page("compare", {"swipe": "LR | SR", "uncertainty": "1"})
    assert not at.exception
    assert at.radio(key="swipe").value == "LR | SR" and at.toggle(key="uncertainty").value is True
    assert at.query_params["swipe"] == "LR | SR" and at.query_params["uncertainty"] == "1"
    assert "panel-uncertainty" in iframe_html(at)[0]
    at = run_page("sdg", {"lit": "2.5", "lit_dn": "12", "urban": "fixed", "urban_at": "30"})
    assert not at.exception
    assert at.slider(key="lit_threshold").value == 2.5 and at.slider(key="lit_threshold_dn").value == 12
    assert at.radio(key="urban_method").value == "fixed" and at.slider(key="urban_threshold").value == 30.0
    at.slider(key="lit_threshold").set_value(3.0).run()
    assert at.query_params["lit"] == "3.0" or float(at.query_params["lit"]) == 3.0


def _map_args(at, key: str = "map_compare") -> dict:
    element = next(e for e in at.get("component_instance") if e.proto.component_name.endswith("deeplight_map")
                   and json.loads(e.proto.json_args).get("report_view"))
    return json.loads(element.proto.json_args)


def test_the_compare_map_view_is_kept_in_the_url_and_belongs_to_its_region(app_env):
    at = run_page("compare", {"view": "31.5,117.3,10"})
    assert not at.exception
    assert _map_args(at)["view"] == "31.5,117.3,10" and at.query_params["view"] == "31.5,117.3,10"
    click_on_map(at, "map_compare", view="31.61234,117.2,11.5")  # the user pans and zooms
    assert at.query_params["view"] == "31.61234,117.20000,11.5"
    assert _map_args(at)["view"] == "31.61234,117.20000,11.5"
    names = list(at.selectbox(key="region").options)
    click_on_map(at, "map_compare", region=names[-1], aoi=None)  # another region opens fitted
    assert "view" not in at.query_params and _map_args(at)["view"] == ""
    click_on_map(at, "map_compare", view="95,0,3")  # not a view: ignored
    assert "view" not in at.query_params
    at = run_page("compare", {"view": "north"})
    assert not at.exception and "view" not in at.query_params
    assert any("not 'lat,lon,zoom'" in w.value for w in at.warning)
