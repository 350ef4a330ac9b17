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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from deeplight.errors import DeepLightError
from deeplight.sdg.regions import REGION_COLUMN
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
    "simulated": "true when the product was made by the degradation model (simulated), not observed",
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
            merged["simulated_note"] = (
                "SIMULATED: products "
                + ", ".join(simulated_products)
                + " were made by the degradation model, not observed by a sensor"
            )
    return _jsonable(merged)


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
    """Write the CSV, its JSON sidecar and (optionally) the geometry file *together*: each is written to a
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
            geo_tmp.unlink(missing_ok=True)  # GPKG cannot be written over an empty placeholder file
            _write_geo_file(indicators_to_geodataframe(table, regions), geo_tmp, GEO_DRIVERS[geo.suffix.lower()])
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
