"""The project's one region loader: polygon files, Natural Earth countries, or a bounding box.

``deeplight sdg``, :func:`deeplight.report.region_report` and the dashboard (its data sets and
uploads) all read regions here. One rule for the name: the column given (``name_column``, e.g.
``--name-column`` or a data set's known column) or, when none is given, the one
:func:`guess_name_column` picks; the names are made unique.

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

import json
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import CRS

from deeplight.errors import RegionError
from deeplight.io.limits import check_vector_file_size, extract_zip_safely

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


VECTOR_LAYER_SUFFIXES = (".shp", ".geojson", ".json", ".gpkg", ".fgb")
"""Region layers looked for inside a zip archive."""


def _check_json(path: Path, label: str) -> None:
    """A GeoJSON must be UTF-8 JSON with a GeoJSON ``type``: say so in words, not in GDAL's."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise RegionError(f"{label} is not UTF-8 text (byte offset {exc.start}): save it as UTF-8 GeoJSON") from None
    except json.JSONDecodeError as exc:
        raise RegionError(
            f"{label} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): the file is "
            "damaged or not GeoJSON; export it again (a GeoJSON FeatureCollection)"
        ) from None
    kinds = ("FeatureCollection", "Feature", "Polygon", "MultiPolygon", "GeometryCollection")
    if not isinstance(data, dict) or data.get("type") not in kinds:
        found = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise RegionError(
            f"{label} is JSON but not GeoJSON polygons (its \"type\" is {found!r}, expected a FeatureCollection "
            "of polygons): export the regions as GeoJSON"
        )


def _check_shapefile_parts(shp: Path, label: str) -> None:
    present = {p.suffix.lower() for p in shp.parent.iterdir() if p.stem == shp.stem}
    missing = [part for part in (".shx", ".dbf") if part not in present]
    if missing:
        what = {".shx": "the index of the shapes", ".dbf": "the attribute table"}
        parts = ", ".join(f"{shp.stem}{m} ({what[m]})" for m in missing)
        raise RegionError(
            f"{label}: the shapefile {shp.name} comes without {parts}; a shapefile is several files: give (or zip) "
            f"{shp.stem}.shp, .shx, .dbf and .prj together"
        )


def _layer_in_folder(folder: Path, label: str) -> Path:
    layers = sorted(p for p in folder.iterdir() if p.suffix.lower() in VECTOR_LAYER_SUFFIXES)
    shapefiles = [p for p in layers if p.suffix.lower() == ".shp"]
    if not layers:
        names = ", ".join(sorted(p.name for p in folder.iterdir())[:6]) or "nothing"
        raise RegionError(
            f"{label} holds no region layer (found {names}); zip a shapefile (.shp, .shx, .dbf, .prj) or a "
            "GeoJSON / GeoPackage"
        )
    chosen = shapefiles if shapefiles else layers
    if len(chosen) > 1:
        raise RegionError(
            f"{label} holds several region layers ({', '.join(p.name for p in chosen[:6])}); zip one layer "
            "per archive"
        )
    return chosen[0]


def _read_vector(path: Path, layer: str | None, label: str) -> gpd.GeoDataFrame:
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        _check_json(path, label)
    if suffix == ".shp":
        _check_shapefile_parts(path, label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises its own DataSourceError types
        text = " ".join(str(exc).split())
        text = text.replace(str(path.parent) + os.sep, "")
        raise RegionError(
            f"cannot read {label} ({text[:200]}): give a GeoJSON, GeoPackage, FlatGeobuf, Shapefile (with its .shx, "
            ".dbf and .prj) or zipped Shapefile"
        ) from None


def _read_polygon_file(path: Path, layer: str | None, label: str | None = None) -> gpd.GeoDataFrame:
    label = label or f"region file {path}"
    if not path.exists():
        raise RegionError(f"{label} not found: give an existing GeoJSON, GeoPackage or Shapefile")
    if path.is_dir():
        raise RegionError(f"{label} is a folder: give a GeoJSON, GeoPackage or Shapefile file")
    suffix = path.suffix.lower()
    if suffix not in POLYGON_SUFFIXES:
        raise RegionError(
            f"{label}: unsupported type {suffix!r}; use one of {', '.join(POLYGON_SUFFIXES)}"
        )
    if suffix == ".zip":  # extracted here, within the expanded-size limit, never by GDAL's /vsizip/
        with tempfile.TemporaryDirectory(prefix="deeplight-regions-") as tmp:
            extract_zip_safely(path, tmp, label=label)
            inner = _layer_in_folder(Path(tmp), label)
            frame = _read_vector(inner, layer, f"{label} ({inner.name})")
            frame.attrs.pop("source", None)
            return frame
    check_vector_file_size(path, label)
    return _read_vector(path, layer, label)


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
    from deeplight.utils_io import data_dir_problem

    problem = data_dir_problem()
    raise RegionError(
        "Natural Earth countries not found; searched: "
        + ", ".join(str(c) for c in candidates)
        + (f". {problem}" if problem else ". Set DEEPLIGHT_DATA_DIR to the shared data folder or pass the folder "
           "explicitly")
    )


def regions_overlapping(
    regions: gpd.GeoDataFrame, crs: Any, bounds: tuple[float, float, float, float], *, source: str = "regions",
    target: str = "the raster",
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The regions that overlap a raster's footprint, and the names of those that do not.

    Args:
        regions: polygons with a CRS.
        crs: the raster's CRS; bounds: its ``(minx, miny, maxx, maxy)`` in that CRS.

    Raises:
        RegionError: no region overlaps (the message gives both extents and suggests checking the CRS).
    """
    footprint = shapely.box(*bounds)
    moved = regions.to_crs(crs) if regions.crs is not None else regions
    overlaps = moved.geometry.intersects(footprint) & (moved.geometry.intersection(footprint).area > 0)
    if not bool(overlaps.any()):
        shown = tuple(round(float(v), 6) for v in moved.total_bounds)
        raise RegionError(
            f"{source}: none of its {len(regions)} region(s) overlaps {target} (regions span {shown}, the raster "
            f"{tuple(round(float(v), 6) for v in bounds)}, both in the raster's CRS): check that the file covers "
            "the same place and that its CRS is right"
        )
    name_column = REGION_COLUMN if REGION_COLUMN in regions.columns else regions.columns[0]
    dropped = [str(n) for n in regions.loc[~overlaps.to_numpy(), name_column]]
    return regions.loc[overlaps.to_numpy()].reset_index(drop=True), dropped


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
    label: str | None = None,
) -> gpd.GeoDataFrame:
    """Load regions from a polygon file, a GeoDataFrame, "naturalearth", or a bounding box.

    Args:
        source: a path (GeoJSON, GeoPackage, Shapefile, zipped Shapefile, FlatGeobuf), a
            GeoDataFrame, the keyword "naturalearth" (countries), "bbox:minx,miny,maxx,maxy",
            or a 4-sequence of numbers (a bbox in EPSG:4326 unless ``crs`` says otherwise).
        name_column: column with the region names; guessed when None.
        crs: CRS to assign when the file has none (required then).
        layer: layer of a multi-layer file (GeoPackage).
        label: how messages name a file (default ``"region file <path>"``; the dashboard uses the
            name the user uploaded). Files are checked first: size (``DEEPLIGHT_MAX_VECTOR_MB``), JSON
            syntax, shapefile parts; a zip is extracted within the expanded-size limit.

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
    label = label or f"region file {path}"
    gdf = _read_polygon_file(path, layer, label)
    return prepare_regions(gdf, name_column=name_column, source=label, crs=crs)


def as_regions(source: Any, name_column: str | None = None) -> gpd.GeoDataFrame:
    """Regions in the library's layout from anything :func:`load_regions` accepts.

    A GeoDataFrame that already has a ``region`` column (e.g. built by the dashboard) is checked the
    same way as a file: names made unique, invalid geometries repaired, issues recorded.
    """
    if isinstance(source, gpd.GeoDataFrame) and REGION_COLUMN in source.columns and name_column is None:
        origin = source.attrs.get("source", "regions")
        return prepare_regions(source, name_column=REGION_COLUMN, source=origin)
    return load_regions(source, name_column=name_column)
