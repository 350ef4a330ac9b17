"""`deeplight sdg` on tiny rasters: outputs, flags and clear errors."""

import json

import numpy as np
import pandas as pd
import pytest

from deeplight.cli import main
from tests.sdg.helpers import cell_box, regions_frame, write_raster


@pytest.fixture
def inputs(tmp_path):
    values = np.arange(16, dtype=float).reshape(4, 4)
    hr = write_raster(tmp_path / "hr.tif", values)
    lr = write_raster(tmp_path / "lr.tif", np.full((4, 4), 20.0))
    regions = tmp_path / "districts.gpkg"
    regions_frame({"Nord": cell_box(0, 0, 2, 4), "Süd": cell_box(2, 0, 4, 4)}).to_file(regions)
    return tmp_path, hr, lr, regions


def test_cli_writes_csv_sidecar_and_geopackage(inputs, capsys):
    tmp_path, hr, lr, regions = inputs
    out = tmp_path / "res" / "x.csv"
    status = main(
        [
            "sdg",
            "--raster",
            str(hr),
            "--lr",
            str(lr),
            "--regions",
            str(regions),
            "--out",
            str(out),
            "--year",
            "2018",
            "--simulated",
            "lr",
            "--geo",
            str(tmp_path / "res" / "x.gpkg"),
            "--urban-method",
            "fixed",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "2 regions x 2 products" in printed and "SIMULATED products" in printed
    table = pd.read_csv(out, comment="#")
    assert {"region", "product", "year", "indicator", "value", "unit", "simulated"} <= set(table.columns)
    assert set(table["product"]) == {"lr", "hr"}
    assert table.loc[table["product"] == "lr", "simulated"].all()
    assert (tmp_path / "res" / "x.json").exists() and (tmp_path / "res" / "x.gpkg").exists()
    lr_dn = table[(table["product"] == "lr") & (table.indicator == "lit_area") & (table.region == "Nord")]
    assert lr_dn["method"].iloc[0] == "DN > 7"  # untagged integer LR in 0..63 is read as DMSP-like DN


def test_cli_missing_name_column_lists_columns(inputs, capsys):
    tmp_path, hr, _, regions = inputs
    status = main(
        [
            "sdg",
            "--raster",
            str(hr),
            "--regions",
            str(regions),
            "--out",
            str(tmp_path / "x.csv"),
            "--name-column",
            "Name",
        ]
    )
    assert status == 2
    assert "has no column 'Name': choose one of name" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_cli_region_file_without_crs(inputs, capsys):
    tmp_path, hr, _, _ = inputs
    shp = tmp_path / "nocrs.shp"
    regions_frame({"a": cell_box(0, 0, 4, 4)}).to_file(shp)
    shp.with_suffix(".prj").unlink()
    assert main(["sdg", "--raster", str(hr), "--regions", str(shp), "--out", str(tmp_path / "x.csv")]) == 2
    assert "has no CRS" in capsys.readouterr().err
    assert (
        main(
            [
                "sdg",
                "--raster",
                str(hr),
                "--regions",
                str(shp),
                "--out",
                str(tmp_path / "x.csv"),
                "--regions-crs",
                "EPSG:6933",
            ]
        )
        == 0
    )


def test_cli_refuses_to_overwrite_an_input_and_needs_a_raster(inputs, capsys):
    tmp_path, hr, _, regions = inputs
    csv_input = tmp_path / "hr.csv"
    assert (
        main(
            [
                "sdg",
                "--raster",
                str(hr),
                "--regions",
                str(regions),
                "--out",
                str(regions.with_suffix(".csv")),
                "--geo",
                str(regions),
            ]
        )
        == 2
    )
    assert "is one of the inputs" in capsys.readouterr().err
    assert main(["sdg", "--regions", str(regions), "--out", str(csv_input)]) == 2
    assert "give at least one raster" in capsys.readouterr().err


def test_cli_time_series_with_sdg_11_3_1(inputs, capsys):
    tmp_path, _, _, regions = inputs
    paths = []
    for year, bright in ((2010, 4), (2020, 8)):
        values = np.zeros((4, 4))
        values.flat[:bright] = 40.0
        paths.append(f"{year}={write_raster(tmp_path / f'ntl_{year}.tif', values)}")
    people = tmp_path / "people.csv"
    people.write_text("region,year,population\nNord,2010,1000\nNord,2020,800\nSüd,2010,10\nSüd,2020,20\n")
    out = tmp_path / "series.csv"
    status = main(
        [
            "sdg",
            "--series",
            *paths,
            "--regions",
            str(regions),
            "--out",
            str(out),
            "--urban-method",
            "fixed",
            "--lcr",
            "2010",
            "2020",
            "--population-table",
            str(people),
        ]
    )
    assert status == 0
    assert "LCRPGR undefined for Nord" in capsys.readouterr().err  # Nord's population shrinks
    table = pd.read_csv(out, comment="#")
    assert sorted(table["year"].unique()) == [2010, 2020]
    nord = table[table.region == "Nord"].set_index("indicator")["value"]
    assert nord["lcr"] == pytest.approx(np.log(8 / 4) / 10)  # 4 -> 8 urban cells of 1 km2
    assert np.isnan(nord["lcrpgr"])
    assert nord["gdp_growth_prior"] == pytest.approx(0.3 * np.log(2))


def test_cli_series_errors(inputs, capsys):
    tmp_path, hr, _, regions = inputs
    base = ["sdg", "--regions", str(regions), "--out", str(tmp_path / "x.csv")]
    assert main([*base, "--series", "twenty=" + str(hr)]) == 2
    assert "must look like YEAR=PATH" in capsys.readouterr().err
    assert main([*base, "--series", f"2010={hr}", "--raster", str(hr)]) == 2
    assert "either --series or" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("name,year,people\nNord,2010,3\n")
    assert (
        main(
            [
                *base,
                "--series",
                f"2010={hr}",
                f"2020={hr}",
                "--lcr",
                "2010",
                "2020",
                "--population-table",
                str(bad),
            ]
        )
        == 2
    )
    assert "lacks column(s) ['population', 'region']" in capsys.readouterr().err


def test_cli_series_is_the_per_year_region_reports_stacked(inputs, tmp_path):
    """`deeplight sdg --series` goes through region_report, the single-date path (issue 12): its CSV's
    table is each year's region_report table stacked (series_table: period, masked), then the
    gdp_growth_prior rows and the SDG 11.3.1 rows; its metadata is the latest year's."""
    from deeplight.io.regions import load_regions
    from deeplight.report import Thresholds, region_report, series_table
    from deeplight.sdg.export import indicators_to_csv_bytes, read_indicators_csv

    _, _, _, regions = inputs
    years = {}
    for year, bright in ((2010, 4), (2015, 6), (2020, 8)):
        values = np.zeros((4, 4))
        values.flat[:bright] = 40.0
        years[year] = write_raster(tmp_path / f"ntl_{year}.tif", values)
    population = write_raster(tmp_path / "pop.tif", np.full((4, 4), 50.0))
    out = tmp_path / "series.csv"
    options = ["--urban-method", "fixed", "--lit-threshold", "2", "--population", str(population)]
    series_args = [f"{year}={path}" for year, path in years.items()]
    assert main(["sdg", "--series", *series_args, "--regions", str(regions), "--out", str(out),
                 "--lcr", "2010", "2020", *options]) == 0  # fmt: skip
    cli, header = read_indicators_csv(out)

    thresholds = Thresholds(lit_radiance=2.0, urban_method="fixed")
    loaded = load_regions(regions)
    reports = {
        year: region_report({"hr": path}, loaded, thresholds=thresholds, population=population, year=year)
        for year, path in years.items()
    }
    stacked = series_table({year: report.table for year, report in reports.items()})
    derived = cli["indicator"].isin(["gdp_growth_prior", "lcr", "pgr", "lcrpgr"])
    assert derived.sum() == 2 * 2 + 2 * 3  # 2 regions x 2 year pairs; 2 regions x LCR, PGR, LCRPGR
    # byte for byte, the CSV's table starts with the stacked per-year tables (values, units as words,
    # gini rows, order); the derived rows follow
    cli_body = out.read_bytes().split(b"\n\"region\"", 1)[1]
    stacked_body = indicators_to_csv_bytes(stacked).split(b"\n\"region\"", 1)[1]
    assert cli_body.startswith(stacked_body)
    tail = cli_body[len(stacked_body):].decode().splitlines()
    assert len(tail) == derived.sum() and all('"gdp_growth_prior"' in r or '"lc' in r or '"pgr"' in r for r in tail)
    for year, report in reports.items():  # and each year's slice is that year's region_report table
        part = cli[~derived & (cli["period"] == year)].drop(columns=["period", "masked"])
        expected = report.table.sort_values(["region", "product"], kind="stable")
        np.testing.assert_allclose(part["value"].to_numpy(float), expected["value"].to_numpy(float))
        assert part["indicator"].tolist() == expected["indicator"].tolist()
    assert "light_gini" in set(cli["indicator"]) and "share" in set(cli["unit"])  # region_report's rows
    assert header["years"] == [2010, 2015, 2020] and header["settings"]["lit_radiance"] == 2.0
    nord = cli[(cli.region == "Nord") & derived].set_index(["indicator", "year"])["value"]
    assert nord[("gdp_growth_prior", 2020)] == pytest.approx(0.3 * np.log(8 / 6))
    assert nord[("lcr", 2020)] == pytest.approx(np.log(8 / 4) / 10)


@pytest.mark.parametrize("spelling", ["dn", "DN", "Dn"])
def test_cli_lr_units_are_spelled_as_for_predict(inputs, spelling):
    """`--lr-units dn` (predict's spelling) and the older `DN` both declare a DN LR."""
    tmp_path, hr, lr, regions = inputs
    out = tmp_path / f"units_{spelling}.csv"
    args = ["sdg", "--raster", str(hr), "--lr", str(lr), "--regions", str(regions), "--out", str(out),
            "--urban-method", "fixed"]  # fmt: skip
    assert main([*args, "--lr-units", spelling]) == 0
    header = [line for line in out.read_text(encoding="utf-8").splitlines() if line.startswith("# products: ")]
    products = json.loads(header[0].removeprefix("# products: "))
    assert products["lr"]["units"] == "DN"
