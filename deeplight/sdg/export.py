"""Export of the indicator table: CSV with a ``#`` metadata header, JSON sidecar, GeoJSON/GeoPackage.

CSV layout: lines starting with ``# `` hold the metadata (one ``# key: <JSON value>`` line per
key, so the header is both human-readable and machine-parsable), then the tidy table with a header
row. ``pd.read_csv(path, comment="#")`` reads the table back (the metadata lines are skipped).
Every writer is atomic (temporary file in the same folder, then rename): an interrupted export
never leaves a half-written file under the final name, and inputs are never overwritten.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from deeplight.errors import DeepLightError
from deeplight.io.regions import REGION_COLUMN
from deeplight.utils_io import atomic_path, atomic_write_bytes, atomic_write_text

COLUMN_DOCS = {
    "region": "region name (from the region file's name column)",
    "product": "night-light product: lr (DMSP-like input), sr (reconstruction), hr (reference) "
    "or a user label",
    "year": "year of the product (empty when not given)",
    "indicator": "indicator name (see docs/sdg.md)",
    "value": "indicator value",
    "unit": "unit of value, lower and upper",
    "lower": "lower bound of the interval (radiance - z std), empty without an uncertainty layer",
    "upper": "upper bound of the interval (radiance + z std), empty without an uncertainty layer",
    "simulated": "true when the product was not observed by a sensor: made by the degradation model "
    "(a simulated LR), reconstructed from such an input (its SR), or generated (a synthetic HR)",
    "method": "threshold, calibration or formula used",
    "note": "problems for this region (no overlap, empty geometry, partial valid data)",
}


def _jsonable(value: Any) -> Any:
    """Convert numpy / pandas scalars and containers into plain JSON values (NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (os.PathLike,)):
        return os.fspath(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def _metadata_of(table: pd.DataFrame, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(table.attrs.get("metadata", {}))
    merged.update(metadata or {})
    merged.setdefault("columns", COLUMN_DOCS)
    if "simulated" in table.columns:
        simulated_products = sorted({str(p) for p in table.loc[table["simulated"].astype(bool), "product"]})
        merged["simulated_products"] = simulated_products
        if simulated_products:
            synthetic = merged.get("synthetic_products", ())
            merged["simulated_note"] = simulated_note(simulated_products, synthetic)
    return _jsonable(merged)


def simulated_note(simulated_products, synthetic_products=()) -> str:
    """The ``SIMULATED: ...`` sentence of the exports' metadata.

    Args:
        simulated_products: products not observed by a sensor (the tidy table's ``simulated`` flag).
        synthetic_products: those of them that were *generated* (a synthetic scene's HR), not made by
            the degradation model.
    """
    synthetic = [p for p in simulated_products if p in set(synthetic_products)]
    degraded = [p for p in simulated_products if p not in set(synthetic_products)]
    parts = []
    if degraded:
        parts.append(
            f"{', '.join(degraded)} were made by the degradation model (or reconstructed from its output)"
        )
    if synthetic:
        parts.append(f"{', '.join(synthetic)} were generated synthetically (a synthetic scene)")
    return "SIMULATED: products " + "; products ".join(parts) + ", not observed by a sensor"


def indicators_metadata(table: pd.DataFrame, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The metadata every export of ``table`` records (JSON values): ``table.attrs["metadata"]``,
    then ``metadata`` over it, the column docs, ``simulated_products`` and the ``simulated_note``."""
    return _metadata_of(table, metadata)


def indicators_to_csv_bytes(table: pd.DataFrame, metadata: Mapping[str, Any] | None = None) -> bytes:
    """The CSV file's bytes (UTF-8): ``#`` metadata header then the table. Pure: no file I/O.

    Args:
        table: tidy indicator table (``compute_indicators`` output or any DataFrame).
        metadata: extra or overriding metadata; merged over ``table.attrs["metadata"]``.

    Returns:
        UTF-8 bytes that ``pd.read_csv(io.BytesIO(b), comment="#")`` reads back.
    """
    lines = ["# DeepLight SDG indicators (read with pandas.read_csv(path, comment='#'))"]
    for key, value in _metadata_of(table, metadata).items():
        text = json.dumps(value, ensure_ascii=False)
        lines.append(f"# {key}: {text.replace(chr(10), ' ')}")
    buffer = io.StringIO()
    frame = table.copy()
    if "simulated" in frame.columns:
        frame["simulated"] = frame["simulated"].map(lambda v: "true" if bool(v) else "false")
    # strings quoted, so a "#" inside a name or method is not taken for a comment by read_csv(comment="#")
    frame.to_csv(buffer, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    return ("\n".join(lines) + "\n" + buffer.getvalue()).encode("utf-8")


def read_indicators_csv(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a CSV written by :func:`write_indicators`: (table, metadata parsed from the header)."""
    metadata: dict[str, Any] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("# "):
                break
            key, sep, value = line[2:].partition(": ")
            if sep:
                try:
                    metadata[key] = json.loads(value)
                except json.JSONDecodeError:
                    metadata[key] = value.strip()
    table = pd.read_csv(path, comment="#")
    return table, metadata


def indicators_to_json_sidecar(table: pd.DataFrame, metadata: Mapping[str, Any] | None = None) -> str:
    """JSON text of the sidecar: the metadata plus row count, column docs and the indicators listed."""
    payload = _metadata_of(table, metadata)
    payload["rows"] = int(len(table))
    if "indicator" in table.columns:
        units = table.drop_duplicates("indicator").set_index("indicator")["unit"].to_dict()
        payload["indicators"] = _jsonable(units)
    return json.dumps(payload, ensure_ascii=False, indent=2)


GEO_DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}
"""Geometry outputs by file suffix."""


def check_output_names(out_csv: str | os.PathLike[str], geo: str | os.PathLike[str] | None = None) -> None:
    """Check every output of ``deeplight sdg`` before anything is computed or written: the CSV name ends
    in ``.csv``, ``geo`` in ``.geojson``/``.json``/``.gpkg``, and their folders are writable.

    Raises:
        ConfigError: naming the option, the path and what to use instead.
    """
    from deeplight.utils_io import check_output_path

    check_output_path(out_csv, "--out", suffixes=(".csv",))
    check_output_path(Path(out_csv).with_suffix(".json"), "the JSON sidecar of --out")
    if geo is not None:
        check_output_path(geo, "--geo", suffixes=tuple(GEO_DRIVERS))


def write_indicator_outputs(
    table: pd.DataFrame,
    out_csv: str | os.PathLike[str],
    *,
    geo: str | os.PathLike[str] | None = None,
    regions: gpd.GeoDataFrame | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write the CSV, its JSON sidecar and (optionally) the geometry file *together* (GeoJSON or
    GeoPackage with units and metadata: :func:`indicators_to_geojson_bytes`,
    :func:`indicators_to_geopackage_bytes`): each is written to a
    temporary file first, and only when all three are complete are they renamed into place, so a failure
    in any of them (a bad name, a full disk) leaves none of them behind.

    Returns:
        The written paths (CSV, JSON, then the geometry file).
    """
    check_output_names(out_csv, geo)
    out_csv = Path(out_csv)
    sidecar = out_csv.with_suffix(".json")
    csv_bytes = indicators_to_csv_bytes(table, metadata)
    json_text = indicators_to_json_sidecar(table, metadata)
    written = [out_csv, sidecar]
    with contextlib.ExitStack() as stack:
        if geo is not None:
            if regions is None:
                raise DeepLightError("a geometry output needs the regions (regions=...)")
            geo = Path(geo)
            geo_tmp = stack.enter_context(atomic_path(geo, suffix=geo.suffix))
            if GEO_DRIVERS[geo.suffix.lower()] == "GPKG":
                geo_tmp.write_bytes(indicators_to_geopackage_bytes(table, regions, metadata))
            else:
                geo_tmp.write_bytes(indicators_to_geojson_bytes(table, regions, metadata))
            written.append(geo)
        csv_tmp = stack.enter_context(atomic_path(out_csv))
        csv_tmp.write_bytes(csv_bytes)
        json_tmp = stack.enter_context(atomic_path(sidecar))
        json_tmp.write_text(json_text, encoding="utf-8")
    return written


def write_indicators(
    table: pd.DataFrame, out_csv: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``out_csv`` and its JSON sidecar ``<stem>.json`` atomically; returns both paths.

    Raises:
        DeepLightError: the output path is not a .csv file name.
    """
    out_csv = Path(out_csv)
    if out_csv.suffix.lower() != ".csv":
        raise DeepLightError(f"output {out_csv} must end in .csv (the JSON sidecar goes beside it)")
    sidecar = out_csv.with_suffix(".json")
    atomic_write_bytes(out_csv, indicators_to_csv_bytes(table, metadata))
    atomic_write_text(sidecar, indicators_to_json_sidecar(table, metadata))
    return out_csv, sidecar


def indicators_to_geodataframe(table: pd.DataFrame, regions: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Wide table joined to the region polygons: one row per region, one column per
    ``<product>_<indicator>`` (``_<year>`` appended when several years), ``_simulated`` flags per product.
    """
    frame = table.copy()
    years = frame["year"].dropna().unique() if "year" in frame.columns else []
    suffix = frame["year"].astype("string").fillna("") if len(years) > 1 else ""
    frame["column"] = frame["product"].astype(str) + "_" + frame["indicator"].astype(str)
    if len(years) > 1:
        frame["column"] = frame["column"] + "_" + suffix
    wide = frame.pivot_table(index="region", columns="column", values="value", aggfunc="first", dropna=False)
    wide.columns.name = None
    flags = frame.groupby("product")["simulated"].any()
    for product, flag in flags.items():
        wide[f"{product}_simulated"] = bool(flag)
    joined = regions[[REGION_COLUMN, "geometry"]].merge(
        wide, left_on=REGION_COLUMN, right_index=True, how="left"
    )
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=regions.crs)


def unit_slug(unit: str) -> str:
    """A unit as a column-name suffix: ``"nW/cm2/sr x km2"`` -> ``"nW_cm2_sr_x_km2"``."""
    return "_".join(part for part in re.split(r"[^0-9A-Za-z]+", str(unit)) if part)


def _unit_column(product: str, indicator: str, year: str, unit: str) -> str:
    slug = unit_slug(unit)
    base = f"{product}_{indicator}" + (f"_{year}" if year else "")
    # a unit the name already ends with ("lit_share" in "share") is not repeated
    return base if not slug or indicator.endswith(slug) else f"{base}_{slug}"


GEO_LAYER = "indicators"
"""Layer of the polygons in a GeoPackage (``metadata`` and ``columns`` are its non-spatial tables)."""


def indicators_to_geo_export(
    table: pd.DataFrame, regions: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Wide indicator table joined to the polygons, with the unit in every column name.

    One row per region, one column per ``<product>_<indicator>[_<year>]_<unit>`` (e.g.
    ``sr_sum_of_lights_nW_cm2_sr_x_km2``, ``hr_lit_area_km2``; a unit the indicator's name already
    ends with, as in ``lr_lit_share``, is not repeated) and ``<product>_simulated`` flags.

    Returns:
        The GeoDataFrame (regions' CRS) and the column dictionary: one row per indicator column
        with ``column``, ``product``, ``indicator``, ``year``, ``unit`` (exact text) and
        ``simulated``; the flag columns have unit ``true/false``.
    """
    frame = table.copy()
    years = frame["year"].dropna().unique() if "year" in frame.columns else []
    several = len(years) > 1
    frame["year_text"] = frame["year"].astype("string").fillna("") if several else ""
    frame["unit"] = frame["unit"].astype(str)
    frame["column"] = [
        _unit_column(str(p), str(i), str(y), u)
        for p, i, y, u in zip(frame["product"], frame["indicator"], frame["year_text"], frame["unit"])
    ]
    wide = frame.pivot_table(index="region", columns="column", values="value", aggfunc="first", dropna=False)
    wide.columns.name = None
    columns = (
        frame.drop_duplicates("column")
        .assign(year=lambda f: f["year_text"].replace("", pd.NA))
        .loc[:, ["column", "product", "indicator", "year", "unit"]]
        .sort_values("column")
        .reset_index(drop=True)
    )
    has_flags = "simulated" in frame.columns
    flags = frame.groupby("product")["simulated"].any() if has_flags else pd.Series(dtype=bool)
    columns["simulated"] = columns["product"].map(flags).fillna(False).astype(bool)
    for product, flag in flags.items():
        wide[f"{product}_simulated"] = bool(flag)
    flag_rows = pd.DataFrame(
        {
            "column": [f"{p}_simulated" for p in flags.index],
            "product": [str(p) for p in flags.index],
            "indicator": "simulated",
            "year": pd.NA,
            "unit": "true/false",
            "simulated": [bool(f) for f in flags.values],
        }
    )
    columns = pd.concat([columns, flag_rows], ignore_index=True) if len(flag_rows) else columns
    joined = regions[[REGION_COLUMN, "geometry"]].merge(
        wide, left_on=REGION_COLUMN, right_index=True, how="left"
    )
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=regions.crs), columns


def _geo_metadata(table: pd.DataFrame, columns: pd.DataFrame, metadata: Mapping[str, Any] | None) -> dict:
    merged = _metadata_of(table, metadata)
    merged["columns"] = {
        REGION_COLUMN: COLUMN_DOCS["region"],
        **{
            row.column: (
                f"{row.indicator} of product {row.product}"
                + (f" in {row.year}" if isinstance(row.year, str) and row.year else "")
                + (f", unit {row.unit}" if row.indicator != "simulated" else ": " + COLUMN_DOCS["simulated"])
            )
            for row in columns.itertuples(index=False)
        },
    }
    merged["column_units"] = {row.column: row.unit for row in columns.itertuples(index=False)}
    return _jsonable(merged)


def indicators_to_geojson_bytes(
    table: pd.DataFrame, regions: gpd.GeoDataFrame, metadata: Mapping[str, Any] | None = None
) -> bytes:
    """GeoJSON (RFC 7946, longitude/latitude) of the indicators per region. Pure: no file I/O.

    Properties carry the unit in their names (:func:`indicators_to_geo_export`); the top-level
    ``"metadata"`` member holds what the CSV header holds (data set, simulated flags and note,
    model, thresholds, provenance, credits) plus ``column_units`` (property -> exact unit) and
    ``columns`` (property -> what it is). Readers that ignore foreign members still read the features.
    """
    geo, columns = indicators_to_geo_export(table, regions)
    geo = geo.to_crs("EPSG:4326") if geo.crs is not None else geo
    features = json.loads(geo.to_json(na="null", drop_id=True))["features"]
    collection = {
        "type": "FeatureCollection",
        "metadata": _geo_metadata(table, columns, metadata),
        "features": features,
    }
    return json.dumps(collection, ensure_ascii=False, allow_nan=False).encode("utf-8")


def indicators_to_geopackage_bytes(
    table: pd.DataFrame,
    regions: gpd.GeoDataFrame,
    metadata: Mapping[str, Any] | None = None,
    crs: str | None = None,
) -> bytes:
    """GeoPackage of the indicators: layer ``indicators`` (polygons, unit-bearing column names),
    non-spatial tables ``metadata`` (``key``, ``value`` as JSON text: data set, simulated flags and
    note, model, thresholds, provenance, credits, column units) and ``columns`` (column, product,
    indicator, year, unit, simulated). ``geopandas.read_file(path, layer="metadata")`` reads it.

    Args:
        crs: reproject the polygons to this CRS (None: the regions' own).
    """
    import pyogrio

    geo, columns = indicators_to_geo_export(table, regions)
    if crs is not None and geo.crs is not None:
        geo = geo.to_crs(crs)
    meta = _geo_metadata(table, columns, metadata)
    rows = pd.DataFrame(
        {"key": list(meta), "value": [json.dumps(v, ensure_ascii=False) for v in meta.values()]}
    )
    column_table = columns.assign(year=columns["year"].astype("string"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "indicators.gpkg"
        geo.to_file(path, driver="GPKG", layer=GEO_LAYER)
        pyogrio.write_dataframe(rows, path, layer="metadata", driver="GPKG")
        pyogrio.write_dataframe(column_table, path, layer="columns", driver="GPKG")
        return path.read_bytes()


def write_geo(geo: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a GeoDataFrame as GeoJSON (.geojson/.json) or GeoPackage (.gpkg), atomically.

    Raises:
        DeepLightError: another extension.
    """
    path = Path(path)
    driver = GEO_DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise DeepLightError(f"geometry output {path}: use a .geojson or .gpkg file name")
    with atomic_path(path, suffix=path.suffix) as tmp:
        tmp.unlink(missing_ok=True)  # GPKG cannot be written over an empty placeholder file
        _write_geo_file(geo, tmp, driver)
    return path


def _write_geo_file(geo: gpd.GeoDataFrame, path: Path, driver: str) -> None:
    frame = geo.copy()
    frame.columns = [str(c)[:60] for c in frame.columns]
    frame.to_file(path, driver=driver, **({"layer": "indicators"} if driver == "GPKG" else {}))
