"""Pure helpers of the per-region indicator table in ``benchmarks/validate_sdg.py``.

The script computes every indicator with the library (``deeplight.sdg.compute_indicators``) on HR, on
a simulated LR and on reconstructions (bicubic, checkpoints); this module only reshapes those tidy
tables, compares each method with HR per region and summarises the comparison. Nothing here reads
files, runs a model or computes an indicator: numpy and pandas only, so it is tested on data made by
code (tests/sdg/test_validation_table.py).

Vocabulary:
- *method*: one column of the comparison: ``HR`` (the reference), ``LR`` (the simulated coarse
  input, nominal radiance on its own grid), ``bicubic`` and ``SR <name>`` (one per checkpoint).
- *indicator*: one of :data:`INDICATORS`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REFERENCE = "HR"
BASELINE = "LR"
INTERPOLATION = "bicubic"

INDICATORS: dict[str, tuple[str, str, str]] = {
    # key: (label, unit, source in the tidy table of compute_indicators as "<run>:<indicator>")
    "sum_of_lights": ("sum of lights", "nW/cm2/sr*km2", "fixed:sum_of_lights"),
    "lit_area": ("lit area (R >= 1)", "km2", "fixed:lit_area"),
    "urban_fixed": ("urban extent, fixed R >= 10", "km2", "fixed:urban_area"),
    "urban_otsu": ("urban extent, Otsu", "km2", "otsu:urban_area"),
    "electricity_access": ("electricity-access proxy", "1", "fixed:electricity_access"),
    "co2_share": ("CO2 share (ODIAC-style)", "1", "fixed:co2_emissions"),
}
"""The indicators of the table, in order: label, unit, and where they come from."""

ADDITIVE = ("sum_of_lights", "lit_area", "urban_fixed", "urban_otsu")
"""Indicators whose regional values add up to a scene total (areas and sums)."""
FLUX = ("sum_of_lights", "co2_share")
"""Indicators a flux-conserving reconstruction keeps equal to the LR's (target: within 1 %)."""
FLUX_TOLERANCE = 0.01


def parse_checkpoint_specs(items: Sequence[str] | None, default: str | None = None) -> list[tuple[str, str]]:
    """``--checkpoint`` values (``PATH`` or ``NAME=PATH``) -> ``[(name, path), ...]`` in order.

    The name of a bare path is its stem without ``.safetensors``/``.json``. ``default`` is used when
    ``items`` is empty. Names must be unique and differ from the reserved method names.

    Raises:
        ValueError: an empty name or path, a duplicate or a reserved name.
    """
    specs = list(items or ([] if default is None else [default]))
    out: list[tuple[str, str]] = []
    for item in specs:
        name, sep, path = item.partition("=")
        if not sep:
            name, path = "", item
        name, path = name.strip(), path.strip()
        if not path:
            raise ValueError(f"--checkpoint {item!r}: no path (use PATH or NAME=PATH)")
        if not name:
            stem = Path(path).name
            for suffix in (".safetensors", ".json"):
                if stem.endswith(suffix):
                    stem = stem[: -len(suffix)]
            name = stem
        if name in (REFERENCE, BASELINE, INTERPOLATION) or not name:
            raise ValueError(f"--checkpoint {item!r}: the name {name!r} is reserved; use NAME=PATH")
        if any(name == other for other, _ in out):
            raise ValueError(f"--checkpoint {item!r}: the name {name!r} is used twice; use NAME=PATH")
        out.append((name, path))
    return out


def sr_method(name: str) -> str:
    """Method label of a checkpoint: ``SR <name>``."""
    return f"SR {name}"


def crop_window(shape: tuple[int, int], max_pixels: int | None, scale: int = 8) -> tuple[slice, slice]:
    """Centred window of an HR raster: both sides multiples of ``scale``, at most ``max_pixels`` pixels.

    Without ``max_pixels`` (or when the raster is small enough) the window is the whole raster cut
    to whole ``scale`` blocks from the upper-left corner. Otherwise both sides shrink by the same
    factor (the aspect ratio is kept), never below one block, and the window starts on a multiple of
    ``scale`` so the LR grid stays aligned with the raster's origin.

    Raises:
        ValueError: a side shorter than ``scale`` or ``max_pixels`` below one block.
    """
    height, width = (int(shape[0]) // scale) * scale, (int(shape[1]) // scale) * scale
    if height < scale or width < scale:
        raise ValueError(f"raster {tuple(shape)} is smaller than one {scale}x{scale} block")
    if max_pixels is None or height * width <= max_pixels:
        return slice(0, height), slice(0, width)
    if max_pixels < scale * scale:
        raise ValueError(f"max_pixels {max_pixels} is smaller than one {scale}x{scale} block")
    factor = math.sqrt(max_pixels / (height * width))
    rows = max(scale, int(height * factor) // scale * scale)
    cols = max(scale, int(width * factor) // scale * scale)
    while rows * cols > max_pixels:  # rounding can leave one block too many
        if rows >= cols and rows > scale:
            rows -= scale
        else:
            cols -= scale
    r0 = ((height - rows) // 2) // scale * scale
    c0 = ((width - cols) // 2) // scale * scale
    return slice(r0, r0 + rows), slice(c0, c0 + cols)


def collect_indicators(runs: Mapping[str, pd.DataFrame], methods: Mapping[str, str]) -> pd.DataFrame:
    """Tidy tables of ``compute_indicators`` -> one long table of the :data:`INDICATORS`.

    Args:
        runs: run name ("fixed", "otsu") -> tidy table (columns region, product, indicator, value).
        methods: product name in those tables -> method label (e.g. ``{"hr": "HR", "lr": "LR"}``);
            other products are ignored.

    Returns:
        Columns ``region, method, indicator, value``; an indicator whose run or source row is absent
        (no population: no electricity access) is left out.
    """
    frames = []
    for key, (_label, _unit, source) in INDICATORS.items():
        run, _, name = source.partition(":")
        table = runs.get(run)
        if table is None:
            continue
        rows = table[(table["indicator"] == name) & table["product"].isin(list(methods))]
        if rows.empty:
            continue
        frames.append(
            pd.DataFrame(
                {
                    "region": rows["region"].astype(str).to_numpy(),
                    "method": rows["product"].map(methods).to_numpy(),
                    "indicator": key,
                    "value": rows["value"].astype(float).to_numpy(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["region", "method", "indicator", "value"])
    return pd.concat(frames, ignore_index=True)


def relative_error(value: Any, reference: Any) -> np.ndarray:
    """``|value - reference| / |reference|``: 0 where both are 0, inf where only the reference is 0,
    NaN where either is NaN (element-wise, any broadcastable shapes)."""
    value = np.asarray(value, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    diff = np.abs(value - reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = diff / np.abs(reference)
    out = np.where((reference == 0) & (diff == 0), 0.0, out)
    out = np.where((reference == 0) & (diff > 0), np.inf, out)
    return np.where(np.isfinite(value) & np.isfinite(reference), out, np.nan)


def relative_difference(value: Any, other: Any) -> np.ndarray:
    """Signed ``value / other - 1`` (0 where both are 0, +-inf where only ``other`` is 0, NaN for NaN)."""
    value = np.asarray(value, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = value / other - 1.0
        signed_inf = np.where(value < 0, -np.inf, np.inf)
    out = np.where((other == 0) & (value == 0), 0.0, out)
    out = np.where((other == 0) & (value != 0), signed_inf, out)
    return np.where(np.isfinite(value) & np.isfinite(other), out, np.nan)


def error_table(values: pd.DataFrame) -> pd.DataFrame:
    """Per region and indicator, each method against HR (and against LR and bicubic).

    Args:
        values: long table (``region, method, indicator, value``, plus any key columns such as
            ``place`` that are kept); must hold the ``HR`` method, and ``LR`` / ``bicubic`` for the
            comparisons with them.

    Returns:
        One row per key x region x indicator x method other than HR, with ``value``, ``hr``,
        ``error`` (value - hr), ``abs_error``, ``rel_error`` (:func:`relative_error`), ``lr`` and
        ``vs_lr`` (signed relative difference to the LR), ``le_lr`` (``|M - HR| <= |LR - HR|``),
        ``lt_lr`` (strictly smaller), ``le_bicubic``; NaN / missing where a side is NaN.
    """
    keys = [c for c in values.columns if c not in ("method", "value")]
    # only the key combinations that occur (a pivot_table with dropna=False would cross them all)
    wide = values.groupby([*keys, "method"], sort=False, dropna=False)["value"].first().unstack("method")
    wide.columns.name = None
    if REFERENCE not in wide.columns:
        raise ValueError(f"error_table needs the {REFERENCE!r} method; methods are {list(wide.columns)}")
    methods = [m for m in dict.fromkeys(values["method"]) if m != REFERENCE]
    hr = wide[REFERENCE].to_numpy(dtype=np.float64)
    lr = wide[BASELINE].to_numpy(dtype=np.float64) if BASELINE in wide.columns else np.full(hr.shape, np.nan)
    bic = (
        wide[INTERPOLATION].to_numpy(dtype=np.float64)
        if INTERPOLATION in wide.columns
        else np.full(hr.shape, np.nan)
    )
    frames = []
    index = wide.index.to_frame(index=False)
    for method in methods:
        value = wide[method].to_numpy(dtype=np.float64)
        abs_error = np.abs(value - hr)
        valid_lr = np.isfinite(abs_error) & np.isfinite(lr)
        valid_bic = np.isfinite(abs_error) & np.isfinite(bic)
        lr_error = np.abs(lr - hr)
        bic_error = np.abs(bic - hr)
        frame = index.copy()
        frame["method"] = method
        frame["value"] = value
        frame["hr"] = hr
        frame["error"] = value - hr
        frame["abs_error"] = abs_error
        frame["rel_error"] = relative_error(value, hr)
        frame["lr"] = lr
        frame["vs_lr"] = relative_difference(value, lr)
        frame["le_lr"] = pd.array(np.where(valid_lr, abs_error <= _tol(lr_error), None), dtype="boolean")
        frame["lt_lr"] = pd.array(np.where(valid_lr, abs_error < lr_error, None), dtype="boolean")
        frame["le_bicubic"] = pd.array(
            np.where(valid_bic, abs_error <= _tol(bic_error), None), dtype="boolean"
        )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _tol(error: np.ndarray) -> np.ndarray:
    """An error plus a float-rounding margin, so equal values compare as ties."""
    return error + 1e-9 * np.maximum(np.abs(error), 1e-12)


def _share(flags: pd.Series) -> float:
    known = flags.dropna()
    return float(known.astype(bool).mean()) if len(known) else float("nan")


def summarise(errors: pd.DataFrame, by: Sequence[str] = ("place",)) -> pd.DataFrame:
    """Summary per ``by`` x indicator x method of an :func:`error_table`.

    Columns: ``regions`` (with a finite value and HR), ``share_le_lr`` (share of regions where
    ``|M - HR| <= |LR - HR|``), ``share_lt_lr`` (strictly), ``share_le_bicubic``,
    ``median_rel_error`` (over regions, against HR), and for additive indicators
    ``total_vs_hr`` (all regions together, signed relative difference); for flux indicators
    ``median_abs_vs_lr`` (per region, |M / LR - 1|), ``share_within_1pct_lr`` and, when additive
    (the sum of lights, not the shares), ``total_vs_lr``.
    The LR row's comparisons with itself are left NaN.
    """
    by = [c for c in by if c in errors.columns]
    rows = []
    groups = errors.groupby([*by, "indicator", "method"], sort=False, dropna=False, observed=True)
    for key, group in groups:
        *key_values, indicator, method = key if isinstance(key, tuple) else (key,)
        known = group[np.isfinite(group["value"]) & np.isfinite(group["hr"])]
        row: dict[str, Any] = dict(zip(by, key_values, strict=True))
        row.update(indicator=indicator, method=method, regions=int(len(known)))
        is_lr = method == BASELINE
        row["share_le_lr"] = float("nan") if is_lr else _share(known["le_lr"])
        row["share_lt_lr"] = float("nan") if is_lr else _share(known["lt_lr"])
        row["share_le_bicubic"] = float("nan") if method == INTERPOLATION else _share(known["le_bicubic"])
        rel = known["rel_error"].to_numpy(dtype=np.float64)
        row["median_rel_error"] = float(np.median(rel)) if rel.size else float("nan")
        row["total_vs_hr"] = float("nan")
        row["total_vs_lr"] = float("nan")
        row["median_abs_vs_lr"] = float("nan")
        row["share_within_1pct_lr"] = float("nan")
        if indicator in ADDITIVE and len(known):
            row["total_vs_hr"] = float(relative_difference(known["value"].sum(), known["hr"].sum()))
        if indicator in FLUX and not is_lr:
            paired = known[np.isfinite(known["lr"])]
            if len(paired) and indicator in ADDITIVE:  # shares add up to 1 on every method
                row["total_vs_lr"] = float(relative_difference(paired["value"].sum(), paired["lr"].sum()))
            if len(paired):
                vs_lr = np.abs(paired["vs_lr"].to_numpy(dtype=np.float64))
                row["median_abs_vs_lr"] = float(np.median(vs_lr))
                row["share_within_1pct_lr"] = float(np.mean(vs_lr <= FLUX_TOLERANCE))
        rows.append(row)
    return pd.DataFrame(rows)


def stable_key(**parts: Any) -> str:
    """SHA-256 (hex) of a canonical JSON of ``parts`` (sorted keys; paths and others as text)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def format_number(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits for Markdown ("" for NaN, "inf", thousands kept
    as plain integers: 118342 not 1.183e+05)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= digits - 1:
        return f"{value:.0f}"
    if magnitude < -4:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{max(0, digits - 1 - magnitude)}f}"


def format_percent(value: Any, digits: int = 1) -> str:
    """A fraction as a signed-free percentage ("12.5%"; "" for NaN, "inf%" for inf)."""
    if value is None or not isinstance(value, (int, float, np.integer, np.floating)) or math.isnan(value):
        return ""
    if math.isinf(value):
        return "inf%" if value > 0 else "-inf%"
    return f"{100 * float(value):.{digits}f}%"


def markdown(frame: pd.DataFrame, formats: Mapping[str, Any] | None = None) -> str:
    """A Markdown table of ``frame``; ``formats`` maps a column to a formatter (default
    :func:`format_number` for numbers, ``str`` otherwise)."""
    formats = dict(formats or {})
    header = "| " + " | ".join(str(c).replace("|", "\\|") for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    lines = [header, rule]
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            formatter = formats.get(column)
            if formatter is None:
                formatter = format_number if isinstance(value, (int, float, np.integer, np.floating)) else str
            text = "" if value is None or value is pd.NA else formatter(value)
            cells.append(text.replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ordered_methods(methods: Iterable[str]) -> list[str]:
    """HR, LR, bicubic first, then the SR methods in their given order."""
    methods = list(dict.fromkeys(methods))
    head = [m for m in (REFERENCE, BASELINE, INTERPOLATION) if m in methods]
    return head + [m for m in methods if m not in head]
