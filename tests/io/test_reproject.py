"""reproject_to: per-modality resampling; population totals conserved across CRSs."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from deeplight.errors import RasterError
from deeplight.io import pixel_area_m2, read_raster, reproject_to
from tests.io.rasters import HR_TRANSFORM, UTM50, write_plain_tif

TOUGGOURT_VIIRS = "VNL_v2_npp_2020_global_vcmslcfg_c202102150000.average_masked.tif"


def _grid(values, transform, crs=UTM50):
    height, width = values.shape[-2:]
    da = xr.DataArray(
        values.astype("f4"),
        dims=("y", "x"),
        coords={
            "y": transform.f + transform.e * (np.arange(height) + 0.5),
            "x": transform.c + transform.a * (np.arange(width) + 0.5),
        },
    )
    return da.rio.write_crs(crs).rio.write_transform(transform)


def test_touggourt_population_onto_viirs_grid_conserves_totals(shared_data):
    folder = shared_data / "touggourt"
    viirs = read_raster(folder / TOUGGOURT_VIIRS)
    pop = read_raster(folder / "GHS_POP_E2015_GLOBE_R2019A_54009_1K_V1_0.tif")
    assert pop.rio.crs != viirs.rio.crs
    warped = reproject_to(pop, viirs, "population")
    assert warped.shape == viirs.shape and warped.rio.crs == viirs.rio.crs
    assert warped.rio.transform() == viirs.rio.transform()
    total_before = float(np.nansum(pop.values))
    total_after = float(np.nansum(warped.values))
    assert total_before > 1e5
    assert abs(total_after - total_before) / total_before < 0.01
    # plain averaging of counts would not conserve them (the pixel areas differ ~4.6x)
    naive = reproject_to(pop, viirs, "radiance")
    assert abs(float(np.nansum(naive.values)) - total_before) / total_before > 0.5


def test_touggourt_classes_and_fractions(shared_data):
    folder = shared_data / "touggourt"
    viirs = read_raster(folder / TOUGGOURT_VIIRS)
    smod = read_raster(folder / "GHS_SMOD_POP2015_GLOBE_R2019A_54009_1K_V2_0.tif")
    warped = reproject_to(smod, viirs, "classes")
    codes = set(np.unique(warped.values[np.isfinite(warped.values)]))
    assert codes <= set(np.unique(smod.values[np.isfinite(smod.values)]))  # no blended classes
    assert warped.attrs["resampling"] == "mode"
    built = read_raster(folder / "GHS_BUILT_LDS2014_GLOBE_R2018A_54009_1K_V2_0.tif")
    frac = reproject_to(built, viirs, "fraction")
    assert np.nanmax(frac.values) <= np.nanmax(built.values) + 1e-4


def test_population_downsampling_same_crs_is_exact():
    fine = np.random.default_rng(0).random((16, 16)) * 10
    src = _grid(fine, HR_TRANSFORM)
    coarse = _grid(np.zeros((2, 2)), HR_TRANSFORM @ Affine.scale(8))
    out = reproject_to(src, coarse, "population")
    np.testing.assert_allclose(out.values, fine.reshape(2, 8, 2, 8).sum(axis=(1, 3)), rtol=1e-5)
    radiance = reproject_to(src, coarse, "hr")  # average for radiance
    np.testing.assert_allclose(radiance.values, fine.reshape(2, 8, 2, 8).mean(axis=(1, 3)), rtol=1e-5)


def test_dem_bilinear_preserves_a_plane():
    rows, cols = np.mgrid[0:8, 0:8]
    plane = 100.0 + 10.0 * cols + 5.0 * rows
    src = _grid(plane, HR_TRANSFORM @ Affine.scale(4))
    fine = _grid(np.zeros((32, 32)), HR_TRANSFORM)
    out = reproject_to(src, fine, "dem").values
    inner = out[4:-4, 4:-4]
    assert np.all(np.abs(np.diff(inner, axis=1) - 2.5) < 1e-3)  # 10 m per coarse px / 4
    assert out.min() >= plane.min() - 1e-3 and out.max() <= plane.max() + 1e-3


def test_no_overlap_raises():
    src = _grid(np.ones((4, 4)), HR_TRANSFORM)
    far = _grid(np.zeros((4, 4)), Affine(130.0, 0, 900_000.0, 0, -130.0, 1_000_000.0))
    with pytest.raises(RasterError, match="does not overlap"):
        reproject_to(src, far, "dem")


def test_unknown_modality():
    src = _grid(np.ones((4, 4)), HR_TRANSFORM)
    with pytest.raises(ValueError, match="unknown modality 'foo'"):
        reproject_to(src, src, "foo")


def test_pixel_area_is_the_ellipsoid_not_the_sphere():
    # one formula for the whole project (deeplight.io.pixel_area): WGS84 ellipsoid quadrangles. The
    # authalic sphere used here before gave a 1-degree equatorial cell 0.45 % more area.
    from pyproj import Geod

    transform = Affine(1.0, 0, 0.0, 0, -1.0, 1.0)  # 1 degree cell at the equator
    area = pixel_area_m2(transform, "EPSG:4326", (1, 1))[0, 0]
    edge = list(np.linspace(0, 1, 201))  # parallels densified: a geodesic edge is not a parallel
    lons, lats = edge + edge[::-1], [1.0] * 201 + [0.0] * 201
    geodesic = abs(Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)[0])
    assert area == pytest.approx(geodesic, rel=1e-6)
    sphere = (6_371_007.2 * np.pi / 180) ** 2 * np.sin(np.pi / 180) / (np.pi / 180)
    assert area / sphere - 1 == pytest.approx(-0.0045, abs=2e-4)
    assert pixel_area_m2(Affine(1000, 0, 0, 0, -1000, 0), "ESRI:54009", (2, 2))[0, 0] == pytest.approx(1e6)


def test_population_across_crs_conserves_the_total_exactly():
    from deeplight.io import warp_population

    rng = np.random.default_rng(1)
    people = rng.random((12, 12)) * 100  # a 1 km Mollweide grid
    src = Affine(1000.0, 0, 1_000_000.0, 0, -1000.0, 3_000_000.0)
    # a geographic grid (0.005 deg) well inside the source footprint
    from pyproj import Transformer

    lon, lat = Transformer.from_crs("ESRI:54009", "EPSG:4326", always_xy=True).transform(1_006_000.0, 2_994_000.0)
    dst = Affine(0.005, 0, lon - 0.02, 0, -0.005, lat + 0.02)
    warp = warp_population(people, src, "ESRI:54009", dst, "EPSG:4326", (8, 8))
    assert warp.reprojected and "rescaled to conserve its total" in warp.message
    assert float(np.nansum(warp.counts)) == pytest.approx(warp.source_total, rel=1e-9)
    assert warp.resampled_total == pytest.approx(warp.source_total, rel=0.05)  # density step alone
    # reproject_array's population modality is the same warp
    from deeplight.io import reproject_array

    out = reproject_array(people, "ESRI:54009", src, "EPSG:4326", dst, (8, 8), "population")
    np.testing.assert_allclose(out, warp.counts, rtol=1e-6)


def test_population_warp_same_grid_is_identity_and_refuses_bands():
    from deeplight.io import warp_population

    people = np.arange(16, dtype=float).reshape(4, 4)
    warp = warp_population(people, HR_TRANSFORM, UTM50, HR_TRANSFORM, UTM50, (4, 4))
    assert not warp.reprojected and warp.source_total == 120.0
    np.testing.assert_array_equal(warp.counts, people)
    with pytest.raises(RasterError, match="pop.tif: a population warp takes one band"):
        warp_population(people[None], HR_TRANSFORM, UTM50, HR_TRANSFORM, UTM50, (4, 4), source="pop.tif")


def test_multiband_reprojection(tmp_path):
    path = write_plain_tif(
        tmp_path / "dmo.tif",
        np.random.default_rng(0).random((7, 8, 8)),
        transform=HR_TRANSFORM @ Affine.scale(2),
    )
    dmo = read_raster(path, expected_bands=7)
    target = _grid(np.zeros((16, 16)), HR_TRANSFORM)
    out = reproject_to(dmo, target, "dmo")
    assert out.dims == ("band", "y", "x") and out.shape == (7, 16, 16)
