"""load_scene / build_scene: LR + HR-grid layers, 8x check, aux warping, presence mask."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from deeplight.errors import RasterError
from deeplight.io import build_scene, load_scene, scene_layer, scene_present, write_cog
from tests.io.rasters import HR_TRANSFORM, LR_TRANSFORM, UTM50, tags, write_plain_tif


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    lr = write_cog(
        rng.integers(0, 64, (4, 6)).astype("f4"),
        tmp_path / "lr.tif",
        crs=UTM50,
        transform=LR_TRANSFORM,
        tags=tags("lr", simulated=True),
    )
    hr = write_cog(
        rng.random((32, 48)).astype("f4") * 50,
        tmp_path / "hr.tif",
        crs=UTM50,
        transform=HR_TRANSFORM,
        tags=tags("hr"),
    )
    return tmp_path, lr, hr


def test_lr_hr_and_aux_on_other_grids(files):
    folder, lr, hr = files
    # DEM on a 2x coarser grid in another CRS, DMO on a 4x coarser grid: both warped onto HR
    dem = write_plain_tif(
        folder / "dem.tif", np.full((16, 24), 250.0, "f4"), transform=HR_TRANSFORM @ Affine.scale(2)
    )
    dmo = write_plain_tif(
        folder / "dmo.tif", np.full((7, 8, 12), 0.2, "f4"), transform=HR_TRANSFORM @ Affine.scale(4)
    )
    ds = load_scene(lr, hr=hr, dem=dem, dmo=dmo)
    assert ds["lr"].shape == (4, 6) and ds["hr"].shape == (32, 48)
    assert ds["dmo"].shape == (7, 32, 48) and ds["dem"].shape == (32, 48)
    assert scene_present(ds) == {"hr": True, "dmo": True, "dem": True, "isp": False}
    assert "isp" not in ds
    assert np.nanmean(ds["dem"].values) == pytest.approx(250.0)
    assert ds.attrs["simulated_lr"] == "true"
    assert Affine(*ds.attrs["hr_transform"]) == HR_TRANSFORM
    assert scene_layer(ds, "lr").rio.transform() == LR_TRANSFORM
    assert scene_layer(ds, "dmo").rio.transform() == HR_TRANSFORM
    assert scene_layer(ds, "hr").rio.crs.to_epsg() == 32650
    with pytest.raises(KeyError, match="absent"):
        scene_layer(ds, "isp")


def test_lr_only_scene(files):
    _folder, lr, _hr = files
    ds = load_scene(lr)
    assert scene_present(ds) == {"hr": False, "dmo": False, "dem": False, "isp": False}


def test_hr_not_8x(files):
    folder, lr, _hr = files
    bad = write_cog(
        np.ones((30, 48), "f4"), folder / "hr_bad.tif", crs=UTM50, transform=HR_TRANSFORM, tags=tags()
    )
    with pytest.raises(RasterError, match=r"LR/HR pair is not 8x: .*lr\.tif is 4x6.*must be 32x48"):
        load_scene(lr, hr=bad)
    shifted = write_cog(
        np.ones((32, 48), "f4"),
        folder / "hr_shift.tif",
        crs=UTM50,
        transform=HR_TRANSFORM @ Affine.translation(3, 0),
        tags=tags(),
    )
    with pytest.raises(RasterError, match="not 8x aligned"):
        load_scene(lr, hr=shifted)
    other_crs = write_cog(
        np.ones((32, 48), "f4"), folder / "hr_crs.tif", crs="EPSG:32651", transform=HR_TRANSFORM, tags=tags()
    )
    with pytest.raises(RasterError, match="not on one CRS"):
        load_scene(lr, hr=other_crs)


def test_radiance_lr_is_converted_and_dn_checked(files):
    folder, _lr, _hr = files
    radiance = write_cog(
        np.full((4, 6), 10.0, "f4"),
        folder / "viirs.tif",
        crs=UTM50,
        transform=LR_TRANSFORM,
        tags={**tags("lr"), "units": "nW/cm2/sr"},
    )
    ds = load_scene(radiance)
    assert float(ds["lr"].values.mean()) == pytest.approx(6.0 * 10.0**0.6, rel=1e-5)
    untagged = write_plain_tif(folder / "untagged.tif", np.full((4, 6), 200.0, "f4"), transform=LR_TRANSFORM)
    with pytest.raises(RasterError, match="above the DMSP DN cap 63.*lr_units='radiance'"):
        load_scene(untagged)
    assert float(load_scene(untagged, lr_units="radiance")["lr"].max()) == 63.0


def test_bad_band_count_and_units(files):
    folder, lr, hr = files
    dmo3 = write_plain_tif(folder / "dmo3.tif", np.ones((3, 32, 48), "f4"))
    with pytest.raises(RasterError, match=r"dmo3\.tif: has 3 band.* needs 7"):
        load_scene(lr, hr=hr, dmo=dmo3)
    isp_percent = write_plain_tif(folder / "isp.tif", np.full((32, 48), 40.0, "f4"))
    with pytest.raises(RasterError, match=r"isp\.tif: isp values span .*fraction"):
        load_scene(lr, isp=isp_percent)


def test_aux_not_overlapping(files):
    folder, lr, _hr = files
    far = write_plain_tif(
        folder / "far.tif", np.ones((8, 8), "f4"), transform=Affine(130, 0, 100_000, 0, -130, 900_000)
    )
    with pytest.raises(RasterError, match="does not overlap"):
        load_scene(lr, dem=far)


def test_build_scene_checks_shapes():
    with pytest.raises(RasterError, match="isp grid .* is not the HR grid"):
        build_scene(lr=np.zeros((2, 2)), isp=np.zeros((8, 8)), crs=UTM50, lr_transform=LR_TRANSFORM)
    with pytest.raises(RasterError, match="dmo must be"):
        build_scene(lr=np.zeros((2, 2)), dmo=np.zeros((3, 16, 16)), crs=UTM50, lr_transform=LR_TRANSFORM)
