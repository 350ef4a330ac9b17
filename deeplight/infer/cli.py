"""``deeplight predict`` (tiled, cached, distributed super-resolution) and ``deeplight cache``.

``deeplight predict LR.tif --out sr.tif`` reconstructs a file; ``deeplight predict --dataset ID
[--year Y | --month YYYY-MM] --out sr.tif`` reconstructs a data set of the catalogue (``deeplight data
list``) on its HR grid (:func:`deeplight.infer.raster.predict_scene`), which ``deeplight sdg --dataset ID
--sr sr.tif`` then reads::

    deeplight predict --dataset demo --checkpoint data/checkpoints/deeplightsr_demo.safetensors --out sr.tif
    deeplight sdg --dataset demo --sr sr.tif --out indicators.csv
"""

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
        "predict", help="super-resolve an LR night-light GeoTIFF (or a data set) into an 8x finer COG",
        description="Reconstruct 8x finer night-time lights from an LR GeoTIFF (DMSP-like DN, or radiance "
                    "with --lr-units radiance), tiled and streamed to a COG; optional aux layers in any CRS. "
                    "Or, with --dataset ID, the LR (and DMO / DEM) of a data set of `deeplight data list`, "
                    "written on its HR grid for `deeplight sdg --dataset ID --sr`.",
    )
    predict.add_argument("lr", type=Path, nargs="?", help="LR raster (single band, with CRS); or give --dataset")
    predict.add_argument("--dataset", help="a data set of `deeplight data list` instead of an LR file")
    predict.add_argument("--year", type=int, help="with --dataset: the year of an annual set (default: its latest)")
    predict.add_argument("--month", help="with --dataset: the YYYY-MM month of a monthly set (default: its latest)")
    predict.add_argument("--data-dir", type=Path, default=None,
                         help="with --dataset: the real sets' folder (default: $DEEPLIGHT_DATA_DIR)")
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
    predict.add_argument("--lr-units", choices=("dn", "radiance"), default=None,
                         help="units of the LR raster (default dn; radiance: mapped by the nominal DMSP-like "
                              "response); a --dataset knows its own")
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
    """``(model, model_id)`` of ``--model`` (None, None with ``--checkpoint``).

    A weight-free baseline without ``--model-kwargs`` is identified by its registry name, as the
    dashboard identifies it (``app.reconstruction.load_model``), so both share cache entries; a model
    with (random) weights by a hash of them.
    """
    if args.model is None:
        return None, None
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
    if sum(p.numel() for p in model.parameters() if p.requires_grad) == 0:  # a baseline: nothing to train
        model.registry_name = args.model
        return model, (args.model if not kwargs else None)
    model.registry_name = f"{args.model} (random weights)"
    print(f"warning: model {args.model!r} has random weights (no --checkpoint): the output is not a "
          "reconstruction", file=sys.stderr)
    return model, None


def _check_outputs(args: argparse.Namespace, scene=None) -> None:
    """The SR (and its uncertainty layer) may replace no input: LR, aux layers (or the data set's files),
    checkpoint + sidecar."""
    from deeplight.infer.raster import uncertainty_path_for
    from deeplight.utils_io import check_outputs_distinct

    inputs = {
        "the LR input": (args.lr, "file") if args.lr else None,
        "--dmo": args.dmo,
        "--dem": args.dem,
        "--checkpoint": (args.checkpoint, "checkpoint") if args.checkpoint else None,
    }
    if scene is not None:
        inputs.update({f"the {name} file of data set {args.dataset}": (path, "file")
                       for name, path in scene.sources.items() if Path(path).is_file()})
    outputs = {
        "--out": (args.out, "file"),
        "the uncertainty output of --self-ensemble": (uncertainty_path_for(args.out), "file") if args.self_ensemble else None,
    }
    check_outputs_distinct(inputs, outputs)


def _cluster_worth_it(args: argparse.Namespace, lr_shape: tuple[int, int] | None = None) -> bool:
    """The work-size rule for ``--workers`` (:func:`deeplight.infer.distributed.local_cluster_worth_it`);
    says on stderr when the raster runs in this process instead."""
    from deeplight.infer.distributed import DASK_MIN_TILES_PER_WORKER, local_cluster_worth_it
    from deeplight.infer.tiling import plan_tiles
    from deeplight.io.raster import raster_grid

    if args.workers is None or args.workers < 1:
        return True  # start_client reports the bad value
    if lr_shape is None:
        grid = raster_grid(args.lr)
        lr_shape = (grid["height"], grid["width"])
    tiles = len(plan_tiles(*lr_shape, args.tile, args.overlap))
    if local_cluster_worth_it(tiles, args.workers):
        return True
    print(f"note: {tiles} tile(s) for {args.workers} worker(s) (fewer than {DASK_MIN_TILES_PER_WORKER} a "
          "worker): running in this process, which is faster than starting a cluster "
          "(--always-distribute starts it anyway)", file=sys.stderr)
    return False


def _dataset_scene(args: argparse.Namespace):
    """The Scene of ``--dataset`` (``deeplight.catalog.load_scene_for``), its time step checked."""
    from deeplight.catalog import default_data_dir, load_scene_for, parse_month

    given = [flag for flag, value in (("the LR file", args.lr), ("--dmo", args.dmo), ("--dem", args.dem),
                                      ("--lr-units", args.lr_units)) if value is not None]
    if given:
        raise ConfigError(f"--dataset brings its own LR, auxiliary layers and units: leave out {', '.join(given)} "
                          "(or give the LR file without --dataset)")
    if args.year is not None and args.month is not None:
        raise ConfigError("give --year or --month, not both")
    month = None
    if args.month is not None:
        month = parse_month(args.month)
        if month is None:
            raise ConfigError(f"--month {args.month!r} is not a YYYY-MM month")
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    scene = load_scene_for(args.dataset, month or args.year, data_dir=data_dir)
    if args.year is not None and (scene.month is not None or scene.year != args.year):
        what = "is monthly: give --month YYYY-MM instead of --year" if scene.month else f"has no year {args.year}"
        raise ConfigError(f"data set {args.dataset!r} {what}; `deeplight data list` shows its times")
    if month is not None and scene.month != month:
        raise ConfigError(f"data set {args.dataset!r} has no month {month}; `deeplight data list` shows its times")
    return scene


def _predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from deeplight.infer.cache import TileCache
    from deeplight.infer.devices import configure_runtime
    from deeplight.infer.distributed import close_client, start_client
    from deeplight.infer.raster import predict_raster, predict_scene, scene_input_files
    from deeplight.runtime import bound_gdal_cache

    bound_gdal_cache()  # before any raster is read: GDAL sizes its cache once
    if args.lr is not None and args.dataset is not None:
        raise ConfigError("give an LR raster or --dataset ID, not both")
    if args.lr is None and args.dataset is None:
        raise ConfigError("give an LR raster, or --dataset ID for a data set of `deeplight data list`")
    if args.dataset is None:
        flags = [f for f, v in (("--year", args.year), ("--month", args.month), ("--data-dir", args.data_dir))
                 if v is not None]
        if flags:
            raise ConfigError(f"{' and '.join(flags)} only go with --dataset ID (a data set of `deeplight data list`)")
    scene = _dataset_scene(args) if args.dataset is not None else None
    _check_outputs(args, scene)
    configure_runtime(args.threads)
    model, model_id = _model_from_args(args)
    cache = None if args.no_cache else TileCache(args.cache_dir)
    aux = {"dmo": args.dmo, "dem": args.dem}
    bar = None if args.quiet else tqdm(total=None, unit="tile", desc="predict", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    client = None
    if scene is not None and scene_input_files(scene) is None and (args.workers or args.scheduler):
        print(f"note: the LR of {scene.title} is simulated in memory when the data set is opened: running in "
              "this process, not on Dask workers", file=sys.stderr)
        args.workers = args.scheduler = None
    lr_shape = scene.lr.shape if scene is not None else None
    if args.workers is not None and not args.always_distribute and not _cluster_worth_it(args, lr_shape):
        args.workers = None
    if args.workers is not None or args.scheduler is not None:
        client = start_client(workers=args.workers, scheduler=args.scheduler)
    start = time.perf_counter()
    common = dict(checkpoint=args.checkpoint, model=model, model_id=model_id, tile=args.tile, overlap=args.overlap,
                  batch_size=args.batch_size, device=args.device, self_ensemble=args.self_ensemble, cache=cache,
                  progress=progress, client=client)
    try:
        if scene is not None:
            result = predict_scene(scene, args.out, **common)
        else:
            result = predict_raster(args.lr, args.out, aux_paths=aux, lr_units=args.lr_units or "dn", **common)
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            close_client(client)
    seconds = time.perf_counter() - start
    void = f", {result.void} without LR data (not computed)" if result.void else ""
    print(f"wrote {result.path} ({result.tiles} tiles: {result.computed} computed, "
          f"{result.cached} from cache{void}; {seconds:.1f} s)")
    if result.uncertainty_path is not None:
        print(f"wrote {result.uncertainty_path} (per-pixel std of the x8 self-ensemble, nW/cm2/sr)")
    if tag_is_true(result.tags):
        print("note: the LR input is simulated (made by the degradation model); "
              "the output is tagged simulated")
    if scene is not None:
        when = f" --month {scene.month}" if scene.month else (f" --year {scene.year}" if scene.year else "")
        print(f"{scene.title}: the SR lies on the data set's HR grid; its indicators: deeplight sdg --dataset "
              f"{args.dataset}{when} --sr {result.path} --out indicators.csv")
    return 0
