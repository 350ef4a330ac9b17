"""Helpers of ``benchmarks/bench_quality.py``: test sets, evaluation with the evidence measures, tables.

* :func:`synthetic_set` and :func:`real_place_sets` build the test sets: the synthetic test split,
  and one set per real-test place (``deeplight.data.real_corpus``; the real-HR pairs of
  ``deeplight.eval.real_pairs`` when the corpus or its places file is missing).
* :func:`evaluate_samples` runs a model and scores every tile with
  :func:`deeplight.eval.evidence.evidence_row` (against the model's own ``lr_calibrated`` and, when
  the model reports one, its ``cap``); :func:`reference_samples` scores HR itself.
* :func:`aggregate`, :func:`mean_over_places` and :func:`write_quality_tables` make the tables.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deeplight.eval import evidence, table
from deeplight.utils_io import atomic_write_text

MEAN_SET = "mean-over-places"
"""Set name of the mean-over-places rows in the CSV."""
FAMILY_ORDER = (*table.FAMILY_ORDER, "reference")
FAMILY_TITLES = {**table.FAMILY_TITLES, "reference": "Reference"}
COLUMNS = [  # (metric key, Markdown title, format)
    ("psnr", "PSNR dB ↑", "{:.2f}"),
    ("ssim", "SSIM ↑", "{:.3f}"),
    ("cc", "CC ↑", "{:.3f}"),
    ("flux_error", "Flux err ↓", "{:.2%}"),
    ("flux_error_max_cell", "Flux worst cell ↓", "{:.1%}"),
    ("flux_error_hr", "Flux vs HR ↓", "{:.1%}"),
    ("lit_area_error", "Lit-area err", "{:+.1%}"),
    ("dark_floor", "Dark floor nW ↓", "{:.3f}"),
    ("period8_peak_db", "P8 peak dB ↓", "{:.1f}"),
    ("piqe", "PIQE ↓", "{:.1f}"),
    ("cap_violation", "Above cap ↓", "{:.2%}"),
]
MAX_KEYS = {"flux_error_max_cell"}
"""Metrics aggregated by their maximum (the worst cell of a place), not their mean."""
SUM_KEYS = {"flux_total", "flux_hr_total"}
"""Totals, summed over tiles."""
CSV_KEYS = list(evidence.EVIDENCE_KEYS)
BASELINE_FAMILIES = {"calibration", "single-modal", "multi-modal"}
HR_ROW = "HR (its own period-8 peak, dark floor, PIQE)"
"""Method name of the reference rows."""


@dataclass
class EvalSet:
    """One test set: the synthetic split or one real place.

    Attributes:
        name: ``synthetic`` or the place name.
        kind: ``synthetic`` or the place's kind (megacity, mid-size city, dim rural, desert/flare).
        samples: unbatched sample dicts (docs/CONTRACTS.md).
        key: what defines the set (part of the evaluation cache key).
        description: one line for the table.
    """

    name: str
    kind: str
    samples: list[dict[str, Any]]
    key: dict[str, Any]
    description: str

    @property
    def is_place(self) -> bool:
        return self.kind != "synthetic"


@dataclass
class QualityRow:
    """One method (or the HR reference) on one set."""

    set_name: str
    kind: str
    family: str
    method: str
    source: str
    steps: str
    metrics: dict[str, float] = field(default_factory=dict)


def file_sha256(*paths: Path) -> str:
    """sha256 over the bytes of the given files (missing files count as empty)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def evidence_fingerprint() -> str:
    """Hash of the metric code (evidence.py, metrics.py) and of the model code (``deeplight/models``):
    a change to any of them invalidates cached results (a checkpoint's output depends on both)."""
    from deeplight import models
    from deeplight.eval import metrics

    model_code = sorted(Path(models.__file__).parent.glob("*.py"))
    return file_sha256(Path(evidence.__file__), Path(metrics.__file__), *model_code)[:16]


# ---------------------------------------------------------------------------------------- test sets
def _shown(path: Path, repo: Path) -> str:
    """``path`` relative to the repository when inside it (cache keys must not depend on the checkout;
    symbolic links are not resolved, so a linked data folder keeps its repository-relative name)."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(repo))
    return str(path) if relative.startswith("..") else relative


def synthetic_set(root: Path, split: str, max_samples: int, repo: Path) -> EvalSet | None:
    """The first ``max_samples`` clips of a DeepLightMD-layout split; None when the folder is absent."""
    from deeplight.eval.evaluate import synthetic_test_samples

    if not (root / split).is_dir():
        return None
    samples = synthetic_test_samples(root, split, max_samples)
    key = {
        "root": _shown(root, repo),
        "split": split,
        "n": len(samples),
        "manifest": file_sha256(root / "manifest.json")[:16],
    }
    return EvalSet(
        "synthetic",
        "synthetic",
        samples,
        key,
        f"synthetic split {key['root']}/{split}, first {len(samples)} clips: HR, DMO, DEM, ISP "
        "procedural, LR simulated by the generator's DMSP-like degradation, all aux present",
    )


def real_place_sets(
    real: dict[str, Any], repo: Path, only: list[str] | None = None
) -> tuple[list[EvalSet], str]:
    """One set per real-test place, and a line describing where they come from.

    ``real``: the benchmark YAML's ``eval.real`` section (``places``, ``split``, ``hr_size``,
    ``seed``, ``max_tiles_per_place``, ``fallback_tiles``). The whole split is always built (tile
    indices, hence the per-tile degradation seeds, do not depend on ``only``); ``only`` then keeps
    the named places. Falls back to the real-HR pairs of :mod:`deeplight.eval.real_pairs` (one "place"
    per scene, brightest tiles) when :mod:`deeplight.data.real_corpus` or the places file is missing.
    """
    places_file = repo / real["places"]
    try:
        from deeplight.data.real_corpus import RealCorpusDataset, load_places
    except ImportError:
        RealCorpusDataset = None  # noqa: N806
    if RealCorpusDataset is not None and places_file.is_file():
        dataset = RealCorpusDataset(
            load_places(places_file),
            real["split"],
            hr_size=real["hr_size"],
            seed=real["seed"],
            max_tiles_per_place=real["max_tiles_per_place"],
        )
        names = [n for n in dataset.places if not only or n in only]
        base_key = {
            "places": _shown(places_file, repo),
            "places_sha256": file_sha256(places_file)[:16],
            **{k: real[k] for k in ("split", "hr_size", "seed", "max_tiles_per_place")},
        }
        sets = []
        for name in names:
            tiles = dataset.place_tiles(name)
            samples = [sample for _, sample in tiles]
            spec = dataset.specs[name]
            files = sorted({ref.file for ref, _ in tiles}) if len(spec.files) <= 3 else []
            where = ", ".join(files) if files else f"{len(spec.files)} files ({', '.join(spec.patterns)})"
            sets.append(
                EvalSet(
                    name,
                    spec.kind,
                    samples,
                    {**base_key, "place": name},
                    f"{name}: {spec.kind}, {len(samples)} tile{'s' if len(samples) != 1 else ''} of {real['hr_size']} px from {where}; "
                    f"{spec.units_label}",
                )
            )
        counts = ", ".join(f"{s.name} {len(s.samples)}" for s in sets)
        return sets, (
            f"split {real['split']} of {base_key['places']} ({counts} tiles; the corpus's seeded cap of "
            f"{real['max_tiles_per_place']} per place)"
        )
    from deeplight.eval.real_pairs import REAL_SCENES, load_real_pairs

    names = [n for n in REAL_SCENES if not only or n in only]
    pairs = load_real_pairs(scenes=names, max_tiles_per_scene=real["fallback_tiles"]) if names else []
    sets = []
    for name in names:
        samples = [p.sample for p in pairs if p.scene == name]
        key = {"real_pairs": name, "tiles": real["fallback_tiles"]}
        sets.append(EvalSet(name, "scene", samples, key, f"{name} (real_pairs scene, {len(samples)} tiles)"))
    why = (
        "deeplight.data.real_corpus not importable"
        if RealCorpusDataset is None
        else f"{places_file} not found"
    )
    return sets, (
        f"FALLBACK ({why}): real-HR pairs of deeplight/eval/real_pairs.py, brightest {real['fallback_tiles']} "
        "tiles per scene, LR = degrade_dmsp_like realistic defaults, seeded per tile"
    )


# --------------------------------------------------------------------------------------- evaluation
def _per_image(value: Any, i: int) -> Any:
    """Image ``i`` of a batched output (a cap may be a scalar, (B,), (B, 1, h, w) or (B, 1, H, W))."""
    if not isinstance(value, torch.Tensor) or value.ndim == 0:
        return value
    item = value[i]
    return item[0] if item.ndim == 3 else item


@torch.no_grad()
def evaluate_samples(
    model: torch.nn.Module, samples: list[dict[str, Any]], batch_size: int = 8, with_piqe: bool = True
) -> tuple[list[dict[str, float]], float]:
    """Per-tile :func:`~deeplight.eval.evidence.evidence_row` of one model, and seconds per tile.

    The flux error is measured against the model's own ``lr_calibrated`` (every model of the zoo
    returns one); for a model without it, against the nominal inverse of the DMSP-like response.
    """
    from deeplight.eval.evaluate import _batches
    from deeplight.models.radiometry import normalised_dn_to_normalised_radiance

    rows, seconds = [], 0.0
    for batch in _batches(samples, batch_size):
        hr, valid = batch.pop("hr"), batch.get("valid")
        inputs = {k: v for k, v in batch.items() if k != "isp"}
        inputs["lr"] = torch.nan_to_num(inputs["lr"], nan=0.0)
        started = time.perf_counter()
        out = model(inputs)
        seconds += time.perf_counter() - started
        sr = out["sr"].float()
        lr_cal = out.get("lr_calibrated")
        if lr_cal is None:
            lr_cal = normalised_dn_to_normalised_radiance(inputs["lr"])
        cap = out.get("cap")
        for i in range(sr.shape[0]):
            rows.append(
                evidence.evidence_row(
                    sr[i, 0],
                    hr[i, 0],
                    lr_cal[i, 0].float(),
                    None if valid is None else valid[i, 0],
                    _per_image(cap, i),
                    with_piqe=with_piqe,
                )
            )
    return rows, seconds / max(1, len(rows))


def reference_samples(samples: list[dict[str, Any]], with_piqe: bool = True) -> list[dict[str, float]]:
    """:func:`~deeplight.eval.evidence.reference_row` of every tile's HR."""
    return [evidence.reference_row(s["hr"][0], s["valid"][0], with_piqe=with_piqe) for s in samples]


def _pooled(rows: list[dict[str, float]], error: str, total: str) -> float:
    """``sum(error x total) / sum(total)``: the relative error of the union of the images."""
    pairs = [
        (r[error], r[total]) for r in rows if math.isfinite(r.get(error, math.nan)) and r.get(total, 0) > 0
    ]
    weight = sum(t for _, t in pairs)
    return sum(e * t for e, t in pairs) / weight if weight > 0 else math.nan


def aggregate(rows: list[dict[str, float]]) -> dict[str, float]:
    """One place (or the synthetic split) as one region, from its tiles' evidence rows.

    The flux errors and the lit-area error are those of the union of the tiles (``flux_error`` =
    sum of absolute cell errors / sum of the calibrated LR over all tiles; lit-area error = mean lit
    share of SR over that of HR, minus 1), so a nearly dark tile cannot dominate with a huge
    relative error; the worst cell is the maximum over tiles; totals are summed; every other
    measure is the mean over tiles (NaN skipped). Adds ``n`` (tiles).
    """
    out: dict[str, float] = {}
    for key in evidence.EVIDENCE_KEYS:
        values = np.array([r.get(key, math.nan) for r in rows], dtype=np.float64)
        finite = values[np.isfinite(values)]
        if not finite.size:
            out[key] = math.nan
        elif key in MAX_KEYS:
            out[key] = float(finite.max())
        elif key in SUM_KEYS:
            out[key] = float(finite.sum())
        else:
            out[key] = float(finite.mean())
    out["flux_error"] = _pooled(rows, "flux_error", "flux_total")
    out["flux_error_hr"] = _pooled(rows, "flux_error_hr", "flux_hr_total")
    shares = [
        (r["lit_share"], r["lit_share_hr"]) for r in rows if math.isfinite(r.get("lit_share_hr", math.nan))
    ]
    hr_share = sum(h for _, h in shares)
    out["lit_area_error"] = sum(s for s, _ in shares) / hr_share - 1.0 if hr_share > 0 else math.nan
    out["n"] = float(len(rows))
    return out


def mean_over_places(rows: list[QualityRow], places: list[str]) -> list[QualityRow]:
    """Per method evaluated on every place: the mean of its per-place values (each place weighs the
    same; worst cell: the maximum; ``n`` and totals: the sum)."""
    out = []
    by_method: dict[tuple[str, str], list[QualityRow]] = {}
    for row in rows:
        if row.set_name in places:
            by_method.setdefault((row.family, row.method), []).append(row)
    for (family, method), group in by_method.items():
        if {r.set_name for r in group} != set(places):
            continue
        metrics = {}
        for key in [*CSV_KEYS, "n"]:
            values = np.array([r.metrics.get(key, math.nan) for r in group], dtype=np.float64)
            finite = values[np.isfinite(values)]
            if key == "n" or key in SUM_KEYS:
                metrics[key] = float(finite.sum())
            else:
                metrics[key] = (
                    float(finite.max() if key in MAX_KEYS else finite.mean()) if finite.size else math.nan
                )
        out.append(
            QualityRow(
                MEAN_SET, f"{len(places)} places", family, method, group[0].source, group[0].steps, metrics
            )
        )
    return out


# ------------------------------------------------------------------------------------------- tables
def _fmt(fmt: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "N/A"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return fmt.format(value)


def _ordered(rows: list[QualityRow]) -> list[QualityRow]:
    order = {f: i for i, f in enumerate(FAMILY_ORDER)}
    return [r for _, r in sorted(enumerate(rows), key=lambda t: (order.get(t[1].family, 99), t[0]))]


def markdown_table(rows: list[QualityRow]) -> list[str]:
    """Markdown lines of one set's table (columns with no value in any row left out)."""
    columns = [c for c in COLUMNS if any(math.isfinite(r.metrics.get(c[0], math.nan)) for r in rows)]
    lines = [
        "| Family | Method | Steps | " + " | ".join(t for _, t, _ in columns) + " | n |",
        "|" + "---|" * (len(columns) + 4),
    ]
    for r in _ordered(rows):
        cells = [_fmt(f, r.metrics.get(k, math.nan)) for k, _, f in columns]
        lines.append(
            f"| {FAMILY_TITLES.get(r.family, r.family)} | {r.method} | {r.steps or '-'} | "
            + " | ".join(cells)
            + f" | {int(r.metrics.get('n', 0))} |"
        )
    return lines


def write_quality_tables(
    rows: list[QualityRow],
    sets: list[EvalSet],
    out_stem: Path,
    title: str,
    header: list[str],
    footer: list[str],
) -> tuple[Path, Path]:
    """``<out_stem>.md`` (mean over places, synthetic, then one table per place) and ``.csv``."""
    places = [s for s in sets if s.is_place]
    mean_rows = mean_over_places(rows, [s.name for s in places])
    md = [f"# {title}", "", *[f"- {h}" for h in header], ""]
    if mean_rows:
        md += [
            f"## Mean over {len(places)} real-test places ({', '.join(s.name for s in places)})",
            "",
            *markdown_table(mean_rows),
            "",
        ]
    for s in sets:
        chosen = [r for r in rows if r.set_name == s.name]
        if not chosen:
            continue
        heading = "Synthetic test split" if not s.is_place else f"Place: {s.name}"
        md += [f"## {heading}", "", f"_{s.description}_", "", *markdown_table(chosen), ""]
    md += footer
    buf = io.StringIO()
    for h in header:
        buf.write(f"# {h}\n")
    fields = [
        "set",
        "kind",
        "family",
        "method",
        "source",
        "steps",
        "n",
        *CSV_KEYS,
        "seconds_per_tile",
        "lr_simulated",
        "aux",
    ]
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for r in [*mean_rows, *rows]:
        entry: dict[str, Any] = {
            "set": r.set_name,
            "kind": r.kind,
            "family": r.family,
            "method": r.method,
            "source": r.source,
            "steps": r.steps,
            "n": int(r.metrics.get("n", 0)),
            "lr_simulated": "true",
            "aux": "present" if r.set_name == "synthetic" else "absent",
        }
        for key in [*CSV_KEYS, "seconds_per_tile"]:
            value = r.metrics.get(key, math.nan)
            entry[key] = "N/A" if isinstance(value, float) and math.isnan(value) else f"{value:.6g}"
        writer.writerow(entry)
    csv_path, md_path = out_stem.with_suffix(".csv"), out_stem.with_suffix(".md")
    atomic_write_text(csv_path, buf.getvalue())
    atomic_write_text(md_path, "\n".join(md) + "\n")
    return csv_path, md_path


# ------------------------------------------------------------------------------------------- targets
def target_checks(rows: list[Any], places: list[str]) -> list[str]:
    """The targets of issue 10, checked on the rows: one Markdown bullet per DeepLightSR row and target."""
    rows = [*rows, *mean_over_places(rows, places)]

    def value(set_name: str, method: str, key: str) -> float:
        found = [
            r.metrics.get(key, float("nan")) for r in rows if r.set_name == set_name and r.method == method
        ]
        return found[0] if found else float("nan")

    def by(set_name: str, pred) -> dict[str, Any]:
        return {r.method: r for r in rows if r.set_name == set_name and pred(r)}

    lines = []
    ours = dict.fromkeys(r.method for r in rows if r.family == "deeplight")
    for name in ours:
        checks: list[tuple[bool, str]] = []
        if places:
            per_place = []
            for p in places:
                baselines = by(p, lambda r: r.family in BASELINE_FAMILIES)
                if not baselines or name not in by(p, lambda r: True):
                    continue
                best = max(baselines, key=lambda m: baselines[m].metrics["psnr"])
                per_place.append(
                    (
                        p,
                        value(p, name, "psnr") - baselines[best].metrics["psnr"],
                        best,
                        value(p, name, "ssim") - value(p, "bicubic", "ssim"),
                        value(p, name, "dark_floor") - value(p, "bicubic", "dark_floor"),
                        value(p, name, "period8_peak_db") - value(p, HR_ROW, "period8_peak_db"),
                        value(p, name, "flux_error"),
                        value(p, name, "flux_error_max_cell"),
                    )
                )
            if per_place:
                worst = min(per_place, key=lambda t: t[1])
                checks.append(
                    (
                        worst[1] >= 0,
                        f"at or above the best baseline on every place (worst: {worst[0]}, {worst[1]:+.2f} dB vs {worst[2]})",
                    )
                )
                ssim = min(per_place, key=lambda t: t[3])
                checks.append(
                    (
                        ssim[3] >= 0,
                        f"SSIM at or above bicubic's on every place (worst: {ssim[0]}, {ssim[3]:+.3f})",
                    )
                )
                gain = value(MEAN_SET, name, "psnr") - value(MEAN_SET, "bicubic", "psnr")
                checks.append((gain >= 1.0, f">= +1 dB over bicubic on the mean over places: {gain:+.2f} dB"))
                flux = max(per_place, key=lambda t: max(t[6], t[7]))
                checks.append(
                    (
                        max(flux[6], flux[7]) <= 0.01,
                        f"flux error <= 1% per place and per LR cell (worst: {flux[0]}, "
                        f"{flux[6]:.2%} mean, {flux[7]:.1%} worst cell)",
                    )
                )
                dark = max(per_place, key=lambda t: t[4])
                checks.append(
                    (
                        dark[4] <= 0,
                        f"dark floor at most bicubic's on every place (worst: {dark[0]}, {dark[4]:+.3f} nW)",
                    )
                )
                p8 = max(per_place, key=lambda t: t[5])
                checks.append(
                    (
                        p8[5] <= 1.0,
                        f"period-8 peak at most HR's + 1 dB on every place (worst: {p8[0]}, SR - HR {p8[5]:+.1f} dB)",
                    )
                )
                cap = value(MEAN_SET, name, "cap_violation")
                if cap == cap:
                    checks.append((cap == 0, f"no output above the cap: {cap:.3%} of pixels above"))
        synth = by("synthetic", lambda r: r.family in BASELINE_FAMILIES)
        ours_synth = value("synthetic", name, "psnr")
        if synth and ours_synth == ours_synth:
            best = max(synth, key=lambda m: synth[m].metrics["psnr"])
            checks.append(
                (
                    ours_synth - synth[best].metrics["psnr"] >= 2.0,
                    f"synthetic: >= +2 dB over the best competitor ({best}): {ours_synth - synth[best].metrics['psnr']:+.2f} dB",
                )
            )
            checks.append(
                (
                    ours_synth - value("synthetic", "bicubic", "psnr") >= 4.0,
                    f"synthetic: >= +4 dB over bicubic: {ours_synth - value('synthetic', 'bicubic', 'psnr'):+.2f} dB",
                )
            )
        lines += [f"- {name}: {'MET' if ok else 'MISSED'} - {text}" for ok, text in checks]
    return lines


# ---------------------------------------------------------------------------------------------- main
def code_version(repo: Path) -> str:
    """``git describe`` of the repository plus ``+ uncommitted changes`` when the tree is dirty."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
