"""Pixel areas: ellipsoidal quadrangles on geographic grids, areal scale on projected grids."""

import numpy as np
import pytest
from affine import Affine
from pyproj import Geod, Transformer

from deeplight.errors import RasterError
from deeplight.io.pixel_area import pixel_area_m2

GEOD = Geod(ellps="WGS84")


def _geodesic_cell_area(lon0: float, lat0: float, dlon: float, dlat: float) -> float:
    lons = [lon0, lon0 + dlon, lon0 + dlon, lon0]
    lats = [lat0, lat0, lat0 - dlat, lat0 - dlat]
    return abs(GEOD.polygon_area_perimeter(lons, lats)[0])


def test_geographic_cells_match_geodesic_area_and_shrink_with_latitude():
    step = 15 / 3600  # 15 arc-seconds
    transform = Affine(step, 0, 10.0, 0, -step, 60.0)
    area = pixel_area_m2(transform, "EPSG:4326", (3, 2))
    assert area.shape == (3, 2)
    expected = _geodesic_cell_area(10.0, 60.0, step, step)
    assert area[0, 0] == pytest.approx(expected, rel=1e-6)
    assert area[0, 0] == area[0, 1]
    equator = pixel_area_m2(Affine(step, 0, 0, 0, -step, step), "EPSG:4326", (1, 1))[0, 0]
    assert equator == pytest.approx(_geodesic_cell_area(0.0, step, step, step), rel=1e-6)
    assert area[0, 0] / equator == pytest.approx(
        np.cos(np.deg2rad(60.0)), rel=2e-2
    )  # ellipsoid: ~1 % off the sphere


def test_equal_area_projection_gives_nominal_area():
    area = pixel_area_m2(Affine(1000, 0, 0, 0, -1000, 5_000_000), "ESRI:54009", (2, 2))
    np.testing.assert_allclose(area, 1e6, rtol=1e-6)


def test_conformal_projection_is_corrected_by_areal_scale():
    transform = Affine(500, 0, 400_000, 0, -500, 5_000_000)
    area = pixel_area_m2(transform, "EPSG:32633", (1, 1))[0, 0]
    to_lonlat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(
        [400_000, 400_500, 400_500, 400_000], [5_000_000, 5_000_000, 4_999_500, 4_999_500]
    )
    assert area == pytest.approx(abs(GEOD.polygon_area_perimeter(lon, lat)[0]), rel=1e-4)
    assert area != pytest.approx(250_000, rel=1e-5)  # UTM's scale factor is not 1 here


def test_rotated_grid_and_missing_crs_are_errors():
    with pytest.raises(RasterError, match="rotated"):
        pixel_area_m2(Affine(1, 0.1, 0, 0, -1, 0), "EPSG:6933", (1, 1))
    with pytest.raises(RasterError, match="no CRS"):
        pixel_area_m2(Affine(1, 0, 0, 0, -1, 0), None, (1, 1))
