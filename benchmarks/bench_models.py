"""Benchmark every registered model side by side: parameters, MACs per HR pixel, CPU throughput
(HR megapixels per second, forward pass, batch 1, LR 128x128, ``torch.inference_mode``, 2 threads)
and peak memory.

All models are timed in the same process in interleaved rounds (round r runs every model once), so
load from other jobs affects all of them alike; the table gives the best (least disturbed) and the
median of ``--repeats`` rounds after a warm-up. Peak memory is measured in a fresh worker process
per model (growth of the peak resident set over one forward pass, from ``getrusage``).
Writes ``benchmarks/results/models.md`` and
``models.csv`` and prints the table.

Usage:
    .venv/bin/python benchmarks/bench_models.py [--preset demo] [--lr-size 128] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Threads that spin while waiting at OpenMP barriers steal the cores their partner thread needs
# when other jobs share the machine (measured here: 3-6x slower forward passes under load); passive
# waiting makes the 2-thread figures reflect the models, not the spinning. Must be set before torch
# is imported (libgomp reads it once).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

RESULTS = Path(__file__).resolve().parent / "results"


def peak_rss_kib() -> int:
    """High-water mark of this process's resident set (KiB).

    ``VmHWM`` from /proc (Linux) belongs to the process image and starts afresh at ``exec``;
    ``ru_maxrss`` (the fallback elsewhere) keeps the parent's high-water mark across
    fork + exec, which hides the growth of a small child started by a large parent.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_worker(name: str, preset: str, lr_size: int, threads: int) -> dict:
    """In a fresh process: growth of the peak resident set (MiB) over one forward pass."""
    import torch

    from deeplight.models.macs import example_batch
    from deeplight.models.registry import get_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = get_model(name, preset=preset).eval()
    batch = example_batch(lr_size)
    before_kib = peak_rss_kib()
    with torch.inference_mode():
        model(batch)
    after_kib = peak_rss_kib()
    return {"name": name, "peak_mib": (after_kib - before_kib) / 1024}


def peak_memory(name: str, preset: str, lr_size: int, threads: int) -> float:
    """Run :func:`memory_worker` in a subprocess; returns MiB."""
    cmd = [
        sys.executable,
        __file__,
        "--memory-worker",
        name,
        "--preset",
        preset,
        "--lr-size",
        str(lr_size),
        "--threads",
        str(threads),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory worker for {name} failed:\n{proc.stderr[-2000:]}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["peak_mib"])


def run_all(preset: str, lr_size: int, threads: int, repeats: int) -> list[dict]:
    """Time every registered model in interleaved rounds (same conditions for all), then measure memory."""
    import torch

    from deeplight.models.macs import count_macs, example_batch
    from deeplight.models.registry import get_model, list_models

    torch.set_num_threads(threads)
    names = list_models()
    models = {}
    for name in names:
        torch.manual_seed(0)
        models[name] = get_model(name, preset=preset).eval()
    batch = example_batch(lr_size)
    hr_pixels = (8 * lr_size) ** 2
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu_times: dict[str, list[float]] = {name: [] for name in names}
    with torch.inference_mode():
        for name in names:
            models[name](batch)  # warm-up
        for round_index in range(repeats):
            for name in names:
                start, cpu_start = time.perf_counter(), time.process_time()
                models[name](batch)
                times[name].append(time.perf_counter() - start)
                cpu_times[name].append(time.process_time() - cpu_start)
            print(f"  round {round_index + 1}/{repeats} done", file=sys.stderr)
    rows = []
    for name in names:
        model = models[name]
        best, median = min(times[name]), statistics.median(times[name])
        rows.append(
            {
                "name": name,
                "family": model.family,
                "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
                "macs_per_hr_pixel": round(count_macs(model, example_batch(32)) / (8 * 32) ** 2),
                "best_s": best,
                "median_s": median,
                "hr_mpix_per_s": hr_pixels / 1e6 / best,
                "hr_mpix_per_s_median": hr_pixels / 1e6 / median,
                "cpu_s": min(cpu_times[name]),
                "peak_mib": peak_memory(name, preset, lr_size, threads),
            }
        )
    return rows


def machine_line(threads: int, load_before: tuple, load_after: tuple) -> str:
    """Describe the machine and its load for the table header."""
    import torch

    return (
        f"Machine: {os.cpu_count()}-core {platform.machine()} CPU, no GPU used; torch {torch.__version__}, "
        f"{threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}. "
        "Shared machine: other engineers' jobs ran concurrently (1-min load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after), so absolute times are pessimistic; "
        "all models were timed in interleaved rounds in one run."
    )


def tables(rows: list[dict], preset: str, lr_size: int, header: str) -> tuple[str, str]:
    """Markdown and CSV texts."""
    by_name = {r["name"]: r for r in rows}
    edsr = by_name.get("edsr")
    hr = 8 * lr_size
    md = [
        (
            f"# Model cost benchmark (preset `{preset}`, LR {lr_size}x{lr_size} -> HR {hr}x{hr}, batch 1, "
            "forward, inference mode)"
        ),
        "",
        header,
        "",
        (
            "| model | family | params | MACs / HR px | best time (s) | median time (s) | HR MP/s (best) "
            "| HR MP/s (median) | x EDSR time | CPU time (s) | peak memory (MiB) |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rel = f"{r['best_s'] / edsr['best_s']:.2f}" if edsr else "n/a"
        md.append(
            f"| {r['name']} | {r['family']} | {r['params']:,} | {r['macs_per_hr_pixel']:,} "
            f"| {r['best_s']:.3f} | {r['median_s']:.3f} | {r['hr_mpix_per_s']:.2f} "
            f"| {r['hr_mpix_per_s_median']:.2f} | {rel} | {r['cpu_s']:.3f} | {r['peak_mib']:.0f} |"
        )
    dl = by_name.get("deeplightsr")
    if dl and edsr and preset == "demo" and lr_size == 128:
        md += [
            "",
            (
                "Targets (issue 3): DeepLightSR `demo` >= 1 HR MP/s on this CPU: "
                f"**{dl['hr_mpix_per_s']:.2f} HR MP/s best, {dl['hr_mpix_per_s_median']:.2f} median "
                f"({'met' if dl['hr_mpix_per_s'] >= 1 else 'NOT met'} on the best time)**; "
                f"at most 2x EDSR's time at equal width (both 32 channels in `demo`): "
                f"**{dl['best_s'] / edsr['best_s']:.2f}x best, {dl['median_s'] / edsr['median_s']:.2f}x median "
                f"({'met' if dl['best_s'] <= 2 * edsr['best_s'] else 'NOT met'})**. "
                f"CPU time per forward pass: DeepLightSR {dl['cpu_s']:.2f} s, EDSR {edsr['cpu_s']:.2f} s "
                f"({dl['cpu_s'] / edsr['cpu_s']:.2f}x); {dl['cpu_s']:.2f} CPU-s for "
                f"{(8 * lr_size) ** 2 / 1e6:.2f} HR MP means at least "
                f"{(8 * lr_size) ** 2 / 1e6 / dl['cpu_s']:.2f} HR MP/s on one idle core and more on two."
            ),
        ]
    md += [
        "",
        (
            "MACs: convolutions, linear layers, attention products, deformable sampling, STN warps and "
            "interpolations, counted by forward hooks (deeplight/models/macs.py); element-wise operations and "
            "FFTs are not counted. CPU time: processor seconds of the forward pass summed over its threads "
            "(best round): a load-insensitive measure of the work, since waiting for a core is not counted; "
            "on an idle machine the wall time of the 2-thread pass is about this or less. "
            "Peak memory: growth of a fresh worker's peak resident set over one forward pass."
        ),
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return "\n".join(md) + "\n", f"# {header}\n" + buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="demo", choices=("tiny", "demo", "paper"))
    parser.add_argument("--lr-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for models.md / models.csv")
    args = parser.parse_args(argv)
    if args.memory_worker:
        print(json.dumps(memory_worker(args.memory_worker, args.preset, args.lr_size, args.threads)))
        return 0
    from deeplight.utils_io import atomic_write_text

    load_before = os.getloadavg()
    rows = run_all(args.preset, args.lr_size, args.threads, args.repeats)
    header = machine_line(args.threads, load_before, os.getloadavg())
    markdown, csv_text = tables(rows, args.preset, args.lr_size, header)
    suffix = "" if args.preset == "demo" and args.lr_size == 128 else f"_{args.preset}_lr{args.lr_size}"
    atomic_write_text(args.out / f"models{suffix}.md", markdown)
    atomic_write_text(args.out / f"models{suffix}.csv", csv_text)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
