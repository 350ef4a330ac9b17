"""Reduced precision of the shipped DeepLightSR checkpoint: bf16 and fp16 autocast against float32.

The CUDA inference engine runs DeepLightSR under bf16 autocast (``deeplight.infer.devices``); this
measures, on the CPU (no GPU needed), how far that is from float32 on the normalised output scale, the
quantity issue 14 bounds by 0.02:

- ``demo``: every 48x48 LR crop of the built-in demo scene on a 36-pixel grid (25 crops), with its
  DMO + DEM (the scene is regenerated from its seed; the LR is simulated by the degradation model);
- ``cote``: 48x48 crops of the real Cote d'Ivoire VIIRS raster of the shared data (radiance mapped to
  nominal DN, no auxiliary layers: none are shipped for it), every 96 pixels where at least half the
  crop has data and its brightest pixel is above 10 DN (at most 40).

Each crop is run in float32, then under ``torch.autocast("cpu", dtype)`` for bf16 and fp16, all under
``torch.inference_mode`` with the whole scene's calibration (as the engine does). The table gives the
max and median over crops of the max absolute difference, and the share of output pixels off by more
than 0.02. Writes ``benchmarks/results/precision.md`` and ``precision.csv``.

Usage:
    .venv/bin/python benchmarks/bench_precision.py [--threads 2] [--only demo|cote]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from deeplight.runtime import prepare_process

PROCESS = prepare_process()

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
CHECKPOINT = REPO / "data" / "checkpoints" / "deeplightsr_demo.safetensors"
COTE = REPO.parent / "shared" / "data" / "cote_divoire" / "ntl.tif"
CROP = 48
TOLERANCE = 0.02
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def demo_crops():
    """(label, TileBatch) of the demo scene with DMO + DEM, and a note on the input."""
    from deeplight.data.demo import DEMO_HR_PIXEL_M, DEMO_LR_SIZE, DEMO_SEED
    from deeplight.data.synth import SynthConfig, generate_scene
    from deeplight.infer.engine import TileBatch

    scene = generate_scene(DEMO_LR_SIZE, DEMO_SEED, SynthConfig(pixel_size_m=DEMO_HR_PIXEL_M))
    crops = []
    for r in range(0, DEMO_LR_SIZE - CROP + 1, 36):
        for c in range(0, DEMO_LR_SIZE - CROP + 1, 36):
            hr = (slice(8 * r, 8 * (r + CROP)), slice(8 * c, 8 * (c + CROP)))
            crops.append((f"({r}, {c})", TileBatch(
                lr_dn=scene.lr[None, r:r + CROP, c:c + CROP], dmo=scene.dmo[None, :, hr[0], hr[1]],
                dem=scene.dem[None, hr[0], hr[1]])))
    return scene.lr, crops, f"built-in demo scene (synthetic, LR simulated), seed {DEMO_SEED}, DMO + DEM"


def cote_crops():
    """Crops of the real Cote d'Ivoire raster (no aux), or None when the shared data is absent."""
    import rasterio

    from deeplight.contracts import radiance_to_nominal_dn
    from deeplight.infer.engine import TileBatch

    if not COTE.exists():
        return None
    with rasterio.open(COTE) as src:
        lr = radiance_to_nominal_dn(src.read(1, masked=True).astype(np.float32).filled(np.nan))
    crops = []
    for r in range(0, lr.shape[0] - CROP + 1, 96):
        for c in range(0, lr.shape[1] - CROP + 1, 96):
            tile = lr[r:r + CROP, c:c + CROP]
            if np.isfinite(tile).mean() > 0.5 and np.nanmax(tile) > 10 and len(crops) < 40:
                crops.append((f"({r}, {c})", TileBatch(lr_dn=tile[None])))
    return lr, crops, "real Cote d'Ivoire VIIRS radiance (shared data), mapped to nominal DN, no aux"


def measure(model, lr_whole, crops) -> dict[str, dict]:
    from deeplight.infer.engine import TileBatch, model_batch, scene_calibration

    scene = scene_calibration(model, lr_whole)
    worst = {name: [] for name in DTYPES}
    over = {name: [0, 0] for name in DTYPES}
    where = {name: ("", -1.0) for name in DTYPES}
    for label, tiles in crops:
        tiles = TileBatch(lr_dn=tiles.lr_dn, dmo=tiles.dmo, dem=tiles.dem, scene_calibration=scene)
        batch = model_batch(tiles, torch.device("cpu"))
        with torch.inference_mode():
            reference = model(batch)["sr"]
            for name, dtype in DTYPES.items():
                with torch.autocast("cpu", dtype=dtype):
                    low = model(batch)["sr"].float()
                diff = (low - reference).abs()
                value = float(diff.max())
                worst[name].append(value)
                over[name][0] += int((diff > TOLERANCE).sum())
                over[name][1] += diff.numel()
                if value > where[name][1]:
                    where[name] = (label, value)
    return {name: {"max": max(v), "median": float(np.median(v)), "crops": len(v),
                   "share_over": over[name][0] / max(over[name][1], 1), "worst_crop": where[name][0]}
            for name, v in worst.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=("demo", "cote"), action="append")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from deeplight.infer.models import open_model

    model = open_model(str(CHECKPOINT), "cpu")[0].eval()
    rows = []
    for part in args.only or ("demo", "cote"):
        made = demo_crops() if part == "demo" else cote_crops()
        if made is None:
            print(f"bench_precision: {COTE} not found; part {part} skipped", file=sys.stderr)
            continue
        lr_whole, crops, what = made
        started = time.perf_counter()
        for name, stats in measure(model, lr_whole, crops).items():
            rows.append({"scene": part, "input": what, "autocast": name, "crops": stats["crops"],
                         "max_abs_diff": f"{stats['max']:.4f}", "median_of_crop_max": f"{stats['median']:.4f}",
                         "share_pixels_over_0.02": f"{stats['share_over']:.2e}", "worst_crop_lr_row_col": stats["worst_crop"],
                         "within_0.02": "yes" if stats["max"] < TOLERANCE else "NO"})
        print(f"  {part}: {len(crops)} crops in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    header = (f"machine: {platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__}, "
              f"{args.threads} threads; CPU autocast (the CUDA engine uses bf16); checkpoint {CHECKPOINT.name}; "
              f"run {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC")
    columns = list(rows[0]) if rows else []
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns)
    writer.writeheader()
    writer.writerows(rows)
    lines = ["# Reduced precision (`benchmarks/bench_precision.py`)", "", f"- {header}",
             "- difference: max absolute difference from float32 on the normalised output scale (log1p radiance "
             "/ log1p of the radiance cap); issue 14's bound: 0.02", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    from deeplight.utils_io import atomic_write_text

    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "precision.csv", buffer.getvalue())
    atomic_write_text(RESULTS / "precision.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
