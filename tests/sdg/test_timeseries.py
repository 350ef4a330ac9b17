"""Time series over years and SDG 11.3.1 from the indicator table."""

import numpy as np
import pandas as pd
import pytest

from deeplight.errors import DeepLightError
from deeplight.sdg import compute_time_series, land_consumption_table, load_regions
from tests.sdg.helpers import cell_box, regions_frame, write_raster


@pytest.fixture
def series(tmp_path):
    products = {}
    for year, bright_cells in ((2010, 2), (2020, 4)):
        values = np.zeros((4, 4))
        values.flat[:bright_cells] = 50.0
        products[year] = {"hr": write_raster(tmp_path / f"hr_{year}.tif", values)}
    regions = load_regions(regions_frame({"city": cell_box(0, 0, 4, 4)}))
    return compute_time_series(products, regions, urban_method="fixed", urban_threshold=10.0)


def test_years_and_gdp_prior(series):
    assert sorted(series["year"].dropna().unique().tolist()) == [2010, 2020]
    tnl = series[(series.indicator == "sum_of_lights")].set_index("year")["value"]
    assert tnl[2020] == pytest.approx(2 * tnl[2010], rel=1e-6)
    prior = series[series.indicator == "gdp_growth_prior"].iloc[0]
    assert prior["value"] == pytest.approx(0.3 * np.log(2), rel=1e-6)
    assert prior["method"].startswith("PRIOR")


def test_land_consumption_table(series):
    population = pd.DataFrame(
        {"region": ["city", "city"], "year": [2010, 2020], "population": [1000.0, 1200.0]}
    )
    sdg = land_consumption_table(series, 2010, 2020, population=population).set_index("indicator")
    assert sdg.loc["lcr", "value"] == pytest.approx(np.log(2) / 10, rel=1e-6)
    assert sdg.loc["pgr", "value"] == pytest.approx(np.log(1.2) / 10, rel=1e-6)
    assert sdg.loc["lcrpgr", "value"] == pytest.approx(np.log(2) / np.log(1.2), rel=1e-6)
    shrinking = {("city", 2010): 1000.0, ("city", 2020): 900.0}
    with pytest.warns(RuntimeWarning, match="LCRPGR undefined"):
        out = land_consumption_table(series, 2010, 2020, population=shrinking).set_index("indicator")
    assert np.isnan(out.loc["lcrpgr", "value"])
    assert "PGR <= 0" in out.loc["lcrpgr", "note"]
    with pytest.raises(DeepLightError, match=r"years \[2015\] are not in"):
        land_consumption_table(series, 2010, 2015, population=population)
    with pytest.raises(DeepLightError, match="year_end > year_start"):
        land_consumption_table(series, 2020, 2010)
