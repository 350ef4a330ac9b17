"""Time-series uploads: dated GeoTIFFs become one data set with a time slider; cloud-free gaps masked."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from app.uploads import UploadedFile, UploadSeries, build_upload_scene, build_upload_series, date_in_name
from deeplight.errors import DeepLightError, RasterError
from tests.app.test_uploads import GEO_TRANSFORM, _geotiff_bytes, _radiance


@pytest.mark.parametrize(
    ("name", "date"),
    [
        ("ntl_2024-03.tif", "2024-03"),
        ("Dubai_NTL_2024_11.tif", "2024-11"),
        ("viirs202401.tiff", "2024-01"),
        ("VNL_2021.tif", 2021),
        ("VNL_v2_npp_2020_global_vcmslcfg_c202102150000.average_masked.tif", 2020),
        ("ntl.tif", None),
        ("ntl_2020_2021.tif", None),  # two years: ambiguous
        ("ntl_2024-13.tif", None),  # no month 13: refused, not read as the year 2024
        ("ntl_2024-00.tif", None),
        ("SVDNB_npp_20210101-20210131_75N060W_vcmcfg_v10_c202102.avg_rade9h.tif", "2021-01"),
        ("SVDNB_npp_20210101-20210228_x.tif", None),  # a range over two months
        ("NTL_2020_1km.tif", 2020),
    ],
)
def test_the_date_comes_from_the_file_name(name, date):
    assert date_in_name(name) == date


def _files(tmp_path, names, scale=1.0, shape=(40, 48)):
    return [UploadedFile(n, _geotiff_bytes(tmp_path, _radiance(shape) * (scale + i))) for i, n in enumerate(names)]


def test_a_monthly_series_is_one_scene_per_month_on_one_grid(tmp_path):
    files = _files(tmp_path, ["m_2024-03.tif", "m_2024-01.tif", "m_2024-02.tif"])
    series = build_upload_series(files, role="hr")
    assert isinstance(series, UploadSeries) and series.monthly
    assert list(series.steps) == ["2024-01", "2024-02", "2024-03"]  # sorted by date, not upload order
    jan = series.step("2024-01")
    assert jan.month == "2024-01" and jan.year == 2024 and jan.key == f"{series.key}:2024-01"
    single = build_upload_scene(files[1], role="hr")
    np.testing.assert_array_equal(jan.hr, single.hr)  # each step is what one upload of that file gives
    assert series.step(None) is series.latest is series.steps["2024-03"]
    with pytest.raises(RasterError, match="has no date 2023-12; it has 2024-01, 2024-02, 2024-03"):
        series.step("2023-12")  # never another month's data under the asked date
    assert len({s.key for s in series.steps.values()}) == 3
    assert all(s.regions is jan.regions for s in series.steps.values())
    assert series.lr_simulated and any("3 months" in n for n in series.notes)


def test_an_annual_series_steps_by_year(tmp_path):
    series = build_upload_series(_files(tmp_path, ["VNL_2019.tif", "VNL_2021.tif"]), role="lr")
    assert not series.monthly and list(series.steps) == [2019, 2021]
    assert series.step("2019").year == 2019 and series.step(2021).month is None
    assert not series.lr_simulated


def test_months_without_cloud_free_nights_are_masked_not_dark(tmp_path):
    radiance = _radiance()
    counts = np.full(radiance.shape, 3, np.float32)
    counts[:8, :8] = 0  # one HR-sized 8x8 block never seen cloud-free
    ntls = [UploadedFile(f"ntl_2024-0{m}.tif", _geotiff_bytes(tmp_path, radiance)) for m in (1, 2)]
    cf = [UploadedFile("cf_cvg_2024-02.tif", _geotiff_bytes(tmp_path, counts))]
    series = build_upload_series(ntls, role="hr", cloud_free=cf)
    feb, jan = series.steps["2024-02"], series.steps["2024-01"]
    assert np.isnan(feb.hr[:8, :8]).all() and np.isfinite(feb.hr[8:, 8:]).all()
    assert np.isfinite(jan.hr).all()  # a month without a count file is not masked
    assert np.isnan(feb.lr[0, 0])  # the simulated LR cell over the unseen block is missing, not 0
    assert any("cloud-free" in n for n in feb.notes) and not any("cloud-free" in n for n in jan.notes)


def test_bad_series_are_refused_with_the_file_named(tmp_path):
    with pytest.raises(DeepLightError, match="'ntl.tif': no single date"):
        build_upload_series(_files(tmp_path, ["ntl_2024-01.tif", "ntl.tif"]), role="hr")
    with pytest.raises(DeepLightError, match="mix years and months"):
        build_upload_series(_files(tmp_path, ["a_2024-01.tif", "a_2023.tif"]), role="hr")
    with pytest.raises(DeepLightError, match="both have the date 2024-01"):
        build_upload_series(_files(tmp_path, ["a_2024-01.tif", "b_202401.tif"]), role="hr")
    with pytest.raises(DeepLightError, match="2 to"):
        build_upload_series(_files(tmp_path, ["a_2024-01.tif"]), role="hr")
    shifted = _geotiff_bytes(tmp_path, _radiance(), transform=GEO_TRANSFORM @ Affine.translation(8, 0))
    with pytest.raises(RasterError, match="'b_2024-02.tif' is not on the grid of 'a_2024-01.tif'"):
        build_upload_series(
            [_files(tmp_path, ["a_2024-01.tif"])[0], UploadedFile("b_2024-02.tif", shifted)], role="hr"
        )
    counts = [UploadedFile("cf_2023-05.tif", _geotiff_bytes(tmp_path, np.ones((40, 48))))]
    with pytest.raises(DeepLightError, match="'cf_2023-05.tif' match no uploaded"):
        build_upload_series(_files(tmp_path, ["a_2024-01.tif", "a_2024-02.tif"]), role="hr", cloud_free=counts)
    off_grid = [UploadedFile("cf_2024-01.tif", _geotiff_bytes(tmp_path, np.ones((16, 16))))]
    with pytest.raises(RasterError, match="cloud-free count raster 'cf_2024-01.tif' is not on the grid"):
        build_upload_series(_files(tmp_path, ["a_2024-01.tif", "a_2024-02.tif"]), role="hr", cloud_free=off_grid)


def test_the_same_bytes_under_other_dates_are_another_series(tmp_path):
    """The caches shared by every session are keyed by the scene key: a series must not get the key of
    another whose files carry the same bytes under other dates."""
    a, b = _files(tmp_path, ["x_2024-01.tif", "x_2024-02.tif"])
    one = build_upload_series([a, b], role="hr")
    swapped = build_upload_series([UploadedFile("x_2024-02.tif", a.data), UploadedFile("x_2024-01.tif", b.data)],
                                  role="hr")
    assert one.key != swapped.key and one.steps["2024-01"].key != swapped.steps["2024-01"].key
    renamed = build_upload_series([UploadedFile("y_2024-01.tif", a.data), UploadedFile("y_2024-02.tif", b.data)],
                                  role="hr")
    assert renamed.key == one.key  # a file renamed with the same date is the same data


def test_a_series_too_large_for_a_session_is_refused_while_it_is_built(tmp_path):
    files = _files(tmp_path, ["m_2024-01.tif", "m_2024-02.tif", "m_2024-03.tif"])
    one_step = 40 * 48 * 4 + 5 * 6 * 4  # HR and LR float32
    with pytest.raises(DeepLightError, match="too large to keep in memory: after 'm_2024-02.tif'"):
        build_upload_series(files, role="hr", max_bytes=int(1.5 * one_step))


def test_steps_share_the_auxiliary_layers_and_the_store_counts_them_once(app_env, tmp_path):
    from app import services

    dem = UploadedFile("dem.tif", _geotiff_bytes(tmp_path, np.full((40, 48), 120.0)))
    series = build_upload_series(_files(tmp_path, ["m_2024-01.tif", "m_2024-02.tif"]), role="hr", dem=dem)
    first, second = series.steps.values()
    assert second.dem is first.dem and first.dem is not None
    distinct = {id(a): a.nbytes for step in (first, second) for a in (step.lr, step.hr, step.dem)}
    layers = sum(distinct.values())
    assert layers <= services.scene_nbytes(series) < layers + 64 * 1024  # the DEM once, plus the region table
    store = services.SessionUploads()
    store[series.key] = series
    assert store.get(series.key) is series
