"""Real-data validation through the `shared_data` fixture (../shared/data; CI must not skip).

Figures checked here are the ones benchmarks/validate_sdg.py reports in docs/sdg.md.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from rasterio.warp import Resampling

from deeplight.cli import main
from deeplight.data.degrade import degrade_dmsp_like, lr_dn_to_radiance
from deeplight.sdg import compute_indicators, load_regions, population_per_region, urban_extent_accuracy
from deeplight.io.georaster import GeoRaster, read_georaster, reproject_like
from deeplight.io.regions import regions_from_bbox

pytestmark = pytest.mark.shared_data

SHANGHAI_2018 = {
    "viirs_like": "shanghai/viirs_like_2000_2020/NTL_Shanghai_2000_2020_2018.tif",
    "npp_viirs": "shanghai/npp_viirs_2013_2022/NTL_Shanghai_NPP-VIIRS_2013_2022_2018.tif",
}
DISTRICTS = "shanghai/boundaries/shanghai_districts_boundary.shp"


@pytest.mark.parametrize("product", sorted(SHANGHAI_2018))
def test_shanghai_urban_extent_against_mgup_2018(shared_data, product):
    table = urban_extent_accuracy(
        shared_data / SHANGHAI_2018[product],
        shared_data / "shanghai/real_sh_MGUP2018.tif",
        shared_data / DISTRICTS,
        product_name=product,
    )
    assert set(table["method"]) == {"fixed", "otsu", "calibrated"}
    assert (table.groupby("method").size() == 17).all()  # 16 districts + ALL
    overall = table[table.region == "ALL"].set_index("method")
    assert (overall["f1"] > 0.8).all() and (overall["iou"] > 0.65).all() and (overall["kappa"] > 0.55).all()
    calibrated = overall.loc["calibrated"]
    assert calibrated["urban_area_km2"] == pytest.approx(calibrated["reference_area_km2"], rel=0.01)
    assert overall.loc["calibrated", "f1"] >= overall.loc["otsu", "f1"]
    per_district = table[(table.method == "calibrated") & (table.region != "ALL")].set_index("region")
    assert per_district.loc["黄浦区", "f1"] > 0.98  # the core is urban on both maps
    assert per_district.loc["崇明区", "f1"] < per_district.loc["浦东新区", "f1"]


def test_cote_divoire_access_proxy_with_population(shared_data):
    civ = shared_data / "cote_divoire"
    regions = load_regions(civ / "adm1_rf_zonal.geojson")
    assert regions.attrs["name_column"] == "ADM1_FR" and len(regions) == 33
    population = read_georaster(civ / "pop.tif", name="population")
    with pytest.warns(UserWarning, match="reprojected onto the EPSG:4326 product grid.*conserve its total"):
        table = compute_indicators({"hr": civ / "ntl.tif"}, regions, population=population, year=2024)
    wide = table.pivot_table(index="region", columns="indicator", values="value")
    access = wide["electricity_access"]
    assert access.between(0, 1).all()
    assert access.idxmax() == "District Autonome D'Abidjan" and access.max() > 0.95
    native = pd.Series(population_per_region(population, regions))
    np.testing.assert_allclose(wide["population"], native[wide.index], rtol=0.01)
    assert wide["population"].sum() == pytest.approx(native.sum(), rel=0.005)


def test_touggourt_zonal_statistics_across_crss(shared_data):
    tg = shared_data / "touggourt"
    regions = load_regions(tg / "algeria-touggourt-hexcells.geojson")
    vnl = read_georaster(tg / "VNL_v2_npp_2020_global_vcmslcfg_c202102150000.average_masked.tif")
    population = read_georaster(tg / "GHS_POP_E2015_GLOBE_R2019A_54009_1K_V1_0.tif", name="population")
    assert population.crs.to_string() == "ESRI:54009" and vnl.crs.to_epsg() == 4326
    t = population.transform
    mollweide = GeoRaster(
        np.zeros((population.shape[0] * 4, population.shape[1] * 4)),
        Affine(t.a / 4, 0, t.c, 0, t.e / 4, t.f),
        population.crs,
        "grid",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = compute_indicators(
            {"geo": vnl, "moll": reproject_like(vnl, mollweide, Resampling.average)},
            regions,
            population=population,
        )
    wide = table.pivot_table(index="region", columns=["product", "indicator"], values="value")
    np.testing.assert_allclose(wide[("geo", "region_area")], 95.93, rtol=1e-3)  # hexagons of ~96 km2
    bright = wide[("geo", "sum_of_lights")] > 100
    assert bright.sum() >= 3
    np.testing.assert_allclose(
        wide.loc[bright, ("moll", "sum_of_lights")], wide.loc[bright, ("geo", "sum_of_lights")], rtol=0.02
    )
    native = pd.Series(population_per_region(population, regions))
    populated = native > 1000
    np.testing.assert_allclose(
        wide.loc[native[populated].index, ("geo", "population")], native[populated], rtol=0.02
    )
    assert wide.loc[native[populated].index, ("geo", "electricity_access")].min() > 0.95


def test_cli_on_shanghai_districts_reads_back(shared_data, tmp_path, capsys):
    out = tmp_path / "shanghai.csv"
    status = main(
        [
            "sdg",
            "--raster",
            str(shared_data / SHANGHAI_2018["viirs_like"]),
            "--regions",
            str(shared_data / DISTRICTS),
            "--name-column",
            "Name",
            "--out",
            str(out),
            "--year",
            "2018",
            "--urban-method",
            "calibrated",
            "--urban-reference",
            str(shared_data / "shanghai/real_sh_MGUP2018.tif"),
            "--geo",
            str(tmp_path / "shanghai.geojson"),
        ]
    )
    assert status == 0, capsys.readouterr().err
    table = pd.read_csv(out, comment="#")
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
    assert table["region"].nunique() == 16 and "浦东新区" in set(table["region"])
    assert (table["year"] == 2018).all() and not table["simulated"].any()
    urban = table[table.indicator == "urban_area"].set_index("region")["value"]
    assert urban.sum() == pytest.approx(3410, rel=0.05)  # MGUP urban area inside the districts


def test_lr_versus_hr_on_degraded_shanghai(shared_data):
    hr = read_georaster(shared_data / SHANGHAI_2018["viirs_like"])
    rows, cols = (hr.shape[0] // 8) * 8, (hr.shape[1] // 8) * 8
    hr_values = np.maximum(hr.values[:rows, :cols], 0.0)
    lr_dn, info = degrade_dmsp_like(hr_values, seed=0)
    lr_transform = hr.transform @ Affine.scale(8)
    outline = load_regions(shared_data / "shanghai/boundaries/shanghai.shp")
    scene = regions_from_bbox(
        (
            hr.transform.c,
            hr.transform.f - rows * abs(hr.transform.e),
            hr.transform.c + cols * hr.transform.a,
            hr.transform.f,
        ),
        name="scene",
    )
    regions = load_regions(pd.concat([outline[["region", "geometry"]], scene], ignore_index=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = compute_indicators(
            {
                "hr": GeoRaster(hr_values, hr.transform, hr.crs, "hr", {}),
                "lr": GeoRaster(
                    lr_dn.astype(float), lr_transform, hr.crs, "lr", {"units": "DN", "simulated": "true"}
                ),
                "lr_calibrated": GeoRaster(
                    lr_dn_to_radiance(lr_dn, info), lr_transform, hr.crs, "lr", {"simulated": "true"}
                ),
            },
            regions,
            urban_method="fixed",
        )
    wide = table.pivot_table(index=["region", "product"], columns="indicator", values="value")
    city = outline["region"].iloc[0]
    assert wide.loc[(city, "lr"), "lit_area"] > wide.loc[(city, "hr"), "lit_area"]  # blooming + 4 km cells
    assert wide.loc[("scene", "lr"), "lit_area"] > 1.1 * wide.loc[("scene", "hr"), "lit_area"]
    assert wide.loc[("scene", "lr_calibrated"), "sum_of_lights"] == pytest.approx(
        wide.loc[("scene", "hr"), "sum_of_lights"], rel=0.03
    )
    assert wide.loc[(city, "lr_calibrated"), "sum_of_lights"] == pytest.approx(
        wide.loc[(city, "hr"), "sum_of_lights"], rel=0.10
    )
    assert table.loc[table["product"] != "hr", "simulated"].all()


def test_natural_earth_countries_over_shanghai(shared_data, tmp_path, capsys):
    out = tmp_path / "countries.csv"
    status = main(
        [
            "sdg",
            "--raster",
            str(shared_data / SHANGHAI_2018["npp_viirs"]),
            "--regions",
            "naturalearth",
            "--out",
            str(out),
            "--drop-empty",
            "--urban-method",
            "fixed",
        ]
    )
    assert status == 0
    err = capsys.readouterr().err
    assert "176 regions: no overlap with the raster" in err and err.count("no overlap") == 1
    table = pd.read_csv(out, comment="#")
    assert set(table["region"]) == {"China"}


def test_crop_to_regions_reads_a_window_with_the_same_sums(shared_data):
    civ = shared_data / "cote_divoire"
    regions = load_regions(civ / "adm1_rf_zonal.geojson")
    abidjan = regions[regions.region == "District Autonome D'Abidjan"]
    full = compute_indicators({"hr": civ / "ntl.tif"}, abidjan, urban_method="fixed")
    cropped = compute_indicators({"hr": civ / "ntl.tif"}, abidjan, urban_method="fixed", crop_to_regions=True)
    assert cropped.attrs["metadata"]["products"]["hr"]["shape"][0] < 200  # full raster: 1420 rows
    pd.testing.assert_series_equal(full["value"], cropped["value"], rtol=1e-9)


def test_cli_with_a_degraded_lr_file_is_labelled_simulated(shared_data, tmp_path, capsys):
    from deeplight.data.degrade_raster import degrade_raster

    hr_path = shared_data / SHANGHAI_2018["npp_viirs"]
    lr_path = degrade_raster(hr_path, tmp_path / "lr.tif", seed=1).lr_path
    out = tmp_path / "lr_hr.csv"
    status = main(
        [
            "sdg",
            "--raster",
            str(hr_path),
            "--lr",
            str(lr_path),
            "--regions",
            str(shared_data / "shanghai/boundaries/shanghai.shp"),
            "--out",
            str(out),
            "--urban-method",
            "fixed",
        ]
    )
    assert status == 0
    assert "SIMULATED products (made by the degradation model): lr" in capsys.readouterr().out
    header = [line for line in out.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    assert any(line.startswith("# simulated_note: ") and "lr" in line for line in header)
    table = pd.read_csv(out, comment="#")
    lr_rows = table[table["product"] == "lr"]
    assert lr_rows["simulated"].all() and not table.loc[table["product"] == "hr", "simulated"].any()
    lit = lr_rows.set_index("indicator")
    assert lit.loc["lit_area", "method"] == "DN > 7"
    assert "nominal calibration" in lit.loc["sum_of_lights", "method"]
