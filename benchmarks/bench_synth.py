"""Benchmark of the synthetic DeepLightMD generator: clips per second and peak memory.

For each LR clip size it measures, on one thread:
  * generation only (``generate_scene``: terrain, water, towns, roads, ISP, reflectance, radiance
    and the DMSP-like degradation) - what ``InMemoryClipDataset.from_synthetic`` costs;
  * generation + writing the five COGs in the DeepLightMD layout (``write_deeplightmd``) - what
    ``deeplight data synth`` costs, with the bytes written per clip;
  * peak memory: the peak of Python/numpy allocations (tracemalloc) during one clip, and the
    process's peak RSS (``resource.getrusage``) at the end.
It also times the built-in demo (HR 1536 x 1536). Everything goes to a temporary folder that is
deleted. Writes ``benchmarks/results/synth.md`` and ``benchmarks/results/synth.csv``, and prints the
table.

Usage: ``.venv/bin/python benchmarks/bench_synth.py [--clips 20] [--sizes 16 32 64]``
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from deeplight.data.demo import make_demo
from deeplight.data.synth import generate_scene
from deeplight.data.synth_writer import write_deeplightmd

RESULTS = Path(__file__).resolve().parent / "results"


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()}-core {cpu} CPU, no GPU, 1 thread (OMP_NUM_THREADS=1)"


def measure(lr_size: int, clips: int, workdir: Path) -> dict:
    """Time generation and generation+writing of ``clips`` clips of LR size ``lr_size``."""
    generate_scene(lr_size, 10_000)  # warm-up (imports, FFT plans)
    start, cpu_start = time.perf_counter(), time.process_time()
    for index in range(clips):
        generate_scene(lr_size, index)
    gen_s = time.perf_counter() - start
    gen_cpu = time.process_time() - cpu_start
    tracemalloc.start()
    generate_scene(lr_size, 1)
    _, peak_alloc = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    root = workdir / f"md_{lr_size}"
    start, cpu_start = time.perf_counter(), time.process_time()
    write_deeplightmd(root, n_train=clips, n_val=0, n_test=0, lr_size=lr_size, seed=0)
    write_s = time.perf_counter() - start
    write_cpu = time.process_time() - cpu_start
    size = _folder_bytes(root)
    shutil.rmtree(root)
    return {
        "lr_size": lr_size,
        "hr_size": lr_size * 8,
        "clips": clips,
        "generate_clips_per_s": clips / gen_s,
        "generate_and_write_clips_per_s": clips / write_s,
        "generate_cpu_ms_per_clip": 1000 * gen_cpu / clips,
        "generate_and_write_cpu_ms_per_clip": 1000 * write_cpu / clips,
        "mb_per_clip_on_disk": size / clips / 1e6,
        "peak_alloc_mb_per_clip": peak_alloc / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20, help="clips per size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        workdir = Path(tmp)
        for size in args.sizes:
            clips = max(2, args.clips if size <= 32 else args.clips // 4)
            rows.append(measure(size, clips, workdir))
            print(f"LR {size}: done", file=sys.stderr)
        demo_s = None
        if not args.skip_demo:
            start = time.perf_counter()
            make_demo(workdir / "demo", force=True)
            demo_s = time.perf_counter() - start
            demo_mb = _folder_bytes(workdir / "demo") / 1e6
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    header = (
        f"Synthetic DeepLightMD generator - machine: {_machine()}; "
        f"Python {platform.python_version()}, torch {torch.__version__}. "
        "All data synthetic; LR simulated by the realistic DMSP-like degradation model."
    )
    columns = [
        "lr_size",
        "hr_size",
        "clips",
        "generate_clips_per_s",
        "generate_and_write_clips_per_s",
        "generate_cpu_ms_per_clip",
        "generate_and_write_cpu_ms_per_clip",
        "mb_per_clip_on_disk",
        "peak_alloc_mb_per_clip",
    ]
    lines = [f"# {header}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(f"{row[c]:.2f}" if isinstance(row[c], float) else str(row[c]) for c in columns)
            + " |"
        )
    lines.append("")
    lines.append(
        f"Load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(the machine is shared: wall-clock rates vary with load; CPU ms per clip vary less)."
    )
    lines.append(f"Peak RSS of the whole benchmark process: {peak_rss_mb:.0f} MB.")
    if demo_s is not None:
        lines.append(
            f"Built-in demo (`deeplight data demo`, HR 1536x1536 + LR 192x192, 6 COGs + "
            f"regions): {demo_s:.1f} s, {demo_mb:.0f} MB on disk."
        )
    lines.append("")
    lines.append(
        "Command: `.venv/bin/python benchmarks/bench_synth.py "
        + " ".join(argv if argv is not None else sys.argv[1:])
        + "`"
    )
    table = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "synth.md").write_text(table)
    with open(RESULTS / "synth.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["machine", *columns])
        writer.writeheader()
        for row in rows:
            writer.writerow({"machine": _machine(), **row})
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
