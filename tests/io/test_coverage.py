"""Region membership (deeplight.io.coverage): covered cells and fractions per region (exactextract), regions
far outside the grid, the fraction raster the dashboard's crop holds and the yes/no mask derived from it."""

import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from deeplight.errors import RasterError
from deeplight.io.coverage import Grid, coverage_fraction, membership_mask, region_coverage
from deeplight.io.regions import load_regions, natural_earth_countries
from deeplight.io.georaster import GeoRaster
from tests.sdg.helpers import cell_box, regions_frame

DEFAULT_TRANSFORM = Affine(1000, 0, 0, 0, -1000, 4000)


def _grid(crs="EPSG:6933", transform=DEFAULT_TRANSFORM, shape=(4, 4)) -> GeoRaster:
    return GeoRaster(np.zeros(shape), transform, CRS.from_user_input(crs), "grid")


def test_fractions_and_row_major_cells():
    regions = load_regions(regions_frame({"a": cell_box(0.5, 0.5, 1.5, 2), "empty": shapely.Polygon()}))
    coverage = region_coverage(regions, _grid())
    order = np.argsort(coverage[0].cells)
    assert coverage[0].cells[order].tolist() == [0, 1, 4, 5]  # rows 0-1, cols 0-1
    np.testing.assert_allclose(coverage[0].fraction[order], [0.25, 0.5, 0.25, 0.5])
    assert coverage[1].cells.size == 0 and coverage[1].note == "empty geometry"


def test_regions_in_another_crs_are_reprojected():
    box_lonlat = regions_frame({"a": cell_box(0, 0, 4, 4)}).to_crs("EPSG:4326")
    coverage = region_coverage(load_regions(box_lonlat), _grid())
    assert coverage[0].fraction.sum() == pytest.approx(16.0, rel=1e-3)


def test_world_countries_over_a_utm_grid_do_not_break(monkeypatch):
    monkeypatch.delenv("DEEPLIGHT_DATA_DIR", raising=False)
    grid = _grid("EPSG:32633", Affine(1000, 0, 400_000, 0, -1000, 5_000_000), (10, 10))  # inland Croatia
    coverage = region_coverage(natural_earth_countries(), grid)
    covered = [c.region for c in coverage if c.cells.size]
    assert covered == ["Croatia"]
    assert all("no overlap" in c.note for c in coverage if c.region != "Croatia")


def test_fraction_raster_holds_the_statistics_fractions():
    regions = load_regions(regions_frame({"a": cell_box(0.5, 0.5, 1.5, 2)}))
    grid = Grid((4, 4), DEFAULT_TRANSFORM, CRS.from_user_input("EPSG:6933"))
    fraction = coverage_fraction(regions.geometry.iloc[0], grid)
    expected = np.zeros(16)
    coverage = region_coverage(regions, _grid())[0]  # what the indicators weight cells by
    expected[coverage.cells] = coverage.fraction
    np.testing.assert_allclose(fraction.ravel(), expected)
    assert fraction.shape == (4, 4) and fraction[0, 0] == pytest.approx(0.25)
    # a GeoDataFrame in another CRS gives the union of its regions, counted once
    twice = regions_frame({"a": cell_box(0, 0, 2, 2), "b": cell_box(1, 1, 3, 3)}).to_crs("EPSG:4326")
    union = coverage_fraction(load_regions(twice), grid)
    assert union.max() <= 1.0 and union.sum() == pytest.approx(7.0, rel=1e-3)


def test_mask_is_half_covered_cells_or_any_cell_of_a_tiny_region():
    fraction = np.array([[0.25, 0.5], [0.75, 0.0]])
    np.testing.assert_array_equal(membership_mask(fraction), [[False, True], [True, False]])
    tiny = np.array([[0.1, 0.02], [0.0, 0.0]])  # a region smaller than half a cell is not empty
    np.testing.assert_array_equal(membership_mask(tiny), [[True, True], [False, False]])
    assert not membership_mask(np.zeros((2, 2))).any()
    with pytest.raises(RasterError, match="min_fraction must be in"):
        membership_mask(fraction, min_fraction=0.0)


def test_one_grid_rule_tolerates_float_noise_only():
    """``grids_match`` is the project's one same-grid rule (scenes, GeoRasters, population, uploads)."""
    from affine import Affine
    from pyproj import CRS

    from deeplight.io.coverage import Grid, grids_match, transforms_match

    utm = CRS.from_epsg(32650)
    base = Affine(130.0, 0, 500_000.0, 0, -130.0, 3_500_000.0)
    noisy = Affine(130.0 + 1e-10, 0, 500_000.0 + 1e-5, 0, -130.0, 3_500_000.0 - 1e-5)  # rounding of a warp
    shifted = Affine(130.0, 0, 500_000.5, 0, -130.0, 3_500_000.0)  # half a metre: another grid
    assert transforms_match(base, noisy) and not transforms_match(base, shifted)
    degrees = Affine(0.004, 0, 5.0, 0, -0.004, 33.0)
    assert not transforms_match(degrees, Affine(0.004 + 1e-7, 0, 5.0, 0, -0.004, 33.0))
    a = Grid((10, 12), base, utm)
    assert grids_match(a, Grid((10, 12), noisy, utm))
    assert not grids_match(a, Grid((10, 13), base, utm))
    assert not grids_match(a, Grid((10, 12), base, CRS.from_epsg(32651)))
