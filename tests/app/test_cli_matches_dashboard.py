"""`deeplight sdg` and the dashboard's "Indicators CSV" download give the same CSV (issue 12).

Same data set (the tiny built-in demo), regions (all of the demo's), model (the bicubic baseline:
the dashboard reconstructs, its "SR GeoTIFF" download is the CLI's ``--sr``) and thresholds. The
dashboard side runs the SDG page's own code path without a browser: ``services.region_crop`` ->
``services.reconstruction`` -> ``services.sdg_outputs`` (whose ``"csv"`` is the download button's
bytes). Both go through ``deeplight.report.region_report`` and ``indicators_to_csv_bytes``.

Two command-line paths are checked: the files (``--lr``/``--sr``/``--hr``/``--population``/``--regions``)
and the catalogued data set (``--dataset demo``, the Scene the dashboard opens, through the same
``deeplight.report.scene_report``): that one must give the page's CSV with only the creation time
differing, for all the demo's regions and for one region (a crop smaller than the scene).
"""

from __future__ import annotations

import json
import warnings

import pytest

MODEL = "bicubic"
THRESHOLDS = dict(
    lit_radiance=2.0,
    lit_dn=6.0,
    urban_method="otsu",
    urban_radiance=10.0,
    co2_total=1000.0,
    co2_unit="kt CO2",
    co2_power_law=(0.5, 0.9),
)

# Metadata fields allowed to differ, each with its reason. Everything else in the `#` header (data set,
# credits, notes, provenance, simulated and synthetic flags, thresholds, settings, units, sources,
# products' units/calibration/grids/thresholds, model, issues) must be equal.
DIFFERING_FIELDS = {
    ("created_utc",): "the time each file was made",
    ("products", "lr", "source"): "the CLI names the file; the dashboard holds the crop in memory",
    ("products", "sr", "source"): "the CLI names the file; the dashboard holds the SR in memory",
    ("products", "hr", "source"): "the CLI names the file; the dashboard holds the crop in memory",
    ("population",): "the population raster's path (CLI) or '<array>' (dashboard)",
    ("regions", "source"): "the region file's path (CLI) or the dashboard's selection",
    ("regions", "name_column"): "the CLI reads the file's column 'name'; the dashboard's table has 'region'",
    # the tags the CLI reads from the files; the dashboard's in-memory arrays carry none until the one
    # Scene type of issue 12 carries them
    ("products", "hr", "provenance"): "the HR file's provenance tag (the demo generator's)",
    ("products", "sr", "provenance"): "the SR file's provenance tag (written by the SR GeoTIFF download)",
    ("products", "lr", "provenance"): "the LR file's provenance tag (the demo generator's)",
}


def _split(data: bytes) -> tuple[dict, str]:
    """(metadata parsed from the ``# key: JSON`` lines, the table's text) of a CSV's bytes."""
    text = data.decode("utf-8")
    header, body = {}, []
    for line in text.splitlines(keepends=True):
        if line.startswith("# ") and not body:
            key, sep, value = line[2:].partition(": ")
            if sep:
                header[key] = json.loads(value)
        else:
            body.append(line)
    return header, "".join(body)


def _drop(metadata: dict) -> dict:
    """The metadata without :data:`DIFFERING_FIELDS`; the population's source, which the issues quote
    (path or '<array>', as ``population``), replaced by one placeholder."""
    text = json.dumps(metadata)
    source = metadata.get("population")
    if isinstance(source, str):
        text = text.replace(json.dumps(f"population {source} ")[1:-1], "population <source> ")
    out = json.loads(text)
    for path in DIFFERING_FIELDS:
        node = out
        for key in path[:-1]:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return out


@pytest.fixture(scope="module")
def both_csvs(tiny_home, tmp_path_factory):
    import os

    from shapely.ops import unary_union

    from app import services
    from app.sdg_view import Thresholds, region_table
    from deeplight.catalog import load_demo_scene
    from deeplight.cli import main

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    demo = tiny_home / "demo"
    scene = load_demo_scene(demo)
    names = list(scene.regions["name"])
    geometries = [scene.region_geometry(n) for n in names]
    regions = region_table(names, geometries, scene.crs)
    thresholds = Thresholds(**THRESHOLDS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Streamlit's "no runtime" notes; the population warp's note
        crop = services.region_crop(scene, "|".join(sorted(names)), unary_union(geometries))
        sr = services.reconstruction(crop, MODEL, False)
        outputs = services.sdg_outputs(crop, sr, regions, thresholds, MODEL)
    # the premise of "same data set": all the demo's regions span the whole scene, so the page's crop
    # is the files' grid (a smaller crop would change the scene-level Otsu threshold, legitimately)
    assert crop.scene.lr.shape == scene.lr.shape and crop.scene.hr_transform == scene.hr_transform

    folder = tmp_path_factory.mktemp("cli")
    sr_path = folder / "sr.tif"
    sr_path.write_bytes(outputs["sr_tif"])  # the dashboard's "SR GeoTIFF" download
    out = folder / "indicators.csv"
    args = [
        "sdg",
        "--lr", str(demo / "lr.tif"),
        "--sr", str(sr_path),
        "--hr", str(demo / "hr.tif"),
        "--population", str(demo / "population.tif"),
        "--regions", str(demo / "regions.geojson"),
        "--name-column", "name",
        "--model", MODEL,
        *_threshold_args(),
        "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    return outputs["csv"], out.read_bytes()


def _threshold_args() -> list[str]:
    return [
        "--lit-threshold", str(THRESHOLDS["lit_radiance"]),
        "--lit-threshold-dn", str(THRESHOLDS["lit_dn"]),
        "--urban-method", THRESHOLDS["urban_method"],
        "--urban-threshold", str(THRESHOLDS["urban_radiance"]),
        "--co2-total", str(THRESHOLDS["co2_total"]),
        "--co2-unit", THRESHOLDS["co2_unit"],
        "--co2-power-law", *(str(v) for v in THRESHOLDS["co2_power_law"]),
    ]  # fmt: skip


def _dashboard_and_dataset_cli(home, folder, names: list[str] | None, predict: bool = False) -> tuple[bytes, bytes]:
    """The SDG page's CSV for ``names`` (None: all the demo's regions) and `deeplight sdg --dataset demo`'s
    (with the page's SR download as ``--sr``, or, with ``predict``, reconstructing it: ``--predict``)."""
    import os

    from shapely.ops import unary_union

    from app import services
    from app.sdg_view import Thresholds, region_table
    from deeplight.catalog import load_scene_for
    from deeplight.cli import main

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    scene = load_scene_for("demo", home=home)  # the scene the dashboard's picker opens for "demo"
    chosen = names or list(scene.regions["name"])
    geometries = [scene.region_geometry(n) for n in chosen]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crop = services.region_crop(scene, "|".join(sorted(chosen)), unary_union(geometries))
        sr = services.reconstruction(crop, MODEL, False)
        outputs = services.sdg_outputs(
            crop, sr, region_table(chosen, geometries, scene.crs), Thresholds(**THRESHOLDS), MODEL
        )
    sr_path = folder / "sr.tif"
    sr_path.write_bytes(outputs["sr_tif"])
    out = folder / "indicators.csv"
    regions = [arg for name in (names or []) for arg in ("--region", name)]
    previous = os.environ.get("DEEPLIGHT_HOME")
    os.environ["DEEPLIGHT_HOME"] = str(home)
    try:
        sr_args = ["--predict", MODEL] if predict else ["--sr", str(sr_path), "--model", MODEL]
        code = main(["sdg", "--dataset", "demo", *regions, *sr_args, *_threshold_args(), "--out", str(out)])
    finally:
        if previous is None:
            os.environ.pop("DEEPLIGHT_HOME")
        else:
            os.environ["DEEPLIGHT_HOME"] = previous
    assert code == 0
    return outputs["csv"], out.read_bytes()


@pytest.fixture(scope="module")
def dataset_csvs(tiny_home, tmp_path_factory):
    return _dashboard_and_dataset_cli(tiny_home, tmp_path_factory.mktemp("dataset"), None)


@pytest.fixture(scope="module")
def one_region_csvs(tiny_home, tmp_path_factory):
    from deeplight.catalog import load_scene_for

    first = str(load_scene_for("demo", home=tiny_home).regions["name"].iloc[0])
    return _dashboard_and_dataset_cli(tiny_home, tmp_path_factory.mktemp("one_region"), [first])


@pytest.fixture(scope="module")
def predicted_csvs(tiny_home, tmp_path_factory):
    from deeplight.catalog import load_scene_for

    first = str(load_scene_for("demo", home=tiny_home).regions["name"].iloc[0])
    return _dashboard_and_dataset_cli(tiny_home, tmp_path_factory.mktemp("predicted"), [first], predict=True)


@pytest.mark.parametrize("pair", ["dataset_csvs", "one_region_csvs", "predicted_csvs"])
def test_sdg_dataset_demo_gives_the_pages_csv(pair, request):
    dashboard, cli = request.getfixturevalue(pair)
    (dashboard_meta, dashboard_table), (cli_meta, cli_table) = _split(dashboard), _split(cli)
    assert cli_table == dashboard_table  # byte for byte
    assert "light_gini" in cli_table and '"share"' in cli_table
    dashboard_meta.pop("created_utc")
    cli_meta.pop("created_utc")
    assert cli_meta == dashboard_meta  # the same Scene: data set, credits, notes, flags, sources alike
    assert cli_meta["dataset"] == "Built-in demo (synthetic)" and cli_meta["hr_synthetic"] is True


def test_sdg_dataset_errors_name_what_to_do(tiny_home, tmp_path, monkeypatch, capsys):
    from deeplight.cli import main

    monkeypatch.setenv("DEEPLIGHT_HOME", str(tiny_home))
    monkeypatch.delenv("DEEPLIGHT_DATA_DIR", raising=False)
    out = str(tmp_path / "x.csv")
    assert main(["sdg", "--dataset", "demo", "--lr", "lr.tif", "--out", out]) != 0
    assert "--dataset brings its own rasters" in capsys.readouterr().err
    assert main(["sdg", "--dataset", "demo", "--region", "Atlantis", "--out", out]) != 0
    assert "region 'Atlantis' not found" in capsys.readouterr().err
    assert main(["sdg", "--dataset", "touggourt", "--out", out]) != 0
    assert "needs DEEPLIGHT_DATA_DIR" in capsys.readouterr().err
    assert main(["sdg", "--dataset", "demo", "--year", "2020", "--out", out]) != 0
    assert "has no year 2020" in capsys.readouterr().err
    assert main(["sdg", "--lr", "lr.tif", "--out", out]) != 0
    assert "give --regions" in capsys.readouterr().err
    assert main(["sdg", "--dataset", "demo", "--predict", "bicubic", "--sr", "sr.tif", "--out", out]) != 0
    assert "--sr" in capsys.readouterr().err
    assert main(["sdg", "--lr", "lr.tif", "--regions", "r.geojson", "--predict", "bicubic", "--out", out]) != 0
    assert "--predict goes with --dataset ID" in capsys.readouterr().err
    assert main(["sdg", "--dataset", "demo", "--predict", "no_such_model", "--out", out]) != 0
    assert "unknown model 'no_such_model'" in capsys.readouterr().err
    assert main(["sdg", "--dataset", "demo", "--predict", "edsr", "--out", out]) != 0
    assert "has trainable weights" in capsys.readouterr().err
    assert main(["sdg", "--dataset", "demo", "--predict", str(tmp_path / "gone.safetensors"), "--out", out]) != 0
    assert "gone.safetensors not found" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_data_list_shows_the_pickers_sets(tiny_home, monkeypatch, capsys):
    from app.settings import get_settings
    from app.sources import list_datasets
    from deeplight.cli import main

    monkeypatch.delenv("DEEPLIGHT_DATA_DIR", raising=False)
    assert main(["data", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    picker = list_datasets(get_settings())
    assert [row["id"] for row in listed] == [d.id for d in picker] == ["demo"]
    assert listed[0]["simulated_lr"] is True and listed[0]["title"] == "Built-in demo (synthetic)"
    assert main(["data", "list"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["id", "title", "times", "simulated", "LR"] and "demo" in text


def test_cli_and_dashboard_tables_are_identical(both_csvs):
    dashboard, cli = both_csvs
    (_, dashboard_table), (_, cli_table) = _split(dashboard), _split(cli)
    assert cli_table == dashboard_table  # same rows, columns, order and values, byte for byte
    assert "light_gini" in cli_table and "co2_emissions" in cli_table and '"share"' in cli_table


def test_cli_and_dashboard_metadata_differ_only_where_listed(both_csvs):
    dashboard, cli = both_csvs
    dashboard_meta, cli_meta = _split(dashboard)[0], _split(cli)[0]
    assert list(cli_meta) == list(dashboard_meta)  # the same header lines, in the same order
    assert _drop(cli_meta) == _drop(dashboard_meta)
    assert cli_meta["dataset"] == "Built-in demo (synthetic)" and cli_meta["hr_synthetic"] is True
    assert cli_meta["settings"]["co2_unit"] == "kt CO2" and cli_meta["sr_model"] == MODEL
