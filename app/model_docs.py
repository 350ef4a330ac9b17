"""The Models page's documents: benchmark tables, ablations and the model card (read from files)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class ResultTable:
    """One benchmark table found on disk.

    Attributes:
        path: the file.
        title: file stem in words.
        markdown: text of a ``.md`` table, or None.
        frame: the ``.csv`` table, or None.
        is_ablation: the file name says it is an ablation, or its rows are the ablation rows
            (``family`` containing "ablation") of a table that holds both.
    """

    path: Path
    title: str
    markdown: str | None
    frame: pd.DataFrame | None
    is_ablation: bool


def benchmark_tables(results_dir: Path) -> list[ResultTable]:
    """Every ``quality*.md`` / ``quality*.csv`` table in ``results_dir`` (CSV preferred when both exist)."""
    tables: list[ResultTable] = []
    if not results_dir.is_dir():
        return tables
    stems = sorted({p.stem for p in results_dir.glob("quality*") if p.suffix in (".md", ".csv")})
    for stem in stems:
        csv_path, md_path = results_dir / f"{stem}.csv", results_dir / f"{stem}.md"
        frame = None
        if csv_path.exists():
            try:
                frame = pd.read_csv(csv_path, comment="#")
            except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError):
                frame = None
        markdown = md_path.read_text(encoding="utf-8", errors="replace") if md_path.exists() else None
        if frame is None and markdown is None:
            continue
        title, path = stem.replace("_", " "), md_path if markdown else csv_path
        rows_are_ablations = _ablation_rows(frame)
        if rows_are_ablations is not None and rows_are_ablations.any() and not rows_are_ablations.all():
            # one CSV holding the comparison and the ablation study (the quality benchmark): split it
            tables.append(ResultTable(csv_path, title, None, frame[~rows_are_ablations], False))
            tables.append(ResultTable(csv_path, f"{title} (ablations)", None, frame[rows_are_ablations], True))
            continue
        tables.append(ResultTable(path, title, markdown, frame, "ablation" in stem.lower()))
    return tables


def _ablation_rows(frame: pd.DataFrame | None) -> pd.Series | None:
    """Boolean rows of a table whose ``family`` column names an ablation, or None without one."""
    if frame is None or "family" not in frame.columns:
        return None
    return frame["family"].astype(str).str.contains("ablation", case=False)


def model_card(checkpoint_dir: Path) -> str | None:
    """Text of ``data/checkpoints/README.md`` (the model card), or None when absent."""
    path = checkpoint_dir / "README.md"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else None


_DURATION = (
    r"(?:about\s+|~\s*)?\d[\d,.]*\s*(?:CPU-|GPU-|core-)?(?:s|sec|seconds|min|minutes|h|hrs?|hours)\b"
    r"(?:\s+(?:of\s+)?(?:wall|CPU|GPU)(?:[- ]clock)?(?:\s+time)?)?"
)
TRAINING_DURATION = re.compile(_DURATION + r"(?!\s*(?:per\b|/))", re.IGNORECASE)
"""A duration (``372 s wall``, ``about 6 min``, ``25 CPU-minutes``, ``2 h``), not a rate (``s per tile``)."""
TRAINING_CONTEXT = re.compile(r"wall|train|budget|hardware and time|CPU-min|GPU-h", re.IGNORECASE)
TRAINING_TIME_REFERENCE = "the training time above"


def one_training_time(card: str) -> str:
    """The model card with its training time stated once.

    The first line that gives a training duration (a duration with ``wall``, ``train``, ``budget``,
    ``CPU-minutes``... on the line, e.g. the "Hardware and time" bullet) is kept as it is; a duration
    on any later such line (a second, possibly stale figure such as "Small budget (25 CPU-minutes)")
    is replaced by a reference to it. Rates (``0.05 s per clip``) and other lines are left alone.
    The card file itself is not changed (it belongs to the checkpoint).
    """
    lines = card.split("\n")
    stated = False
    for index, line in enumerate(lines):
        if not TRAINING_DURATION.search(line) or not TRAINING_CONTEXT.search(line):
            continue
        if not stated:
            stated = True
            continue
        line = re.sub(
            r"\(\s*(?:" + _DURATION + r")\s*\)(?!\s*(?:per\b|/))",
            f"(see {TRAINING_TIME_REFERENCE})",
            line,
            flags=re.IGNORECASE,
        )
        lines[index] = TRAINING_DURATION.sub(TRAINING_TIME_REFERENCE, line)
    return "\n".join(lines)


def training_time_statements(card: str) -> list[str]:
    """The lines of ``card`` that state a training duration (see :func:`one_training_time`)."""
    return [
        line for line in card.split("\n") if TRAINING_DURATION.search(line) and TRAINING_CONTEXT.search(line)
    ]


def checkpoint_metadata(checkpoint_dir: Path) -> pd.DataFrame:
    """One row per checkpoint JSON: file, model, step, data, metrics (as text)."""
    rows = []
    if checkpoint_dir.is_dir():
        for meta_path in sorted(checkpoint_dir.glob("*.json")):
            try:
                meta = json.loads(meta_path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                rows.append({"file": meta_path.name, "model": "(unreadable JSON)"})
                continue
            if not isinstance(meta, dict) or "model" not in meta:
                continue
            metrics = meta.get("metrics", {})
            rows.append(
                {
                    "file": meta_path.with_suffix(".safetensors").name,
                    "model": meta.get("model"),
                    "step": meta.get("step"),
                    "data": meta.get("data"),
                    "metrics": ", ".join(
                        f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}"
                        for k, v in metrics.items()
                    ),
                }
            )
    return pd.DataFrame(rows)
