"""Uploads: parsed in a temporary folder, size/type checked, corrupt files answered clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from app.uploads import UploadedFile, build_upload_scene
from deeplight.errors import DeepLightError, RasterError, RegionError

GEO_TRANSFORM = Affine(0.004, 0, 5.0, 0, -0.004, 33.0)
"""About 450 m pixels near Touggourt (EPSG:4326)."""


def _geotiff_bytes(tmp_path: Path, array: np.ndarray, crs="EPSG:4326", transform=GEO_TRANSFORM) -> bytes:
    path = tmp_path / "made.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=array.shape[-2],
        width=array.shape[-1],
        count=1 if array.ndim == 2 else array.shape[0],
        dtype="float32",
        crs=crs,
        transform=transform,
    ) as dst:
        dst.write(array.astype(np.float32), 1 if array.ndim == 2 else None)
    return path.read_bytes()


def _radiance(shape=(40, 48)) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.gamma(1.0, 4.0, shape).astype(np.float32)


def test_hr_upload_simulates_lr_and_is_labelled(tmp_path):
    data = _geotiff_bytes(tmp_path, _radiance())
    scene = build_upload_scene(UploadedFile("../../etc/passwd.tif", data), role="hr")
    assert scene.lr.shape == (5, 6) and scene.hr.shape == (40, 48)
    assert scene.lr_simulated and any("simulated LR" in n for n in scene.notes)
    assert np.nanmax(scene.lr) <= 63
    assert scene.key.startswith("upload:")
    assert list(scene.regions["name"]) == ["Whole upload"]


def test_lr_upload_in_radiance_maps_to_nominal_dn(tmp_path):
    from deeplight.contracts import radiance_to_nominal_dn

    radiance = _radiance((7, 9))
    scene = build_upload_scene(
        UploadedFile("viirs.tif", _geotiff_bytes(tmp_path, radiance)), role="lr", lr_units="radiance"
    )
    assert scene.hr is None and not scene.lr_simulated
    np.testing.assert_allclose(scene.lr, radiance_to_nominal_dn(radiance), rtol=1e-6)
    assert scene.hr_transform.a == pytest.approx(0.004 / 8)
    assert scene.hr_shape == (56, 72)


def test_same_bytes_same_key_other_role_other_key(tmp_path):
    data = _geotiff_bytes(tmp_path, _radiance())
    a = build_upload_scene(UploadedFile("a.tif", data), role="hr")
    b = build_upload_scene(UploadedFile("b.tif", data), role="hr")
    c = build_upload_scene(UploadedFile("a.tif", data), role="lr")
    assert a.key == b.key != c.key


def test_corrupt_oversized_and_unsupported_uploads(tmp_path):
    with pytest.raises(RasterError, match=r"night-light raster 'broken.tif': not a readable raster.*GeoTIFF"):
        build_upload_scene(UploadedFile("broken.tif", b"II*\x00 this is not a tiff" * 50), role="hr")
    with pytest.raises(DeepLightError, match="over the 1 MiB limit"):
        build_upload_scene(UploadedFile("big.tif", b"0" * (1024 * 1024 + 1)), role="hr", limit_mb=1)
    with pytest.raises(DeepLightError, match=r"unsupported file type \.png"):
        build_upload_scene(UploadedFile("photo.png", b"\x89PNG"), role="hr")
    with pytest.raises(DeepLightError, match="is empty"):
        build_upload_scene(UploadedFile("empty.tif", b""), role="hr")
    with pytest.raises(DeepLightError, match="role must be one of"):
        build_upload_scene(UploadedFile("x.tif", b"x"), role="truth")


def test_raster_without_crs_is_refused(tmp_path):
    data = _geotiff_bytes(tmp_path, _radiance(), crs=None)
    with pytest.raises(RasterError, match="has no CRS"):
        build_upload_scene(UploadedFile("nocrs.tif", data), role="hr")


def test_region_file_and_bad_region_file(tmp_path):
    data = _geotiff_bytes(tmp_path, _radiance())
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "oasis"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[5.02, 32.9], [5.1, 32.9], [5.1, 32.97], [5.02, 32.97], [5.02, 32.9]]],
                },
            }
        ],
    }
    scene = build_upload_scene(
        UploadedFile("x.tif", data),
        role="hr",
        regions=UploadedFile("r.geojson", json.dumps(geojson).encode()),
    )
    assert list(scene.regions["name"]) == ["oasis"]
    with pytest.raises(RegionError, match="region file 'bad.geojson'"):
        build_upload_scene(
            UploadedFile("x.tif", data), role="hr", regions=UploadedFile("bad.geojson", b"{nope")
        )


def test_dem_upload_is_warped_onto_the_hr_grid(tmp_path):
    data = _geotiff_bytes(tmp_path, _radiance())
    dem = _geotiff_bytes(tmp_path, np.full((20, 24), 120.0), transform=Affine(0.008, 0, 5.0, 0, -0.008, 33.0))
    scene = build_upload_scene(UploadedFile("x.tif", data), role="hr", dem=UploadedFile("dem.tif", dem))
    assert scene.dem.shape == scene.hr.shape
    assert np.nanmean(scene.dem) == pytest.approx(120.0)


def test_shared_touggourt_viirs_as_real_lr(shared_data):
    path = shared_data / "touggourt" / "VNL_v2_npp_2020_global_vcmslcfg_c202102150000.average_masked.tif"
    scene = build_upload_scene(UploadedFile(path.name, path.read_bytes()), role="lr")
    assert scene.lr.shape == (62, 112) and scene.hr_shape == (496, 896)
    assert scene.crs.to_epsg() == 4326
