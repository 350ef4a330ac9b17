"""The tiled prediction loop shared by the in-memory, file and distributed paths.

Tiles are grouped into batches in plan order; cached tiles are taken from the cache, the others are
claimed (a lock per tile key, shared by every process using the cache), read, sent to an executor
(local model or Dask workers) and stored in the cache; every tile is blended in plan order, so the
result does not depend on where - or by which process - a tile was computed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import numpy as np

from deeplight.infer.blending import BlendingAccumulator, RowWriter, TorchBlendingAccumulator
from deeplight.infer.cache import TileCache, cache_key
from deeplight.infer.engine import TileBatch, TileOutput
from deeplight.infer.prefetch import Prefetcher
from deeplight.infer.sources import TileSource
from deeplight.infer.tiling import Tile, plan_tiles

ProgressCallback = Callable[[int, int], None]
"""``progress(tiles_done, tiles_total)``, called after every batch."""


class BatchExecutor(Protocol):
    """Runs batches of tiles through the model, yielding outputs in the order of the inputs."""

    def map_batches(self, batches: Iterable[TileBatch]) -> Iterator[TileOutput]:
        """Outputs for ``batches``, in order; may prefetch a bounded number of batches."""
        ...


class StageTimer:
    """Wall seconds per named stage (thread-safe: the prefetch thread times its reads)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def wrap(self, name: str, func: Callable) -> Callable:
        def timed(*args: Any) -> Any:
            with self.stage(name):
                return func(*args)

        return timed


def _host(values: Any) -> np.ndarray:
    """A numpy array of an output (a tensor left on a device, or already numpy)."""
    return values if isinstance(values, np.ndarray) else values.cpu().numpy()


def take_tiles(ahead: tuple[list[Tile], TileBatch | None], tiles: list[Tile]) -> TileBatch | None:
    """The part of a batch read ahead that holds ``tiles`` (None when one of them was not read)."""
    read, batch = ahead
    if batch is None:
        return None
    position = {t.index: i for i, t in enumerate(read)}
    if any(t.index not in position for t in tiles):
        return None
    if len(tiles) == len(read):
        return batch
    rows = [position[t.index] for t in tiles]
    pick = lambda a: None if a is None else a[rows]  # noqa: E731
    return TileBatch(lr_dn=batch.lr_dn[rows], dmo=pick(batch.dmo), dem=pick(batch.dem),
                     scene_calibration=batch.scene_calibration)


def stack_tiles(source: TileSource, tiles: list[Tile], scene_calibration: np.ndarray | None = None) -> TileBatch:
    """Read ``tiles`` from ``source`` and stack them into one :class:`TileBatch`."""
    parts = [source.read(tile) for tile in tiles]
    lr = np.stack([p[0] for p in parts]).astype(np.float32, copy=False)
    dmo = None if parts[0][1] is None else np.stack([p[1] for p in parts]).astype(np.float32, copy=False)
    dem = None if parts[0][2] is None else np.stack([p[2] for p in parts]).astype(np.float32, copy=False)
    return TileBatch(lr_dn=lr, dmo=dmo, dem=dem, scene_calibration=scene_calibration)


def void_tiles(source: TileSource, plan: list[Tile]) -> set[int]:
    """Indices of the tiles whose whole LR window is nodata.

    Blending masks every HR pixel under a nodata LR pixel (:class:`BlendingAccumulator`), so such a
    tile's prediction never reaches the output: it is neither computed, nor read, nor cached, and the
    result is the same as with it (tested). The Cote d'Ivoire raster (NaN outside the country) has 21 of
    its 169 tiles so (tile 128, overlap 16). The LR is read once per row of tiles.
    """
    void: set[int] = set()
    band_key, band = None, None
    for t in plan:
        if (t.row, t.height) != band_key:
            band_key, band = (t.row, t.height), source.nodata_rows(t.row, t.row + t.height)
        if band[:, t.col:t.col + t.width].all():
            void.add(t.index)
    return void


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
    scene_calibration: np.ndarray | None = None,
    prefetch: int = 1,
) -> dict[str, Any]:
    """Predict every tile of ``source`` and stream the blended HR rows to ``writer``.

    With a cache, each tile is *claimed* before it is computed: its key's lock is taken without waiting
    (:meth:`TileCache.try_lock`). A tile another process (or thread) has claimed is not computed here:
    when it is blended, this run waits for that lock and reads the tile from the cache (and computes it
    itself only if the other run died or could not store it). So N concurrent predictions of one raster
    on one cache compute every tile once in total. Claims are released as soon as their tile is stored;
    a run waits only on tiles of the group it is blending, after storing its own tiles of that group, so
    two runs never wait on each other in a cycle.

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
        scene_calibration: the whole scene's calibration (:func:`deeplight.infer.engine.scene_calibration`)
            given to every tile, so a large raster is calibrated once; part of the cache keys.
        prefetch: batches read ahead in a background thread while the model computes
            (:class:`deeplight.infer.prefetch.Prefetcher`); 0 reads in this thread, between batches.
            The thread only reads (the tiles not in the cache when it gets there); claims are taken in
            this thread when a batch is due, as without it, so concurrent runs still compute each tile
            once and never wait on each other.

    An executor with a ``device_outputs`` device (a GPU) returns tensors left there: they are blended
    on the device (:class:`TorchBlendingAccumulator`, one host copy per tile row), and with a cache
    their host copies for storing are made together after each flush of rows, not per batch.

    Returns:
        Counts ``{"tiles", "computed", "cached", "void"}`` (``computed``: tiles this run ran the model on;
        ``void``: tiles without any LR data, skipped: :func:`void_tiles`) and
        ``"seconds"``: wall time of the stages ``read`` (in the prefetch thread, overlapping the
        others), ``model`` (waiting for the executor), ``blend``, ``write``, ``cache``.
    """
    plan = plan_tiles(source.lr_height, source.lr_width, tile, overlap)
    timer = StageTimer()
    with timer.stage("read"):
        void = void_tiles(source, plan)
    timed_writer = timer.wrap("write", writer)
    device = getattr(executor, "device_outputs", None)
    accumulator: BlendingAccumulator
    if device is not None:  # outputs stay on the device: blend there, one host copy per tile row
        accumulator = TorchBlendingAccumulator(
            source.lr_height, source.lr_width, plan[0].height, overlap, timed_writer, source.nodata_rows,
            with_uncertainty=self_ensemble, device=device,
        )
    else:
        accumulator = BlendingAccumulator(
            source.lr_height, source.lr_width, plan[0].height, overlap, timed_writer, source.nodata_rows,
            with_uncertainty=self_ensemble,
        )
    work = [t for t in plan if t.index not in void]
    groups = [work[i:i + batch_size] for i in range(0, len(work), batch_size)]
    use_locks = cache is not None and cache.usable()

    scene = None if scene_calibration is None else [round(float(v), 6) for v in scene_calibration]

    def key_of(t: Tile) -> str:
        return cache_key(model=model_id, inputs=source.content_id, window=[t.row, t.col, t.height, t.width],
                         self_ensemble=self_ensemble, scene_calibration=scene, **params)

    held: dict[int, contextlib.ExitStack] = {}  # tile index -> this run's claim on it
    claimed: dict[int, list[Tile]] = {}  # group index -> the tiles this run computes
    submitted: deque[int] = deque()  # group indices of the batches given to the executor, in order
    scanned = -1  # the last group index the input generator has looked at

    def claim(group: list[Tile]) -> list[Tile]:
        mine = []
        for t in group:
            if cache is None:
                mine.append(t)
                continue
            key = key_of(t)
            if cache.contains(key):
                continue  # read when blended
            if not use_locks:
                mine.append(t)
                continue
            lock = cache.try_lock(key)
            if lock is None:
                continue  # another run computes it right now: waited for when blended
            if cache.contains(key):  # finished meanwhile
                lock.close()
                continue
            held[t.index] = lock
            mine.append(t)
        return mine

    def inputs() -> Iterator[TileBatch]:
        # Read lazily (the executor prefetches a bounded number of batches); cached entries are read only
        # when blended, so memory stays bounded by the batch whatever the cache holds.
        # Claims are taken here, in the loop's thread, when the executor asks for the batch (as without
        # the read-ahead); the prefetch thread only reads, so it never holds a claim another run waits on.
        nonlocal scanned
        for gi, group in enumerate(groups):
            mine = claim(group)
            claimed[gi] = mine
            scanned = gi
            ahead = None
            if reader is not None:
                with timer.stage("read_wait"):
                    ahead = next(reader)
            if mine:
                batch = take_tiles(ahead, mine) if ahead is not None else None
                if batch is None:
                    with timer.stage("read"):
                        batch = stack_tiles(source, mine, scene_calibration)
                submitted.append(gi)
                yield batch

    def read_ahead() -> Iterator[tuple[list[Tile], TileBatch | None]]:
        """Each group's tiles that are not in the cache yet, read (in the prefetch thread)."""
        for group in groups:
            wanted = [t for t in group if cache is None or not cache.contains(key_of(t))]
            if not wanted:
                yield wanted, None
                continue
            with timer.stage("read"):
                batch = stack_tiles(source, wanted, scene_calibration)
            yield wanted, batch

    unstored: list[tuple[Tile, Any, Any]] = []  # device outputs waiting for their host copy (cache)

    def put(t: Tile, radiance: np.ndarray, unc: np.ndarray | None) -> None:
        arrays = {"radiance": radiance}
        if unc is not None:
            arrays["uncertainty"] = unc
        cache.put_or_warn(key_of(t), arrays)
        lock = held.pop(t.index, None)
        if lock is not None:
            lock.close()  # stored: whoever waits for this tile may read it now

    def store_unstored() -> None:
        """Copy the device outputs of the tiles not yet cached to the host in one transfer, store them."""
        if not unstored:
            return
        with timer.stage("cache"):
            import torch

            radiance = torch.stack([r for _, r, _ in unstored]).cpu().numpy()
            uncs = None
            if unstored[0][2] is not None:
                uncs = torch.stack([u for _, _, u in unstored]).cpu().numpy()
            for i, (t, _, _) in enumerate(unstored):
                put(t, radiance[i], None if uncs is None else uncs[i])
            unstored.clear()

    def store(gi: int, out: TileOutput) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        fresh = {}
        for i, t in enumerate(claimed[gi]):
            unc = out.uncertainty[i] if out.uncertainty is not None else None
            fresh[t.index] = (out.radiance[i], unc)
            if cache is None:
                continue
            if device is not None:  # stored after the next flush of rows, which synchronises anyway
                unstored.append((t, out.radiance[i], unc))
            else:
                with timer.stage("cache"):
                    put(t, out.radiance[i], unc)
        return fresh

    reader = Prefetcher(read_ahead(), depth=prefetch) if prefetch else None
    outputs = executor.map_batches(inputs())
    ready: dict[int, dict[int, tuple[np.ndarray, np.ndarray | None]]] = {}

    def fresh_of(gi: int) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        """This run's outputs of group ``gi`` (empty when it computes none of its tiles)."""
        while gi not in ready:
            if scanned >= gi and not claimed[gi]:
                return {}
            try:
                with timer.stage("model"):
                    out = next(outputs)
            except StopIteration:
                if not claimed.get(gi):
                    return {}
                raise RuntimeError("the executor returned fewer outputs than batches") from None
            done_gi = submitted.popleft()
            ready[done_gi] = store(done_gi, out)  # stored (and released) as soon as it is computed
        return ready.pop(gi)

    def compute_one(t: Tile) -> dict[str, np.ndarray]:
        out = next(iter(executor.map_batches([stack_tiles(source, [t], scene_calibration)])))
        hit = {"radiance": _host(out.radiance[0])}
        if out.uncertainty is not None:
            hit["uncertainty"] = _host(out.uncertainty[0])
        return hit

    def usable(hit: dict[str, np.ndarray] | None) -> bool:
        return hit is not None and (not self_ensemble or "uncertainty" in hit)

    done = computed = flushes_seen = 0
    try:
        for gi, group in enumerate(groups):
            fresh = fresh_of(gi)
            computed += len(fresh)
            for t in group:
                if t.index in fresh:
                    radiance, unc = fresh.pop(t.index)
                else:
                    hit = cache.get(key_of(t)) if cache is not None else None
                    if not usable(hit) and use_locks:
                        # claimed by another run: wait for it to store the tile, then read it (after
                        # storing this run's own computed tiles, so that two runs never wait on each other)
                        store_unstored()
                        with cache.wait_lock(key_of(t)):
                            hit = cache.get(key_of(t))
                            if not usable(hit):  # that run died, or could not store it: compute it here
                                hit = compute_one(t)
                                cache.put_or_warn(key_of(t), hit)
                                computed += 1
                    elif not usable(hit):
                        # corrupt or evicted since the scan: recompute this tile on its own
                        hit = compute_one(t)
                        if cache is not None:
                            cache.put_or_warn(key_of(t), hit)
                        computed += 1
                    radiance, unc = hit["radiance"], hit.get("uncertainty")
                with timer.stage("blend"):
                    accumulator.add(t, radiance, unc)
            if len(unstored) >= max(batch_size, 1) * 4 or getattr(accumulator, "flushes", 0) > flushes_seen:
                flushes_seen = getattr(accumulator, "flushes", 0)
                store_unstored()
            done += len(group)
            if progress is not None:
                progress(done + len(void), len(plan))
        if progress is not None and not groups:  # every tile without data
            progress(len(plan), len(plan))
        with timer.stage("blend"):
            accumulator.finish()
        store_unstored()
    finally:
        for closable in (outputs, reader):
            close = getattr(closable, "close", None)
            if close is not None:
                close()
        for lock in list(held.values()):
            lock.close()
        held.clear()
    timer.seconds["write"] = timer.seconds.get("write", 0.0)
    blend = timer.seconds.get("blend", 0.0) - timer.seconds["write"]  # writes happen inside flushes
    return {"tiles": len(plan), "computed": computed, "cached": len(work) - computed, "void": len(void),
            "seconds": {**timer.seconds, "blend": max(blend, 0.0)}}
