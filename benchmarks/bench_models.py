"""Benchmark every registered model side by side against the same run's GEMM rate.

For each thread count (CPU) the run times, in interleaved rounds (round r runs every entry once, so
load from other jobs affects all of them alike): a large fp32 ``torch.mm`` (the machine's GEMM rate
in this run), every registered model with every modality present, and DeepLightSR as inference runs
it with and without auxiliary layers (absent DMO/DEM: the branches are skipped exactly) in the
channels_last layout the CPU inference path uses and in the contiguous layout, and with its fast
inference paths switched off (``set_fast_inference(False)``: the reference computation, issue 14) so
the restructured forward is compared side by side with the computation it replaces. Each entry gets HR
megapixels per second (forward, batch 1, ``torch.inference_mode``), its FLOP rate (1 MAC = 2 FLOP,
MACs from :mod:`deeplight.models.macs`; for DeepLightSR always those of the reference computation,
so a faster way to compute the same function shows as a higher rate, not as fewer MACs) and that
rate as a share of the GEMM rate. Peak memory is
measured in a fresh worker process per model (growth of the peak resident set over one forward).

DeepLightSR is the shipped checkpoint ``data/checkpoints/deeplightsr_demo`` for the ``demo`` preset
(random weights otherwise; speed does not depend on the weight values); the baselines have random
weights. ``--device cuda`` times on the GPU (synchronised; the model under the bf16 autocast the
inference engine uses, the GEMM in fp32 and bf16) and writes ``models_cuda.md``; on a machine without
CUDA it stops with a one-line error.

Writes ``benchmarks/results/models.md`` and ``models.csv`` (other sizes: ``models_<preset>_lr<N>``).

Usage:
    .venv/bin/python benchmarks/bench_models.py [--preset demo] [--lr-size 128] [--threads 1,2] [--repeats 3]
    .venv/bin/python benchmarks/bench_models.py --device cuda --lr-size 512
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
from collections.abc import Callable
from pathlib import Path

# Passive OpenMP waits and glibc malloc thresholds, as `deeplight predict` and the dashboard set them
# (deeplight.runtime; before torch is imported, which reads the wait policy once).
from deeplight.runtime import prepare_process

PROCESS = prepare_process()

RESULTS = Path(__file__).resolve().parent / "results"
CHECKPOINT = Path(__file__).resolve().parents[1] / "data" / "checkpoints" / "deeplightsr_demo"
GEMM_SIZE = {"cpu": 2048, "cuda": 8192}
"""Side of the square matrices of the GEMM-rate measurement."""


def cpu_description() -> str:
    """The CPU in a few words, e.g. "2-core AMD EPYC (AVX-512)": its model name and widest vector
    unit from ``/proc/cpuinfo`` (Linux; elsewhere the architecture). Figures from machines with the
    same core count differ 2-3x with the vector unit (AVX2 vs AVX-512), so every table names it."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                name = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags = set(value.split())
            if flags and name:
                break
    except OSError:
        pass
    unit = next((label for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("asimd", "NEON"))
                 if flag in flags), "")
    return f"{os.cpu_count()}-core {name}" + (f" ({unit})" if unit else "")


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


def build_model(name: str, preset: str):
    """``(model in eval mode, weights description)``; DeepLightSR demo = the shipped checkpoint."""
    import torch

    from deeplight.models.checkpoint import load_checkpoint
    from deeplight.models.registry import get_model

    if name == "deeplightsr" and preset == "demo" and CHECKPOINT.with_suffix(".safetensors").exists():
        model, meta = load_checkpoint(CHECKPOINT)
        return model.eval(), f"shipped checkpoint (sha256 {meta['sha256'][:12]})"
    torch.manual_seed(0)
    return get_model(name, preset=preset).eval(), "random weights"


def absent_aux(batch: dict) -> dict:
    """The batch with DMO and DEM absent, as the inference engine gives it (zeros, present = 0)."""
    out = dict(batch)
    out["dmo"] = batch["dmo"].new_zeros(batch["dmo"].shape)
    out["dem"] = batch["dem"].new_zeros(batch["dem"].shape)
    out["present"] = batch["present"].clone()
    out["present"][:, 1:3] = 0
    return out


def to_layout(batch: dict, channels_last: bool, device) -> dict:
    """The batch on ``device``, its 4-D tensors channels_last when asked."""
    import torch

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return {
        k: v.to(device).contiguous(memory_format=fmt) if v.dim() == 4 else v.to(device)
        for k, v in batch.items()
    }


def memory_worker(name: str, preset: str, lr_size: int, threads: int) -> dict:
    """In a fresh process: growth of the peak resident set (MiB) over one forward pass (CPU)."""
    import torch

    from deeplight.infer.engine import prepare_model, uses_channels_last
    from deeplight.models.macs import example_batch

    torch.set_num_threads(threads)
    model = prepare_model(build_model(name, preset)[0], torch.device("cpu"))
    batch = to_layout(example_batch(lr_size), uses_channels_last(model), "cpu")
    before_kib = peak_rss_kib()
    with torch.inference_mode():
        model(batch)
    after_kib = peak_rss_kib()
    return {"name": name, "peak_mib": (after_kib - before_kib) / 1024}


def peak_memory(name: str, preset: str, lr_size: int, threads: int) -> float:
    """Run :func:`memory_worker` in a subprocess; returns MiB."""
    cmd = [sys.executable, __file__, "--memory-worker", name, "--preset", preset, "--lr-size", str(lr_size),
           "--threads", str(threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory worker for {name} failed:\n{proc.stderr[-2000:]}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["peak_mib"])


class Timer:
    """Wall and CPU time of a call, synchronised on CUDA."""

    def __init__(self, device) -> None:
        import torch

        self.sync: Callable[[], None] = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def __call__(self, fn: Callable[[], object]) -> tuple[float, float]:
        self.sync()
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        self.sync()
        return time.perf_counter() - start, time.process_time() - cpu_start


def gemm_entries(device) -> dict[str, tuple[Callable[[], object], float]]:
    """``{label: (call, FLOP per call)}`` for the GEMM rate (fp32; bf16 too on CUDA)."""
    import torch

    n = GEMM_SIZE[device.type]
    gen = torch.Generator().manual_seed(0)
    entries = {}
    dtypes = [torch.float32] + ([torch.bfloat16] if device.type == "cuda" else [])
    for dtype in dtypes:
        a = torch.randn(n, n, generator=gen).to(device, dtype)
        b = torch.randn(n, n, generator=gen).to(device, dtype)
        label = "fp32" if dtype == torch.float32 else "bf16"
        entries[label] = ((lambda a=a, b=b: torch.mm(a, b)), 2.0 * n**3)
    return entries


def candidates(preset: str, lr_size: int, device) -> list[dict]:
    """Entries to time: every registered model (all modalities present) plus DeepLightSR variants."""
    import torch

    from deeplight.infer.devices import inference_context
    from deeplight.infer.engine import prepare_model, uses_channels_last
    from deeplight.models.macs import count_macs, example_batch
    from deeplight.models.registry import list_models

    full, small = example_batch(lr_size), example_batch(32)
    entries = []

    def add(
        label: str, name: str, model, batch: dict, small_batch: dict, aux: bool, layout: str, weights: str
    ) -> None:
        fast = getattr(model, "fast", None)
        if fast is not None:  # the MACs of the function: count the reference computation's layers
            model.set_fast_inference(False)
        macs = count_macs(model, to_layout(small_batch, layout == "channels_last", device))
        if fast is not None:
            model.set_fast_inference(fast)
        on_device = to_layout(batch, layout == "channels_last", device)

        def call(model=model, on_device=on_device):
            with inference_context(device):
                return model(on_device)

        entries.append(dict(
            label=label, name=name, family=model.family, aux=aux, layout=layout, weights=weights,
            params=sum(p.numel() for p in model.parameters() if p.requires_grad),
            macs_per_hr_pixel=round(macs / (8 * 32) ** 2), call=call,
        ))

    for name in list_models():
        model, weights = build_model(name, preset)
        prepared = prepare_model(model, device)  # as the inference engine runs it
        layout = "channels_last" if uses_channels_last(prepared) else "contiguous"
        add(name, name, prepared, full, small, True, layout, weights)
        if name == "deeplightsr":
            no_aux = absent_aux(full), absent_aux(small)
            add("deeplightsr, no aux", name, prepared, *no_aux, False, layout, weights)
            if layout == "channels_last":
                other = build_model(name, preset)[0].to(device).to(memory_format=torch.contiguous_format)
                add("deeplightsr, contiguous", name, other, full, small, True, "contiguous", weights)
                add("deeplightsr, no aux, contiguous", name, other, *no_aux, False, "contiguous", weights)
            reference = prepare_model(build_model(name, preset)[0], device).set_fast_inference(False)
            add("deeplightsr, reference forward", name, reference, full, small, True, layout, weights)
            add("deeplightsr, no aux, reference forward", name, reference, *no_aux, False, layout, weights)
    return entries


def run_all(
    preset: str, lr_size: int, threads_list: list[int], repeats: int, device
) -> tuple[list[dict], dict]:
    """Time every entry and the GEMM in interleaved rounds per thread count; measure memory (CPU)."""
    import torch

    entries = candidates(preset, lr_size, device)
    gemms = gemm_entries(device)
    timer = Timer(device)
    hr_pixels = (8 * lr_size) ** 2
    rows, gemm_rates = [], {}
    with torch.inference_mode():
        for threads in threads_list:
            torch.set_num_threads(threads)
            for call, _ in gemms.values():
                call()
            for e in entries:
                e["call"]()  # warm-up (kernels for these shapes, allocator)
            times: dict[str, list[tuple[float, float]]] = {e["label"]: [] for e in entries}
            gemm_times: dict[str, list[float]] = {k: [] for k in gemms}
            for round_index in range(repeats):
                for label, (call, _) in gemms.items():
                    gemm_times[label].append(timer(call)[0])
                for e in entries:
                    times[e["label"]].append(timer(e["call"]))
                print(f"  {threads} thread(s): round {round_index + 1}/{repeats}", file=sys.stderr)
            rates = {k: gemms[k][1] / min(v) / 1e9 for k, v in gemm_times.items()}
            gemm_rates[threads] = rates
            reference = rates.get("bf16", rates["fp32"])  # CUDA runs the models under bf16 autocast
            for e in entries:
                walls = [t[0] for t in times[e["label"]]]
                best, median = min(walls), statistics.median(walls)
                gflops = 2 * e["macs_per_hr_pixel"] * hr_pixels / best / 1e9
                rows.append({
                    "entry": e["label"], "name": e["name"], "family": e["family"], "threads": threads,
                    "aux": e["aux"], "layout": e["layout"], "weights": e["weights"], "params": e["params"],
                    "macs_per_hr_pixel": e["macs_per_hr_pixel"], "best_s": best, "median_s": median,
                    "hr_mpix_per_s": hr_pixels / 1e6 / best, "hr_mpix_per_s_median": hr_pixels / 1e6 / median,
                    "gflop_per_s": gflops, "gemm_gflop_per_s": reference,
                    "pct_of_gemm": 100 * gflops / reference,
                    "cpu_s": min(t[1] for t in times[e["label"]]),
                })
    if device.type == "cpu":
        memory = {}
        for e in entries:
            if e["label"] == e["name"]:
                memory[e["name"]] = peak_memory(e["name"], preset, lr_size, max(threads_list))
        for row in rows:
            row["peak_mib"] = memory.get(row["entry"], "")
    return rows, gemm_rates


def machine_line(device, threads_list: list[int], load_before: tuple, load_after: tuple) -> str:
    """Describe the machine, its settings and its load for the table header."""
    import torch

    if device.type == "cuda":
        what = f"GPU {torch.cuda.get_device_name(device)}, {cpu_description()} host"
    else:
        what = f"{cpu_description()} CPU, no GPU used"
    policy = PROCESS.wait_policy or "unset"
    malloc = ", ".join(PROCESS.malloc_tuned) or "not tuned"
    return (
        f"Machine: {what}; torch {torch.__version__}; threads {', '.join(map(str, threads_list))}; "
        f"OMP_WAIT_POLICY={policy}; mallopt: {malloc}. 1-min load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after (other jobs may share the machine; entries are timed in interleaved "
        "rounds so they share the load alike)."
    )


def _fmt_pct(row: dict) -> str:
    return f"{row['pct_of_gemm']:.1f}%"


def tables(rows: list[dict], gemm: dict, preset: str, lr_size: int, header: str, device) -> tuple[str, str]:
    """Markdown and CSV texts."""
    hr = 8 * lr_size
    threads_list = sorted(gemm)
    gemm_label = "bf16" if device.type == "cuda" else "fp32"
    md = [
        f"# Model cost benchmark (preset `{preset}`, LR {lr_size}x{lr_size} -> HR {hr}x{hr}, batch 1, "
        f"forward, inference mode, {device.type})",
        "",
        header,
        "",
        "GEMM rate of this run (square `torch.mm`, side "
        f"{GEMM_SIZE[device.type]}): "
        + "; ".join(
            f"{t} thread(s): " + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in gemm[t].items())
            for t in threads_list
        )
        + ".",
        "",
        "## DeepLightSR as inference runs it",
        "",
        "| entry | threads | layout | MACs / HR px | best time (s) | HR MP/s | GFLOP/s "
        f"| % of {gemm_label} GEMM | CPU time (s) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["name"] == "deeplightsr":
            md.append(
                f"| {r['entry']} | {r['threads']} | {r['layout']} | {r['macs_per_hr_pixel']:,} "
                f"| {r['best_s']:.3f} | {r['hr_mpix_per_s']:.2f} | {r['gflop_per_s']:.1f} | {_fmt_pct(r)} "
                f"| {r['cpu_s']:.3f} |"
            )
    by = {(r["entry"], r["threads"]): r for r in rows}
    notes = []
    for t in threads_list:
        dl, edsr = by.get(("deeplightsr", t)), by.get(("edsr", t))
        variants = ("no aux", "contiguous", "no aux, contiguous", "reference forward", "no aux, reference forward")
        dl_na, cont, cont_na, ref, ref_na = (by.get((f"deeplightsr, {v}", t)) for v in variants)
        parts = []
        if dl and ref:
            parts.append(f"the fast inference paths are {ref['best_s'] / dl['best_s']:.2f}x faster than the "
                         "reference computation with aux")
        if dl_na and ref_na:
            parts.append(f"{ref_na['best_s'] / dl_na['best_s']:.2f}x without")
        if dl and edsr:
            parts.append(f"DeepLightSR with DMO + DEM takes {dl['best_s'] / edsr['best_s']:.2f}x EDSR's time")
        if dl_na and edsr:
            parts.append(f"without them {dl_na['best_s'] / edsr['best_s']:.2f}x")
        if dl and cont:
            parts.append(f"channels_last is {cont['best_s'] / dl['best_s']:.2f}x faster with aux")
        if dl_na and cont_na:
            parts.append(f"{cont_na['best_s'] / dl_na['best_s']:.2f}x without")
        if parts:
            notes.append(f"- {t} thread(s): " + "; ".join(parts) + ".")
    md += ["", *notes, "", "## Every registered model (every modality present)", ""]
    for t in threads_list:
        md += [
            f"### {t} thread(s)",
            "",
            "| model | family | layout | params | MACs / HR px | best time (s) | median time (s) "
            f"| HR MP/s (best) | GFLOP/s | % of {gemm_label} GEMM | x EDSR time | CPU time (s) "
            "| peak memory (MiB) |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        edsr = by.get(("edsr", t))
        for r in rows:
            if r["threads"] != t or r["entry"] != r["name"]:
                continue
            rel = f"{r['best_s'] / edsr['best_s']:.2f}" if edsr else "n/a"
            peak = f"{r['peak_mib']:.0f}" if isinstance(r.get("peak_mib"), float) else "-"
            md.append(
                f"| {r['name']} | {r['family']} | {r['layout']} | {r['params']:,} "
                f"| {r['macs_per_hr_pixel']:,} | {r['best_s']:.3f} | {r['median_s']:.3f} "
                f"| {r['hr_mpix_per_s']:.2f} | {r['gflop_per_s']:.1f} | {_fmt_pct(r)} | {rel} "
                f"| {r['cpu_s']:.3f} | {peak} |"
            )
        md.append("")
    dl_weights = next((r["weights"] for r in rows if r["name"] == "deeplightsr"), "not run")
    md += [
        f"Weights: DeepLightSR {dl_weights}; the baselines have random weights; "
        "speed does not depend on the values. Layout: the one `deeplight.infer.engine.prepare_model` gives "
        "the model on this device (DeepLightSR: channels_last on CPU). \"reference forward\": the same "
        "DeepLightSR with `set_fast_inference(False)` (the computation the fast paths replace; the exact "
        "skips of absent layers, which are not behind that switch, apply to both). DeepLightSR's MACs are "
        "those of the reference computation for every entry. MACs: convolutions, linear layers, "
        "attention products, deformable sampling, STN warps and interpolations, counted by forward hooks "
        "(deeplight/models/macs.py) on a 32x32 LR input of the same kind (with or without aux); element-wise "
        "operations and FFTs are not counted; 1 MAC = 2 FLOP. % of GEMM: the model's FLOP rate over the "
        "same run's GEMM rate at the same thread count. CPU time: processor seconds of the forward pass "
        "summed over its threads (best round). Peak memory: growth of a fresh worker's peak resident set "
        "over one forward pass (CPU only).",
    ]
    buffer = io.StringIO()
    fields = [k for k in rows[0] if k != "call"] + (["peak_mib"] if "peak_mib" not in rows[0] else [])
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return "\n".join(md) + "\n", f"# {header}\n" + buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="demo", choices=("tiny", "demo", "paper"))
    parser.add_argument("--lr-size", type=int, default=128)
    parser.add_argument("--threads", default="1,2", help="comma-separated CPU thread counts (default 1,2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda[:N])")
    parser.add_argument("--memory-worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for models.md / models.csv")
    args = parser.parse_args(argv)
    threads_list = sorted({int(t) for t in args.threads.split(",") if t.strip()})
    if args.memory_worker:
        print(json.dumps(memory_worker(args.memory_worker, args.preset, args.lr_size, threads_list[-1])))
        return 0
    from deeplight.errors import ConfigError
    from deeplight.infer.devices import resolve_device
    from deeplight.utils_io import atomic_write_text

    try:
        device = resolve_device(args.device)
    except ConfigError as exc:
        print(f"bench_models: error: {exc}", file=sys.stderr)
        return 2
    if device.type == "cuda":
        import torch

        threads_list = [torch.get_num_threads()]
    load_before = os.getloadavg()
    rows, gemm = run_all(args.preset, args.lr_size, threads_list, args.repeats, device)
    header = machine_line(device, threads_list, load_before, os.getloadavg())
    markdown, csv_text = tables(rows, gemm, args.preset, args.lr_size, header, device)
    suffix = "" if args.preset == "demo" and args.lr_size == 128 else f"_{args.preset}_lr{args.lr_size}"
    suffix = ("_cuda" if device.type == "cuda" else "") + suffix
    atomic_write_text(args.out / f"models{suffix}.md", markdown)
    atomic_write_text(args.out / f"models{suffix}.csv", csv_text)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
