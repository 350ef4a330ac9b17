"""The tiled prediction loop shared by the in-memory, file and distributed paths.

Tiles are grouped into batches in plan order; cached tiles are taken from the cache, the others are
read, sent to an executor (local model or Dask workers) and stored in the cache; every tile is
blended in plan order, so the result does not depend on where a tile was computed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import numpy as np

from deeplight.infer.blending import BlendingAccumulator, RowWriter
from deeplight.infer.cache import TileCache, cache_key
from deeplight.infer.engine import TileBatch, TileOutput
from deeplight.infer.sources import TileSource
from deeplight.infer.tiling import Tile, plan_tiles

ProgressCallback = Callable[[int, int], None]
"""``progress(tiles_done, tiles_total)``, called after every batch."""


class BatchExecutor(Protocol):
    """Runs batches of tiles through the model, yielding outputs in the order of the inputs."""

    def map_batches(self, batches: Iterable[TileBatch]) -> Iterator[TileOutput]:
        """Outputs for ``batches``, in order; may prefetch a bounded number of batches."""
        ...


def stack_tiles(source: TileSource, tiles: list[Tile]) -> TileBatch:
    """Read ``tiles`` from ``source`` and stack them into one :class:`TileBatch`."""
    parts = [source.read(tile) for tile in tiles]
    lr = np.stack([p[0] for p in parts]).astype(np.float32, copy=False)
    dmo = None if parts[0][1] is None else np.stack([p[1] for p in parts]).astype(np.float32, copy=False)
    dem = None if parts[0][2] is None else np.stack([p[2] for p in parts]).astype(np.float32, copy=False)
    return TileBatch(lr_dn=lr, dmo=dmo, dem=dem)


def run_tiled(
    source: TileSource,
    executor: BatchExecutor,
    writer: RowWriter,
    *,
    tile: int,
    overlap: int,
    batch_size: int,
    self_ensemble: bool,
    model_id: str,
    params: dict[str, Any],
    cache: TileCache | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, int]:
    """Predict every tile of ``source`` and stream the blended HR rows to ``writer``.

    Args:
        source: tile inputs.
        executor: runs the model.
        writer: receives finished HR rows (radiance, uncertainty or None).
        tile, overlap: layout in LR pixels (see :mod:`deeplight.infer.tiling`).
        batch_size: tiles per model call.
        self_ensemble: produce the uncertainty layer (the executor must be built to match).
        model_id: hash of the model weights (part of cache keys).
        params: other settings the prediction depends on (part of cache keys).
        cache: optional per-tile cache (key = model_id + source content + window + params).
        progress: called with (done, total) after every batch.

    Returns:
        Counts ``{"tiles", "computed", "cached"}``.
    """
    plan = plan_tiles(source.lr_height, source.lr_width, tile, overlap)
    accumulator = BlendingAccumulator(
        source.lr_height, source.lr_width, plan[0].height, overlap, writer, source.nodata_rows,
        with_uncertainty=self_ensemble,
    )
    groups = [plan[i:i + batch_size] for i in range(0, len(plan), batch_size)]

    def key_of(t: Tile) -> str:
        return cache_key(model=model_id, inputs=source.content_id, window=[t.row, t.col, t.height, t.width],
                         self_ensemble=self_ensemble, **params)

    to_compute: list[list[Tile]] = []
    for group in groups:
        to_compute.append([t for t in group if cache is None or not cache.contains(key_of(t))])
    # Inputs are read lazily (the executor prefetches a bounded number of batches); cached entries are
    # read only when blended, so memory stays bounded by the batch whatever the cache holds.
    outputs = executor.map_batches(stack_tiles(source, misses) for misses in to_compute if misses)
    done = computed = 0
    for group, misses in zip(groups, to_compute, strict=True):
        fresh: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        if misses:
            out = next(outputs)
            for i, t in enumerate(misses):
                unc = out.uncertainty[i] if out.uncertainty is not None else None
                fresh[t.index] = (out.radiance[i], unc)
                if cache is not None:
                    arrays = {"radiance": out.radiance[i]}
                    if unc is not None:
                        arrays["uncertainty"] = unc
                    cache.put_or_warn(key_of(t), arrays)
            computed += len(misses)
        for t in group:
            if t.index in fresh:
                radiance, unc = fresh.pop(t.index)
            else:
                hit = cache.get(key_of(t)) if cache is not None else None
                if hit is None or (self_ensemble and "uncertainty" not in hit):
                    # corrupt or evicted since the scan: recompute this tile on its own
                    out = next(iter(executor.map_batches([stack_tiles(source, [t])])))
                    hit = {"radiance": out.radiance[0]}
                    if out.uncertainty is not None:
                        hit["uncertainty"] = out.uncertainty[0]
                    if cache is not None:
                        cache.put_or_warn(key_of(t), hit)
                    computed += 1
                radiance, unc = hit["radiance"], hit.get("uncertainty")
            accumulator.add(t, radiance, unc)
        done += len(group)
        if progress is not None:
            progress(done, len(plan))
    accumulator.finish()
    return {"tiles": len(plan), "computed": computed, "cached": len(plan) - computed}
