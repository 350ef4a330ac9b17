"""Region loading: name columns, CRS, repairs, zipped shapefiles, bbox, Natural Earth."""

import zipfile

import geopandas as gpd
import pytest
import shapely

from deeplight.errors import RegionError
from deeplight.io.regions import guess_name_column, load_regions, natural_earth_countries, parse_bbox


def _frame(**columns):
    geometry = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]
    return gpd.GeoDataFrame(columns, geometry=geometry, crs="EPSG:4326")


def test_name_column_is_guessed_and_chosen(tmp_path):
    frame = _frame(code=["a1", "a2"], ADM1_FR=["Nord", "Sud"])
    assert guess_name_column(frame) == "ADM1_FR"
    path = tmp_path / "r.geojson"
    frame.to_file(path)
    regions = load_regions(path)
    assert regions["region"].tolist() == ["Nord", "Sud"]
    assert load_regions(path, name_column="code")["region"].tolist() == ["a1", "a2"]


def test_missing_name_column_lists_the_columns(tmp_path):
    path = tmp_path / "r.gpkg"
    _frame(code=["a1", "a2"], label=["x", "y"]).to_file(path)
    with pytest.raises(RegionError, match=r"no column 'Name'.*code, label"):
        load_regions(path, name_column="Name")


def test_file_without_crs_is_an_error_unless_crs_given(tmp_path):
    path = tmp_path / "nocrs.shp"
    _frame(name=["a", "b"]).to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(RegionError, match=r"nocrs.shp has no CRS.*--regions-crs"):
        load_regions(path)
    regions = load_regions(path, crs="EPSG:4326")
    assert regions.crs.to_epsg() == 4326


def test_invalid_geometry_repaired_and_empty_reported(tmp_path):
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    frame = gpd.GeoDataFrame(
        {"name": ["bow", "empty", "ok", "ok"]},
        geometry=[bowtie, shapely.Polygon(), shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 2)],
        crs="EPSG:4326",
    )
    regions = load_regions(frame)
    assert regions.geometry.iloc[0].is_valid
    assert regions.geometry.iloc[0].area == pytest.approx(2.0)
    assert regions["region"].tolist() == ["bow", "empty", "ok", "ok (2)"]
    issues = " ".join(regions.attrs["issues"])
    assert (
        "invalid geometry" in issues
        and "'empty' has an empty geometry" in issues
        and "more than once" in issues
    )


def test_zipped_shapefile_and_unsupported_type(tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    _frame(name=["a", "b"]).to_file(folder / "regions.shp")
    archive = tmp_path / "regions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    assert load_regions(archive)["region"].tolist() == ["a", "b"]
    (tmp_path / "r.txt").write_text("x")
    with pytest.raises(RegionError, match="unsupported type"):
        load_regions(tmp_path / "r.txt")
    with pytest.raises(RegionError, match="not found"):
        load_regions(tmp_path / "missing.geojson")


def test_bbox_regions():
    assert parse_bbox("bbox:1,2,3,4") == [1.0, 2.0, 3.0, 4.0]
    assert parse_bbox("districts.shp") is None
    regions = load_regions("bbox:1,2,3,4")
    assert regions.geometry.iloc[0].bounds == (1.0, 2.0, 3.0, 4.0)
    with pytest.raises(RegionError, match="empty"):
        load_regions([3, 2, 1, 4])


def test_natural_earth_countries_without_download(monkeypatch):
    monkeypatch.delenv("DEEPLIGHT_DATA_DIR", raising=False)
    countries = natural_earth_countries()
    assert len(countries) == 177
    assert "France" in set(countries["region"])
    assert countries.crs.to_epsg() == 4326
    assert load_regions("naturalearth")["region"].tolist() == countries["region"].tolist()


def test_natural_earth_missing_names_the_places_searched(monkeypatch):
    import pyogrio

    monkeypatch.delenv("DEEPLIGHT_DATA_DIR", raising=False)
    monkeypatch.setattr(pyogrio, "__file__", "/nonexistent/pyogrio/__init__.py")
    with pytest.raises(RegionError, match=r"not found; searched: /nonexistent/folder"):
        natural_earth_countries("/nonexistent/folder")


def test_prepared_frames_with_a_region_column_are_checked_too():
    from deeplight.io.regions import as_regions

    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    frame = gpd.GeoDataFrame(
        {"region": ["a", "a"]}, geometry=[bowtie, shapely.box(0, 0, 1, 1)], crs="EPSG:4326"
    )
    regions = as_regions(frame)
    assert regions["region"].tolist() == ["a", "a (2)"]
    assert regions.geometry.is_valid.all()
