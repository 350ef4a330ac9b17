"""Benchmark of tiled inference: throughput, cache speed-up, streamed peak memory, Dask vs one process.

The ``e2e`` part puts, in one run and at each thread count, the machine's fp32 GEMM rate (a large
``torch.mm``), the model-only rate of one tile with and without auxiliary layers (HR MP/s and % of
the GEMM rate, MACs from ``deeplight.models.macs``, 1 MAC = 2 FLOP) and the end-to-end rate of
``predict_raster`` on GeoTIFFs (reading, warping, tiles with their overlap, blending, COG writing) with
its ratio to the model-only rate, and the run's CPU time: the core-seconds of the model's own work
against everything else, so the best wall time the machine's cores allow is on the table. The
``auxread`` part times the reading of a tile's DMO + DEM for several GeoTIFF encodings of the same
pixels. The ``inflight`` part compares, on the same tiles, two threads per
tile with one thread per tile and two tiles in flight (two Python threads).

Writes ``benchmarks/results/infer.md`` and ``benchmarks/results/infer.csv`` and prints the table;
``--device cuda`` runs the ``e2e`` part on the GPU and writes ``infer_cuda.md``/``.csv`` (a machine
without CUDA gets a one-line error).

Model: the demo checkpoint ``data/checkpoints/deeplightsr_demo.safetensors`` when it exists, else the
``deeplightsr`` ``demo`` preset with random weights (the table says which; speed and memory do not
depend on the weight values). Inputs are synthetic DMSP-like DN (and DMO/DEM for throughput), made by
code; every raster lives in a temporary folder that is deleted afterwards.

Usage: ``.venv/bin/python benchmarks/bench_infer.py [--threads 2] [--big-model bicubic|demo]``
(``--skip-big`` leaves out the 2048 x 2048 run, which writes ~2 GB of temporary files; ``--only e2e``
re-runs one part and keeps the other rows; ``--e2e-lr 256`` sets the LR side of the end-to-end run).
The ``cote`` part (``--only cote --before-tree /tmp/old --before-label d154fcb``) times ``deeplight
predict`` on the real Cote d'Ivoire LR of the shared data, this tree against an older one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Passive OpenMP waits, glibc malloc thresholds and GDAL's block cache, as `deeplight predict` sets them
# (before torch, before any raster is read)
from deeplight.runtime import GDAL_CACHE_VARIABLE, bound_gdal_cache, prepare_process

PROCESS = prepare_process()
bound_gdal_cache()

import numpy as np  # noqa: E402
import rasterio  # noqa: E402
import torch  # noqa: E402
from rasterio.transform import from_origin  # noqa: E402

from bench_models import cpu_description, peak_rss_kib  # noqa: E402  (shared with the model benchmark)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEMO_CHECKPOINT = REPO / "data" / "checkpoints" / "deeplightsr_demo.safetensors"


def machine_label(device: torch.device | None = None) -> str:
    """The machine in a few words, for the ``machine`` column of every row (rows of parts not re-run
    keep theirs, so a table mixing runs still says which machine gave each figure)."""
    if device is not None and device.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(device)}, {cpu_description()} host"
    return cpu_description()


def machine_line(threads: int, device: torch.device | None = None) -> str:
    cpu = cpu_description()
    policy = PROCESS.wait_policy or "unset"
    malloc = ", ".join(PROCESS.malloc_tuned) or "not tuned"
    gdal_cache = os.environ.get(GDAL_CACHE_VARIABLE)
    settings = f"OMP_WAIT_POLICY={policy}, mallopt: {malloc}, {GDAL_CACHE_VARIABLE}={gdal_cache}"
    version = torch.__version__
    if device is not None and device.type == "cuda":
        return f"{machine_label(device)} (torch {version}; {settings})"
    return f"{cpu} CPU, no GPU (torch {version}, {threads} threads; {settings})"


def load_model(kind: str):
    """``(model, description)`` for "demo" (checkpoint or random demo preset) or a registry name."""
    from deeplight.models.checkpoint import load_checkpoint
    from deeplight.models.registry import get_model

    if kind == "demo":
        if DEMO_CHECKPOINT.exists():
            model, meta = load_checkpoint(DEMO_CHECKPOINT)
            return model, f"demo checkpoint {DEMO_CHECKPOINT.name} (sha256 {meta['sha256'][:12]})"
        torch.manual_seed(0)
        return get_model(
            "deeplightsr", preset="demo"
        ).eval(), "deeplightsr preset demo, RANDOM weights (no demo checkpoint yet)"
    torch.manual_seed(0)
    return get_model(kind).eval(), f"{kind} (registry model, no trained weights needed)"


def write_lr(path: Path, height: int, width: int, seed: int = 0) -> None:
    """A synthetic DMSP-like LR GeoTIFF (DN 0..63, EPSG:3857, 1 km), tagged simulated."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    lit = 63 * np.exp(-(((yy - height / 2) / (height / 5)) ** 2 + ((xx - width / 3) / (width / 6)) ** 2))
    dn = np.clip(lit + rng.normal(0, 2, (height, width)), 0, 63).astype(np.float32)
    profile = dict(
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        nodata=np.nan,
        crs="EPSG:3857",
        transform=from_origin(1.3e7, 3.6e6, 1000, 1000),
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(dn, 1)
        dst.update_tags(simulated="true", units="DN", modality="lr", provenance="bench_infer synthetic")


def synthetic_inputs(h: int, w: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lr = rng.uniform(0, 63, (h, w)).astype(np.float32)
    aux = {
        "dmo": rng.uniform(0, 0.4, (7, 8 * h, 8 * w)).astype(np.float32),
        "dem": rng.uniform(0, 500, (8 * h, 8 * w)).astype(np.float32),
    }
    return lr, aux


def bench_throughput(model, rows: list[dict], tile: int, overlap: int, max_threads: int) -> None:
    from deeplight.infer import predict_array

    lr, aux = synthetic_inputs(240, 240)  # 2 x 2 tiles of 128 overlapping by exactly 16
    warm = {k: v[..., : 8 * tile, : 8 * tile] for k, v in aux.items()}
    predict_array(model, lr[:tile, :tile], warm, tile=tile, overlap=0, device="cpu")  # same-shape warm-up
    mp = lr.size * 64 / 1e6
    for threads in sorted({1, max_threads}):
        torch.set_num_threads(threads)
        start = time.perf_counter()
        result = predict_array(model, lr, aux, tile=tile, overlap=overlap, device="cpu")
        seconds = time.perf_counter() - start
        rows.append(
            dict(
                measure=f"tiled inference throughput, {threads} thread(s)",
                setting=f"LR 240x240 -> HR 1920x1920, tile {tile}, "
                f"overlap {overlap}, dmo+dem, {result.tiles} tiles, {seconds:.1f} s",
                value=round(mp / seconds, 3),
                unit="HR MP/s",
                seconds=round(seconds, 2),
            )
        )
    torch.set_num_threads(1)
    whole = predict_array(model, lr, aux, tile=240, overlap=0, device="cpu").radiance
    for ov in sorted({overlap, 2 * overlap}):
        tiled = (
            result.radiance
            if ov == overlap
            else predict_array(model, lr, aux, tile=tile, overlap=ov, device="cpu").radiance
        )
        diff = np.abs(tiled - whole)
        rows.append(
            dict(
                measure=f"tiled vs whole image, overlap {ov}",
                setting=f"tile {tile}; max abs diff {np.nanmax(diff):.3g} nW/cm2/sr at radiance up to "
                f"{np.nanmax(whole):.3g}; 99.9th percentile {np.nanpercentile(diff, 99.9):.3g}",
                value=float(f"{np.nanmean(diff) / np.nanmean(whole):.3g}"),
                unit="mean rel. diff",
                seconds="",
            )
        )
    lr_se, aux_se = lr[:64, :64], {k: v[..., :512, :512] for k, v in aux.items()}
    start = time.perf_counter()
    predict_array(model, lr_se, aux_se, tile=tile, overlap=overlap, device="cpu", self_ensemble=True)
    seconds = time.perf_counter() - start
    rows.append(
        dict(
            measure="x8 self-ensemble throughput",
            setting="LR 64x64 -> HR 512x512, mean + std layer",
            value=round(lr_se.size * 64 / 1e6 / seconds, 3),
            unit="HR MP/s",
            seconds=round(seconds, 2),
        )
    )


def bench_seams(model, rows: list[dict], work: Path, tile: int, overlap: int) -> None:
    """Tiled vs whole-image output on the built-in demo scene (realistic structure, simulated LR)."""
    import rasterio as rio

    from deeplight.data import make_demo
    from deeplight.infer import predict_array

    make_demo(work / "demo")
    read = lambda name: rio.open(work / "demo" / f"{name}.tif").read().astype(np.float32)  # noqa: E731
    lr, dmo, dem = read("lr")[0], read("dmo"), read("dem")[0]
    lr, aux = lr[:160, :160], {"dmo": dmo[:, :1280, :1280], "dem": dem[:1280, :1280]}
    whole = predict_array(model, lr, aux, tile=160, overlap=0, device="cpu").radiance
    for ov in sorted({overlap, 2 * overlap}):
        tiled = predict_array(model, lr, aux, tile=tile, overlap=ov, device="cpu").radiance
        diff = np.abs(tiled - whole)
        rows.append(
            dict(
                measure=f"demo scene: tiled vs whole image, overlap {ov}",
                setting=f"LR 160x160 crop of the demo scene (simulated LR), tile {tile}; max abs diff "
                f"{np.nanmax(diff):.3g} nW/cm2/sr (radiance up to {np.nanmax(whole):.3g}); "
                f"99.9th percentile {np.nanpercentile(diff, 99.9):.3g}",
                value=float(f"{np.nansum(diff) / np.nansum(whole):.3g}"),
                unit="relative L1 diff",
                seconds="",
            )
        )


def bench_cache(model, rows: list[dict], work: Path, tile: int, overlap: int) -> None:
    from deeplight.infer import TileCache, predict_array, predict_raster

    lr, aux = synthetic_inputs(96, 96, seed=1)
    cache = TileCache(work / "cache_a")
    common = dict(tile=tile, overlap=overlap, device="cpu", cache=cache, model_id="bench")
    timings = {}
    results = {}
    for label, input_id in (
        ("cold", "scene-sha256+window"),
        ("hashed", None),
        ("input_id", "scene-sha256+window"),
    ):
        start = time.perf_counter()
        results[label] = predict_array(model, lr, aux, input_id=input_id, **common)
        timings[label] = time.perf_counter() - start
    if results["cold"].from_cache or not results["input_id"].from_cache:
        raise RuntimeError("the repeated request was not served from the cache")
    if not np.array_equal(results["cold"].radiance, results["input_id"].radiance, equal_nan=True):
        raise RuntimeError("the cached result differs from the computed one")
    # "hashed" computed once more (its key is the array hash, not the input_id): time it again as a hit
    start = time.perf_counter()
    hit = predict_array(model, lr, aux, **common)
    timings["hashed"] = time.perf_counter() - start
    if not hit.from_cache:
        raise RuntimeError("the repeated request (array hash key) was not served from the cache")
    cold = timings["cold"]
    for label, what in (
        ("input_id", "input_id given by the caller (scene file hashes + window, as the dashboard can)"),
        ("hashed", "key from the SHA-256 of the 19 MB of input arrays"),
    ):
        warm = timings[label]
        rows.append(
            dict(
                measure=f"cache speed-up, repeated in-memory request (dashboard), {what}",
                setting=f"predict_array LR 96x96 + dmo/dem: {cold:.2f} s cold, {warm * 1000:.1f} ms cached",
                value=round(cold / warm, 1),
                unit="x",
                seconds=round(warm, 4),
            )
        )
    write_lr(work / "lr_cache.tif", 96, 96)
    shutil.copyfile(work / "lr_cache.tif", work / "lr_cache_renamed.tif")  # same content, another name
    cache_b = TileCache(work / "cache_b")
    runs = {}
    for label, lr_name, out_name in (
        ("cold", "lr_cache.tif", "c1.tif"),
        ("repeat", "lr_cache.tif", "c2.tif"),
        ("renamed", "lr_cache_renamed.tif", "c3.tif"),
    ):
        start = time.perf_counter()
        result = predict_raster(
            work / lr_name,
            work / out_name,
            model=model,
            tile=tile,
            overlap=overlap,
            device="cpu",
            cache=cache_b,
        )
        runs[label] = (time.perf_counter() - start, result)
    cold = runs["cold"][0]
    if not runs["repeat"][1].from_request_cache or runs["renamed"][1].computed:
        raise RuntimeError("the repeated raster requests were not served from the cache")
    for label, what in (
        ("repeat", "repeated file request (whole output copied from the cache, hash checked)"),
        ("renamed", "same content under another file name (tiles from the cache, COG rewritten)"),
    ):
        warm = runs[label][0]
        rows.append(
            dict(
                measure=f"cache speed-up, {what}",
                setting=f"predict_raster LR 96x96 GeoTIFF: {cold:.2f} s cold, {warm * 1000:.0f} ms cached",
                value=round(cold / warm, 1),
                unit="x",
                seconds=round(warm, 3),
            )
        )


def child_big(args: argparse.Namespace) -> None:
    """Runs in a child process so that its peak RSS is measured on its own."""
    from deeplight.infer import predict_raster
    from deeplight.infer.devices import configure_cpu_threads

    configure_cpu_threads(None)  # load-aware, as `deeplight predict` does
    model, _ = load_model(args.child_model)
    start = time.perf_counter()
    result = predict_raster(
        args.child_lr,
        args.child_out,
        model=model,
        tile=args.tile,
        overlap=args.overlap,
        device="cpu",
        cache=None,
    )
    seconds = time.perf_counter() - start
    size = Path(result.path).stat().st_size
    print(
        json.dumps(
            {
                "seconds": seconds,
                "threads": torch.get_num_threads(),
                "tiles": result.tiles,
                "bytes": size,
                "peak_mb": peak_rss_kib() / 1024,
            }
        )
    )


def run_child(work: Path, model_kind: str, height: int, width: int, args: argparse.Namespace) -> dict:
    lr = work / f"lr_{height}x{width}.tif"
    out = work / f"sr_{height}x{width}_{model_kind}.tif"
    write_lr(lr, height, width)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--child-model",
        model_kind,
        "--child-lr",
        str(lr),
        "--child-out",
        str(out),
        "--threads",
        str(args.threads),
        "--tile",
        str(args.tile),
        "--overlap",
        str(args.overlap),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child run failed: {proc.stderr[-2000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    with rasterio.open(out) as ds:
        info["shape"] = ds.shape
    out.unlink()
    lr.unlink()
    return info


def bench_memory(rows: list[dict], work: Path, args: argparse.Namespace) -> None:
    if not args.skip_big:
        info = run_child(work, args.big_model, 2048, 2048, args)
        rows.append(
            dict(
                measure="peak memory, LR 2048x2048 -> HR 16384x16384 streamed to a COG",
                setting=f"model {args.big_model}, {info['tiles']} tiles, output {info['shape']}, "
                f"COG {info['bytes'] / 2**30:.2f} GiB, {info['seconds']:.0f} s, {info['threads']} thread(s)",
                value=round(info["peak_mb"] / 1024, 2),
                unit="GB peak RSS",
                seconds=round(info["seconds"], 1),
                model=load_model(args.big_model)[1],
            )
        )
    info = run_child(work, "demo", 2 * args.tile, 2048, args)
    rows.append(
        dict(
            measure="peak memory, demo model, full-width strip",
            setting=f"LR {2 * args.tile}x2048 -> HR {info['shape']} (same width as 2048x2048: the "
            f"accumulator holds one tile row, so memory does not grow with height), "
            f"{info['tiles']} tiles, {info['seconds']:.0f} s, {info['threads']} thread(s)",
            value=round(info["peak_mb"] / 1024, 2),
            unit="GB peak RSS",
            seconds=round(info["seconds"], 1),
        )
    )
    hr_mp = 2 * args.tile * 2048 * 64 / 1e6
    rows.append(
        dict(
            measure="demo model streamed throughput (same run)",
            setting="HR MP/s incl. reading and COG writing",
            value=round(hr_mp / info["seconds"], 3),
            unit="HR MP/s",
            seconds=round(info["seconds"], 1),
        )
    )


def bench_dask(model, rows: list[dict], work: Path, args: argparse.Namespace) -> None:
    from deeplight.infer import predict_raster
    from deeplight.infer.distributed import close_client, start_client

    write_lr(work / "lr_dask.tif", 128, 192)
    # warm-up raster: same tile shape, so torch's per-shape kernels are ready in every process
    write_lr(work / "lr_warm.tif", 64, 256)
    tile = 64

    def run(lr_name: str, out_name: str, client=None):
        return predict_raster(
            work / lr_name,
            work / out_name,
            model=model,
            tile=tile,
            overlap=16,
            device="cpu",
            cache=None,
            client=client,
        )

    timings = {}
    for threads in sorted({args.threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        run("lr_warm.tif", f"warm{threads}.tif")
        start = time.perf_counter()
        single = run("lr_dask.tif", f"single{threads}.tif")
        timings[threads] = time.perf_counter() - start
    torch.set_num_threads(args.threads)
    t_single = timings[args.threads]
    start = time.perf_counter()
    client = start_client(workers=2, threads_per_worker=max(1, args.threads // 2))
    t_startup = time.perf_counter() - start
    try:
        run("lr_warm.tif", "warm_dask.tif", client)  # workers import torch, get the model, build kernels
        start = time.perf_counter()
        dist = run("lr_dask.tif", "dask.tif", client)
        t_dask = time.perf_counter() - start
    finally:
        close_client(client)
    worker_threads = max(1, args.threads // 2)
    with rasterio.open(work / f"single{worker_threads}.tif") as a, rasterio.open(dist.path) as b:
        x, y = a.read(1), b.read(1)
    max_diff = float(np.nanmax(np.abs(x - y)))
    identical = bool(np.array_equal(x, y, equal_nan=True))
    for threads, seconds in sorted(timings.items(), reverse=True):
        rows.append(
            dict(
                measure=f"1 process, {threads} torch thread(s)",
                setting=f"LR 128x192 -> HR 1024x1536, tile {tile}, overlap 16, {single.tiles} tiles",
                value=round(seconds, 1),
                unit="s",
                seconds=round(seconds, 1),
            )
        )
    rows.append(
        dict(
            measure="Dask LocalCluster, 2 worker processes",
            setting=f"same run, {worker_threads} thread(s) per worker; cluster start "
            f"({t_startup:.1f} s) and a warm-up run (as for the single process) not included; "
            f"identical to the "
            f"{worker_threads}-thread single process: {identical} (max abs diff {max_diff:.2g})",
            value=round(t_dask, 1),
            unit="s",
            seconds=round(t_dask, 1),
        )
    )
    rows.append(
        dict(
            measure="Dask 2 workers vs the fastest single process",
            setting=f"speed-up = fastest 1-process time ({min(timings.values()):.1f} s) / Dask time; vs the "
            f"{args.threads}-thread process: {t_single / t_dask:.2f}x",
            value=round(min(timings.values()) / t_dask, 2),
            unit="x",
            seconds=round(t_dask, 1),
        )
    )


def write_aux(work: Path, height: int, width: int) -> dict[str, Path]:
    """Smooth synthetic DMO (7 bands) and DEM GeoTIFFs on the HR grid of :func:`write_lr`'s raster."""
    yy, xx = np.mgrid[0 : 8 * height, 0 : 8 * width].astype(np.float32) / 8
    built = np.exp(-(((yy - height / 2) / (height / 4)) ** 2 + ((xx - width / 3) / (width / 5)) ** 2))
    texture = 0.7 + 0.3 * np.sin(xx * 2.1) * np.cos(yy * 1.7)
    layers = {
        "dmo": np.stack([0.05 + 0.2 * built * texture + 0.01 * b for b in range(7)]).astype(np.float32),
        "dem": (120 + 15 * np.sin(xx / 5) + 10 * np.cos(yy / 7)).astype(np.float32)[None],
    }
    paths = {}
    for name, data in layers.items():
        paths[name] = work / f"{name}_{height}x{width}.tif"
        profile = dict(
            driver="GTiff", width=8 * width, height=8 * height, count=data.shape[0], dtype="float32",
            nodata=np.nan, crs="EPSG:3857", transform=from_origin(1.3e7, 3.6e6, 125, 125), tiled=True,
            blockxsize=256, blockysize=256, compress="deflate",
        )
        with rasterio.open(paths[name], "w", **profile) as dst:
            dst.write(data)
    return paths


def gemm_gflops(device: torch.device, repeats: int = 5) -> float:
    """fp32 GEMM rate (GFLOP/s) of a large square ``torch.mm`` at the current thread count (best of runs)."""
    n = 2048 if device.type == "cpu" else 8192
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=gen).to(device) for _ in range(2))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


def model_only(model, tiles, device: torch.device, repeats: int = 3) -> tuple[float, float]:
    """(best seconds of one forward of ``tiles`` as the engine feeds it, MACs of that forward).

    The MACs are those of the reference computation (fast paths off while counting), the convention of
    ``bench_models.py``: a cheaper way to compute the same function shows as a higher rate."""
    from deeplight.infer.devices import inference_context
    from deeplight.infer.engine import model_batch, uses_channels_last
    from deeplight.models.macs import count_macs

    batch = model_batch(tiles, device, channels_last=uses_channels_last(model))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with inference_context(device):
        model(batch)
        best = float("inf")
        for _ in range(repeats):
            sync()
            start = time.perf_counter()
            model(batch)
            sync()
            best = min(best, time.perf_counter() - start)
    fast = getattr(model, "fast", None)
    if fast is not None:
        model.set_fast_inference(False)
    try:
        macs = float(count_macs(model, batch))
    finally:
        if fast is not None:
            model.set_fast_inference(fast)
    return best, macs


def bench_e2e(model, rows: list[dict], work: Path, args: argparse.Namespace, device: torch.device) -> None:
    """GEMM rate, model-only rate (with and without aux) and end-to-end rate, at each thread count."""
    from deeplight.infer import predict_raster
    from deeplight.infer.engine import TileBatch, prepare_model
    from deeplight.infer.tiling import recomputed_share

    side, tile = args.e2e_lr, args.tile
    write_lr(work / "lr_e2e.tif", side, side)
    aux_paths = write_aux(work, side, side)
    # the model-only tile: the same content the end-to-end run reads (its first tile)
    with rasterio.open(work / "lr_e2e.tif") as ds:
        lr = ds.read(1)[:tile, :tile]
    with rasterio.open(aux_paths["dmo"]) as a, rasterio.open(aux_paths["dem"]) as b:
        dmo, dem = a.read()[:, : 8 * tile, : 8 * tile], b.read(1)[: 8 * tile, : 8 * tile]
    tiles = {True: TileBatch(lr[None], dmo[None], dem[None]), False: TileBatch(lr[None])}
    prepared = prepare_model(model, device)
    hr_tile = (8 * tile) ** 2 / 1e6
    hr_total = (8 * side) ** 2 / 1e6
    thread_counts = sorted({1, args.threads}) if device.type == "cpu" else [torch.get_num_threads()]
    if args.e2e_threads:
        thread_counts = sorted(set(args.e2e_threads))
    for threads in thread_counts:
        torch.set_num_threads(threads)
        gemm = gemm_gflops(device)
        rows.append(dict(
            measure=f"fp32 GEMM rate, {threads} thread(s)", value=round(gemm, 1), unit="GFLOP/s",
            setting=f"torch.mm of two {2048 if device.type == 'cpu' else 8192}^2 float32 matrices, "
            "best of 5, same run", seconds="",
        ))
        for with_aux in (True, False):
            label = "dmo+dem" if with_aux else "no aux"
            seconds, macs = model_only(prepared, tiles[with_aux], device)
            rate = hr_tile / seconds
            pct = 100 * 2 * macs / seconds / 1e9 / gemm
            rows.append(dict(
                measure=f"model only, {label}, {threads} thread(s)", value=round(rate, 3), unit="HR MP/s",
                setting=f"one LR {tile}x{tile} tile ({hr_tile:.2f} HR MP), forward {seconds:.3f} s, "
                f"{macs / (8 * tile) ** 2:,.0f} MACs/HR px, {pct:.1f}% of the fp32 GEMM rate",
                seconds=round(seconds, 3),
            ))
            start, cpu_start = time.perf_counter(), process_cpu_seconds()
            result = predict_raster(
                work / "lr_e2e.tif", work / f"sr_e2e_{threads}_{int(with_aux)}.tif", model=prepared,
                aux_paths=aux_paths if with_aux else None, tile=tile, overlap=args.overlap, device=device,
                cache=None,
            )
            e2e_s, cpu_s = time.perf_counter() - start, process_cpu_seconds() - cpu_start
            e2e = hr_total / e2e_s
            stages = getattr(result, "seconds", {}) or {}
            # read overlaps (prefetch thread); read_wait is inside model (the loop waits in the executor)
            other = e2e_s - sum(v for k, v in stages.items() if k not in ("read", "read_wait"))
            breakdown = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(stages.items()))
            share = recomputed_share(side, side, tile, args.overlap)
            rows.append(dict(
                measure=f"end to end, {label}, {threads} thread(s)", value=round(e2e, 3), unit="HR MP/s",
                setting=f"predict_raster LR {side}x{side} GeoTIFF -> HR {8 * side}x{8 * side} COG, "
                f"tile {tile}, overlap {args.overlap}, {result.tiles} tiles computing {share:.2f}x the "
                f"pixels, {e2e_s:.1f} s; {e2e / rate:.2f}x the model-only rate (reads, overlap recomputed, "
                f"blending, COG writing); stages: {breakdown or 'n/a'} (prepare: opening and checking the inputs, "
                f"hashing, calibration; read: in the prefetch thread, overlapping the model); in no stage: "
                f"{other:.1f} s",
                seconds=round(e2e_s, 1),
            ))
            if stages.get("model"):
                rows.append(dict(
                    measure=f"end to end, {label}, {threads} thread(s): time in the model",
                    value=round(stages["model"] / e2e_s, 3), unit="share of wall time",
                    setting=f"model {stages['model']:.1f} s of {e2e_s:.1f} s; the model inside the loop ran at "
                    f"{hr_total * share / stages['model']:.3f} HR MP/s of computed pixels (model only: "
                    f"{rate:.3f}); ceiling of the end-to-end / model-only ratio with this layout: "
                    f"1 / {share:.2f} = {1 / share:.2f}",
                    seconds=round(stages["model"], 1),
                ))
            if device.type == "cpu":
                rows.append(core_seconds_row(
                    label, threads, cpu_s, e2e_s, result.computed, seconds, hr_total / rate))
    torch.set_num_threads(args.threads)


def process_cpu_seconds() -> float:
    """CPU time of this process, every thread (user + system, GDAL's and OpenMP's threads included)."""
    times = os.times()
    return times.user + times.system


def usable_cores() -> int:
    """Cores this process may run on (its affinity where the OS tells it, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def core_seconds_row(label: str, threads: int, cpu_s: float, wall_s: float, computed: int, forward_s: float,
                     model_only_s: float) -> dict:
    """The CPU-time budget of an end-to-end run: what the model's own work costs in core-seconds at the
    model-only rate, what everything else costs, and the best wall time (and end-to-end / model-only
    ratio) that budget allows with every core busy all the time."""
    cores = usable_cores()
    model_core_s = computed * forward_s * threads
    floor_s = cpu_s / cores
    return dict(
        measure=f"end to end, {label}, {threads} thread(s): CPU time", value=round(cpu_s, 1),
        unit="core-seconds",
        setting=f"{cpu_s:.1f} core-s in {wall_s:.1f} s ({cpu_s / wall_s:.2f} of {cores} cores busy on "
        f"average); the model's own work at the model-only rate: {model_core_s:.1f} core-s ({computed} "
        f"tiles x {forward_s:.3f} s x {threads} thread(s)); everything else (reading and decoding, checks, "
        f"hashing, blending, COG compression and read-back): {cpu_s - model_core_s:.1f} core-s. With all "
        f"{cores} cores busy the whole time this work takes at least {floor_s:.1f} s: at most "
        f"{model_only_s / floor_s:.2f}x the model-only rate",
        seconds=round(cpu_s, 1),
    )


def bench_inflight(
    model, rows: list[dict], args: argparse.Namespace, count: int = 4, repeats: int = 3
) -> None:
    """Two threads per tile vs one thread per tile with two tiles in flight, on the same tiles."""
    from concurrent.futures import ThreadPoolExecutor

    from deeplight.infer.engine import TileBatch, prepare_model, run_tile_batch

    cpu = torch.device("cpu")
    prepared = prepare_model(model, cpu)
    tile = args.tile
    for with_aux in (False, True):
        lr, aux = synthetic_inputs(tile, tile, seed=3)
        lr = np.clip(lr / 2, 0, 63)  # a dimmer scene: mostly unsaturated cells
        batches = [
            TileBatch(np.roll(lr, 7 * i, axis=1)[None], aux["dmo"][None] if with_aux else None,
                      aux["dem"][None] if with_aux else None)
            for i in range(count)
        ]
        times: dict[str, list[float]] = {"two threads per tile": [], "one thread per tile, two in flight": []}
        outputs = {}
        for rnd in range(repeats + 1):  # round 0 warms both up
            torch.set_num_threads(2)
            start = time.perf_counter()
            outputs["seq"] = [run_tile_batch(prepared, b, cpu).radiance for b in batches]
            if rnd:
                times["two threads per tile"].append(time.perf_counter() - start)
            torch.set_num_threads(1)
            with ThreadPoolExecutor(2) as pool:
                start = time.perf_counter()
                done = pool.map(lambda b: run_tile_batch(prepared, b, cpu), batches)
                outputs["par"] = [o.radiance for o in done]
                if rnd:
                    times["one thread per tile, two in flight"].append(time.perf_counter() - start)
        same = all(np.allclose(a, b, rtol=1e-4, atol=1e-3) for a, b in zip(outputs["seq"], outputs["par"]))
        hr_mp = count * (8 * tile) ** 2 / 1e6
        label = "dmo+dem" if with_aux else "no aux"
        for what, values in times.items():
            rows.append(dict(
                measure=f"{what}, {label}", value=round(hr_mp / min(values), 3), unit="HR MP/s",
                setting=f"{count} LR {tile}x{tile} tiles through the engine (run_tile_batch), best of "
                f"{repeats} rounds ({min(values):.2f} s, median {sorted(values)[len(values) // 2]:.2f} s); "
                f"outputs agree: {same}",
                seconds=round(min(values), 2),
            ))
    torch.set_num_threads(args.threads)


AUX_ENCODINGS = {
    "DEFLATE (no predictor; the e2e inputs)": dict(compress="deflate"),
    "DEFLATE, floating-point predictor": dict(compress="deflate", predictor=3),
    "ZSTD level 1, floating-point predictor": dict(compress="zstd", zstd_level=1, predictor=3),
    "uncompressed": dict(compress=None),
}
"""GeoTIFF encodings of the DMO / DEM layers timed by the ``auxread`` part."""


def bench_auxread(rows: list[dict], work: Path, side: int = 256, tile: int = 128, overlap: int = 16) -> None:
    """Reading the tiles' DMO + DEM (the run's ``read`` stage) for each :data:`AUX_ENCODINGS`: the same
    pixels and the same work per tile as :meth:`deeplight.infer.raster_source.RasterSource.read` on a
    layer on the HR grid (``read_dataset_window``, then ``check_value_range``); only the files'
    encoding differs. Each round opens the files afresh: GDAL's block cache belongs to the open
    dataset, and the source's up-front value scan would otherwise leave a small file's blocks decoded."""
    from rasterio.windows import Window

    from deeplight.infer.tiling import plan_tiles
    from deeplight.io.raster import read_dataset_window
    from deeplight.io.value_ranges import check_value_range

    plain = write_aux(work, side, side)
    tiles = plan_tiles(side, side, tile, overlap)
    hr_mp = sum((8 * t.height) * (8 * t.width) for t in tiles) / 1e6
    for encoding, options in AUX_ENCODINGS.items():
        paths = {}
        for name, path in plain.items():
            paths[name] = work / f"{name}_{options.get('compress')}_{options.get('predictor')}.tif"
            with rasterio.open(path) as src:
                profile = {**src.profile, **options}
                with rasterio.open(paths[name], "w", **profile) as dst:
                    dst.write(src.read())
        size = sum(p.stat().st_size for p in paths.values()) / 1e6
        best = float("inf")
        for _ in range(3):
            datasets = {name: rasterio.open(path) for name, path in paths.items()}
            try:
                start = time.perf_counter()
                for t in tiles:
                    window = Window(8 * t.col, 8 * t.row, 8 * t.width, 8 * t.height)
                    for name, ds in datasets.items():
                        check_value_range(name, read_dataset_window(ds, window), str(paths[name]))
                best = min(best, time.perf_counter() - start)
            finally:
                for ds in datasets.values():
                    ds.close()
        rows.append(dict(
            measure=f"aux read, DMO + DEM as {encoding}", value=round(1000 * best / len(tiles), 1),
            unit="ms per tile",
            setting=f"{len(tiles)} tiles of LR {tiles[0].height}x{tiles[0].width} (8 HR bands, {hr_mp:.1f} "
            f"HR MP in all) read and range-checked, best of 3: {best:.2f} s, {hr_mp / best:.1f} HR MP/s; "
            f"files {size:.0f} MB",
            seconds=round(best, 2),
        ))
        for path in paths.values():
            path.unlink()


COTE_DIVOIRE_LR = REPO.parent / "shared" / "data" / "cote_divoire" / "ntl.tif"
"""The national VIIRS radiance raster of the shared data (1361 x 1420 LR, NaN outside the country)."""


def cote_divoire_input(work: Path, crop: int | None) -> Path:
    """The Cote d'Ivoire LR, or a fixed ``crop x crop`` window of it (top-left at the raster's centre
    minus half the crop, so it holds Abidjan's latitude band and the country's interior), as a GeoTIFF."""
    if not crop:
        return COTE_DIVOIRE_LR
    from rasterio.windows import Window

    out = work / f"cote_divoire_crop{crop}.tif"
    with rasterio.open(COTE_DIVOIRE_LR) as src:
        row, col = max(0, (src.height - crop) // 2), max(0, (src.width - crop) // 2)
        window = Window(col, row, min(crop, src.width), min(crop, src.height))
        profile = src.profile | {
            "width": int(window.width), "height": int(window.height),
            "transform": src.window_transform(window), "driver": "GTiff",
        }
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(src.read(window=window))
    return out


def bench_cote_divoire(rows: list[dict], work: Path, args: argparse.Namespace) -> None:
    """Wall time of ``deeplight predict`` on the Cote d'Ivoire LR (shipped checkpoint, no aux), this tree
    vs ``--before-tree`` (a ``git archive`` copy of an older commit), alternated, at equal ``nice``.

    Each run is a fresh process (``python -m deeplight.cli predict`` with the tree as working
    directory, so that tree's ``deeplight`` package is imported), with ``--no-cache --quiet``, the
    same checkpoint file, ``--lr-units radiance`` and ``--threads``; the output COG goes to the
    temporary folder and is deleted.
    """
    if not COTE_DIVOIRE_LR.exists():
        print(f"  cote: {COTE_DIVOIRE_LR} not found; part skipped", file=sys.stderr)
        return
    lr = cote_divoire_input(work, args.cote_crop)
    with rasterio.open(lr) as src:
        lr_shape = (src.height, src.width)
    hr_mp = 64 * lr_shape[0] * lr_shape[1] / 1e6
    now = Path(args.after_tree).resolve() if args.after_tree else REPO
    now_label = f"now ({args.after_label})" if args.after_label else "now"
    trees = {now_label: now}
    if args.before_tree:
        trees = {f"before ({args.before_label})": Path(args.before_tree).resolve(), now_label: now}
    times: dict[str, list[tuple[float, float, float]]] = {k: [] for k in trees}
    for _ in range(args.cote_repeats):
        for label, tree in trees.items():
            out = work / f"cote_{len(times[label])}_{label.split()[0]}.tif"
            cmd = ["nice", "-n", str(args.cote_nice), sys.executable, "-m", "deeplight.cli", "predict", str(lr),
                   "--checkpoint", str(DEMO_CHECKPOINT), "--out", str(out), "--lr-units", "radiance",
                   "--no-cache", "--quiet", "--threads", str(args.threads)]
            env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
            env["PYTHONPATH"] = str(tree)
            load = os.getloadavg()[0]
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                raise RuntimeError(f"deeplight predict in {tree} failed:\n{proc.stderr[-3000:]}")
            times[label].append((wall, load, os.getloadavg()[0]))
            out.unlink(missing_ok=True)
            print(f"  cote {label}: {wall:.1f} s (load {load:.1f} -> {os.getloadavg()[0]:.1f})", file=sys.stderr)
    what = "the whole LR" if not args.cote_crop else f"a fixed {lr_shape[0]}x{lr_shape[1]} LR crop (centre)"
    best = {}
    for label, values in times.items():
        wall, load_before, load_after = min(values)
        best[label] = wall
        rows.append(dict(
            measure=f"deeplight predict, Cote d'Ivoire LR {lr_shape[0]}x{lr_shape[1]} -> HR, no aux, {label}",
            value=round(wall, 1), unit="s",
            setting=f"{what}, shipped checkpoint, --lr-units radiance --no-cache --threads {args.threads}, "
            f"nice {args.cote_nice}; best of {len(values)} alternated runs ({', '.join(f'{v[0]:.1f}' for v in values)} s; "
            f"load {load_before:.1f} -> {load_after:.1f} for the best); {hr_mp / wall:.2f} HR MP/s",
            seconds=round(wall, 1),
        ))
    if len(best) == 2:
        before, now = best[next(iter(best))], best[now_label]
        rows.append(dict(
            measure="deeplight predict, Cote d'Ivoire LR, speed-up now vs before", value=round(before / now, 2),
            unit="x", setting=f"before / now wall time of the rows above (target of issue 14: >= 2x)", seconds="",
        ))


FIELDS = [
    "part", "measure", "value", "unit", "setting", "model", "machine", "run_utc", "load_1min", "seconds",
]
PARTS = ("e2e", "auxread", "inflight", "throughput", "seams", "cache", "memory", "dask", "cote")


def results_stem(device: torch.device) -> str:
    return "infer" if device.type == "cpu" else "infer_cuda"


def read_previous_rows(stem: str = "infer") -> list[dict]:
    """Rows of an earlier run (kept for the parts not re-run now)."""
    path = RESULTS / f"{stem}.csv"
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    return [row for row in csv.DictReader(lines) if row.get("part") in PARTS]


def write_tables(rows: list[dict], header: list[str], stem: str = "infer") -> str:
    """Write ``<stem>.csv`` and ``<stem>.md`` (rows ordered by part) and return the Markdown."""
    rows = sorted(rows, key=lambda r: PARTS.index(r["part"]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{stem}.csv", "w", newline="", encoding="utf-8") as fh:
        fh.write("".join(f"# {line}\n" for line in header))
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# Inference benchmark (`benchmarks/bench_infer.py`)", ""]
    lines += [f"- {line}" for line in header]
    lines += [
        "",
        "| measure | value | unit | setting | model | machine | run (UTC) | load |",
        "|---|---:|---|---|---|---|---|---:|",
    ]
    lines += [
        f"| {r['measure']} | {r['value']} | {r['unit']} | {r['setting']} | {r['model']} "
        f"| {r.get('machine') or 'not recorded'} | {r['run_utc']} | {r['load_1min']} |"
        for r in rows
    ]
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{stem}.md").write_text(text, encoding="utf-8")
    return text


CUDA_PARTS = ("e2e",)
"""Parts that run on a GPU with ``--device cuda`` (the others measure CPU-side behaviour)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--e2e-lr", type=int, default=256, help="LR side of the end-to-end run (default 256)")
    parser.add_argument("--e2e-threads", type=int, action="append",
                        help="thread counts of the e2e part (repeatable; default 1 and --threads)")
    parser.add_argument("--device", default="cpu", help="cpu (every part) or cuda[:N] (the e2e part)")
    parser.add_argument(
        "--big-model", default="bicubic", help="model for the 2048x2048 run (bicubic or demo)"
    )
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument(
        "--only", choices=PARTS, action="append", help="re-run these parts, keep the others' rows"
    )
    parser.add_argument("--before-tree", help="cote part: a `git archive` copy of an older commit to time too")
    parser.add_argument("--before-label", default="before", help="cote part: how to name that tree (a commit)")
    parser.add_argument("--after-tree", help="cote part: the tree timed as 'now' (default this one; e.g. a "
                        "`git archive HEAD` copy, so colleagues' uncommitted edits are not timed)")
    parser.add_argument("--after-label", default="", help="cote part: how to name that tree (a commit)")
    parser.add_argument("--cote-crop", type=int, default=None, help="cote part: a centred LR crop of this side")
    parser.add_argument("--cote-repeats", type=int, default=1, help="cote part: alternated runs per tree")
    parser.add_argument("--cote-nice", type=int, default=10, help="cote part: nice level of every run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-model", help=argparse.SUPPRESS)
    parser.add_argument("--child-lr", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_big(args)
        return 0
    from deeplight.errors import ConfigError
    from deeplight.infer.devices import resolve_device

    try:
        device = resolve_device(args.device)
    except ConfigError as exc:
        print(f"bench_infer: error: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    omp_env = os.environ.get("OMP_NUM_THREADS", "unset")  # before a Dask cluster changes it
    model, description = load_model("demo")
    parts = args.only or [p for p in PARTS if p != "cote"]  # the real-data timing runs only when asked
    if device.type != "cpu":
        unsupported = [p for p in parts if p not in CUDA_PARTS]
        if args.only and unsupported:
            print(f"bench_infer: error: --device {args.device} runs only {', '.join(CUDA_PARTS)} "
                  f"(not {', '.join(unsupported)})", file=sys.stderr)
            return 2
        parts = [p for p in parts if p in CUDA_PARTS]
    stem = results_stem(device)
    rows = [row for row in read_previous_rows(stem) if row["part"] not in parts]
    benches = {
        "e2e": lambda out: bench_e2e(model, out, work, args, device),
        "auxread": lambda out: bench_auxread(out, work),
        "inflight": lambda out: bench_inflight(model, out, args),
        "throughput": lambda out: bench_throughput(model, out, args.tile, args.overlap, args.threads),
        "seams": lambda out: bench_seams(model, out, work, args.tile, args.overlap),
        "cache": lambda out: bench_cache(model, out, work, args.tile, args.overlap),
        "memory": lambda out: bench_memory(out, work, args),
        "dask": lambda out: bench_dask(model, out, work, args),
        "cote": lambda out: bench_cote_divoire(out, work, args),
    }
    work = Path(tempfile.mkdtemp(prefix="bench_infer_"))
    try:
        for part in parts:
            new_rows: list[dict] = []
            print(f"  part {part} ...", file=sys.stderr)
            benches[part](new_rows)
            stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
            for row in new_rows:
                row.setdefault("model", description)
                row.setdefault("machine", machine_label(device))
                row.update(part=part, run_utc=stamp, load_1min=f"{os.getloadavg()[0]:.1f}")
            rows += new_rows
    finally:
        shutil.rmtree(work, ignore_errors=True)
    header = [
        f"machine: {machine_line(args.threads, device)}; the `load` column is the 1-minute load average at "
        "the end of each part (other engineers' jobs share the 2 cores, so times vary with it)",
        "inputs: synthetic DMSP-like DN rasters, simulated (made by code); the `cote` rows: the real Cote "
        "d'Ivoire VIIRS radiance raster of the shared data (`cote_divoire/ntl.tif`)",
        f"OMP_NUM_THREADS={omp_env}",
    ]
    print(write_tables(rows, header, stem))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
