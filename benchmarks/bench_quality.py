"""Quality benchmark: train every method from configs, evaluate on the synthetic split and each real-test place.

Usage (from the repository root)::

    deeplight data synth --out data/runtime/synth --n-train 3000 --n-val 200 --n-test 200 --lr-size 16 --seed 0
    python benchmarks/bench_quality.py --jobs 2              # train (resumable) + fit + evaluate + tables
    python benchmarks/bench_quality.py --eval-only           # train nothing: evaluate what exists
    python benchmarks/bench_quality.py --only bicubic deeplightsr --places shanghai pune
    python benchmarks/bench_quality.py --eval-only --checkpoint-row "shipped=data/checkpoints/deeplightsr_demo"

Everything is driven by ``configs/benchmark/quality.yaml`` (methods, budgets, test sets) and the base
training config it names (``configs/real.yaml``: real + synthetic mix, validation on real-val;
``--base-config`` overrides it). Each learned method trains for the same ``main_steps`` in
``runs/bench/<name>/`` through the normal trainer (``python -m deeplight.train``), so an interrupted
benchmark resumes where it stopped; calibration baselines are fitted (``fit_calibration``) on
training samples of the base config, refitted when that data changes. Every method is scored with
:func:`deeplight.eval.evidence.evidence_row` (PSNR, SSIM, CC, flux error against its own calibrated
LR, lit-area error, dark floor, period-8 peak, PIQE) on the synthetic test split and on every
real-test place separately (``deeplight.data.real_corpus``), beside the HR's own reference values;
results are cached per checkpoint hash, test set and metric code in
``runs/bench/<name>/quality_eval.json``. Output: ``benchmarks/results/quality.{md,csv}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from deeplight.errors import ConfigError, DeepLightError  # noqa: E402

METHOD_KEYS = {"name", "model", "kwargs", "budget", "fit", "checkpoint", "label", "family"}
TOP_KEYS = {
    "notes",
    "base_config",
    "run_root",
    "results",
    "main_steps",
    "ablation_steps",
    "calibration_fit_clips",
    "eval",
    "methods",
}
EVAL_KEYS = {"piqe", "batch_size", "synthetic", "real"}


def load_benchmark(path: Path) -> dict[str, Any]:
    """Read and check the benchmark YAML (unknown keys rejected with the valid ones)."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: must be a mapping")
    for where, keys, valid in (("", spec, TOP_KEYS), ("eval", spec.get("eval", {}), EVAL_KEYS)):
        unknown = set(keys) - valid
        if unknown:
            raise ConfigError(
                f"{path}: unknown key(s) {sorted(unknown)}{' in ' + where if where else ''}; valid: {sorted(valid)}"
            )
    for method in spec["methods"]:
        bad = set(method) - METHOD_KEYS
        if bad:
            raise ConfigError(
                f"{path}: method {method.get('name')!r} has unknown key(s) {sorted(bad)}; valid: {sorted(METHOD_KEYS)}"
            )
        if method.get("budget") not in (None, "main", "ablation"):
            raise ConfigError(f"{path}: method {method['name']!r} budget must be main or ablation")
    return spec


def base_values(spec: dict[str, Any]) -> dict[str, Any]:
    """The base training config as a nested dict."""
    path = REPO / spec["base_config"]
    if not path.is_file():
        raise ConfigError(f"base training config {path} not found: write it or pass --base-config")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------ training
def method_config(spec: dict[str, Any], method: dict[str, Any]) -> dict[str, Any]:
    """The full training config (nested dict) of one learned method: the base config, its model, the budget."""
    base = base_values(spec)
    base["model"] = {"name": method["model"], "kwargs": dict(method.get("kwargs", {}))}
    steps = spec["main_steps"] if method["budget"] == "main" else spec["ablation_steps"]
    train = base.setdefault("train", {})
    train["steps"] = steps
    train["out_dir"] = str(Path(spec["run_root"]) / method["name"])
    train["export"] = ""
    train["val_every"] = min(train.get("val_every", 250), max(1, steps // 4))
    train["ckpt_every"] = train["val_every"]
    base.setdefault("optim", {})["warmup_steps"] = min(base["optim"].get("warmup_steps", 100), steps // 10)
    return base


def write_method_config(spec: dict[str, Any], method: dict[str, Any]) -> Path:
    """Write the method's training YAML beside its run folder (validated first); returns its path."""
    from deeplight.train.config import config_from_dict
    from deeplight.utils_io import atomic_write_text

    values = method_config(spec, method)
    config_from_dict(values)
    path = REPO / spec["run_root"] / f"{method['name']}.yaml"
    atomic_write_text(path, yaml.safe_dump(values, sort_keys=False))
    return path


def run_done(spec: dict[str, Any], method: dict[str, Any]) -> bool:
    """True when the method's run reached its step budget."""
    meta = REPO / spec["run_root"] / method["name"] / "last.json"
    if not meta.exists():
        return False
    steps = spec["main_steps"] if method["budget"] == "main" else spec["ablation_steps"]
    return json.loads(meta.read_text()).get("step", 0) >= steps


def train_all(spec: dict[str, Any], methods: list[dict[str, Any]], jobs: int) -> None:
    """Train the learned methods not finished yet, ``jobs`` subprocesses at a time (1 thread each)."""
    queue = [m for m in methods if m.get("budget") and not run_done(spec, m)]
    running: list[tuple[dict[str, Any], subprocess.Popen, float]] = []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    while queue or running:
        while queue and len(running) < jobs:
            method = queue.pop(0)
            cfg_path = write_method_config(spec, method)
            log = open(REPO / spec["run_root"] / f"{method['name']}.log", "a", encoding="utf-8")
            cmd = [sys.executable, "-m", "deeplight.train", "--config", str(cfg_path), "--no-progress"]
            print(f"[bench] train {method['name']}: {' '.join(cmd)}", flush=True)
            running.append(
                (
                    method,
                    subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env),
                    time.time(),
                )
            )
        time.sleep(2)
        for item in list(running):
            method, proc, started = item
            if proc.poll() is not None:
                running.remove(item)
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}, see its .log)"
                print(f"[bench] {method['name']} {status} in {time.time() - started:.0f} s", flush=True)


def fit_calibration_baseline(spec: dict[str, Any], method: dict[str, Any]) -> Path:
    """Fit a calibration baseline on ``calibration_fit_clips`` training samples of the base config.

    The samples are spread evenly over the base config's training set (``build_datasets``: the
    real + synthetic mix of ``configs/real.yaml``), read from disk, not preloaded. The checkpoint's
    ``fit_key`` names the data; a different base config, places file or count refits it.
    """
    import numpy as np
    import torch
    from quality_eval import file_sha256

    from deeplight.models.checkpoint import save_checkpoint
    from deeplight.models.registry import get_model
    from deeplight.train.config import config_from_dict
    from deeplight.train.trainer import build_datasets

    stem = REPO / spec["run_root"] / method["name"] / "fitted"
    values = base_values(spec)
    data = values.setdefault("data", {})
    places = data.get("real_places")
    fit_key = {
        "base_config": spec["base_config"],
        "base_sha256": file_sha256(REPO / spec["base_config"])[:16],
        "places_sha256": file_sha256(REPO / places)[:16] if places else "",
        "clips": spec["calibration_fit_clips"],
        "model": method["model"],
        "kwargs": method.get("kwargs", {}),
    }
    if (
        stem.with_suffix(".json").exists()
        and json.loads(stem.with_suffix(".json").read_text()).get("fit_key") == fit_key
    ):
        return stem
    data["in_memory"] = False
    data["augment"] = False
    train_set, _ = build_datasets(config_from_dict(values))
    n = min(spec["calibration_fit_clips"], len(train_set))
    samples = [train_set[int(i)] for i in np.linspace(0, len(train_set) - 1, n).round()]
    samples = [s for s in samples if s["hr"].shape == samples[0]["hr"].shape]
    lr, hr, valid = (torch.stack([s[k] for s in samples]) for k in ("lr", "hr", "valid"))
    torch.manual_seed(0)
    model = get_model(method["model"], **method.get("kwargs", {}))
    fitted = model.fit_calibration(lr, hr, valid) if hasattr(model, "fit_calibration") else {}
    description = getattr(train_set, "description", type(train_set).__name__)
    save_checkpoint(
        model,
        stem,
        {
            "model": method["model"],
            "model_kwargs": method.get("kwargs", {}),
            "step": 0,
            "metrics": {},
            "fitted_parameters": fitted,
            "simulated_lr": True,
            "fit_key": fit_key,
            "data": f"fitted on {len(samples)} training samples spread over [{description}] (fit_calibration)",
        },
    )
    print(f"[bench] fitted {method['name']} on {len(samples)} samples: {fitted}", flush=True)
    return stem


def method_source(spec: dict[str, Any], method: dict[str, Any]) -> str:
    """Checkpoint stem (or ``model:<name>``) to evaluate for a method."""
    if method.get("checkpoint"):
        return str(REPO / method["checkpoint"])
    if method.get("fit") == "none":
        return f"model:{method['model']}"
    if method.get("fit") == "calibration":
        return str(fit_calibration_baseline(spec, method))
    run = REPO / spec["run_root"] / method["name"]
    return str(run / "best") if (run / "best.json").exists() else str(run / "last")


# ---------------------------------------------------------------------------------------- evaluation
def build_sets(spec: dict[str, Any], places: list[str] | None) -> tuple[list[Any], str]:
    """The synthetic test split (when its folder exists) and the real-test places."""
    from quality_eval import real_place_sets, synthetic_set

    ev = spec["eval"]
    sets = []
    synth = ev.get("synthetic") or {}
    if synth and not places:
        root = REPO / synth.get("root", base_values(spec).get("data", {}).get("root", "data/runtime/synth"))
        found = synthetic_set(root, synth.get("split", "test"), synth.get("max_samples", 0), REPO)
        if found is None:
            print(
                f"[bench] no synthetic split at {root}/{synth.get('split', 'test')}: synthetic set skipped",
                flush=True,
            )
        else:
            sets.append(found)
    place_sets, where = real_place_sets(ev["real"], REPO, places)
    return sets + place_sets, where


def evaluate_method(
    spec: dict[str, Any], method: dict[str, Any], sets: list[Any], fingerprint: str
) -> tuple[list[Any], str | None]:
    """Rows of one method on every set, from its cache where the key matches; and why some are missing.

    The cache (``runs/bench/<name>/quality_eval.json``) is keyed per set by the checkpoint's hash and
    repository-relative path, the set's definition and the metric code. A checkpoint that no longer
    loads (older than the model code) keeps the rows cached for it.
    """
    from quality_eval import QualityRow, aggregate, evaluate_samples

    from deeplight.eval.evaluate import load_method
    from deeplight.utils_io import atomic_write_text

    ev = spec["eval"]
    try:
        source = method_source(spec, method)
    except (DeepLightError, FileNotFoundError) as exc:
        return [], f"{method['name']} (not fitted: {exc})"
    is_model = source.startswith("model:")
    shown = source if is_model else os.path.relpath(source, REPO)
    if not is_model and not Path(source).with_suffix(".json").exists():
        return [], f"{method['name']} (no checkpoint at {shown})"
    digest = (
        "none" if is_model else json.loads(Path(source).with_suffix(".json").read_text()).get("sha256", "")
    )
    cache_path = REPO / spec["run_root"] / method["name"] / "quality_eval.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    done = cache.setdefault("sets", {})
    keys = {
        s.name: {"sha256": digest, "source": shown, "set": s.key, "metrics": fingerprint, "piqe": ev["piqe"]}
        for s in sets
    }
    todo = [s for s in sets if done.get(s.name, {}).get("key") != keys[s.name]]
    problem = None
    if todo:
        try:
            loaded = load_method(source, "cpu", label=method.get("label") or method["name"])
        except DeepLightError as exc:
            problem = (
                f"{method['name']} on {', '.join(s.name for s in todo)} "
                f"({exc.__class__.__name__}: {str(exc).splitlines()[0][:150]})"
            )
            todo = []
        else:
            cache.update(
                label=loaded.label, family=method.get("family") or loaded.family, steps=loaded.steps_label
            )
        for s in todo:
            started = time.time()
            tiles, seconds = evaluate_samples(loaded.model, s.samples, ev["batch_size"], ev["piqe"])
            done[s.name] = {
                "key": keys[s.name],
                "means": {**aggregate(tiles), "seconds_per_tile": seconds},
                "tiles": tiles,
            }
            means = done[s.name]["means"]
            print(
                f"[bench] {s.name:14s} {loaded.label:38s} PSNR {means['psnr']:6.2f}  flux {means['flux_error']:.2%}  "
                f"P8 {means['period8_peak_db']:5.1f} dB  (model {seconds:.2f} s/tile, all {time.time() - started:.0f} s)",
                flush=True,
            )
        if todo:
            atomic_write_text(cache_path, json.dumps(cache, indent=1, default=float))
    rows = [
        QualityRow(
            s.name, s.kind, cache["family"], cache["label"], shown, cache["steps"], done[s.name]["means"]
        )
        for s in sets
        if done.get(s.name, {}).get("key") == keys[s.name]
    ]
    return rows, problem


def evaluate_all(
    spec: dict[str, Any], methods: list[dict[str, Any]], sets: list[Any]
) -> tuple[list[Any], list[str]]:
    """Rows of every method on every set plus the HR reference rows; and what could not be evaluated."""
    import torch
    from quality_eval import HR_ROW, QualityRow, aggregate, evidence_fingerprint, reference_samples

    torch.set_num_threads(1)
    fingerprint = evidence_fingerprint()
    rows, skipped = [], []
    for method in methods:
        found, problem = evaluate_method(spec, method, sets, fingerprint)
        rows += found
        if problem:
            skipped.append(problem)
            print(f"[bench] not evaluated: {problem}", flush=True)
    for s in sets:
        reference = aggregate(reference_samples(s.samples, spec["eval"]["piqe"]))
        rows.append(QualityRow(s.name, s.kind, "reference", HR_ROW, "hr", "", reference))
    return rows, skipped


# ---------------------------------------------------------------------------------------------- main
def parse_checkpoint_rows(items: list[str]) -> list[dict[str, Any]]:
    """``NAME=PATH`` -> method entries evaluated from a checkpoint without training."""
    out = []
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--checkpoint-row wants NAME=PATH (a checkpoint stem), got {item!r}")
        stem = Path(path)
        stem = stem.with_suffix("") if stem.suffix in {".json", ".safetensors"} else stem
        out.append({"name": name, "checkpoint": str(stem), "label": name})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="configs/benchmark/quality.yaml")
    parser.add_argument(
        "--base-config", help="training config the methods start from (default: the spec's base_config)"
    )
    parser.add_argument("--only", nargs="*", help="method names to run (default: all)")
    parser.add_argument(
        "--places", nargs="*", help="real-test places to evaluate (default: all; skips the synthetic split)"
    )
    parser.add_argument(
        "--checkpoint-row",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also evaluate this checkpoint stem as a row named NAME, without training (repeatable)",
    )
    parser.add_argument(
        "--max-tiles", type=int, help="override eval.real.max_tiles_per_place (tiles per place)"
    )
    parser.add_argument("--run-root", help="override the spec's run_root (run folders and evaluation caches)")
    parser.add_argument("--results", help="override the spec's results stem (writes STEM.md and STEM.csv)")
    parser.add_argument("--jobs", type=int, default=1, help="trainings run in parallel (1 thread each)")
    parser.add_argument(
        "--eval-only",
        "--skip-train",
        action="store_true",
        dest="eval_only",
        help="train nothing: evaluate what exists (calibration baselines are still fitted when missing)",
    )
    parser.add_argument("--skip-table", action="store_true", help="train only")
    parser.add_argument(
        "--note", action="append", default=[], help="extra header line for the tables (repeatable)"
    )
    args = parser.parse_args(argv)

    spec = load_benchmark(REPO / args.spec)
    if args.base_config:
        spec["base_config"] = args.base_config
    if args.run_root:
        spec["run_root"] = args.run_root
    if args.results:
        spec["results"] = args.results
    if args.max_tiles is not None:
        spec["eval"]["real"]["max_tiles_per_place"] = args.max_tiles
    methods = [m for m in spec["methods"] if not args.only or m["name"] in args.only] + parse_checkpoint_rows(
        args.checkpoint_row
    )
    (REPO / spec["run_root"]).mkdir(parents=True, exist_ok=True)
    if not args.eval_only:
        train_all(spec, methods, args.jobs)
    if args.skip_table:
        return 0
    from quality_eval import code_version, target_checks, write_quality_tables

    from deeplight.eval.cli import machine_description

    load_start = os.getloadavg()
    started = time.time()
    sets, where = build_sets(spec, args.places)
    rows, skipped = evaluate_all(spec, methods, sets)
    places = [s.name for s in sets if s.is_place]
    real = spec["eval"]["real"]
    header = [
        "**Every LR in every table is SIMULATED** by the DMSP-like degradation model (deeplight/data/degrade.py): "
        "real-test tiles use the `realistic` preset with a fixed seed per tile; no co-registered real coarse/fine pair exists. "
        "Real places have no auxiliary layers (DMO, DEM absent).",
        f"test sets: {where}; synthetic split: {'yes' if any(not s.is_place for s in sets) else 'not evaluated'}; "
        f"HR tiles {real['hr_size']} px, at most {real['max_tiles_per_place']} per place",
        f"machine: {machine_description()} ({platform.processor() or platform.machine()}); evaluation 1 thread; "
        f"load average {load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end; evaluation {time.time() - started:.0f} s",
        f"command: python benchmarks/bench_quality.py {' '.join(sys.argv[1:] if argv is None else argv)}",
        f"code: {code_version(REPO)}; date {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"training: base config {spec['base_config']}; every learned method {spec['main_steps']} steps (ablations "
        f"{spec['ablation_steps']}); calibration baselines fitted on {spec['calibration_fit_clips']} training samples of the "
        "base config; Steps = optimiser steps of each checkpoint",
        "metrics (deeplight/eval/evidence.py): PSNR, SSIM, CC on log1p(r)/log1p(1000), range 1, 8-px border; "
        "flux err = |avgpool8(SR) - calibrated LR|_1 / |LR|_1 in radiance against the model's OWN lr_calibrated; "
        "flux worst cell = max relative error over LR cells >= 0.5 nW; flux vs HR = the same against HR's 8x8 means "
        "(are the sums of lights right); lit-area err = SR's lit share (>= 1 nW) over HR's, minus 1; dark floor = "
        "mean SR radiance (nW/cm2/sr) where HR < 0.5 nW (N/A: no such pixel); P8 peak = power at a period of 8 px "
        "over the neighbouring frequencies, dB (HR row: the reference); PIQE 0..100, lower = better",
        "aggregation: a place is one region (flux and lit-area errors pooled over its tiles, worst cell = max over "
        "tiles, the rest mean over tiles); mean over places: each place weighs the same",
        *args.note,
    ]
    if skipped:
        header.append("not evaluated: " + "; ".join(skipped))
    footer = [
        "## Targets (issue 10, checked by benchmarks/bench_quality.py)",
        "",
        *(target_checks(rows, places) or ["- no DeepLightSR row evaluated"]),
        "",
    ]
    notes_path = REPO / spec["notes"] if spec.get("notes") else None
    if notes_path and notes_path.exists():
        footer += ["", notes_path.read_text(encoding="utf-8")]
    csv_path, md_path = write_quality_tables(
        rows, sets, REPO / spec["results"], "DeepLight quality benchmark", header, footer
    )
    print(md_path.read_text(encoding="utf-8"))
    print(f"wrote {csv_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
