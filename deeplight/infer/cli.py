"""``deeplight predict`` (tiled, cached, distributed super-resolution) and ``deeplight cache``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from deeplight.contracts import tag_is_true
from deeplight.errors import ConfigError

CACHE_DIR_HELP = "cache folder (default $DEEPLIGHT_CACHE_DIR, else $DEEPLIGHT_HOME/cache)"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict`` and ``cache`` to the ``deeplight`` parser."""
    predict = subparsers.add_parser(
        "predict", help="super-resolve an LR night-light GeoTIFF into an 8x finer COG",
        description="Reconstruct 8x finer night-time lights from an LR GeoTIFF (DMSP-like DN, or radiance "
                    "with --lr-units radiance), tiled and streamed to a COG; optional aux layers in any CRS.",
    )
    predict.add_argument("lr", type=Path, help="LR raster (single band, with CRS)")
    predict.add_argument("--out", type=Path, required=True, help="output COG (radiance nW/cm2/sr)")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="checkpoint .safetensors (with its .json beside it)")
    source.add_argument("--model", help="registry model name with random weights (for testing only)")
    predict.add_argument("--model-kwargs", default="{}", help="JSON constructor arguments for --model")
    predict.add_argument("--dmo", type=Path, help="daytime multispectral raster, 7 bands, reflectance 0..1")
    predict.add_argument("--dem", type=Path, help="elevation raster in metres")
    predict.add_argument("--tile", type=int, default=128, help="tile size in LR pixels (default 128)")
    predict.add_argument("--overlap", type=int, default=16, help="tile overlap in LR pixels (default 16)")
    predict.add_argument("--batch-size", type=int, default=None,
                         help="tiles per model call (default: per device)")
    predict.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    predict.add_argument("--threads", type=int, default=None, help="CPU threads (default: cores / workers)")
    predict.add_argument("--self-ensemble", action="store_true",
                         help="x8 flips/rotations: mean as output, std written as <out>_uncertainty.tif")
    predict.add_argument("--lr-units", choices=("dn", "radiance"), default="dn",
                         help="units of the LR raster (radiance: mapped by the nominal DMSP-like response)")
    predict.add_argument("--no-cache", action="store_true", help="do not read or write the tile cache")
    predict.add_argument("--cache-dir", type=Path, default=None, help=CACHE_DIR_HELP)
    dist = predict.add_mutually_exclusive_group()
    dist.add_argument("--workers", type=int, default=None,
                      help="run tiles on a local Dask cluster of N processes when the raster has at least "
                           "8 tiles per worker (a smaller one runs in this process: starting the cluster "
                           "would cost more than it saves)")
    dist.add_argument("--scheduler", default=None,
                      help="run tiles on an existing Dask scheduler (tcp://host:8786)")
    predict.add_argument("--always-distribute", action="store_true",
                         help="with --workers: start the cluster whatever the raster's size")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=_predict)

    cache = subparsers.add_parser("cache", help="inspect or clear the prediction cache")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    for name, helptext, func in (("info", "entries and size of the cache", _cache_info),
                                 ("clear", "delete every cache entry (only in a folder the cache created)", _cache_clear)):
        sub = cache_sub.add_parser(name, help=helptext)
        sub.add_argument("--cache-dir", type=Path, default=None, help=CACHE_DIR_HELP)
        sub.set_defaults(func=func)


def _cache(args: argparse.Namespace):
    from deeplight.infer.cache import TileCache

    return TileCache(args.cache_dir)


def _cache_info(args: argparse.Namespace) -> int:
    cache = _cache(args)
    print(cache.info().describe())
    if cache.root.exists() and not cache.is_marked():
        print(f"note: {cache.root} is not marked as a DeepLight cache folder: `deeplight cache clear` "
              "deletes nothing there")
    return 0


def _cache_clear(args: argparse.Namespace) -> int:
    cache = _cache(args)
    if not cache.root.exists():
        print(f"nothing to clear: {cache.root} does not exist")
        return 0
    removed = cache.clear()  # raises NotACacheFolderError (exit 2, nothing deleted) on an unmarked folder
    print(f"removed {removed} entries from {cache.root}")
    return 0


def _model_from_args(args: argparse.Namespace):
    if args.model is None:
        return None
    import torch

    from deeplight.models.registry import get_model

    try:
        kwargs = json.loads(args.model_kwargs)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"--model-kwargs is not valid JSON ({exc}): e.g. '{{\"preset\": \"demo\"}}'"
        ) from exc
    if not isinstance(kwargs, dict):
        raise ConfigError("--model-kwargs must be a JSON object, e.g. '{\"preset\": \"demo\"}'")
    torch.manual_seed(0)
    model = get_model(args.model, **kwargs)
    model.registry_name = f"{args.model} (random weights)"
    print(f"warning: model {args.model!r} has random weights (no --checkpoint): the output is not a "
          "reconstruction", file=sys.stderr)
    return model


def _check_outputs(args: argparse.Namespace) -> None:
    """The SR (and its uncertainty layer) may replace no input: LR, aux layers, checkpoint + sidecar."""
    from deeplight.infer.raster import uncertainty_path_for
    from deeplight.utils_io import check_outputs_distinct

    inputs = {
        "the LR input": (args.lr, "file"),
        "--dmo": args.dmo,
        "--dem": args.dem,
        "--checkpoint": (args.checkpoint, "checkpoint") if args.checkpoint else None,
    }
    outputs = {
        "--out": (args.out, "file"),
        "the uncertainty output of --self-ensemble": (uncertainty_path_for(args.out), "file") if args.self_ensemble else None,
    }
    check_outputs_distinct(inputs, outputs)


def _cluster_worth_it(args: argparse.Namespace) -> bool:
    """The work-size rule for ``--workers`` (:func:`deeplight.infer.distributed.local_cluster_worth_it`);
    says on stderr when the raster runs in this process instead."""
    from deeplight.infer.distributed import DASK_MIN_TILES_PER_WORKER, local_cluster_worth_it
    from deeplight.infer.tiling import plan_tiles
    from deeplight.io.raster import raster_grid

    if args.workers is None or args.workers < 1:
        return True  # start_client reports the bad value
    grid = raster_grid(args.lr)
    tiles = len(plan_tiles(grid["height"], grid["width"], args.tile, args.overlap))
    if local_cluster_worth_it(tiles, args.workers):
        return True
    print(f"note: {tiles} tile(s) for {args.workers} worker(s) (fewer than {DASK_MIN_TILES_PER_WORKER} a "
          "worker): running in this process, which is faster than starting a cluster "
          "(--always-distribute starts it anyway)", file=sys.stderr)
    return False


def _predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from deeplight.infer.cache import TileCache
    from deeplight.infer.devices import configure_runtime
    from deeplight.infer.distributed import close_client, start_client
    from deeplight.infer.raster import predict_raster

    _check_outputs(args)
    configure_runtime(args.threads)
    model = _model_from_args(args)
    cache = None if args.no_cache else TileCache(args.cache_dir)
    aux = {"dmo": args.dmo, "dem": args.dem}
    bar = None if args.quiet else tqdm(total=None, unit="tile", desc="predict", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    client = None
    if args.workers is not None and not args.always_distribute and not _cluster_worth_it(args):
        args.workers = None
    if args.workers is not None or args.scheduler is not None:
        client = start_client(workers=args.workers, scheduler=args.scheduler)
    start = time.perf_counter()
    try:
        result = predict_raster(
            args.lr, args.out, checkpoint=args.checkpoint, model=model, aux_paths=aux, tile=args.tile,
            overlap=args.overlap, batch_size=args.batch_size, device=args.device,
            self_ensemble=args.self_ensemble, cache=cache, progress=progress, lr_units=args.lr_units,
            client=client,
        )
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            close_client(client)
    seconds = time.perf_counter() - start
    print(f"wrote {result.path} ({result.tiles} tiles: {result.computed} computed, "
          f"{result.cached} from cache; {seconds:.1f} s)")
    if result.uncertainty_path is not None:
        print(f"wrote {result.uncertainty_path} (per-pixel std of the x8 self-ensemble, nW/cm2/sr)")
    if tag_is_true(result.tags):
        print("note: the LR input is simulated (made by the degradation model); "
              "the output is tagged simulated")
    return 0
