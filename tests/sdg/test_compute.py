"""Known-answer tests of compute_indicators on tiny rasters built here (1 km cells, EPSG:6933)."""

import warnings

import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine

from deeplight.errors import DeepLightError, RegionError
from deeplight.sdg import compute_indicators, load_regions
from deeplight.io.pixel_area import pixel_area_m2
from tests.sdg.helpers import cell_box, regions_frame, write_raster

pytestmark = pytest.mark.filterwarnings("ignore:region .far.:UserWarning")

VALUES = np.array(
    [
        [0.0, 0.5, 2.0, 4.0],
        [1.0, 10.0, 20.0, 0.0],
        [np.nan, 3.0, 5.0, 0.0],
        [0.0, 0.0, 0.0, 100.0],
    ]
)


def _value(table: pd.DataFrame, region: str, indicator: str, product: str = "hr", column: str = "value"):
    row = table[(table.region == region) & (table.indicator == indicator) & (table["product"] == product)]
    assert len(row) == 1, (region, indicator, product)
    return row[column].iloc[0]


@pytest.fixture
def scene(tmp_path):
    hr = write_raster(tmp_path / "hr.tif", VALUES, nodata=np.nan)
    regions = load_regions(
        regions_frame(
            {
                "A": cell_box(0, 0, 3, 3),  # 9 full cells, one of them nodata
                "B": cell_box(3, 2.5, 4, 4),  # half of cell (3,2) and all of (3,3)
                "far": shapely.box(1e6, 1e6, 1.001e6, 1.001e6),  # outside the raster
            }
        )
    )
    return tmp_path, hr, regions


def test_sums_areas_and_statistics(scene):
    _, hr, regions = scene
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = compute_indicators({"hr": hr}, regions, year=2020, urban_method="fixed", urban_threshold=10.0)
    assert list(table.columns) == [
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
    assert _value(table, "A", "sum_of_lights") == pytest.approx(41.5, rel=1e-6)
    assert _value(table, "A", "mean_radiance") == pytest.approx(41.5 / 8, rel=1e-6)
    assert _value(table, "A", "min_radiance") == 0.0 and _value(table, "A", "max_radiance") == 20.0
    assert _value(table, "A", "valid_fraction") == pytest.approx(8 / 9, rel=1e-6)
    assert _value(table, "A", "valid_pixel_count") == pytest.approx(8.0)
    assert _value(table, "A", "lit_area") == pytest.approx(6.0, rel=1e-6)  # 1, 2, 3, 5, 10, 20 >= 1
    assert _value(table, "A", "lit_share") == pytest.approx(0.75, rel=1e-6)
    assert _value(table, "A", "urban_area") == pytest.approx(2.0, rel=1e-6)  # 10, 20 >= 10
    assert _value(table, "A", "region_area") == pytest.approx(9.0, rel=1e-6)
    assert _value(table, "A", "sum_of_lights", column="unit") == "nW/cm2/sr*km2"
    assert "valid data over 88.9%" in _value(table, "A", "sum_of_lights", column="note")
    # fractional coverage: half of a 0-radiance cell plus one 100-radiance cell
    assert _value(table, "B", "sum_of_lights") == pytest.approx(100.0, rel=1e-6)
    assert _value(table, "B", "lit_share") == pytest.approx(1.0 / 1.5, rel=1e-6)
    assert _value(table, "B", "valid_pixel_count") == pytest.approx(1.5, rel=1e-6)
    assert np.isnan(_value(table, "far", "sum_of_lights"))
    assert "no overlap" in _value(table, "far", "sum_of_lights", column="note")
    assert any("'far'" in str(w.message) and "no overlap" in str(w.message) for w in caught)
    assert table["year"].dropna().unique().tolist() == [2020]
    assert not table["simulated"].any()


def test_weighted_quantiles_on_equal_cells(scene):
    _, hr, regions = scene
    table = compute_indicators({"hr": hr}, regions)
    valid = VALUES[:3, :3][np.isfinite(VALUES[:3, :3])]
    assert _value(table, "A", "median_radiance") == pytest.approx(
        np.quantile(valid, 0.5, method="hazen"), rel=1e-6
    )
    assert _value(table, "A", "std_radiance") == pytest.approx(np.std(valid), rel=1e-6)


def test_population_in_another_crs_is_conserved_and_gives_access(scene):
    tmp_path, hr, regions = scene
    # uniform 100 people/km^2 on a 0.005-degree EPSG:4326 grid covering the scene
    step = 0.005
    transform = Affine(step, 0, -0.01, 0, -step, 0.05)
    shape = (14, 12)
    people = 100.0 * pixel_area_m2(transform, "EPSG:4326", shape) / 1e6
    pop = write_raster(tmp_path / "pop.tif", people, crs="EPSG:4326", transform=transform, nodata=-1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = compute_indicators({"hr": hr}, regions, population=pop)
    assert any("reprojected" in str(w.message) and "conserve" in str(w.message) for w in caught)
    assert _value(table, "A", "population") == pytest.approx(900.0, rel=0.02)
    assert _value(table, "B", "population") == pytest.approx(150.0, rel=0.03)
    # people in lit cells: 6 of the 8 cells with light data, equal density
    assert _value(table, "A", "electricity_access") == pytest.approx(0.75, abs=0.02)
    assert _value(table, "B", "electricity_access") == pytest.approx(1 / 1.5, abs=0.03)


def test_uncertainty_gives_intervals(scene):
    tmp_path, hr, regions = scene
    std = write_raster(tmp_path / "std.tif", np.ones_like(VALUES))
    table = compute_indicators({"sr": hr}, regions, uncertainty={"sr": std}, urban_method="fixed")
    valid = VALUES[:3, :3][np.isfinite(VALUES[:3, :3])]
    assert _value(table, "A", "sum_of_lights", "sr", "upper") == pytest.approx(np.sum(valid + 1.96), rel=1e-6)
    assert _value(table, "A", "sum_of_lights", "sr", "lower") == pytest.approx(
        np.sum(np.maximum(valid - 1.96, 0)), rel=1e-6
    )
    assert _value(table, "A", "lit_area", "sr", "lower") == pytest.approx(4.0)  # R - 1.96 >= 1: 3, 5, 10, 20
    assert _value(table, "A", "lit_area", "sr", "upper") == pytest.approx(8.0)  # every valid cell
    assert np.isnan(_value(table, "A", "max_radiance", "sr", "lower"))
    with pytest.raises(DeepLightError, match="unknown product"):
        compute_indicators({"sr": hr}, regions, uncertainty={"hr": std})


def test_dn_product_uses_dn_threshold_and_nominal_calibration(scene):
    tmp_path, _, regions = scene
    dn = np.array([[0, 7, 8, 63]] * 4, dtype=float)
    lr = write_raster(
        tmp_path / "lr.tif", dn, tags={"units": "DN (0-63, DMSP-like 6-bit)", "simulated": "true"}
    )
    table = compute_indicators({"lr": lr}, regions)
    assert _value(table, "A", "lit_area", "lr") == pytest.approx(3.0)  # DN 8 in 3 rows; DN 7 is not lit
    expected = 3 * (7 / 6) ** (1 / 0.6) + 3 * (8 / 6) ** (1 / 0.6)
    assert _value(table, "A", "sum_of_lights", "lr") == pytest.approx(expected, rel=1e-6)
    assert "nominal calibration" in _value(table, "A", "sum_of_lights", "lr", "method")
    assert table["simulated"].all()
    assert table.attrs["metadata"]["simulated_products"] == ["lr"]


def test_co2_disaggregation_and_power_law(scene):
    _, hr, regions = scene
    table = compute_indicators({"hr": hr}, regions, co2_total=1000.0, co2_power_law_coefficients=(1.0, 0.5))
    assert _value(table, "A", "co2_emissions") == pytest.approx(1000 * 41.5 / 141.5, rel=1e-6)
    assert _value(table, "B", "co2_emissions") == pytest.approx(1000 * 100 / 141.5, rel=1e-6)
    assert _value(table, "A", "co2_power_law") == pytest.approx(np.exp(1.0) * 41.5**0.5, rel=1e-6)


def test_threshold_methods(scene):
    tmp_path, hr, regions = scene
    reference = write_raster(tmp_path / "ref.tif", (np.nan_to_num(VALUES) >= 5).astype(float))
    table = compute_indicators({"hr": hr}, regions, urban_method="calibrated", urban_reference=reference)
    # reference urban cells: 10, 20, 5, 100 -> calibrated tau = 5
    assert "R >= 5 nW/cm2/sr" in _value(table, "A", "urban_area", column="method")
    assert _value(table, "A", "urban_area") == pytest.approx(3.0)
    otsu = compute_indicators({"hr": hr}, regions, urban_method="otsu")
    assert "otsu" in _value(otsu, "A", "urban_area", column="method")
    with pytest.raises(DeepLightError, match="needs urban_reference"):
        compute_indicators({"hr": hr}, regions, urban_method="calibrated")
    with pytest.raises(DeepLightError, match="choose one of fixed, otsu, calibrated"):
        compute_indicators({"hr": hr}, regions, urban_method="magic")


def test_no_region_overlapping_is_an_error(scene):
    _, hr, _ = scene
    far = load_regions(regions_frame({"x": shapely.box(10, 10, 11, 11)}, crs="EPSG:4326"))
    with pytest.raises(RegionError, match="overlaps the product rasters.*check the CRS"):
        compute_indicators({"hr": hr}, far)


def test_empty_region_is_nan_and_others_computed(scene):
    _, hr, _ = scene
    regions = load_regions(regions_frame({"A": cell_box(0, 0, 3, 3), "empty": shapely.Polygon()}))
    with pytest.warns(UserWarning, match="'empty'"):
        table = compute_indicators({"hr": hr}, regions)
    assert np.isnan(_value(table, "empty", "sum_of_lights"))
    assert _value(table, "A", "sum_of_lights") == pytest.approx(41.5)


def test_sr_tags_reach_the_metadata(scene):
    tmp_path, _, regions = scene
    tags = {
        "units": "nW/cm2/sr",
        "simulated": "true",
        "model": "deeplight_sr",
        "checkpoint": "best.safetensors",
        "checkpoint_sha256": "ab12",
    }
    sr = write_raster(tmp_path / "sr.tif", np.nan_to_num(VALUES), tags=tags)
    table = compute_indicators({"sr": sr}, regions)
    product = table.attrs["metadata"]["products"]["sr"]
    assert product["model"] == "deeplight_sr" and product["checkpoint_sha256"] == "ab12"
    assert product["simulated"] is True and table["simulated"].all()
