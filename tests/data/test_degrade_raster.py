"""degrade_raster: real VIIRS -> simulated LR on the HR grid scaled by 8; nothing written on error."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from deeplight.data.degrade import lr_dn_to_radiance, preset_params
from deeplight.data.degrade_raster import degrade_raster
from deeplight.errors import RasterError
from deeplight.io import open_scene, read_raster, write_cog
from tests.io.rasters import HR_TRANSFORM, UTM50, list_files, tags, write_plain_tif


def test_cote_divoire_lr_grid_and_radiance_match_forward_model(shared_data, tmp_path):
    hr_path = shared_data / "cote_divoire" / "ntl.tif"
    result = degrade_raster(hr_path, tmp_path / "lr.tif", seed=7)
    hr = read_raster(hr_path)
    lr = read_raster(tmp_path / "lr.tif")
    # LR transform = HR transform scaled by 8 (same upper-left corner)
    assert lr.rio.transform() == hr.rio.transform() @ Affine.scale(8)
    assert lr.rio.crs == hr.rio.crs
    assert lr.shape == (1420 // 8, 1361 // 8) and result.crop == (1416, 1360)
    assert lr.attrs["simulated"] == "true" and lr.attrs["modality"] == "lr"
    assert "degrade_dmsp_like" in lr.attrs["provenance"]
    assert float(lr.attrs["degradation_gain_drift"]) == pytest.approx(result.info.gain_drift, rel=1e-5)
    values = lr.values
    lit = np.isfinite(values) & (values > 7) & (values < 63)  # DMSP lit threshold DN > 7
    assert lit.sum() > 200
    # inverting the response over lit pixels recovers the forward model's LR radiance
    recovered = lr_dn_to_radiance(values, result.info)[lit].mean()
    assert recovered == pytest.approx(float(result.info.lr_radiance[lit].mean()), rel=0.05)
    # and the forward model conserves the real image's flux (blur, blooming and aggregation)
    crop = hr.values[:1416, :1360]
    lr_flux = np.nansum(result.info.lr_radiance) * 64
    assert lr_flux == pytest.approx(float(np.nansum(crop)), rel=0.02)
    # nodata outside the country stays nodata
    assert np.isnan(values).mean() > 0.2


def test_aux_layers_written_on_the_hr_grid(tmp_path):
    rng = np.random.default_rng(0)
    hr = write_cog(
        rng.gamma(0.5, 10, (64, 64)).astype("f4"),
        tmp_path / "in_hr.tif",
        crs=UTM50,
        transform=HR_TRANSFORM,
        tags=tags("hr"),
    )
    dem = write_plain_tif(
        tmp_path / "in_dem.tif",
        rng.random((16, 16)).astype("f4") * 100,
        crs="EPSG:32650",
        transform=HR_TRANSFORM @ Affine.scale(4),
    )
    out = tmp_path / "scene" / "lr.tif"
    result = degrade_raster(hr, out, dem=dem, params=preset_params("bicubic"))
    assert set(result.written) == {"lr", "hr", "dem"}
    scene = open_scene(out, hr=result.written["hr"], dem=result.written["dem"])
    assert scene.dem.shape == (64, 64) and scene.lr_simulated


def test_bad_inputs_write_nothing(tmp_path):
    hr = write_cog(
        np.ones((64, 64), "f4"), tmp_path / "hr.tif", crs=UTM50, transform=HR_TRANSFORM, tags=tags("hr")
    )
    cases = []
    (tmp_path / "text.tif").write_text("no raster")
    cases.append(({"hr_path": tmp_path / "text.tif"}, "not a readable raster"))
    cases.append(
        (
            {"hr_path": write_plain_tif(tmp_path / "nocrs.tif", np.ones((16, 16), "f4"), crs=None)},
            "has no CRS",
        )
    )
    cases.append(
        (
            {"hr_path": write_plain_tif(tmp_path / "small.tif", np.ones((4, 4), "f4"))},
            "smaller than one 8x8 LR pixel",
        )
    )
    cases.append(
        ({"hr_path": write_plain_tif(tmp_path / "two.tif", np.ones((2, 16, 16), "f4"))}, "has 2 band")
    )
    cases.append(
        ({"hr_path": write_plain_tif(tmp_path / "neg.tif", -np.ones((16, 16), "f4"))}, "negative radiance")
    )
    cases.append(
        (
            {"hr_path": write_plain_tif(tmp_path / "void.tif", np.full((16, 16), -1.0, "f4"), nodata=-1.0)},
            r"void\.tif: every pixel is nodata",
        )
    )
    whole = write_plain_tif(tmp_path / "whole.tif", np.random.default_rng(1).random((256, 256)).astype("f4"))
    (tmp_path / "cut.tif").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    cases.append(({"hr_path": tmp_path / "cut.tif"}, r"cut\.tif: the file is truncated"))
    cases.append(
        (
            {"hr_path": hr, "isp": write_plain_tif(tmp_path / "isp.tif", np.full((64, 64), 50.0, "f4"))},
            "isp values span",
        )
    )
    cases.append(
        (
            {
                "hr_path": hr,
                "dem": write_plain_tif(
                    tmp_path / "far.tif", np.ones((8, 8), "f4"), transform=Affine(130, 0, 0, 0, -130, 0)
                ),
            },
            "does not overlap",
        )
    )
    before = list_files(tmp_path)
    for kwargs, match in cases:
        hr_path = kwargs.pop("hr_path")
        with pytest.raises(RasterError, match=match):
            degrade_raster(hr_path, tmp_path / "out" / "lr.tif", **kwargs)
    assert list_files(tmp_path) == before and not (tmp_path / "out" / "lr.tif").exists()


def test_refuses_to_overwrite_an_input(tmp_path):
    hr = write_cog(
        np.ones((64, 64), "f4"), tmp_path / "hr.tif", crs=UTM50, transform=HR_TRANSFORM, tags=tags("hr")
    )
    dem = write_plain_tif(tmp_path / "d.tif", np.ones((64, 64), "f4"))
    original = hr.read_bytes()
    with pytest.raises(RasterError, match="would overwrite input hr"):
        degrade_raster(hr, tmp_path / "lr.tif", dem=dem)  # would write tmp_path/hr.tif
    with pytest.raises(RasterError, match="would overwrite input hr"):
        degrade_raster(hr, hr)
    assert hr.read_bytes() == original and not (tmp_path / "lr.tif").exists()
