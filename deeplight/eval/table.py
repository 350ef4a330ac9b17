"""Benchmark tables: one row per method and test set, grouped by family, as CSV and Markdown.

Both files are written atomically. Every table states that the LR inputs are *simulated* by the
DMSP-like degradation model and, for the real-HR pairs, that the auxiliary modalities are absent.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeplight.utils_io import atomic_write_text

FAMILY_ORDER = ("calibration", "single-modal", "multi-modal", "deeplight", "deeplight-ablation")
FAMILY_TITLES = {
    "calibration": "Calibration-based",
    "single-modal": "Single-modal SR",
    "multi-modal": "Multi-modal SR",
    "deeplight": "DeepLightSR",
    "deeplight-ablation": "DeepLightSR ablations",
}
TEST_SET_NOTES = {
    "synthetic": (
        "synthetic DeepLightMD-style test split: HR, DMO, DEM and ISP procedural; LR **simulated** "
        "by the DMSP-like degradation model; all auxiliary modalities present"
    ),
    "real": (
        "real-HR pairs: real VIIRS-class rasters of ../shared/data as HR (Shanghai 2018/2020 "
        "NPP-VIIRS-like and NPP-VIIRS, Cote d'Ivoire 2024, Touggourt 2020), LR **simulated** by the "
        "DMSP-like degradation model; auxiliary modalities (DMO, DEM) **absent**"
    ),
}
CSV_FIELDS = [
    "test_set", "family", "method", "source", "steps", "n", "psnr", "ssim", "uiqi", "cc", "sam", "piqe",
    "flux_error", "urban_f1", "urban_iou", "lit_area_error", "seconds_per_image", "lr_simulated",
    "aux_modalities", "note",
]
MARKDOWN_COLUMNS = [
    ("method", "Method"), ("steps", "Steps"), ("psnr", "PSNR dB ↑"), ("ssim", "SSIM ↑"), ("uiqi", "UIQI ↑"),
    ("cc", "CC ↑"), ("sam", "SAM"), ("piqe", "PIQE ↓"), ("flux_error", "Flux err ↓"), ("urban_f1", "Urban F1 ↑"),
    ("urban_iou", "Urban IoU ↑"), ("lit_area_error", "Lit-area err"), ("n", "n"),
]


@dataclass
class ResultRow:
    """One method on one test set."""

    test_set: str
    family: str
    method: str
    source: str
    steps: int | str | None
    metrics: dict[str, float]
    note: str = ""

    def as_csv(self) -> dict[str, Any]:
        aux = "present" if self.test_set == "synthetic" else "absent"
        out: dict[str, Any] = {
            "test_set": self.test_set, "family": self.family, "method": self.method, "source": self.source,
            "steps": "" if self.steps is None else self.steps, "lr_simulated": "true", "aux_modalities": aux,
            "note": self.note,
        }
        for key in CSV_FIELDS:
            if key in self.metrics:
                value = self.metrics[key]
                out[key] = "N/A" if isinstance(value, float) and math.isnan(value) else value
        out["n"] = int(self.metrics.get("n", 0))
        return out


def _fmt(key: str, value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "N/A"
    if key == "psnr":
        return f"{value:.2f}"
    if key in {"piqe"}:
        return f"{value:.1f}"
    if key == "steps":
        return str(value)
    if key == "n":
        return str(int(value))
    if key == "lit_area_error":
        return f"{value:+.1%}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def sort_rows(rows: Sequence[ResultRow]) -> list[ResultRow]:
    """Rows in table order: test set, family (calibration first), then as given."""
    order = {f: i for i, f in enumerate(FAMILY_ORDER)}
    indexed = list(enumerate(rows))
    indexed.sort(key=lambda t: (t[1].test_set != "synthetic", order.get(t[1].family, 99), t[0]))
    return [r for _, r in indexed]


def rows_to_csv(rows: Sequence[ResultRow], header_lines: Sequence[str] = ()) -> str:
    """CSV text with ``# ``-prefixed metadata lines first (machine, simulated LR...)."""
    buf = io.StringIO()
    for line in header_lines:
        buf.write(f"# {line}\n")
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for row in sort_rows(rows):
        writer.writerow({k: row.as_csv().get(k, "") for k in CSV_FIELDS})
    return buf.getvalue()


def rows_to_markdown(rows: Sequence[ResultRow], title: str, header_lines: Sequence[str] = ()) -> str:
    """Markdown: one section per test set, one sub-table per family."""
    lines = [f"# {title}", ""]
    lines += [f"- {h}" for h in header_lines]
    lines += ["- SAM is N/A: the outputs have one band, for which the spectral angle is degenerate.", ""]
    ordered = sort_rows(rows)
    for test_set in dict.fromkeys(r.test_set for r in ordered):
        lines += [f"## Test set: {test_set}", "", f"_{TEST_SET_NOTES.get(test_set, test_set)}_", ""]
        head = "| Family | " + " | ".join(t for _, t in MARKDOWN_COLUMNS) + " |"
        lines += [head, "|" + "---|" * (len(MARKDOWN_COLUMNS) + 1)]
        for row in (r for r in ordered if r.test_set == test_set):
            values = {**row.metrics, "method": row.method + (f" ({row.note})" if row.note else ""), "steps": row.steps}
            cells = [_fmt(k, values.get(k)) for k, _ in MARKDOWN_COLUMNS]
            lines.append(f"| {FAMILY_TITLES.get(row.family, row.family)} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_tables(
    rows: Sequence[ResultRow], out_stem: str | os.PathLike[str], title: str, header_lines: Sequence[str] = ()
) -> tuple[Path, Path]:
    """Write ``<out_stem>.csv`` and ``<out_stem>.md`` atomically; returns both paths."""
    stem = Path(out_stem)
    csv_path, md_path = stem.with_suffix(".csv"), stem.with_suffix(".md")
    atomic_write_text(csv_path, rows_to_csv(rows, header_lines))
    atomic_write_text(md_path, rows_to_markdown(rows, title, header_lines))
    return csv_path, md_path
