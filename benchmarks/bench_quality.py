"""Quality benchmark: train every method from configs, evaluate on both test sets, write the table.

Usage (from the repository root)::

    deeplight data synth --out data/runtime/synth --n-train 3000 --n-val 200 --n-test 200 --lr-size 16 --seed 0
    deeplight train --config configs/demo.yaml    # the shipped checkpoint (a row of the table)
    python benchmarks/bench_quality.py            # train (resumable) + evaluate + write tables
    python benchmarks/bench_quality.py --jobs 2   # two trainings at a time
    python benchmarks/bench_quality.py --only srcnn edsr --skip-table

Everything is driven by ``configs/benchmark/quality.yaml`` (the method list and budgets) and the base
training config it names. Each learned method trains in ``runs/bench/<name>/`` through the normal
trainer (``deeplight train``), so an interrupted benchmark resumes where it stopped; calibration
baselines are fitted on training pairs (``fit_calibration``); evaluation results are cached per
checkpoint hash in ``runs/bench/<name>/eval.json``. Output: ``benchmarks/results/quality.{md,csv}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deeplight.errors import ConfigError  # noqa: E402

METHOD_KEYS = {"name", "model", "kwargs", "budget", "fit", "checkpoint", "label", "family"}
TOP_KEYS = {"notes", "base_config", "run_root", "results", "main_steps", "ablation_steps", "calibration_fit_clips", "eval",
            "methods"}


def load_benchmark(path: Path) -> dict[str, Any]:
    """Read and check the benchmark YAML (unknown keys rejected with the valid ones)."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: must be a mapping")
    unknown = set(spec) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; valid: {sorted(TOP_KEYS)}")
    for method in spec["methods"]:
        bad = set(method) - METHOD_KEYS
        if bad:
            raise ConfigError(f"{path}: method {method.get('name')!r} has unknown key(s) {sorted(bad)}; valid: {sorted(METHOD_KEYS)}")
        if method.get("budget") not in (None, "main", "ablation"):
            raise ConfigError(f"{path}: method {method['name']!r} budget must be main or ablation")
    return spec


def method_config(spec: dict[str, Any], method: dict[str, Any]) -> dict[str, Any]:
    """The full training config (nested dict) of one learned method."""
    base = yaml.safe_load((REPO / spec["base_config"]).read_text(encoding="utf-8"))
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
    """Write the method's training YAML beside its run folder; returns its path."""
    from deeplight.train.config import config_from_dict
    from deeplight.utils_io import atomic_write_text

    values = method_config(spec, method)
    config_from_dict(values)  # validate before spending compute
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
            running.append((method, subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env), time.time()))
        time.sleep(2)
        for item in list(running):
            method, proc, started = item
            if proc.poll() is not None:
                running.remove(item)
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}, see its .log)"
                print(f"[bench] {method['name']} {status} in {time.time() - started:.0f} s", flush=True)


def fit_calibration_baseline(spec: dict[str, Any], method: dict[str, Any]) -> Path:
    """Fit a calibration baseline on the first N training clips; checkpoint in its run folder."""
    import torch

    from deeplight.data.datasets import DeepLightMDDataset
    from deeplight.models.checkpoint import save_checkpoint
    from deeplight.models.registry import get_model
    from deeplight.train.config import load_config

    stem = REPO / spec["run_root"] / method["name"] / "fitted"
    if stem.with_suffix(".json").exists():
        return stem
    base = load_config(REPO / spec["base_config"])
    dataset = DeepLightMDDataset(REPO / base.data.root, base.data.train_split)
    n = min(spec["calibration_fit_clips"], len(dataset))
    samples = [dataset[i] for i in range(n)]
    lr = torch.stack([s["lr"] for s in samples])
    hr = torch.stack([s["hr"] for s in samples])
    valid = torch.stack([s["valid"] for s in samples])
    torch.manual_seed(0)
    model = get_model(method["model"], **method.get("kwargs", {}))
    fitted = model.fit_calibration(lr, hr, valid) if hasattr(model, "fit_calibration") else {}
    save_checkpoint(model, stem, {
        "model": method["model"], "model_kwargs": method.get("kwargs", {}), "step": 0,
        "metrics": {}, "fitted_parameters": fitted, "simulated_lr": True,
        "data": f"fitted on the first {n} training clips of {base.data.root} (fit_calibration)",
    })
    print(f"[bench] fitted {method['name']}: {fitted}", flush=True)
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


def evaluate_all(spec: dict[str, Any], methods: list[dict[str, Any]]) -> list[Any]:
    """Evaluate every method (cached by checkpoint hash) and return table rows."""
    import torch

    from deeplight.eval.evaluate import evaluate_method, load_method, synthetic_test_samples
    from deeplight.eval.real_pairs import load_real_pairs
    from deeplight.eval.table import ResultRow
    from deeplight.train.config import load_config
    from deeplight.utils_io import atomic_write_text

    torch.set_num_threads(1)
    base = load_config(REPO / spec["base_config"])
    ev = spec["eval"]
    sets: dict[str, list] = {}
    rows = []
    for method in methods:
        source = method_source(spec, method)
        if not source.startswith("model:") and not Path(source).with_suffix(".json").exists():
            print(f"[bench] skip {method['name']}: no checkpoint at {source}", flush=True)
            continue
        digest = "none"
        if not source.startswith("model:"):
            digest = json.loads(Path(source).with_suffix(".json").read_text()).get("sha256", "")
        cache_path = REPO / spec["run_root"] / method["name"] / "eval.json"
        cache_key = {"sha256": digest, "eval": ev, "source": source}
        cached = json.loads(cache_path.read_text()) if cache_path.exists() else {}
        loaded = load_method(source, "cpu", label=method.get("label"))
        family = method.get("family") or loaded.family
        if cached.get("key") != cache_key:
            if not sets:
                sets["synthetic"] = synthetic_test_samples(REPO / base.data.root, "test", ev["max_samples"])
                sets["real"] = [p.sample for p in load_real_pairs(max_tiles_per_scene=ev["real_tiles"])]
            results = {}
            for name, samples in sets.items():
                means, _ = evaluate_method(loaded, samples, "cpu", batch_size=8, with_piqe=ev["piqe"])
                results[name] = means
            cached = {"key": cache_key, "results": results}
            atomic_write_text(cache_path, json.dumps(cached, indent=2))
        for name, means in cached["results"].items():
            rows.append(ResultRow(name, family, loaded.label, os.path.relpath(source, REPO) if not source.startswith("model:") else source,
                                  loaded.steps_label or None, means))
            print(f"[bench] {name:9s} {loaded.label:48s} PSNR {means['psnr']:6.2f}  SSIM {means['ssim']:.3f}", flush=True)
    return rows


def target_checks(rows: list[Any]) -> list[str]:
    """The issue's targets, checked on the rows (PSNR): one Markdown bullet per target, met or missed."""

    def psnr(test_set: str, pred) -> dict[str, float]:
        return {r.method: r.metrics["psnr"] for r in rows if r.test_set == test_set and pred(r)}

    lines = []
    for label, pick in (("same-budget DeepLightSR", lambda r: r.family == "deeplight" and "shipped" not in r.method),
                        ("shipped DeepLightSR", lambda r: "shipped" in r.method)):
        ours = psnr("synthetic", pick)
        if not ours:
            continue
        name, value = next(iter(ours.items()))
        baselines = psnr("synthetic", lambda r: r.family in {"calibration", "single-modal", "multi-modal"})
        single = psnr("synthetic", lambda r: r.family == "single-modal")
        bicubic = baselines.get("bicubic", float("nan"))
        best_name = max(baselines, key=baselines.get)
        best_single = max(single, key=single.get) if single else None
        checks = [
            (value > baselines[best_name], f"ahead of every baseline (best: {best_name} {baselines[best_name]:.2f} dB)"),
            (value - bicubic >= 4.0, f">= 4 dB above bicubic: {value - bicubic:+.2f} dB"),
        ]
        if best_single:
            checks.append((value - single[best_single] >= 1.0,
                           f">= 1 dB above the best single-modal ({best_single}): {value - single[best_single]:+.2f} dB"))
        real = psnr("real", pick)
        if real:
            real_value = next(iter(real.values()))
            calib = psnr("real", lambda r: r.family == "calibration")
            best_cal = max(calib, key=calib.get)
            checks.append((real_value > calib[best_cal],
                           f"real-HR pairs: ahead of bicubic and every calibration baseline (best: {best_cal} "
                           f"{calib[best_cal]:.2f} dB, ours {real_value:.2f} dB)"))
        for ok, text in checks:
            lines.append(f"- {label} ({name}, synthetic {value:.2f} dB): {'MET' if ok else 'MISSED'} - {text}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="configs/benchmark/quality.yaml")
    parser.add_argument("--only", nargs="*", help="method names to run (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="trainings run in parallel (1 thread each)")
    parser.add_argument("--skip-train", action="store_true", help="evaluate what exists, train nothing")
    parser.add_argument("--skip-table", action="store_true", help="train only")
    args = parser.parse_args(argv)

    spec = load_benchmark(REPO / args.spec)
    methods = [m for m in spec["methods"] if not args.only or m["name"] in args.only]
    (REPO / spec["run_root"]).mkdir(parents=True, exist_ok=True)
    if not args.skip_train:
        train_all(spec, methods, args.jobs)
    if args.skip_table:
        return 0
    from deeplight.eval.cli import machine_description
    from deeplight.eval.table import write_tables

    rows = evaluate_all(spec, methods)
    header = [
        f"machine: {machine_description()} (training and evaluation, 1 thread per process, shared with other jobs)",
        f"data: {spec['base_config']} -> data/runtime/synth (synthetic, seed 0); LR inputs simulated in every test set",
        f"budgets: main comparison {spec['main_steps']} steps, ablations {spec['ablation_steps']} steps, "
        "batch 8, AdamW + warm-up/cosine; calibration baselines fitted on "
        f"{spec['calibration_fit_clips']} training clips; steps column = optimiser steps of each checkpoint",
        "reproduce: deeplight data synth --out data/runtime/synth --n-train 3000 --n-val 200 --n-test 200 "
        "--lr-size 16 --seed 0 && deeplight train --config configs/demo.yaml && "
        "python benchmarks/bench_quality.py --jobs 2",
        "metrics on the normalised radiance scale log1p(r)/log1p(1000), data range 1, 8-px border cropped",
    ]
    csv_path, md_path = write_tables(rows, REPO / spec["results"], "DeepLight quality benchmark", header)
    from deeplight.utils_io import atomic_write_text

    notes = ["", "## Targets (PSNR, checked by benchmarks/bench_quality.py)", "", *target_checks(rows), ""]
    notes_path = REPO / spec.get("notes", "benchmarks/results/quality_notes.md")
    extra = notes_path.read_text(encoding="utf-8") if notes_path.exists() else ""
    atomic_write_text(md_path, md_path.read_text(encoding="utf-8") + "\n".join(notes) + ("\n" + extra if extra else ""))
    print(md_path.read_text(encoding="utf-8"))
    print(f"wrote {csv_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
