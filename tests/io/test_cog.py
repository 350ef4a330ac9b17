"""write_cog: Cloud-Optimized, georeferenced, tagged, atomic."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from deeplight.errors import RasterError
from deeplight.io import read_raster, write_cog
from tests.io.rasters import HR_TRANSFORM, UTM50, list_files, tags


def test_round_trip_keeps_values_grid_tags(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.random((600, 520)).astype("f4") * 100
    values[:5, :5] = np.nan
    path = write_cog(
        values,
        tmp_path / "hr.tif",
        crs=UTM50,
        transform=HR_TRANSFORM,
        tags={**tags("hr", simulated=True), "extra": 3},
    )
    back = read_raster(path)
    np.testing.assert_array_equal(back.values, values)
    assert back.rio.transform() == HR_TRANSFORM and back.rio.crs.to_epsg() == 32650
    assert back.attrs["simulated"] == "true" and back.attrs["modality"] == "hr"
    assert back.attrs["extra"] == "3"
    with rasterio.open(path) as src:
        assert src.profile["tiled"] and src.overviews(1)  # COG: tiled with overviews
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert np.isnan(src.nodata)


def test_dataarray_supplies_its_grid_and_bands(tmp_path):
    src = write_cog(
        np.ones((7, 16, 16), "f4"),
        tmp_path / "dmo.tif",
        crs=UTM50,
        transform=HR_TRANSFORM,
        tags=tags("dmo"),
        band_descriptions=[f"b{i}" for i in range(1, 8)],
    )
    da = read_raster(src, expected_bands=7)
    copy = write_cog(da, tmp_path / "copy.tif", tags=tags("dmo"))
    again = read_raster(copy)
    assert again.shape == (7, 16, 16) and again.rio.transform() == HR_TRANSFORM
    assert read_raster(src).attrs["band_descriptions"][6] == "b7"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"crs": None}, "without a CRS"),
        ({"transform": None}, "without a transform"),
        ({"tags": {"units": "x"}}, "tags .* required"),
        ({"tags": {**tags(), "simulated": "maybe"}}, "simulated must be true or false"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path, kwargs, match):
    arguments = {"crs": UTM50, "transform": HR_TRANSFORM, "tags": tags(), **kwargs}
    with pytest.raises(RasterError, match=match):
        write_cog(np.ones((8, 8), "f4"), tmp_path / "out.tif", **arguments)
    assert list_files(tmp_path) == []


def test_failure_during_write_leaves_no_file(tmp_path, monkeypatch):
    target = tmp_path / "out.tif"
    target_old = write_cog(np.zeros((8, 8), "f4"), target, crs=UTM50, transform=HR_TRANSFORM, tags=tags())
    old_bytes = target_old.read_bytes()

    def explode(*_args, **_kwargs):
        raise OSError("disk full (simulated)")

    for writer in (rasterio.io.DatasetWriter, rasterio.io.BufferedDatasetWriter):
        monkeypatch.setattr(writer, "write", explode)
    with pytest.raises(RasterError, match="disk full"):
        write_cog(np.ones((8, 8), "f4"), target, crs=UTM50, transform=HR_TRANSFORM, tags=tags())
    assert list_files(tmp_path) == ["out.tif"]  # no temp file left
    assert target.read_bytes() == old_bytes  # the previous file is intact


def test_refuses_to_overwrite_when_asked(tmp_path):
    path = write_cog(
        np.ones((8, 8), "f4"), tmp_path / "a.tif", crs=UTM50, transform=HR_TRANSFORM, tags=tags()
    )
    with pytest.raises(RasterError, match="refusing to overwrite"):
        write_cog(
            np.ones((8, 8), "f4"), path, crs=UTM50, transform=HR_TRANSFORM, tags=tags(), overwrite=False
        )


def test_bad_shape(tmp_path):
    with pytest.raises(RasterError, match="need \\(y, x\\) or \\(band, y, x\\)"):
        write_cog(np.ones(5, "f4"), tmp_path / "a.tif", crs=UTM50, transform=HR_TRANSFORM, tags=tags())


def test_streamed_cog_is_compressed_once_from_an_uncompressed_partial(tmp_path, monkeypatch):
    """StreamingCogWriter: rows go to an uncompressed partial, the COG is the one DEFLATE pass
    (with GDAL's threads), the partial is gone after finish, and the committed file is a verified COG."""
    from deeplight.io import cog

    seen = {}
    real = cog._partial_to_cog

    def spy(partial, tmp):
        with rasterio.open(partial) as src:
            seen["partial_compression"] = src.compression
        real(partial, tmp)

    monkeypatch.setattr(cog, "_partial_to_cog", spy)
    values = np.random.default_rng(0).random((1100, 700)).astype("f4")
    values[3:9, 5:40] = np.nan
    out = tmp_path / "sr.tif"
    str_tags = {k: str(v) for k, v in tags("sr").items()}
    with cog.StreamingCogWriter([(out, str_tags)], width=700, height=1100, crs=UTM50,
                                transform=HR_TRANSFORM) as writer:
        for row0 in range(0, 1100, 300):
            writer.write_rows(0, row0, values[row0:row0 + 300])
        (cog_tmp,) = writer.finish()
        assert not cog.hidden_path(out, "partial.tif").exists()
        writer.commit()
    assert seen["partial_compression"] is None
    assert list_files(tmp_path) == ["sr.tif"]
    with rasterio.open(out) as src:
        assert src.compression.name == "deflate"
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.overviews(1)  # built in the same pass
        assert np.array_equal(src.read(1), values, equal_nan=True)
    assert cog.COG_THREADS == "ALL_CPUS"
