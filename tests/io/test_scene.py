"""open_scene: LR + HR-grid layers, 8x check, aux warping, the layers present, lazy reads."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from deeplight.errors import RasterError
from deeplight.io import LazyRaster, crop_scene, open_scene, write_cog
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
    scene = open_scene(lr, hr=hr, dem=dem, dmo=dmo)
    assert scene.lr.shape == (4, 6) and scene.hr.shape == (32, 48) and scene.hr_shape == (32, 48)
    assert scene.dmo.shape == (7, 32, 48) and scene.dem.shape == (32, 48)
    assert scene.present == {"hr": True, "dmo": True, "dem": True, "isp": False, "population": False}
    assert scene.isp is None
    assert np.nanmean(scene.dem) == pytest.approx(250.0)
    assert scene.lr_simulated
    assert scene.hr_transform == HR_TRANSFORM and scene.lr_transform == LR_TRANSFORM
    assert scene.crs.to_epsg() == 32650
    assert scene.sources["dmo"] == str(dmo) and scene.key.startswith("scene:")
    assert list(scene.regions["name"]) == ["lr.tif whole raster"]


def test_lazy_scene_reads_on_first_use_and_matches(files):
    folder, lr, hr = files
    dem = write_plain_tif(folder / "dem.tif", np.full((16, 24), 250.0, "f4"), transform=HR_TRANSFORM @ Affine.scale(2))
    eager = open_scene(lr, hr=hr, dem=dem)
    lazy = open_scene(lr, hr=hr, dem=dem, lazy=True, key="k", title="T")
    assert isinstance(lazy.hr, LazyRaster) and isinstance(lazy.dem, LazyRaster)
    assert lazy.key == "k" and lazy.title == "T"
    np.testing.assert_array_equal(lazy.hr.load(), eager.hr)
    np.testing.assert_array_equal(lazy.dem.load(), eager.dem)
    crop = crop_scene(lazy, lazy.regions.geometry.iloc[0], "all")
    assert isinstance(crop.scene.hr, np.ndarray) and crop.scene.hr.shape == (32, 48)


def test_read_gives_a_window_of_any_layer_and_a_lazy_hr_reads_only_it(files):
    """Scene.read: the same pixels from memory and, for a lazy HR not yet loaded, straight from the
    file (the HR stays unloaded); windows outside the grid and absent layers are refused."""
    from rasterio.windows import Window

    folder, lr, hr = files
    dem = write_plain_tif(folder / "dem.tif", np.full((16, 24), 250.0, "f4"), transform=HR_TRANSFORM @ Affine.scale(2))
    eager = open_scene(lr, hr=hr, dem=dem)
    lazy = open_scene(lr, hr=hr, dem=dem, lazy=True)
    window = Window(5, 3, 17, 11)
    got = lazy.read("hr", window)
    assert not lazy.hr.loaded and got.dtype == np.float32
    np.testing.assert_array_equal(got, eager.hr[3:14, 5:22])
    np.testing.assert_array_equal(eager.read("hr", window), got)
    np.testing.assert_array_equal(lazy.read("dem", window), eager.dem[3:14, 5:22])
    np.testing.assert_array_equal(lazy.read("lr", Window(1, 1, 2, 3)), eager.lr[1:4, 1:3])
    np.testing.assert_array_equal(lazy.read("hr"), eager.hr)
    with pytest.raises(RasterError, match="outside the grid"):
        lazy.read("hr", Window(40, 0, 16, 4))
    with pytest.raises(RasterError, match="has no isp layer"):
        lazy.read("isp")
    with pytest.raises(ValueError, match="unknown layer"):
        lazy.read("sr")


def test_georaster_of_a_layer_is_on_its_grid(files):
    """Scene.georaster: LR on the LR grid, HR-grid layers on the HR grid, float64, the tags given."""
    folder, lr, hr = files
    dmo = write_plain_tif(folder / "dmo.tif", np.full((7, 8, 12), 0.2, "f4"), transform=HR_TRANSFORM @ Affine.scale(4))
    scene = open_scene(lr, hr=hr, dmo=dmo, lazy=True)
    lr_raster = scene.georaster("lr", tags={"units": "DN"})
    assert lr_raster.transform == LR_TRANSFORM and lr_raster.units == "DN" and lr_raster.source == "<array>"
    hr_raster = scene.georaster("hr")
    assert hr_raster.values.dtype == np.float64 and hr_raster.transform == HR_TRANSFORM
    np.testing.assert_array_equal(hr_raster.values, scene.hr.load().astype(np.float64))
    assert hr_raster.crs.to_epsg() == 32650 and hr_raster.shape == scene.hr_shape
    with pytest.raises(ValueError, match="7 bands"):
        scene.georaster("dmo")


def test_regions_from_a_file(files, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    _folder, lr, _hr = files
    x0, y0 = LR_TRANSFORM @ (0, 0)
    x1, y1 = LR_TRANSFORM @ (3, 2)
    path = tmp_path / "regions.geojson"
    gpd.GeoDataFrame({"district": ["A"]}, geometry=[box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))],
                     crs=UTM50).to_crs("EPSG:4326").to_file(path)
    scene = open_scene(lr, regions=path, region_column="district")
    assert list(scene.regions["name"]) == ["A"] and scene.regions.crs == scene.crs


def test_lr_only_scene(files):
    _folder, lr, _hr = files
    scene = open_scene(lr)
    assert not any(scene.present.values())


def test_hr_not_8x(files):
    folder, lr, _hr = files
    bad = write_cog(
        np.ones((30, 48), "f4"), folder / "hr_bad.tif", crs=UTM50, transform=HR_TRANSFORM, tags=tags()
    )
    with pytest.raises(RasterError, match=r"LR/HR pair is not 8x: .*lr\.tif is 4x6.*must be 32x48"):
        open_scene(lr, hr=bad)
    shifted = write_cog(
        np.ones((32, 48), "f4"),
        folder / "hr_shift.tif",
        crs=UTM50,
        transform=HR_TRANSFORM @ Affine.translation(3, 0),
        tags=tags(),
    )
    with pytest.raises(RasterError, match="not 8x aligned"):
        open_scene(lr, hr=shifted)
    other_crs = write_cog(
        np.ones((32, 48), "f4"), folder / "hr_crs.tif", crs="EPSG:32651", transform=HR_TRANSFORM, tags=tags()
    )
    with pytest.raises(RasterError, match="not on one CRS"):
        open_scene(lr, hr=other_crs)


def test_radiance_lr_is_converted_and_dn_checked(files):
    folder, _lr, _hr = files
    radiance = write_cog(
        np.full((4, 6), 10.0, "f4"),
        folder / "viirs.tif",
        crs=UTM50,
        transform=LR_TRANSFORM,
        tags={**tags("lr"), "units": "nW/cm2/sr"},
    )
    scene = open_scene(radiance)
    assert float(scene.lr.mean()) == pytest.approx(6.0 * 10.0**0.6, rel=1e-5)
    untagged = write_plain_tif(folder / "untagged.tif", np.full((4, 6), 200.0, "f4"), transform=LR_TRANSFORM)
    with pytest.raises(RasterError, match="above the DMSP DN cap 63.*lr_units='radiance'"):
        open_scene(untagged)
    assert float(open_scene(untagged, lr_units="radiance").lr.max()) == 63.0


def test_bad_band_count_and_units(files):
    folder, lr, hr = files
    dmo3 = write_plain_tif(folder / "dmo3.tif", np.ones((3, 32, 48), "f4"))
    with pytest.raises(RasterError, match=r"dmo3\.tif: has 3 band.* needs 7"):
        open_scene(lr, hr=hr, dmo=dmo3)
    isp_percent = write_plain_tif(folder / "isp.tif", np.full((32, 48), 40.0, "f4"))
    with pytest.raises(RasterError, match=r"isp\.tif: isp values span .*fraction"):
        open_scene(lr, isp=isp_percent)


def test_aux_not_overlapping(files):
    folder, lr, _hr = files
    far = write_plain_tif(
        folder / "far.tif", np.ones((8, 8), "f4"), transform=Affine(130, 0, 100_000, 0, -130, 900_000)
    )
    with pytest.raises(RasterError, match="does not overlap"):
        open_scene(lr, dem=far)
