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

    def spy(partial, tmp, **options):
        with rasterio.open(partial) as src:
            seen["partial_compression"] = src.compression
        seen["options"] = options
        real(partial, tmp, **options)

    monkeypatch.setattr(cog, "_partial_to_cog", spy)
    values = np.random.default_rng(0).random((1100, 700)).astype("f4")
    values[3:9, 5:40] = np.nan
    out = tmp_path / "sr.tif"
    with cog.StreamingCogWriter([(out, tags("sr"))], width=700, height=1100, crs=UTM50,
                                transform=HR_TRANSFORM) as writer:
        for row0 in range(0, 1100, 300):
            writer.write_rows(0, row0, values[row0:row0 + 300])
        (cog_tmp,) = writer.finish()
        assert not cog.hidden_path(out, "partial.tif").exists() and cog_tmp.exists()
        writer.commit()
    assert seen["partial_compression"] is None
    assert seen["options"]["NUM_THREADS"] == "ALL_CPUS" and seen["options"]["LEVEL"] == "1"
    assert list_files(tmp_path) == ["sr.tif"]
    with rasterio.open(out) as src:
        assert src.compression.name == "deflate"
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.overviews(1)  # built in the same pass
        assert np.array_equal(src.read(1), values, equal_nan=True)
    assert cog.COG_THREADS == "ALL_CPUS"


def test_write_cog_is_the_streaming_writer_with_one_block(tmp_path, monkeypatch):
    """One atomic scheme: write_cog converts the same uncompressed partial in the same one pass, and keeps
    band names, integer types (no NaN nodata) and the tags."""
    from deeplight.io import cog

    seen = []
    real = cog._partial_to_cog
    monkeypatch.setattr(cog, "_partial_to_cog", lambda partial, tmp, **o: (seen.append(o), real(partial, tmp, **o)))
    values = np.arange(3 * 40 * 24, dtype="u2").reshape(3, 40, 24)
    path = write_cog(values, tmp_path / "c.tif", crs=UTM50, transform=HR_TRANSFORM, tags=tags("isp"),
                     dtype="uint16", band_descriptions=["a", "b", "c"])
    assert len(seen) == 1 and seen[0]["PREDICTOR"] == "NO" and seen[0]["OVERVIEWS"] == "NONE"
    assert list_files(tmp_path) == ["c.tif"]
    with rasterio.open(path) as src:
        assert src.dtypes[0] == "uint16" and src.nodata is None and src.descriptions == ("a", "b", "c")
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG" and src.tags()["modality"] == "isp"
        np.testing.assert_array_equal(src.read(), values)


def test_two_non_exclusive_writers_of_one_path_keep_their_own_files(tmp_path):
    from deeplight.io import cog

    out = tmp_path / "x.tif"
    first = cog.StreamingCogWriter([(out, tags())], width=16, height=16, crs=UTM50, transform=HR_TRANSFORM,
                                   blocksize=16, exclusive=False)
    second = cog.StreamingCogWriter([(out, tags())], width=16, height=16, crs=UTM50, transform=HR_TRANSFORM,
                                    blocksize=16, exclusive=False)
    with first:
        first.write_rows(0, 0, np.zeros((16, 16), "f4"))
        with second:  # entering and leaving does not remove the first writer's partial
            second.write_rows(0, 0, np.ones((16, 16), "f4"))
            second.finish()
            second.commit()
        first.finish()
        first.commit()
    assert list_files(tmp_path) == ["x.tif"]
    with rasterio.open(out) as src:
        assert (src.read(1) == 0).all()


def test_adopt_takes_a_matching_cog_and_refuses_another(tmp_path):
    from deeplight.io import cog

    made = write_cog(np.ones((16, 16), "f4"), tmp_path / "made.tif", crs=UTM50, transform=HR_TRANSFORM,
                     tags=tags("sr"))
    import shutil

    def fetch(index, tmp):
        shutil.copyfile(made, tmp)
        return True

    for wanted, kept in ((tags("sr"), True), ({**tags("sr"), "modality": "hr"}, False)):
        out = tmp_path / f"out_{kept}.tif"
        with cog.StreamingCogWriter([(out, wanted)], width=16, height=16, crs=UTM50, transform=HR_TRANSFORM) as w:
            assert w.adopt(fetch) is kept
            if kept:
                w.commit()
        assert out.exists() is kept
    assert list_files(tmp_path) == ["made.tif", "out_True.tif"]
