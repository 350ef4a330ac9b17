"""DDP with 2 CPU processes (gloo, real process group): same loss curve as 1 process, same global batch."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp

from deeplight.train.config import config_from_dict
from deeplight.train.distributed import DistContext, setup_distributed, teardown_distributed
from deeplight.train.trainer import Trainer
from tests.train.tiny_data import TinySamples

STEPS = 6


def _config(out_dir):
    return config_from_dict({
        "model": {"name": "deeplightsr", "kwargs": {"preset": "tiny"}},
        "data": {"batch_size": 4, "drop_dmo": 0.3, "drop_dem": 0.3},
        "optim": {"lr": 2e-3, "warmup_steps": 2},
        "train": {"steps": STEPS, "val_every": STEPS, "log_every": 1, "ckpt_every": STEPS, "seed": 0,
                  "out_dir": str(out_dir), "device": "cpu", "threads": 1},
    })


def _worker(rank: int, world_size: int, port: int, out_dir: str, queue) -> None:
    import os

    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world_size), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    ctx = setup_distributed("cpu")
    try:
        result = Trainer(_config(out_dir), TinySamples(16), TinySamples(4, offset=1000), ctx=ctx,
                         show_progress=False).fit()
        if rank == 0:
            queue.put([row["loss"] for row in result.history if row["kind"] == "train"])
    finally:
        teardown_distributed()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_matches_single_process(tmp_path):
    single = Trainer(_config(tmp_path / "single"), TinySamples(16), TinySamples(4, offset=1000), ctx=DistContext(),
                     show_progress=False).fit()
    single_losses = [row["loss"] for row in single.history if row["kind"] == "train"]

    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path / "ddp"), queue), nprocs=2, join=True,
                       start_method="spawn")
    ddp_losses = queue.get()
    assert len(ddp_losses) == len(single_losses) == STEPS
    assert ddp_losses == pytest.approx(single_losses, rel=2e-3, abs=1e-5)
    assert ddp_losses[-1] < ddp_losses[0]
    assert (tmp_path / "ddp" / "last.safetensors").is_file() and (tmp_path / "ddp" / "state.pt").is_file()
