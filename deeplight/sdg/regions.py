"""Regions for the indicators: polygon files, Natural Earth countries, or a bounding box.

Every loader returns a GeoDataFrame with a unique text column ``region`` (the region's name), the
polygon ``geometry`` and the file's other attributes. Invalid geometries are repaired with
``shapely.make_valid`` (keeping the polygonal parts) and each repair or problem is recorded in
``gdf.attrs["issues"]`` (a list of messages), so one bad polygon never stops the others.

Natural Earth countries (1:110m, public domain) are never downloaded. They are read, in order, from
an explicit folder, from ``$DEEPLIGHT_DATA_DIR/naturalearth_lowres`` (the shared data layout), or
from the copy that the ``pyogrio`` package (a dependency of geopandas) installs with its test
fixtures (``pyogrio/tests/fixtures/naturalearth_lowres``).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import CRS

from deeplight.errors import RegionError

REGION_COLUMN = "region"
"""Name of the column that holds each region's (unique) name."""

POLYGON_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb")
NATURAL_EARTH_KEYWORDS = ("naturalearth", "natural_earth", "natural-earth", "countries")

_NAME_PRIORITY = (
    "region",
    "name",
    "name_en",
    "name_long",
    "admin",
    "shapename",
    "adm2_en",
    "adm2_fr",
    "adm1_en",
    "adm1_fr",
    "adm1_name",
    "adm0_en",
    "adm0_fr",
    "name_1",
    "name_2",
    "nom",
)


def guess_name_column(frame: pd.DataFrame) -> str | None:
    """Pick the column that most likely holds region names.

    Order: a known name column (``name``, ``NAME``, ``ADM1_FR``, ... case-insensitive), then any
    column whose name contains "name" or "nom", then the first text column with unique values.

    Returns:
        The column name, or None when no column fits (regions are then numbered).
    """
    columns = [c for c in frame.columns if c != "geometry"]
    lower = {c.lower(): c for c in columns}
    for candidate in _NAME_PRIORITY:
        if candidate in lower:
            return lower[candidate]
    for column in columns:
        if re.search(r"name|nom", column, re.IGNORECASE) and frame[column].dtype == object:
            return column
    for column in columns:
        series = frame[column]
        if series.dtype == object and series.notna().all() and series.is_unique:
            return column
    return None


def _unique_names(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Make names unique by appending " (2)", " (3)"...; returns the names and the messages."""
    seen: dict[str, int] = {}
    out, issues = [], []
    for name in names:
        if name in seen:
            seen[name] += 1
            new = f"{name} ({seen[name]})"
            issues.append(f"region name {name!r} appears more than once: renamed one to {new!r}")
            out.append(new)
        else:
            seen[name] = 1
            out.append(name)
    return out, issues


def _repair_geometries(gdf: gpd.GeoDataFrame, issues: list[str]) -> gpd.GeoDataFrame:
    """Repair invalid geometries (make_valid, polygonal parts only) and note empty ones."""
    geometries = []
    for name, geom in zip(gdf[REGION_COLUMN], gdf.geometry, strict=True):
        if geom is None or geom.is_empty:
            issues.append(f"region {name!r} has an empty geometry: its indicators are NaN")
            geometries.append(shapely.Polygon())
            continue
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            geom = shapely.make_valid(geom)
            if geom.geom_type == "GeometryCollection":
                parts = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
                geom = shapely.unary_union(parts) if parts else shapely.Polygon()
            issues.append(f"region {name!r} had an invalid geometry ({reason}): repaired with make_valid")
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            issues.append(f"region {name!r} is a {geom.geom_type}, not a polygon: its indicators are NaN")
            geom = shapely.Polygon()
        geometries.append(geom)
    return gdf.set_geometry(gpd.GeoSeries(geometries, index=gdf.index, crs=gdf.crs))


def prepare_regions(
    gdf: gpd.GeoDataFrame,
    *,
    name_column: str | None = None,
    source: str = "regions",
    crs: str | CRS | None = None,
) -> gpd.GeoDataFrame:
    """Normalise a GeoDataFrame into the regions layout (``region`` column, repaired polygons).

    Args:
        gdf: polygons with a CRS (or pass ``crs``).
        name_column: column with the region names; guessed when None.
        source: where the polygons came from (for messages).
        crs: CRS to assign when the data has none (e.g. "EPSG:4326").

    Raises:
        RegionError: no CRS, no features, or ``name_column`` missing (the message lists the columns).
    """
    issues: list[str] = list(gdf.attrs.get("issues", []))
    if len(gdf) == 0:
        raise RegionError(f"{source} contains no features: give a file with at least one polygon")
    if gdf.crs is None:
        if crs is None:
            raise RegionError(
                f"{source} has no CRS (for a shapefile the .prj file is missing): pass the CRS it is in, "
                "e.g. name_column=..., crs='EPSG:4326' or `deeplight sdg --regions-crs EPSG:4326`"
            )
        gdf = gdf.set_crs(crs)
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    if name_column is not None and name_column not in gdf.columns:
        raise RegionError(
            f"{source} has no column {name_column!r}: choose one of "
            f"{', '.join(map(str, columns)) or '(none)'}"
        )
    column = name_column or guess_name_column(gdf)
    if column is None:
        names = [f"region {i + 1}" for i in range(len(gdf))]
        issues.append(f"{source}: no name column found among {columns}: regions numbered 1..{len(gdf)}")
    else:
        names = [str(v) if pd.notna(v) else f"region {i + 1}" for i, v in enumerate(gdf[column])]
    names, renamed = _unique_names(names)
    issues.extend(renamed)
    out = gdf.copy()
    if REGION_COLUMN in out.columns and column != REGION_COLUMN:
        out = out.rename(columns={REGION_COLUMN: f"{REGION_COLUMN}_original"})
    out[REGION_COLUMN] = names
    out = out.rename_geometry("geometry") if out.geometry.name != "geometry" else out
    out = out[[REGION_COLUMN, *[c for c in out.columns if c not in (REGION_COLUMN, "geometry")], "geometry"]]
    out = _repair_geometries(out.reset_index(drop=True), issues)
    out.attrs["issues"] = issues
    out.attrs["source"] = source
    out.attrs["name_column"] = column
    return out


def _read_polygon_file(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    if not path.exists():
        raise RegionError(f"region file {path} not found: give an existing GeoJSON, GeoPackage or Shapefile")
    suffix = path.suffix.lower()
    if suffix not in POLYGON_SUFFIXES:
        raise RegionError(
            f"region file {path}: unsupported type {suffix!r}; use one of {', '.join(POLYGON_SUFFIXES)}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError types
        raise RegionError(f"cannot read region file {path}: {exc}") from exc


def natural_earth_countries(folder: str | os.PathLike[str] | None = None) -> gpd.GeoDataFrame:
    """The 177 Natural Earth 1:110m countries (``region`` = ``name``; ``iso_a3``, ``pop_est``...).

    Args:
        folder: a folder holding ``naturalearth_lowres.shp``; when None, tries
            ``$DEEPLIGHT_DATA_DIR/naturalearth_lowres`` then pyogrio's installed copy.

    Raises:
        RegionError: no copy found (the message lists the places searched).
    """
    candidates: list[Path] = []
    if folder is not None:
        candidates.append(Path(folder))
    if os.environ.get("DEEPLIGHT_DATA_DIR"):
        candidates.append(Path(os.environ["DEEPLIGHT_DATA_DIR"]) / "naturalearth_lowres")
    try:
        import pyogrio

        candidates.append(Path(pyogrio.__file__).parent / "tests" / "fixtures" / "naturalearth_lowres")
    except ImportError:  # pragma: no cover - geopandas >= 1 requires pyogrio
        pass
    for candidate in candidates:
        shp = candidate / "naturalearth_lowres.shp" if candidate.is_dir() else candidate
        if shp.is_file():
            gdf = _read_polygon_file(shp, None)
            return prepare_regions(gdf, name_column="name", source=f"Natural Earth countries ({shp})")
    raise RegionError(
        "Natural Earth countries not found; searched: "
        + ", ".join(str(c) for c in candidates)
        + ". Set DEEPLIGHT_DATA_DIR to the shared data folder or pass the folder explicitly"
    )


def regions_from_bbox(
    bbox: Sequence[float], *, crs: str | CRS = "EPSG:4326", name: str = "bbox"
) -> gpd.GeoDataFrame:
    """One rectangular region.

    Args:
        bbox: (minx, miny, maxx, maxy) in ``crs`` units (degrees for EPSG:4326).
        crs: CRS of the coordinates.
        name: the region's name.

    Raises:
        RegionError: not four numbers, or min >= max.
    """
    if len(bbox) != 4:
        raise RegionError(f"bbox needs four numbers minx,miny,maxx,maxy; got {list(bbox)}")
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    if not (minx < maxx and miny < maxy):
        raise RegionError(f"bbox {list(bbox)} is empty: it needs minx < maxx and miny < maxy")
    gdf = gpd.GeoDataFrame({REGION_COLUMN: [name]}, geometry=[shapely.box(minx, miny, maxx, maxy)], crs=crs)
    return prepare_regions(gdf, name_column=REGION_COLUMN, source=f"bbox {list(bbox)}")


def parse_bbox(text: str) -> list[float] | None:
    """Parse "bbox:minx,miny,maxx,maxy" (or four comma-separated numbers); None when not a bbox."""
    body = text[5:] if text.lower().startswith("bbox:") else text
    parts = body.split(",")
    if len(parts) != 4:
        return None
    try:
        return [float(p) for p in parts]
    except ValueError:
        return None


def load_regions(
    source: str | os.PathLike[str] | gpd.GeoDataFrame | Sequence[float],
    *,
    name_column: str | None = None,
    crs: str | CRS | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Load regions from a polygon file, a GeoDataFrame, "naturalearth", or a bounding box.

    Args:
        source: a path (GeoJSON, GeoPackage, Shapefile, zipped Shapefile, FlatGeobuf), a
            GeoDataFrame, the keyword "naturalearth" (countries), "bbox:minx,miny,maxx,maxy",
            or a 4-sequence of numbers (a bbox in EPSG:4326 unless ``crs`` says otherwise).
        name_column: column with the region names; guessed when None.
        crs: CRS to assign when the file has none (required then).
        layer: layer of a multi-layer file (GeoPackage).

    Returns:
        GeoDataFrame with ``region`` (unique str), the other attributes and ``geometry``;
        ``attrs["issues"]`` lists repairs and problems.

    Raises:
        RegionError: missing/unreadable file, no CRS, unknown name column, no features.
    """
    if isinstance(source, gpd.GeoDataFrame):
        return prepare_regions(source, name_column=name_column, source="regions", crs=crs)
    if isinstance(source, (list, tuple)):
        return regions_from_bbox(source, crs=crs or "EPSG:4326")
    text = os.fspath(source)
    if text.lower() in NATURAL_EARTH_KEYWORDS:
        regions = natural_earth_countries()
        if name_column is not None and name_column != "name":
            return prepare_regions(
                regions.drop(columns=[REGION_COLUMN]),
                name_column=name_column,
                source="Natural Earth countries",
            )
        return regions
    bbox = parse_bbox(text) if not Path(text).exists() else None
    if bbox is not None:
        return regions_from_bbox(bbox, crs=crs or "EPSG:4326")
    path = Path(text)
    gdf = _read_polygon_file(path, layer)
    return prepare_regions(gdf, name_column=name_column, source=f"region file {path}", crs=crs)


def as_regions(source: Any, name_column: str | None = None) -> gpd.GeoDataFrame:
    """Regions in the library's layout from anything :func:`load_regions` accepts.

    A GeoDataFrame that already has a ``region`` column (e.g. built by the dashboard) is checked the
    same way as a file: names made unique, invalid geometries repaired, issues recorded.
    """
    if isinstance(source, gpd.GeoDataFrame) and REGION_COLUMN in source.columns and name_column is None:
        origin = source.attrs.get("source", "regions")
        return prepare_regions(source, name_column=REGION_COLUMN, source=origin)
    return load_regions(source, name_column=name_column)
