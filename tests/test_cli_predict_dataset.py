"""``deeplight predict --dataset ID``: a catalogued Scene through the same engine, on its HR grid.

On the built-in demo (made tiny by code, as tests/app/conftest.py does): the LR and auxiliary layers are
files, so the raster path streams them; a scene whose LR is simulated in memory (as the real sets are)
takes the array path with the dashboard's cache identity. ``deeplight sdg --dataset ID --sr`` reads
the SR either writes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio

from deeplight.cli import main

BASELINE = "bicubic"
"""A weight-free registry model: identified by its name in the CLI and the dashboard alike."""


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory) -> Path:
    from deeplight.data.demo import make_demo

    home = tmp_path_factory.mktemp("home")
    make_demo(home / "demo", lr_size=16, force=True)
    return home


@pytest.fixture()
def env(tiny_home, monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("DEEPLIGHT_HOME", str(tiny_home))
    monkeypatch.setenv("DEEPLIGHT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPLIGHT_DATA_DIR", raising=False)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return tiny_home


def test_predict_dataset_demo_streams_its_files_onto_the_hr_grid_and_sdg_reads_it(env, tmp_path, capsys):
    from deeplight.catalog import load_scene_for
    from deeplight.infer import predict_array
    from deeplight.infer.raster import scene_input_files
    from deeplight.io.scene import materialise
    from deeplight.models.registry import get_model

    scene = load_scene_for("demo")
    assert set(scene_input_files(scene)) == {"lr", "dmo", "dem"}  # the raster path
    out = tmp_path / "sr.tif"
    assert main(["predict", "--dataset", "demo", "--model", BASELINE, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"deeplight sdg --dataset demo --sr {out}" in printed
    aux = {"dmo": materialise(scene.dmo), "dem": materialise(scene.dem)}
    expected = predict_array(get_model(BASELINE), scene.lr, aux, device="cpu").radiance
    with rasterio.open(out) as src:
        assert src.shape == scene.hr_shape and src.transform.almost_equals(scene.hr_transform)
        assert src.tags()["scene"] == scene.key and src.tags()["simulated"] == "true"
        assert src.tags()["model"] == BASELINE
        np.testing.assert_allclose(src.read(1), expected, atol=1e-4, equal_nan=True)  # the same engine
    csv = tmp_path / "x.csv"
    assert main(["sdg", "--dataset", "demo", "--sr", str(out), "--model", BASELINE, "--out", str(csv)]) == 0
    text = csv.read_text()
    assert '"sr"' in text or ",sr," in text


def test_an_in_memory_lr_takes_the_array_path_with_the_dashboards_cache_identity(env, tmp_path):
    from app.reconstruction import reconstruct
    from deeplight.catalog import scene_from_hr
    from deeplight.infer import TileCache
    from deeplight.infer.raster import predict_scene, scene_input_files
    from deeplight.io import read_raster
    from deeplight.models.registry import get_model

    scene = scene_from_hr(read_raster(env / "demo" / "hr.tif"), key="test:hr", title="HR upload")
    assert scene_input_files(scene) is None and scene.lr_simulated  # LR simulated in memory
    cache = TileCache(tmp_path / "cache")
    model = get_model(BASELINE)
    result = predict_scene(scene, tmp_path / "sr.tif", model=model, model_id=BASELINE, device="cpu",
                           self_ensemble=True, cache=cache)
    assert not result.from_request_cache and result.uncertainty_path.exists()
    assert result.computed + result.void == result.tiles > 0
    with rasterio.open(result.path) as src:
        assert src.shape == scene.hr_shape and src.transform.almost_equals(scene.hr_transform)
        assert src.tags()["scene"] == "test:hr" and src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        sr = src.read(1)
    # the dashboard asks for the same reconstruction (same LR and aux, same model identity): one entry
    again = reconstruct(model, BASELINE, scene, self_ensemble=True, cache=cache)
    assert again.from_cache
    np.testing.assert_array_equal(again.radiance, sr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "sr.tif", "sr_uncertainty.tif"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["lr.tif"], "give an LR raster or --dataset ID, not both"),
        (["--dmo", "dmo.tif"], "--dataset brings its own LR, auxiliary layers and units: leave out --dmo"),
        (["--lr-units", "dn"], "leave out --lr-units"),
        (["--year", "2020"], "data set 'demo' has no year 2020"),
        (["--month", "2020-13"], "--month '2020-13' is not a YYYY-MM month"),
    ],
)
def test_predict_dataset_errors_name_what_to_do(env, tmp_path, capsys, extra, message):
    out = tmp_path / "sr.tif"
    assert main(["predict", "--dataset", "demo", *extra, "--model", BASELINE, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_predict_needs_a_file_or_a_dataset(env, tmp_path, capsys):
    assert main(["predict", "--model", BASELINE, "--out", str(tmp_path / "sr.tif")]) == 2
    assert "give an LR raster, or --dataset ID" in capsys.readouterr().err
    assert main(["predict", "lr.tif", "--year", "2020", "--model", BASELINE, "--out", str(tmp_path / "s.tif")]) == 2
    assert "--year only go with --dataset ID" in capsys.readouterr().err


def test_the_catalogue_says_which_sets_simulate_their_lr_when_opened():
    from deeplight.catalog import list_datasets

    data = Path("/work/shared/data")
    sets = list_datasets(data if data.is_dir() else None)
    demo = next(s for s in sets if s.id == "demo")
    assert demo.lr_simulated and not demo.lr_simulated_on_open  # stored on disk, read as is
    assert all(s.lr_simulated_on_open for s in sets if s.id != "demo")
