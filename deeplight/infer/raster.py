"""File-level tiled prediction: :func:`predict_raster` streams an LR GeoTIFF to an 8x finer COG.

Memory is bounded by the tile batch and one band of tile rows, not by the raster. The output goes
through the project's one atomic COG writer (:class:`deeplight.io.cog.StreamingCogWriter`): rows into
a hidden partial GeoTIFF beside the final name, converted to a Cloud-Optimized GeoTIFF (with
overviews), read back against checksums and renamed onto the final name only when complete (an
identical earlier request's files come from the cache through the same check and rename); a lock
beside the output keeps two runs from writing the same file. A killed run leaves only hidden partial
files, which the next run removes; with the tile cache the next run resumes from the tiles already
computed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
import torch

from deeplight import __version__
from deeplight.contracts import SCALE
from deeplight.errors import ConfigError, RasterError
from deeplight.infer.cache import TileCache, cache_key
from deeplight.infer.devices import default_batch_size, precision_key, resolve_device
from deeplight.infer.engine import SCENE_CALIBRATION_SIDE, scene_calibration
from deeplight.infer.executors import LocalExecutor
from deeplight.infer.fingerprint import model_fingerprint
from deeplight.infer.locks import LockTimeout, file_lock
from deeplight.infer.raster_source import RasterSource
from deeplight.infer.tiled import BatchExecutor, ProgressCallback, run_tiled
from deeplight.infer.tiling import check_tiling, plan_tiles
from deeplight.io.cog import STREAM_BLOCK, RASTER_LIB_ERRORS, StreamingCogWriter, hidden_path, write_error

if TYPE_CHECKING:  # geopandas and the scene module load only when a scene is predicted
    from deeplight.io.scene import Scene

LOGGER = logging.getLogger(__name__)
SR_UNITS = "nW/cm2/sr"
READ_THREADS = "ALL_CPUS"
"""GDAL threads decoding the input blocks (``GDAL_NUM_THREADS``, read when a dataset is opened): a
7-band DEFLATE window decoded in 0.09 s instead of 0.17 s here."""


@dataclass
class PredictionOutput:
    """What :func:`predict_raster` wrote.

    Attributes:
        path: the SR COG (float32 radiance, nW/cm2/sr).
        uncertainty_path: the uncertainty COG beside it (self-ensemble only), else None.
        tiles / computed / cached / void: tile counts of the run (``void``: tiles without LR data, not
            computed: their pixels are nodata whatever a model says, ``deeplight.infer.tiled.void_tiles``).
        tags: the tags written on the SR raster.
        from_request_cache: the files were copied from the cache of an identical earlier request.
        seconds: wall time of the stages (``run_tiled``'s ``read``, ``model``, ``blend``, ``write``,
            ``cache``, plus ``prepare``: opening and checking the inputs, hashing, the scene calibration, and
            ``cog``: compression, overviews and read-back); empty on a request-cache hit.
    """

    path: Path
    uncertainty_path: Path | None
    tiles: int
    computed: int
    cached: int
    tags: dict[str, str] = field(default_factory=dict)
    void: int = 0
    from_request_cache: bool = False
    seconds: dict[str, float] = field(default_factory=dict)


def uncertainty_path_for(out_path: str | os.PathLike[str]) -> Path:
    """``sr.tif`` -> ``sr_uncertainty.tif`` (the self-ensemble spread written beside the SR)."""
    out = Path(out_path)
    return out.with_name(f"{out.stem}_uncertainty{out.suffix or '.tif'}")


def _resolve_model(
    checkpoint: str | os.PathLike[str] | None, model: torch.nn.Module | None, device: torch.device,
    model_id: str | None = None,
) -> tuple[torch.nn.Module, dict[str, str]]:
    if (checkpoint is None) == (model is None):
        raise ConfigError("give exactly one of checkpoint= (a .safetensors file) or model= (an nn.Module)")
    if checkpoint is not None:
        from deeplight.models.checkpoint import load_checkpoint

        loaded, meta = load_checkpoint(checkpoint, device=device)
        return loaded, {"model": str(meta["model"]), "checkpoint": Path(checkpoint).name,
                        "checkpoint_sha256": str(meta.get("sha256", "")),
                        "model_id": str(meta.get("sha256") or model_fingerprint(loaded))}
    name = getattr(model, "registry_name", None) or type(model).__name__
    return model, {"model": str(name), "checkpoint": "none",
                   "checkpoint_sha256": "none", "model_id": model_id or model_fingerprint(model)}


def _sr_tags(
    input_name: str, simulated: bool, identity: dict[str, str], inputs: object, *, lr_units: str,
    self_ensemble: bool, tile: int, overlap: int, extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The tags of an SR raster (docs/CONTRACTS.md), the same for a file and a catalogued scene."""
    return {
        "units": SR_UNITS,
        "modality": "sr",
        "simulated": "true" if simulated else "false",
        "provenance": (
            f"DeepLight x{SCALE} super-resolution of {input_name} by model "
            f"{identity['model']} (deeplight {__version__})"
            + ("; LR input is simulated by the degradation model" if simulated else "")
        ),
        "model": identity["model"],
        "checkpoint": identity["checkpoint"],
        "checkpoint_sha256": identity["checkpoint_sha256"],
        "inputs": json.dumps(inputs, sort_keys=True),
        "lr_units": lr_units,
        "self_ensemble": "true" if self_ensemble else "false",
        "tile": str(tile),
        "overlap": str(overlap),
        **dict(extra or {}),
    }


def _calibration_tag(net: torch.nn.Module, scene: np.ndarray | None) -> dict[str, str]:
    """The learned per-scene calibration every tile shared, in physical terms (none without one)."""
    if scene is None:
        return {}
    described = net.calibration.describe(torch.as_tensor(scene)[None])[0]
    return {"scene_calibration": json.dumps({k: round(v, 6) for k, v in described.items()}, sort_keys=True)}


def _check_output(out: Path, inputs: list[Path]) -> None:
    """Refuse an output that replaces an input or cannot be written, without creating anything."""
    from deeplight.utils_io import check_output_path

    for path in inputs:
        if path.resolve() == out.resolve() or path.resolve() == uncertainty_path_for(out).resolve():
            raise RasterError(f"output {out} would overwrite the input {path}: choose another output path")
    try:
        check_output_path(out, "output")
    except ConfigError as exc:
        raise RasterError(f"cannot write the output: {exc}") from None


def _prepare_output(out: Path) -> None:
    folder = out.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RasterError(
            f"cannot create the output folder {folder} ({exc.strerror or exc}): choose a writable folder"
        ) from exc
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise RasterError(f"cannot write to the output folder {folder}: choose a writable folder")


def predict_raster(
    lr_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    model: torch.nn.Module | None = None,
    aux_paths: dict[str, str | os.PathLike[str] | None] | None = None,
    tile: int = 128,
    overlap: int = 16,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    self_ensemble: bool = False,
    cache: TileCache | None = None,
    progress: ProgressCallback | None = None,
    lr_units: str = "dn",
    client: Any | None = None,
    model_id: str | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> PredictionOutput:
    """Super-resolve an LR GeoTIFF into a COG 8x finer, streaming by windows, atomically.

    Args:
        lr_path: single-band LR raster with CRS; DMSP-like DN 0..63 (``lr_units="dn"``) or radiance
            in nW/cm2/sr (``lr_units="radiance"``, e.g. a VIIRS file, mapped by the nominal response).
            Its nodata (or NaN) propagates to the 8x8 HR pixels below it.
        out_path: the SR COG to write (float32 radiance nW/cm2/sr, transform = input's / 8).
        checkpoint: a checkpoint (docs/CONTRACTS.md) - or ``model``, an in-memory nn.Module.
        aux_paths: optional ``{"dmo": 7-band reflectance, "dem": metres}`` in any CRS; missing -> absent.
        tile, overlap: LR pixels (see :mod:`deeplight.infer.tiling` for the exactness rule).
        batch_size: tiles per model call (None: per-device default).
        device: "auto", "cpu", "cuda", "cuda:N", "mps" (for the model on the Dask workers too).
        self_ensemble: x8 self-ensemble; also writes ``<stem>_uncertainty.tif`` (std, nW/cm2/sr).
        cache: optional per-tile cache (also lets a killed run resume).
        progress: ``progress(done, total)`` after every batch of tiles.
        lr_units: "dn" or "radiance".
        client: a ``distributed.Client``: tiles run on its workers (see :mod:`deeplight.infer.distributed`).
        model_id: identity of an in-memory ``model`` for the cache keys (default: a hash of its weights;
            a checkpoint's identity is its SHA-256).
        extra_tags: more tags for the outputs (e.g. the data set a scene came from).

    Returns:
        :class:`PredictionOutput`.

    Raises:
        RasterError: bad inputs (no CRS, aux not overlapping...), an unwritable folder, a full disk, or
            another run writing the same output. ConfigError / CheckpointError: bad settings or checkpoint.
    """
    started = time.perf_counter()
    check_tiling(tile, overlap)
    resolved = resolve_device(device)
    size = batch_size if batch_size is not None else default_batch_size(resolved)
    if size < 1:
        raise ConfigError(f"batch_size must be at least 1 (got {batch_size})")
    out = Path(out_path)
    unc_out = uncertainty_path_for(out) if self_ensemble else None
    with rasterio.Env(GDAL_NUM_THREADS=READ_THREADS), RasterSource(
        lr_path, aux_paths, lr_units=lr_units, cache=cache
    ) as source:
        _check_output(out, [source.lr_path, *source.aux_paths.values()])
        net, identity = _resolve_model(checkpoint, model, resolved, model_id)
        _prepare_output(out)  # the folder is created only once every input has passed its checks
        executor: BatchExecutor
        if client is not None:
            from deeplight.infer.distributed import DaskExecutor

            executor = DaskExecutor(client, net, device=str(device), self_ensemble=self_ensemble)
        else:
            executor = LocalExecutor(net, resolved, self_ensemble)
        scene = scene_calibration(net.to(resolved), source.lr_overview(SCENE_CALIBRATION_SIDE))
        tags = _sr_tags(
            source.lr_path.name, source.simulated, identity, source.describe_inputs(), lr_units=lr_units,
            self_ensemble=self_ensemble, tile=tile, overlap=overlap, extra=extra_tags,
        )
        tags.update(_calibration_tag(net, scene))
        with _output_lock(out):
            return _run_and_write(
                source, executor, out, unc_out, tags, tile=tile, overlap=overlap, batch_size=size,
                self_ensemble=self_ensemble, identity=identity, device_type=resolved.type,
                cache=cache, progress=progress, scene=scene, started=started,
            )


@contextlib.contextmanager
def _output_lock(out: Path) -> Iterator[None]:
    """Hold the lock beside ``out`` (``.<name>.lock``) while writing it; refuse when another run holds it."""
    try:
        with file_lock(hidden_path(out, "lock"), timeout=0):
            try:
                yield
            finally:
                hidden_path(out, "lock").unlink(missing_ok=True)
    except LockTimeout as exc:
        raise RasterError(f"another run is writing {out} right now: wait for it or choose another output") from exc


def _run_and_write(
    source: RasterSource, executor: BatchExecutor, out: Path, unc_out: Path | None, tags: dict[str, str], *,
    tile: int, overlap: int, batch_size: int, self_ensemble: bool, identity: dict[str, str], device_type: str,
    cache: TileCache | None, progress: ProgressCallback | None, scene: np.ndarray | None, started: float,
) -> PredictionOutput:
    """Run the tiles into the COG writer (or copy a cached answer). ``started``: ``time.perf_counter()`` when
    the request began, so the seconds include ``prepare`` (opening and checking the inputs, hashing,
    the scene calibration, the writer's set-up)."""
    targets = [(out, tags)]
    if unc_out is not None:
        unc_tags = dict(tags, modality="sr_uncertainty",
                        provenance=tags["provenance"] + "; per-pixel std of the x8 self-ensemble")
        targets.append((unc_out, unc_tags))
    # the tags hold the input paths and hashes, model, checkpoint hash, units and tiling
    precision = precision_key(torch.device(device_type))
    request = cache_key(kind="predict_raster", model=identity["model_id"], device_type=device_type, tags=tags,
                        **precision)
    names = ["sr.tif", "uncertainty.tif"][: len(targets)]
    # the one atomic COG scheme (deeplight.io.cog): exclusive, since the caller holds the output's lock
    writer = StreamingCogWriter(
        targets, width=source.lr_width * SCALE, height=source.lr_height * SCALE, crs=source.crs,
        transform=source.hr_transform, blocksize=STREAM_BLOCK, exclusive=True,
    )
    try:
        with writer:
            if cache is not None and writer.adopt(lambda i, tmp: cache.get_file(request, names[i], tmp)):
                writer.commit()
                LOGGER.info("%s: the same request was answered before; copied from the cache", out)
                count = len(plan_tiles(source.lr_height, source.lr_width, tile, overlap))
                if progress is not None:
                    progress(count, count)
                return PredictionOutput(path=out, uncertainty_path=unc_out, tiles=count, computed=0,
                                        cached=count, tags=tags, from_request_cache=True)

            def write(row0: int, rows: np.ndarray, unc: np.ndarray | None) -> None:
                writer.write_rows(0, row0, rows)
                if len(targets) > 1 and unc is not None:
                    writer.write_rows(1, row0, unc)

            prepare = time.perf_counter() - started
            stats = run_tiled(
                source, executor, write, tile=tile, overlap=overlap, batch_size=batch_size,
                self_ensemble=self_ensemble, model_id=identity["model_id"],
                params={"device_type": device_type, "lr_units": source.lr_units, **precision}, cache=cache,
                progress=progress,
                scene_calibration=scene,
            )
            stats["seconds"]["prepare"] = prepare
            finishing = time.perf_counter()
            cogs = writer.finish()
            stats["seconds"]["cog"] = time.perf_counter() - finishing
            if cache is not None:  # the whole output, for a repeated request
                for name, cog_tmp in zip(names, cogs, strict=True):
                    cache.put_file(request, name, cog_tmp)
            writer.commit()
    except (OSError, *RASTER_LIB_ERRORS) as exc:
        raise write_error(out, exc) from exc
    LOGGER.info(
        "%s: %d tiles of %d LR px at most (overlap %d), %d computed, %d from the tile cache, %d without LR "
        "data; verified and renamed; seconds: %s", out, stats["tiles"], tile, overlap, stats["computed"],
        stats["cached"], stats["void"],
        ", ".join(f"{k} {v:.2f}" for k, v in sorted(stats["seconds"].items())),
    )
    return PredictionOutput(
        path=out, uncertainty_path=unc_out, tiles=stats["tiles"], computed=stats["computed"],
        cached=stats["cached"], void=stats["void"], tags=tags, seconds=stats["seconds"],
    )


# ------------------------------------------------------------------ a catalogued scene (deeplight predict --dataset)
SCENE_MODEL_INPUTS = ("lr", "dmo", "dem")
"""The scene layers the model reads (the ISP and population are for the indicators only)."""


def scene_input_files(scene: Scene) -> dict[str, Path] | None:
    """The files of the scene's model inputs - its LR and, when present, DMO and DEM - when every one
    is a file on disk (the raster path of :func:`predict_scene`); None when any is held in memory (an LR
    simulated on opening, an upload)."""
    files = {}
    for name in SCENE_MODEL_INPUTS:
        if name != "lr" and getattr(scene, name) is None:
            continue
        source = scene.sources.get(name)
        if not source or not Path(source).is_file():
            return None
        files[name] = Path(source)
    return files


def predict_scene(
    scene: Scene,
    out_path: str | os.PathLike[str],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    model: torch.nn.Module | None = None,
    model_id: str | None = None,
    tile: int = 128,
    overlap: int = 16,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    self_ensemble: bool = False,
    cache: TileCache | None = None,
    progress: ProgressCallback | None = None,
    client: Any | None = None,
) -> PredictionOutput:
    """Super-resolve a whole :class:`~deeplight.io.scene.Scene` (``deeplight.catalog.load_scene_for``)
    into a COG on its HR grid, with the engine of :func:`predict_raster` and :func:`predict_array`.

    When the scene's LR (and DMO / DEM, if any) are files (:func:`scene_input_files`, e.g. the demo),
    they are streamed by windows through :func:`predict_raster`; when the LR is in memory (the real sets,
    whose LR is simulated when opened) the scene's arrays go through
    :func:`~deeplight.infer.array.predict_array` - with the same model identity and input hash as the
    dashboard's reconstruction, so both share one cache entry for the same LR and auxiliary arrays -
    and the result is written by the one atomic COG writer. Either way the SR lies on
    ``scene.hr_transform``, which ``deeplight sdg --dataset ID --sr`` reads.

    Args:
        scene: the scene (its ``key`` and ``title`` are tagged on the outputs as ``scene`` and
            ``scene_title``).
        out_path: the SR COG (float32 radiance nW/cm2/sr).
        checkpoint, model, model_id: as for :func:`predict_raster`.
        tile, overlap, batch_size, device, self_ensemble, cache, progress: as for :func:`predict_raster`.
        client: a ``distributed.Client`` (raster path only: an in-memory LR runs in this process).

    Returns:
        :class:`PredictionOutput` (``tiles``, ``computed``, ``cached`` as far as the path reports them).

    Raises:
        RasterError / ConfigError / CheckpointError: as :func:`predict_raster`.
    """
    extra = {"scene": scene.key, "scene_title": scene.title}
    files = scene_input_files(scene)
    if files is not None:
        return predict_raster(
            files["lr"], out_path, checkpoint=checkpoint, model=model, model_id=model_id,
            aux_paths={name: files.get(name) for name in ("dmo", "dem")}, tile=tile, overlap=overlap,
            batch_size=batch_size, device=device, self_ensemble=self_ensemble, cache=cache, progress=progress,
            lr_units="radiance" if scene.sources.get("lr_conversion") else "dn", client=client, extra_tags=extra,
        )
    if client is not None:
        raise ConfigError(
            f"{scene.title}: its LR is held in memory (simulated when the data set is opened), so it cannot "
            "be shipped to Dask workers by windows; run it without --workers / --scheduler"
        )
    from deeplight.infer.array import predict_scene_array

    check_tiling(tile, overlap)
    resolved = resolve_device(device)
    out = Path(out_path)
    unc_out = uncertainty_path_for(out) if self_ensemble else None
    # the layers' files (sources also holds notes such as "lr_conversion", which are no paths)
    layer_files = {k: v for k, v in scene.sources.items() if k in ("lr", "hr", "dmo", "dem", "isp", "population")}
    on_disk = [Path(p) for p in layer_files.values() if Path(p).is_file()]
    _check_output(out, on_disk)
    net, identity = _resolve_model(checkpoint, model, resolved, model_id)
    _prepare_output(out)
    calibration = scene_calibration(net.to(resolved), scene.lr)
    tags = _sr_tags(
        scene.title, scene.lr_simulated, identity, layer_files, lr_units="dn",
        self_ensemble=self_ensemble, tile=tile, overlap=overlap, extra=extra,
    )
    tags.update(_calibration_tag(net, calibration))
    targets = [(out, tags)]
    if unc_out is not None:
        targets.append((unc_out, dict(tags, modality="sr_uncertainty",
                                      provenance=tags["provenance"] + "; per-pixel std of the x8 self-ensemble")))
    with _output_lock(out):
        result = predict_scene_array(
            net, scene, tile=tile, overlap=overlap, batch_size=batch_size, device=resolved,
            self_ensemble=self_ensemble, progress=progress, cache=cache, model_id=identity["model_id"],
        )
        height, width = result.radiance.shape
        writer = StreamingCogWriter(targets, width=width, height=height, crs=scene.crs,
                                    transform=scene.hr_transform, blocksize=STREAM_BLOCK, exclusive=True)
        with writer:
            writer.write_rows(0, 0, result.radiance)
            if unc_out is not None and result.uncertainty is not None:
                writer.write_rows(1, 0, result.uncertainty)
            writer.finish()
            writer.commit()
    count = len(plan_tiles(*scene.lr.shape, tile, overlap))
    LOGGER.info("%s: %s predicted in memory (%d tiles%s); verified and renamed", out, scene.title, count,
                ", from the cache" if result.from_cache else f", {result.void} without LR data")
    return PredictionOutput(
        path=out, uncertainty_path=unc_out, tiles=count,
        computed=0 if result.from_cache else count - result.void, cached=count if result.from_cache else 0,
        void=result.void, tags=tags, from_request_cache=result.from_cache,
    )
