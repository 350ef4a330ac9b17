"""Process-group setup for torchrun DistributedDataParallel (gloo on CPU, NCCL on CUDA).

``torchrun --nproc-per-node N -m deeplight.train --config X.yaml`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; the same command scales to several nodes with
``--nnodes``/``--rdzv-endpoint``. Without these variables the run is a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job.

    Attributes:
        rank: global rank (0 = the process that logs and writes checkpoints).
        world_size: number of processes.
        local_rank: rank on this node (selects the CUDA device).
        device: the torch device of this process.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on rank 0."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1


def pick_device(requested: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA (this local rank's GPU) when available, else CPU; ``cuda`` without a GPU errors."""
    from deeplight.errors import ConfigError

    if requested == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if requested == "cuda":
        raise ConfigError("train.device is 'cuda' but no CUDA GPU is available: use 'auto' or 'cpu'")
    return torch.device("cpu")


def setup_distributed(requested_device: str = "auto") -> DistContext:
    """Initialise the process group from torchrun's environment, or return a single-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(requested_device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def teardown_distributed() -> None:
    """Destroy the process group if this process created one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_mean(value: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Mean of a tensor over all ranks (identity for one process)."""
    if not ctx.distributed:
        return value
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / ctx.world_size
