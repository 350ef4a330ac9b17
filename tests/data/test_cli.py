"""``deeplight data ...`` end to end through the real dispatcher."""

from __future__ import annotations

import json

import numpy as np
from affine import Affine

from deeplight.cli import main
from deeplight.io import read_raster, write_cog
from tests.io.rasters import HR_TRANSFORM, UTM50, list_files, tags, write_plain_tif


def test_synth_then_info(tmp_path, capsys):
    out = tmp_path / "md"
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(out),
                "--n-train",
                "2",
                "--n-val",
                "1",
                "--n-test",
                "1",
                "--lr-size",
                "4",
                "--seed",
                "5",
                "--quiet",
            ]
        )
        == 0
    )
    assert "wrote 4 synthetic clips" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["lr_size"] == 4
    assert main(["data", "info", str(out / "train" / "train_00000" / "lr.tif")]) == 0
    text = capsys.readouterr().out
    assert "EPSG:32650" in text and "simulated: true" in text
    assert main(["data", "info", str(out)]) == 0
    assert '"DeepLightMD-synthetic"' in capsys.readouterr().out


def test_degrade_with_aux(tmp_path, capsys):
    rng = np.random.default_rng(0)
    hr = write_cog(
        rng.gamma(0.5, 10, (64, 64)).astype("f4"),
        tmp_path / "in" / "ntl.tif",
        crs=UTM50,
        transform=HR_TRANSFORM,
        tags=tags("hr"),
    )
    isp = write_plain_tif(
        tmp_path / "in" / "imperv.tif",
        rng.random((32, 32)).astype("f4"),
        transform=HR_TRANSFORM @ Affine.scale(2),
    )
    out = tmp_path / "out" / "lr.tif"
    assert (
        main(
            [
                "data",
                "degrade",
                "--hr",
                str(hr),
                "--out",
                str(out),
                "--isp",
                str(isp),
                "--preset",
                "bicubic",
                "--seed",
                "2",
            ]
        )
        == 0
    )
    assert "simulated DMSP-like LR" in capsys.readouterr().out
    lr = read_raster(out)
    assert lr.attrs["degradation_preset"] == "bicubic" and lr.shape == (8, 8)
    assert read_raster(tmp_path / "out" / "isp.tif").shape == (64, 64)


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    before = list_files(tmp_path)
    assert main(["data", "degrade", "--hr", str(bad), "--out", str(tmp_path / "lr.tif")]) == 2
    assert "bad.tif: not a readable raster" in capsys.readouterr().err
    assert main(["data", "info", str(bad)]) == 2
    assert list_files(tmp_path) == before


def test_info_on_a_folder_with_a_corrupt_manifest_names_it(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text("{truncated")
    assert main(["data", "info", str(tmp_path)]) == 2
    assert f"{tmp_path / 'manifest.json'}: not valid JSON" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text("[1, 2]")
    assert main(["data", "info", str(tmp_path)]) == 2
    assert "not a DeepLight manifest" in capsys.readouterr().err


def test_demo_command_small(tmp_path, capsys, monkeypatch):
    from deeplight.data import demo

    monkeypatch.setattr(demo, "DEMO_LR_SIZE", 16)  # keep the test fast; the full one is slow-marked
    original = demo.make_demo
    monkeypatch.setattr(
        demo, "make_demo", lambda out, seed, force: original(out, seed=seed, force=force, lr_size=16)
    )
    assert main(["data", "demo", "--out", str(tmp_path)]) == 0
    assert "demo scene created" in capsys.readouterr().out
    assert read_raster(tmp_path / "lr.tif").shape == (16, 16)


def test_info_on_netcdf(tmp_path, capsys):
    import xarray as xr

    ds = xr.Dataset(
        {"ntl": (("lat", "lon"), np.ones((3, 4), "f4"))},
        coords={"lat": [2.0, 1.0, 0.0], "lon": [0.0, 1.0, 2.0, 3.0]},
    )
    ds.to_netcdf(tmp_path / "cube.nc")
    assert main(["data", "info", str(tmp_path / "cube.nc")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["variable"] == "ntl" and out["crs"] == "EPSG:4326" and out["dims"] == {"y": 3, "x": 4}
