"""Running tiles on a Dask distributed cluster (a LocalCluster or an existing scheduler).

The driver reads the tile inputs, submits one task per batch (a bounded number in flight, so memory
stays bounded), and blends the results in plan order, so the output is identical to the
single-process run. The model is scattered once to every worker (``broadcast=True``): each worker
deserialises it once and keeps it for every task. Workers need the ``deeplight`` package installed;
they do not need the input files (inputs travel with the tasks).

``LocalCluster(processes=True)`` starts worker processes, so it must be created from a module with a
``__main__`` guard (the ``deeplight`` console script is one); inside Streamlit use threads instead.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from deeplight.errors import ConfigError
from deeplight.infer.devices import configure_runtime, resolve_device
from deeplight.infer.engine import TileBatch, TileOutput, prepare_model, run_tile_batch
from deeplight.runtime import MALLOC_MMAP_THRESHOLD, MALLOC_TRIM_THRESHOLD

WORKER_MALLOC_ENV = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": MALLOC_TRIM_THRESHOLD,
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": MALLOC_MMAP_THRESHOLD,
}
"""glibc settings for worker processes. Dask's default ``MALLOC_TRIM_THRESHOLD_=65536`` also fixes
glibc's mmap threshold at 128 KiB, so every activation tensor is mmapped, page-faulted and unmapped
again: one 64x64 DeepLightSR tile took 1.45-1.69 s in a worker with Dask's default and 0.54 s with
these settings (measured here). Workers started elsewhere (``--scheduler``) should be given these
variables too."""

DASK_MIN_TILES_PER_WORKER = 8
"""A LocalCluster is started only for at least this many tiles per worker process. Starting one costs
seconds (worker processes import torch and receive the model: 3-6 s here) and each task ships its
inputs; a DeepLightSR tile takes about a second on a CPU core, so below this the cluster costs more
than it saves (measured: a 256 x 256 LR raster in 9 tiles took 1.7x the single process's time on 2
workers)."""


def local_cluster_worth_it(tiles: int, workers: int) -> bool:
    """Whether ``--workers N`` should start a LocalCluster for a raster of ``tiles`` tiles (the rule of
    :data:`DASK_MIN_TILES_PER_WORKER`; one worker process is never faster than this process)."""
    return workers > 1 and tiles >= DASK_MIN_TILES_PER_WORKER * workers


_WORKER_LOCK = threading.Lock()
_PREPARED: dict[tuple[str, str], torch.nn.Module] = {}
"""Per worker process: models already moved to their device, keyed by (shipment token, device)."""
_PREPARE_COUNT = {"models": 0}


class ShippedModel:
    """A model with a token naming this shipment.

    Dask may hand a worker more than one deserialised copy of the same scattered data (a replica
    fetched from a peer after a steal, a re-broadcast); keying the worker cache on the token, not on
    the object's ``id``, prepares each shipped model once per worker process whatever Dask does.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.token = uuid.uuid4().hex
        self.model = model


def _prepare(shipped: ShippedModel, device: torch.device, threads: int | None) -> torch.nn.Module:
    with _WORKER_LOCK:
        key = (shipped.token, str(device))
        if key not in _PREPARED:
            if device.type == "cpu":
                configure_runtime(threads)
            _PREPARED[key] = prepare_model(shipped.model, device)
            _PREPARE_COUNT["models"] += 1
        return _PREPARED[key]


def run_batch_on_worker(
    shipped: ShippedModel, batch: TileBatch, device: str, self_ensemble: bool, threads: int | None
) -> TileOutput:
    """Task body: predict one batch on this worker with its (once-prepared) model."""
    resolved = resolve_device(device)
    prepared = _prepare(shipped, resolved, threads)
    return run_tile_batch(prepared, batch, resolved, self_ensemble)


def worker_model_count() -> int:
    """How many distinct models this worker process has prepared (for tests and diagnostics)."""
    return _PREPARE_COUNT["models"]


class DaskExecutor:
    """Runs batches on the workers of ``client``, yielding outputs in submission order.

    Args:
        client: a connected ``distributed.Client``.
        model: the model; scattered once to every worker.
        device: device name resolved on each worker ("auto" picks each worker's GPU when present).
        self_ensemble: x8 self-ensemble.
        threads_per_worker: torch CPU threads on each worker (None: the worker's Dask threads).
        max_in_flight: batches submitted but not yet consumed (None: 2 x the cluster's threads).
    """

    def __init__(
        self, client: Any, model: torch.nn.Module, device: str = "auto", self_ensemble: bool = False,
        threads_per_worker: int | None = None, max_in_flight: int | None = None,
    ) -> None:
        workers = client.scheduler_info().get("workers", {})
        if not workers:
            raise ConfigError("the Dask cluster has no workers: start some (dask worker ADDRESS) and retry")
        total_threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        if threads_per_worker is None:
            threads_per_worker = max(1, total_threads // len(workers))
        self.client = client
        self.device = device
        self.self_ensemble = self_ensemble
        self.threads = threads_per_worker
        self.max_in_flight = max_in_flight or 2 * total_threads
        # prepared here as on a CPU worker, so the driver (whole-scene calibration) and the workers
        # compute with the same weight layout as the single process
        shipped = ShippedModel(prepare_model(model, torch.device("cpu")))
        self.model_future = client.scatter(shipped, broadcast=True, hash=False)

    def map_batches(self, batches: Iterable[TileBatch]) -> Iterator[TileOutput]:
        """Submit ``batches`` with at most ``max_in_flight`` pending and yield results in order."""
        pending: deque = deque()
        for batch in batches:
            pending.append(self.client.submit(
                run_batch_on_worker, self.model_future, batch, self.device, self.self_ensemble, self.threads,
                pure=False,
            ))
            if len(pending) >= self.max_in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def start_client(
    workers: int | None = None,
    scheduler: str | None = None,
    threads_per_worker: int = 1,
    timeout: float = 20.0,
) -> Any:
    """A ``distributed.Client`` on a new LocalCluster of ``workers`` processes, or on ``scheduler``.

    ``timeout`` (seconds) bounds the wait for an existing scheduler.

    Call it under ``if __name__ == "__main__":`` (LocalCluster starts processes). Close the returned
    client (and its cluster, ``client.cluster``) when done, e.g. with :func:`close_client`.
    """
    import dask
    from distributed import Client, LocalCluster

    if (workers is None) == (scheduler is None):
        raise ConfigError("give exactly one of --workers N or --scheduler ADDRESS")
    if scheduler is not None:
        try:
            return Client(scheduler, timeout=f"{timeout}s")
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}): check the address"
            ) from exc
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1 (got {workers})")
    with dask.config.set(WORKER_MALLOC_ENV):
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=threads_per_worker, processes=True, dashboard_address=None,
        )
    return Client(cluster)


def close_client(client: Any) -> None:
    """Close a client and, when it owns one, its LocalCluster."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()
