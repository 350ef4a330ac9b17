"""The pure helpers of the per-region indicator table (benchmarks/sdg_eval.py), on tables made by code."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "sdg_eval.py"


def _load():
    spec = importlib.util.spec_from_file_location("sdg_eval_under_test", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sdg_eval = _load()


def _tidy(product_values: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """{product: {region: {indicator: value}}} -> a tidy table like compute_indicators'."""
    rows = [
        {"region": region, "product": product, "indicator": indicator, "value": value, "unit": "x"}
        for product, regions in product_values.items()
        for region, indicators in regions.items()
        for indicator, value in indicators.items()
    ]
    return pd.DataFrame(rows)


def _values(rows: list[tuple[str, str, str, float]], place: str = "p") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["region", "method", "indicator", "value"])
    frame.insert(0, "place", place)
    return frame


# --- parse_checkpoint_specs -----------------------------------------------------------------------


def test_checkpoint_specs_default_names_and_named():
    assert sdg_eval.parse_checkpoint_specs(None, "data/checkpoints/deeplightsr_demo") == [
        ("deeplightsr_demo", "data/checkpoints/deeplightsr_demo")
    ]
    specs = sdg_eval.parse_checkpoint_specs(["a/b/fast.safetensors", "quality=c/d.json"])
    assert specs == [("fast", "a/b/fast.safetensors"), ("quality", "c/d.json")]


@pytest.mark.parametrize(
    "items", [["x=a", "x=b"], ["a/x", "b/x.safetensors"], ["LR=a"], ["bicubic=a"], ["x="]]
)
def test_checkpoint_specs_reject_duplicates_reserved_and_empty(items):
    with pytest.raises(ValueError):
        sdg_eval.parse_checkpoint_specs(items)


# --- crop_window ----------------------------------------------------------------------------------


def test_crop_window_whole_raster_cut_to_blocks():
    rows, cols = sdg_eval.crop_window((1420, 1361), None)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (0, 1416, 0, 1360)


@pytest.mark.parametrize(
    "shape,max_pixels", [((1420, 1361), 200_000), ((262, 281), 65_536), ((100, 900), 5000)]
)
def test_crop_window_bounded_aligned_centred(shape, max_pixels):
    rows, cols = sdg_eval.crop_window(shape, max_pixels)
    height, width = rows.stop - rows.start, cols.stop - cols.start
    assert height * width <= max_pixels
    assert height % 8 == 0 and width % 8 == 0 and height >= 8 and width >= 8
    assert rows.start % 8 == 0 and cols.start % 8 == 0
    assert rows.stop <= shape[0] and cols.stop <= shape[1]
    # centred within a block, and not needlessly small: one more block row or column would not fit
    assert abs((rows.start + rows.stop) / 2 - (shape[0] // 8 * 8) / 2) <= 8
    assert (height + 8) * (width + 8) > max_pixels


def test_crop_window_rejects_tiny():
    with pytest.raises(ValueError):
        sdg_eval.crop_window((7, 100), None)
    with pytest.raises(ValueError):
        sdg_eval.crop_window((64, 64), 10)


# --- collect_indicators ---------------------------------------------------------------------------


def test_collect_indicators_maps_runs_and_products():
    fixed = _tidy(
        {
            "hr": {"A": {"sum_of_lights": 10.0, "lit_area": 2.0, "urban_area": 1.0, "co2_emissions": 0.25}},
            "m0": {"A": {"sum_of_lights": 11.0, "lit_area": 3.0, "urban_area": 1.5, "co2_emissions": 0.3}},
            "other": {"A": {"sum_of_lights": 99.0}},
        }
    )
    otsu = _tidy({"hr": {"A": {"urban_area": 0.5}}, "m0": {"A": {"urban_area": 0.7}}})
    out = sdg_eval.collect_indicators({"fixed": fixed, "otsu": otsu}, {"hr": "HR", "m0": "SR x"})
    got = {(r.method, r.indicator): r.value for r in out.itertuples()}
    assert got == {
        ("HR", "sum_of_lights"): 10.0,
        ("SR x", "sum_of_lights"): 11.0,
        ("HR", "lit_area"): 2.0,
        ("SR x", "lit_area"): 3.0,
        ("HR", "urban_fixed"): 1.0,
        ("SR x", "urban_fixed"): 1.5,
        ("HR", "urban_otsu"): 0.5,
        ("SR x", "urban_otsu"): 0.7,
        ("HR", "co2_share"): 0.25,
        ("SR x", "co2_share"): 0.3,
    }
    # no population -> no electricity-access rows; unmapped products are ignored
    assert "electricity_access" not in set(out["indicator"])
    assert set(out["method"]) == {"HR", "SR x"}


# --- relative_error / relative_difference ---------------------------------------------------------


def test_relative_error_edge_cases():
    got = sdg_eval.relative_error([1.5, 0.0, 2.0, np.nan, 1.0], [1.0, 0.0, 0.0, 1.0, np.nan])
    assert got[0] == pytest.approx(0.5)
    assert got[1] == 0.0
    assert math.isinf(got[2])
    assert np.isnan(got[3]) and np.isnan(got[4])


def test_relative_difference_signed():
    got = sdg_eval.relative_difference([99.0, 0.0, -1.0], [100.0, 0.0, 0.0])
    assert got[0] == pytest.approx(-0.01)
    assert got[1] == 0.0
    assert got[2] == -np.inf


# --- error_table and summarise --------------------------------------------------------------------


def _two_region_values() -> pd.DataFrame:
    rows = []
    # region A: HR 100, LR 120 (err 20), bicubic 110 (10), SR 101 (1)
    # region B: HR 50, LR 52 (2), bicubic 55 (5), SR 60 (10)
    for region, hr, lr, bic, sr in (("A", 100.0, 120.0, 110.0, 101.0), ("B", 50.0, 52.0, 55.0, 60.0)):
        rows += [
            (region, "HR", "sum_of_lights", hr),
            (region, "LR", "sum_of_lights", lr),
            (region, "bicubic", "sum_of_lights", bic),
            (region, "SR m", "sum_of_lights", sr),
        ]
    # urban area 0 everywhere in region B (a tie), and SR exact in A
    rows += [
        ("A", "HR", "urban_fixed", 4.0),
        ("A", "LR", "urban_fixed", 8.0),
        ("A", "bicubic", "urban_fixed", 6.0),
        ("A", "SR m", "urban_fixed", 4.0),
        ("B", "HR", "urban_fixed", 0.0),
        ("B", "LR", "urban_fixed", 0.0),
        ("B", "bicubic", "urban_fixed", 0.0),
        ("B", "SR m", "urban_fixed", 0.0),
    ]
    return _values(rows)


def _row(errors: pd.DataFrame, region: str, method: str, indicator: str) -> pd.Series:
    select = (errors.region == region) & (errors.method == method) & (errors.indicator == indicator)
    return errors[select].iloc[0]


def test_error_table_rows_and_flags():
    errors = sdg_eval.error_table(_two_region_values())
    assert set(errors["method"]) == {"LR", "bicubic", "SR m"}
    assert len(errors) == 2 * 2 * 3  # regions x indicators x methods other than HR
    row = _row(errors, "A", "SR m", "sum_of_lights")
    assert row.hr == 100.0 and row.value == 101.0 and row.error == 1.0
    assert row.rel_error == pytest.approx(0.01)
    assert row.vs_lr == pytest.approx(101 / 120 - 1)
    assert bool(row.le_lr) and bool(row.lt_lr) and bool(row.le_bicubic)
    row = _row(errors, "B", "SR m", "sum_of_lights")
    assert not bool(row.le_lr) and not bool(row.le_bicubic)
    tie = _row(errors, "B", "SR m", "urban_fixed")
    assert bool(tie.le_lr) and not bool(tie.lt_lr) and tie.rel_error == 0.0


def test_error_table_keeps_places_apart():
    a = _values([("A", "HR", "lit_area", 1.0), ("A", "LR", "lit_area", 2.0)], place="one")
    b = _values([("Z", "HR", "lit_area", 3.0), ("Z", "LR", "lit_area", 3.0)], place="two")
    errors = sdg_eval.error_table(pd.concat([a, b], ignore_index=True))
    assert sorted(zip(errors.place, errors.region, strict=True)) == [("one", "A"), ("two", "Z")]


def test_error_table_needs_hr():
    with pytest.raises(ValueError):
        sdg_eval.error_table(_values([("A", "LR", "lit_area", 1.0)]))


def test_error_table_nan_is_unknown_not_better():
    errors = sdg_eval.error_table(
        _values(
            [("A", "HR", "lit_area", 1.0), ("A", "LR", "lit_area", 2.0), ("A", "SR m", "lit_area", np.nan)]
        )
    )
    row = errors[errors.method == "SR m"].iloc[0]
    assert pd.isna(row.le_lr) and np.isnan(row.rel_error)


def test_summarise_shares_medians_and_flux():
    summary = sdg_eval.summarise(sdg_eval.error_table(_two_region_values()))
    sr = summary[(summary.method == "SR m") & (summary.indicator == "sum_of_lights")].iloc[0]
    assert sr.regions == 2
    assert sr.share_le_lr == 0.5 and sr.share_le_bicubic == 0.5
    assert sr.median_rel_error == pytest.approx(np.median([0.01, 0.2]))
    assert sr.total_vs_hr == pytest.approx(161 / 150 - 1)
    assert sr.total_vs_lr == pytest.approx(161 / 172 - 1)
    assert sr.median_abs_vs_lr == pytest.approx(np.median([abs(101 / 120 - 1), abs(60 / 52 - 1)]))
    assert sr.share_within_1pct_lr == 0.0
    urban = summary[(summary.method == "SR m") & (summary.indicator == "urban_fixed")].iloc[0]
    assert urban.share_le_lr == 1.0 and urban.share_lt_lr == 0.5
    assert urban.total_vs_hr == 0.0
    assert np.isnan(urban.total_vs_lr)  # not a flux indicator
    lr = summary[(summary.method == "LR") & (summary.indicator == "sum_of_lights")].iloc[0]
    assert np.isnan(lr.share_le_lr) and lr.share_le_bicubic == 0.5


def test_summarise_flux_kept_counts_within_one_percent():
    rows = []
    for region, hr, lr in (("A", 10.0, 12.0), ("B", 20.0, 18.0), ("C", 5.0, 5.0)):
        rows += [
            (region, "HR", "sum_of_lights", hr),
            (region, "LR", "sum_of_lights", lr),
            (region, "SR keep", "sum_of_lights", lr * 1.005),
        ]
    summary = sdg_eval.summarise(sdg_eval.error_table(_values(rows)))
    keep = summary[summary.method == "SR keep"].iloc[0]
    assert keep.share_within_1pct_lr == 1.0
    assert keep.total_vs_lr == pytest.approx(0.005)


def test_summarise_shares_have_no_total_vs_lr():
    rows = []
    for region, hr, lr, sr in (("A", 0.6, 0.5, 0.7), ("B", 0.4, 0.5, 0.3)):
        rows += [
            (region, "HR", "co2_share", hr),
            (region, "LR", "co2_share", lr),
            (region, "SR m", "co2_share", sr),
        ]
    summary = sdg_eval.summarise(sdg_eval.error_table(_values(rows)))
    sr = summary[summary.method == "SR m"].iloc[0]
    assert np.isnan(sr.total_vs_lr) and np.isnan(sr.total_vs_hr)
    assert sr.median_abs_vs_lr == pytest.approx(np.median([0.4, 0.4]))
    assert sr.share_within_1pct_lr == 0.0


def test_summarise_skips_unobserved_categories():
    errors = sdg_eval.error_table(_two_region_values())
    errors["indicator"] = pd.Categorical(errors["indicator"], list(sdg_eval.INDICATORS))
    summary = sdg_eval.summarise(errors)
    assert set(summary["indicator"].astype(str)) == {"sum_of_lights", "urban_fixed"}


# --- formatting and keys --------------------------------------------------------------------------


def test_format_number_and_percent():
    assert sdg_eval.format_number(118342.4) == "118342"
    assert sdg_eval.format_number(0.018601) == "0.01860"
    assert sdg_eval.format_number(16) == "16"
    assert sdg_eval.format_number(float("nan")) == ""
    assert sdg_eval.format_number(float("inf")) == "inf"
    assert sdg_eval.format_percent(0.1234) == "12.3%"
    assert sdg_eval.format_percent(float("nan")) == ""


def test_markdown_escapes_pipes_and_blanks_nan():
    text = sdg_eval.markdown(pd.DataFrame({"a|b": ["x|y"], "v": [float("nan")]}))
    lines = text.splitlines()
    assert lines[0] == "| a\\|b | v |"
    assert lines[2] == "| x\\|y |  |"


def test_stable_key_order_independent_and_sensitive():
    assert sdg_eval.stable_key(a=1, b=[1, 2]) == sdg_eval.stable_key(b=[1, 2], a=1)
    assert sdg_eval.stable_key(a=1) != sdg_eval.stable_key(a=2)


def test_ordered_methods():
    assert sdg_eval.ordered_methods(["SR b", "LR", "SR a", "HR", "bicubic", "LR"]) == [
        "HR", "LR", "bicubic", "SR b", "SR a",
    ]
