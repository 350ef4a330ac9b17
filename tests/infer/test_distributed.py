"""Dask: a real LocalCluster of 2 worker processes gives the single-process output, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch

from deeplight.errors import ConfigError
from deeplight.infer import predict_raster
from deeplight.infer.distributed import close_client, start_client, worker_model_count
from tests.infer.test_raster import write_lr
from tests.infer.tiny_models import TinyConvSR


@pytest.fixture(scope="module")
def client():
    dask_client = start_client(workers=2, threads_per_worker=1)
    yield dask_client
    close_client(dask_client)


@pytest.mark.slow
def test_two_worker_processes_give_the_single_process_output(tmp_path, client):
    torch.manual_seed(0)
    model = TinyConvSR().eval()
    write_lr(tmp_path / "lr.tif", h=40, w=44)
    single = predict_raster(
        tmp_path / "lr.tif",
        tmp_path / "single.tif",
        model=model,
        tile=16,
        overlap=12,
        batch_size=2,
        device="cpu",
        self_ensemble=True,
    )
    dist = predict_raster(
        tmp_path / "lr.tif",
        tmp_path / "dask.tif",
        model=model,
        tile=16,
        overlap=12,
        batch_size=2,
        device="cpu",
        self_ensemble=True,
        client=client,
    )
    assert dist.computed == single.computed == single.tiles > 4
    for a, b in ((single.path, dist.path), (single.uncertainty_path, dist.uncertainty_path)):
        with rasterio.open(a) as x, rasterio.open(b) as y:
            np.testing.assert_array_equal(x.read(1), y.read(1))
            assert x.transform == y.transform and x.crs == y.crs
    # each worker process prepared (deserialised and moved to its device) the model exactly once
    counts = client.run(worker_model_count)
    assert len(counts) == 2 and all(count == 1 for count in counts.values())


def test_start_client_needs_one_of_workers_or_scheduler():
    with pytest.raises(ConfigError, match="exactly one of --workers N or --scheduler"):
        start_client()
    with pytest.raises(ConfigError, match="--workers must be at least 1"):
        start_client(workers=0)


@pytest.mark.slow
def test_an_existing_scheduler_address_is_used(tmp_path, client):
    """``--scheduler ADDRESS``: connect to a running scheduler (here the LocalCluster's)."""
    torch.manual_seed(0)
    model = TinyConvSR().eval()
    write_lr(tmp_path / "lr.tif", h=20, w=20)
    remote = start_client(scheduler=client.scheduler.address)
    try:
        dist = predict_raster(
            tmp_path / "lr.tif",
            tmp_path / "dask.tif",
            model=model,
            tile=16,
            overlap=12,
            device="cpu",
            client=remote,
        )
    finally:
        close_client(remote)
    single = predict_raster(
        tmp_path / "lr.tif", tmp_path / "single.tif", model=model, tile=16, overlap=12, device="cpu"
    )
    with rasterio.open(single.path) as x, rasterio.open(dist.path) as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        start_client(scheduler="tcp://127.0.0.1:1", timeout=1)
