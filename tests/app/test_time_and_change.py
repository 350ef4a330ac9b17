"""Time and change (issue 13): time slider, monthly layers, difference maps, change tables, readable
series, the CO2 / Gini / SDG 11.3.1 indicators, progress stages, URL-kept controls, Models page cells.

Pure functions are tested directly; pages through AppTest (tiny demo; Shanghai and the monthly sets
through the ``shared_data`` fixture). Whether the maps draw is checked in tests/e2e.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from app.selection import (
    Selection,
    ViewParam,
    selection_from_params,
    selection_to_params,
    view_from_params,
    view_to_params,
)
from tests.app.apptest_helpers import iframe_html, run_page, texts

HUANGPU = "Huangpu (黄浦区)"


# --- pure functions ---------------------------------------------------------------------------


def test_month_travels_in_the_url_and_bad_months_are_reported():
    selection, problems = selection_from_params({"dataset": "himalaya_leh", "month": "2016-07"})
    assert selection.month == "2016-07" and problems == []
    assert selection_to_params(selection)["month"] == "2016-07"
    _, problems = selection_from_params({"dataset": "x", "month": "2016-13"})
    assert problems and "not a YYYY-MM month" in problems[0]
    assert "month" not in selection_to_params(Selection(dataset="demo", year=2018))


def test_view_params_round_trip_defaults_left_out_and_bad_values_dropped():
    specs = (
        ViewParam("diff", "diff", "bool", False),
        ViewParam("before", "before", "time", None),
        ViewParam("co2", "co2", "float", 0.0),
        ViewParam("products", "products", "list", ["lr", "sr", "hr"], choices=("lr", "sr", "hr")),
        ViewParam("layout", "series", "str", "one region", choices=("one region", "small multiples")),
    )
    values = {"diff": True, "before": 2014, "co2": 1.5e6, "products": ["sr", "hr"], "layout": "one region"}
    params = view_to_params(values, specs)
    assert params == {"diff": "1", "before": "2014", "co2": "1500000", "products": "sr,hr"}
    back, problems = view_from_params(params, specs)
    assert problems == [] and back == {k: v for k, v in values.items() if k != "layout"}
    assert view_from_params({"before": "2016-03"}, specs)[0] == {"before": "2016-03"}
    assert view_to_params({"diff": False, "products": ["lr", "sr", "hr"]}, specs) == {}
    back, problems = view_from_params({"diff": "maybe", "co2": "inf", "products": "lr,xx", "series": "3d"}, specs)
    assert back == {} and len(problems) == 4


def test_difference_colour_scale_is_diverging_and_centred_on_zero():
    from app.maps import (
        difference_legend_html,
        difference_limit,
        difference_position,
        difference_ticks,
        difference_to_png_data_url,
    )

    diff = np.array([[-100.0, -1.0, 0.0], [1.0, 100.0, np.nan]])
    pos = difference_position(diff, 10.0)
    assert pos[0, 2] == 0 and pos[0, 0] == -1 and pos[1, 1] == 1  # clipped beyond the limit
    assert pos[0, 1] == pytest.approx(-pos[1, 0])  # symmetric
    assert np.isnan(pos[1, 2])
    png = base64.b64decode(difference_to_png_data_url(diff, 10.0).split(",", 1)[1])
    rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert tuple(rgba[0, 2]) == (255, 255, 255, 255)  # no change: white
    assert rgba[1, 2, 3] == 0  # nodata: transparent
    assert rgba[1, 1, 0] > rgba[1, 1, 2] and rgba[0, 0, 2] > rgba[0, 0, 0]  # brighter red, darker blue
    assert difference_limit(np.array([0.1, -0.2])) == 0.5  # floor
    assert difference_limit(-np.arange(0.0, 101.0), np.array([np.nan])) == pytest.approx(99.0)
    ticks = difference_ticks(30.0)
    assert (0.0, 0.5) in ticks and ticks[0] == (-30.0, 0.0) and ticks[-1] == (30.0, 1.0)
    legend = difference_legend_html(30.0, "Change <b>2020</b> minus 2014")
    assert "&lt;b&gt;" in legend and "+30" in legend and "-30" in legend


def test_change_between_keeps_nodata_and_refuses_other_grids():
    from deeplight.io.scene import change_between
    from deeplight.errors import RegionError

    out = change_between(np.array([[1.0, np.nan]]), np.array([[3.0, 2.0]]))
    assert out[0, 0] == 2.0 and np.isnan(out[0, 1])
    assert change_between(None, np.ones((1, 1))) is None
    with pytest.raises(RegionError, match="different grids"):
        change_between(np.ones((2, 2)), np.ones((2, 3)))


def _tidy(rows):
    base = {"lower": np.nan, "upper": np.nan, "simulated": False, "method": "", "note": ""}
    return pd.DataFrame([{**base, **r} for r in rows])


def _two_dates():
    rows = []
    for period, hr, lr, valid in (("2014", 100.0, 50.0, 1.0), ("2020", 150.0, 40.0, 1.0), ("2021", 999.0, 1.0, 0.2)):
        for product, value in (("hr", hr), ("lr", lr)):
            rows.append({"region": "A", "product": product, "year": int(period), "indicator": "sum_of_lights",
                         "value": value, "unit": "nW/cm2/sr x km2"})
            rows.append({"region": "A", "product": product, "year": int(period), "indicator": "valid_fraction",
                         "value": valid, "unit": "share"})
    tables = {int(p): _tidy([r for r in rows if r["year"] == int(p)]) for p in ("2014", "2020", "2021")}
    return tables


def test_series_table_masks_dates_without_enough_valid_data():
    from app.sdg_view import series_table

    series = series_table(_two_dates())
    assert set(series["period"]) == {"2014", "2020", "2021"}
    masked = series[series["masked"]]
    assert set(masked["period"]) == {"2021"} and set(masked["indicator"]) == {"sum_of_lights"}
    assert masked["value"].isna().all() and masked["note"].str.contains("masked").all()
    assert not series.loc[series["indicator"] == "valid_fraction", "masked"].any()


def test_change_table_and_summary_by_hand():
    from app.sdg_view import change_summary, change_table, series_table

    change = change_table(series_table(_two_dates()), 2014, 2020)
    hr = change[change["product"] == "hr"].iloc[0]
    assert (hr["before"], hr["after"], hr["change"], hr["change_pct"]) == (100.0, 150.0, 50.0, 50.0)
    lr = change[change["product"] == "lr"].iloc[0]
    assert lr["change_pct"] == pytest.approx(-20.0)
    summary = change_summary(change)
    assert list(summary.columns) == [
        "region", "indicator", "unit", "lr change", "lr change %", "hr change", "hr change %",
        "spread of % (LR/SR/HR, points)",
    ]
    assert summary["spread of % (LR/SR/HR, points)"].iloc[0] == pytest.approx(70.0)
    masked = change_table(series_table(_two_dates()), 2014, 2021)
    assert masked["after"].isna().all() and masked["change_pct"].isna().all()  # a gap, not -100 %


def test_readable_units_replace_one_by_words():
    from app.sdg_view import readable_units

    table = _tidy(
        [
            {"region": "A", "product": "hr", "year": 1, "indicator": "lit_share", "value": 0.5, "unit": "1"},
            {"region": "A", "product": "hr", "year": 1, "indicator": "lcrpgr", "value": 2.0, "unit": "1"},
            {"region": "A", "product": "hr", "year": 1, "indicator": "lcr", "value": 0.1, "unit": "1/yr"},
            {"region": "A", "product": "hr", "year": 1, "indicator": "population", "value": 9.0, "unit": "people"},
        ]
    )
    assert list(readable_units(table)["unit"]) == ["share", "ratio", "per year", "people"]


def test_land_consumption_with_typed_population():
    from app.sdg_view import land_consumption_rows, population_inputs

    rows = []
    for year, urban in ((2014, 10.0), (2022, 20.0)):
        rows.append({"region": "A", "product": "hr", "year": year, "indicator": "urban_area", "value": urban,
                     "unit": "km2", "period": str(year)})
        rows.append({"region": "B", "product": "hr", "year": year, "indicator": "urban_area", "value": urban,
                     "unit": "km2", "period": str(year)})
    series = _tidy(rows)
    typed = pd.DataFrame({"region": ["A", "B"], "people 2014": [100.0, np.nan], "people 2022": [200.0, 50.0]})
    people = population_inputs(["A", "B"], 2014, 2022, typed)
    assert set(people["region"]) == {"A", "B"} and len(people) == 3
    out = land_consumption_rows(series, 2014, 2022, people)
    a = out[out["region"] == "A"].set_index("indicator")
    assert a.loc["lcr", "value"] == pytest.approx(np.log(2) / 8)
    assert a.loc["pgr", "value"] == pytest.approx(np.log(2) / 8)
    assert a.loc["lcrpgr", "value"] == pytest.approx(1.0) and a.loc["lcrpgr", "unit"] == "ratio"
    assert np.isnan(out[(out["region"] == "B") & (out["indicator"] == "lcrpgr")]["value"].iloc[0])
    assert population_inputs(["A"], 2014, 2022, typed.assign(**{"people 2014": np.nan})) is None


def test_time_series_one_region_small_multiples_products_and_gaps():
    from app.charts import time_series
    from app.sdg_view import series_table

    tables = {}
    for year in (2014, 2018, 2022):
        rows = []
        for region in ("A", "B", "C"):
            for product in ("lr", "sr", "hr"):
                rows.append({"region": region, "product": product, "year": year, "indicator": "lit_area",
                             "value": float(year - 2000), "unit": "km2"})
                valid = 0.1 if (region, year) == ("A", 2018) else 1.0
                rows.append({"region": region, "product": product, "year": year, "indicator": "valid_fraction",
                             "value": valid, "unit": "share"})
        tables[year] = _tidy(rows)
    series = series_table(tables)
    one = time_series(series, "lit_area", regions=["A"], layout="one region")
    assert [t.name for t in one.data] == ["lr", "sr", "hr"]
    assert np.isnan(np.asarray(one.data[0].y, dtype=float)[1])  # the masked date is a gap, not 0
    assert not one.data[0].connectgaps
    assert "masked" in " ".join(a.text for a in one.layout.annotations)
    many = time_series(series, "lit_area", products=["sr", "hr"], layout="small multiples")
    assert len(many.data) == 6 and {t.name for t in many.data} == {"sr", "hr"}
    assert {a.text for a in many.layout.annotations if a.text in ("A", "B", "C")} == {"A", "B", "C"}
    monthly = series.assign(period=series["period"].map({"2014": "2016-01", "2018": "2016-02", "2022": "2016-04"}))
    dated = time_series(monthly, "lit_area", layout="one region")
    assert str(pd.Timestamp(dated.data[0].x[0]).date()) == "2016-01-01"


def test_mask_without_cloud_free_coverage():
    from deeplight.catalog import mask_without_cloud_free
    from deeplight.errors import RasterError

    radiance = np.array([[0.0, 5.0], [0.0, 2.0]], dtype=np.float32)
    counts = np.array([[0.0, 3.0], [np.nan, 1.0]], dtype=np.float32)
    out = mask_without_cloud_free(radiance, counts)
    assert np.isnan(out[0, 0]) and np.isnan(out[1, 0]) and out[0, 1] == 5.0 and out[1, 1] == 2.0
    with pytest.raises(RasterError, match="same grid"):
        mask_without_cloud_free(radiance, counts[:1])


def test_indicators_have_gini_co2_and_word_units(app_env, tiny_home):
    from deeplight.io.scene import crop_scene
    from app.sdg_view import Thresholds, csv_bytes, scene_report, region_table
    from deeplight.catalog import load_demo_scene
    from deeplight.sdg.indicators import light_gini

    scene = load_demo_scene(tiny_home / "demo")
    names = list(scene.regions["name"].iloc[:2])
    geometries = [scene.region_geometry(n) for n in names]
    from shapely.ops import unary_union

    crop = crop_scene(scene, unary_union(geometries), "two")
    table = scene_report(
        crop.scene, crop.scene.hr, None, region_table(names, geometries, scene.crs),
        Thresholds(co2_total=1000.0, co2_unit="kt CO2", co2_power_law=(0.5, 0.9)), "test",
    ).table
    assert "1" not in set(table["unit"])
    gini = table[table["indicator"] == "light_gini"]
    assert set(gini["product"]) == {"lr", "sr", "hr"} and gini["value"].between(0, 1).all()
    assert set(gini["unit"]) == {"index 0-1"}
    co2 = table[table["indicator"] == "co2_emissions"]
    for _, group in co2.groupby("product"):
        assert group["value"].sum() == pytest.approx(1000.0)  # the typed total, shared out
    assert set(co2["unit"]) == {"kt CO2"}
    assert (table["indicator"] == "co2_power_law").sum() == 6
    # the Gini of one region on HR by hand: equal weights are close enough on a small equal-area crop
    frame = pd.read_csv(io.BytesIO(csv_bytes(table, crop.scene)), comment="#")
    assert {"light_gini", "co2_emissions", "co2_power_law"} <= set(frame["indicator"])
    assert light_gini(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.25)


# --- AppTest: pages ---------------------------------------------------------------------------


@pytest.fixture()
def real_app(app_env, shared_data, monkeypatch):
    monkeypatch.setenv("DEEPLIGHT_DATA_DIR", str(shared_data))
    return shared_data


def test_compare_time_slider_is_on_the_maps_and_kept_in_the_url(real_app):
    at = run_page("compare", query={"dataset": "shanghai_npp_viirs", "region": HUANGPU, "model": "bicubic"})
    assert not at.exception
    assert not [s for s in at.sidebar.select_slider if s.key == "year"]  # not in the sidebar here
    slider = at.main.select_slider(key="year")
    assert slider.value == 2022 and slider.options == [str(y) for y in range(2013, 2023)]
    before_html = iframe_html(at)[0]
    slider.set_value(2015).run()
    assert not at.exception
    assert at.query_params["year"] == "2015"
    assert "Shanghai 2015" in texts(at) and iframe_html(at)[0] != before_html
    at2 = run_page("sdg", query={"dataset": "shanghai_npp_viirs", "year": "2015"})
    assert [s for s in at2.sidebar.select_slider if s.key == "year"][0].value == 2015  # sidebar elsewhere


def test_compare_difference_map_and_change_table(real_app):
    at = run_page(
        "compare", query={"dataset": "shanghai_npp_viirs", "region": HUANGPU, "model": "bicubic", "year": "2020"}
    )
    at.toggle(key="diff").set_value(True).run()
    assert not at.exception
    assert at.select_slider(key="diff_before").value == 2013
    at.select_slider(key="diff_before").set_value(2014).run()
    assert not at.exception
    assert at.query_params["diff"] == "1" and at.query_params["before"] == "2014"
    html = iframe_html(at)
    assert len(html) == 2
    diff = html[1]
    for needle in ("panel-diff-lr", "panel-diff-sr", "panel-diff-hr", 'L.imageOverlay(DEEPLIGHT_IMAGES[',
                   "deeplight-diff-legend", "Change 2020 minus 2014", ".sync("):
        assert needle in diff, needle
    change = at.dataframe[0].value
    assert set(change["indicator"]) >= {"sum_of_lights", "lit_area", "light_gini"}
    assert {"hr change %", "spread of % (LR/SR/HR, points)"} <= set(change.columns)
    # the shared link opens the same view
    again = run_page(
        "compare",
        query={"dataset": "shanghai_npp_viirs", "region": HUANGPU, "model": "bicubic", "year": "2020",
               "diff": "1", "before": "2014"},
    )
    assert not again.exception
    assert again.toggle(key="diff").value is True and again.select_slider(key="diff_before").value == 2014
    assert len(iframe_html(again)) == 2


def test_a_hidden_difference_map_stays_in_the_page_for_its_context(real_app):
    """Off again, the difference map is kept at 0 px (loaded in the browser, back at once); for another
    region or date A it is dropped, never shown stale."""
    query = {"dataset": "shanghai_npp_viirs", "region": HUANGPU, "model": "bicubic", "year": "2020"}
    at = run_page("compare", query=query)
    at.toggle(key="diff").set_value(True).run()
    shown = iframe_html(at)[1]
    heights = [json.loads(e.proto.json_args)["height"] for e in at.get("component_instance")]
    assert heights[1] > 300
    at.toggle(key="diff").set_value(False).run()
    assert not at.exception
    html = iframe_html(at)
    assert len(html) == 2 and html[1] == shown  # the same document ...
    assert [json.loads(e.proto.json_args)["height"] for e in at.get("component_instance")][1] == 0  # ... hidden
    at.toggle(key="diff").set_value(True).run()
    assert iframe_html(at)[1] == shown
    at.toggle(key="diff").set_value(False).run()
    at.session_state["diff_before"] = 2015  # another date A: the kept map no longer applies
    at.run()
    assert len(iframe_html(at)) == 1


def test_compare_monthly_set_steps_by_month(real_app):
    at = run_page("compare", query={"dataset": "himalaya_leh", "model": "bicubic", "month": "2016-07"})
    assert not at.exception
    slider = at.main.select_slider(key="month")
    assert slider.label == "Month" and slider.value == "2016-07" and "2023-12" in slider.options
    assert "cloud-free count of 0 are masked" in texts(at)
    slider.set_value("2016-08").run()
    assert not at.exception and at.query_params["month"] == "2016-08" and "year" not in at.query_params


def test_monthly_scene_masks_cells_without_cloud_free_nights(real_app):
    import rasterio

    from app.settings import get_settings
    from app.sources import list_datasets, load_scene_for

    sets = {d.id: d for d in list_datasets(get_settings())}
    assert sets["himalaya_leh"].time_unit == "month" and sets["dubai_monthly"].months[0] == "2024-01"
    assert "2024-11" not in sets["dubai_monthly"].months  # the source lacks it: not listed, not zero
    scene = load_scene_for(get_settings(), "himalaya_leh", "2016-07")
    with rasterio.open(real_app / "real_hr/india-himalaya-viirs-monthly/viirs_leh_2016_07_cf.tif") as src:
        counts = src.read(1)[: scene.hr.shape[0], : scene.hr.shape[1]]
    assert (counts == 0).sum() > 0
    assert np.isnan(scene.hr[counts == 0]).all() and np.isfinite(scene.hr[counts > 0]).all()
    assert scene.month == "2016-07" and scene.year == 2016 and scene.key == "himalaya_leh:2016-07"


def test_sdg_page_gini_co2_inputs_and_word_units_in_the_url(app_env):
    at = run_page("sdg")
    assert not at.exception
    table = at.dataframe[0].value
    assert "light_gini" in set(table["indicator"]) and "1" not in set(table["unit"])
    assert "share" in set(table["unit"])
    at.number_input(key="co2_total").set_value(5000.0).run()
    at.text_input(key="co2_unit").input("kt CO2").run()
    at.checkbox(key="co2_law").check().run()
    at.number_input(key="co2_b").set_value(0.7).run()
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["indicator"] == "co2_emissions"].iloc[0]
    assert row["unit"] == "kt CO2" and row["hr (synthetic)"] == pytest.approx(5000.0)
    assert "co2_power_law" in set(table["indicator"])
    assert any(c.proto.spec and "CO2 per cell" in c.proto.spec for c in at.get("plotly_chart"))
    assert at.query_params["co2"] == "5000" and at.query_params["co2_unit"] == "kt CO2"
    assert at.query_params["co2_law"] == "1" and at.query_params["co2_b"] == "0.7"
    again = run_page("sdg", query={"dataset": "demo", "co2": "5000", "co2_unit": "kt CO2"})
    assert again.number_input(key="co2_total").value == 5000.0
    assert "co2_emissions" in set(again.dataframe[0].value["indicator"])


def test_sdg_series_layout_products_change_and_downloads(real_app):
    at = run_page("sdg", query={"dataset": "shanghai_npp_viirs", "region": HUANGPU, "model": "bicubic"})
    at.multiselect[0].set_value([HUANGPU, "Xuhui (徐汇区)", "Changning (长宁区)"]).run()
    at.multiselect(key="sdg_years|shanghai_npp_viirs").set_value([2014, 2022]).run()
    at.button(key="run_time_series").click().run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert [t["name"] for t in spec["data"]] == ["lr", "sr", "hr"]  # one region: three lines, not nine
    at.radio(key="series_layout").set_value("small multiples").run()
    at.multiselect(key="series_products").set_value(["sr", "hr"]).run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert len(spec["data"]) == 6 and {t["name"] for t in spec["data"]} == {"sr", "hr"}
    assert at.query_params["series"] == "small multiples" and at.query_params["products"] == "sr,hr"
    change = next(d.value for d in at.dataframe if "spread of % (LR/SR/HR, points)" in d.value.columns)
    assert set(change["region"]) == {HUANGPU, "Xuhui (徐汇区)", "Changning (长宁区)"}
    assert at.query_params["from"] == "2014" and at.query_params["to"] == "2022"
    assert "type the people of each region" in texts(at)  # SDG 11.3.1 asks for the population
    labels = [b.label for b in at.get("download_button")]
    assert labels[-2:] == ["Time series CSV", "Change CSV"]


def test_staged_progress_box_names_the_stages(app_env, monkeypatch):
    monkeypatch.setattr("app.layout.SLOW_STEP_S", 0.0)  # keep the box even when everything is fast
    at = run_page("compare")
    assert not at.exception
    labels = [s.label for s in at.status]
    assert any(label.startswith("Preparing") and "ready in" in label and "reading the region" in label for label in labels)
    assert any(label.startswith("Reconstructing") and "reconstructing (tile batches)" in label for label in labels)
    assert all(s.state == "complete" for s in at.status)


def test_models_page_has_no_none_cells(app_env, tiny_home):
    (tiny_home / "results" / "quality_demo.csv").write_text(
        "model,steps,psnr,empty\nbicubic,,20.5,\ndeeplightsr,400,31.2,\n"
    )
    try:
        at = run_page("models")
        assert not at.exception
        import pyarrow as pa

        shown = pa.ipc.open_stream(io.BytesIO(at.dataframe[0].proto.arrow_data.styler.display_values))
        cells = shown.read_all().to_pandas().astype(str)
        assert "empty" not in at.dataframe[0].value.columns  # a column with no value is left out
        assert not cells.isin(["None", "nan", "<NA>"]).any().any()
        assert (cells == "-").any().any()
    finally:
        for path in (tiny_home / "results").iterdir():
            path.unlink()


@pytest.mark.parametrize("limit", [0.5, 1.0, 3.2, 11.5, 33.0, 1000.0, 5000.0])
def test_difference_legend_labels_never_print_over_each_other(limit):
    from app.colors import MIN_TICK_GAP
    from app.maps import difference_ticks

    ticks = difference_ticks(limit)
    positions = [pos for _, pos in ticks]
    assert ticks[0][0] == -limit and ticks[-1][0] == limit and (0.0, 0.5) in ticks
    assert min(b - a for a, b in zip(positions, positions[1:])) >= MIN_TICK_GAP
