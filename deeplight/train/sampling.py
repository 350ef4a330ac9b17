"""Deterministic data order and modality dropout, both functions of (seed, step).

The data position of a run is its optimiser step: epoch ``e = step // batches_per_epoch`` is the
permutation ``DistributedSampler(seed, epoch=e)`` and the batch is its ``step % batches_per_epoch``-th
slice. Resuming at step s therefore needs no sampler state, and because rank r of W takes every W-th
index of the same permutation, the union of the per-rank batches of one step is exactly the global
batch a single process would draw: the loss curve of W processes equals that of one process with the
same global batch (DDP averages the gradients).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from deeplight.contracts import AUX_MODALITIES, PRESENT_INDEX

MODALITY_INDEX = {name: PRESENT_INDEX[name] for name in AUX_MODALITIES}
"""Position of each droppable input in the ``present`` vector (hr, dmo, dem, isp)."""


class StepBatchSampler(Sampler[list[int]]):
    """Yields this rank's per-step index batches from global step ``start_step`` to ``total_steps``.

    Args:
        dataset: the training set (only its length is used).
        global_batch: samples per step over all ranks; divisible by ``world_size``.
        rank, world_size: this process's place in the job.
        seed: shuffling seed.
        start_step: first step to yield (the resume position).
        total_steps: last step (exclusive).
    """

    def __init__(
        self, dataset: Dataset, global_batch: int, rank: int, world_size: int, seed: int, start_step: int,
        total_steps: int,
    ) -> None:
        from deeplight.errors import ConfigError

        if global_batch % world_size:
            raise ConfigError(
                f"data.batch_size {global_batch} must be divisible by the number of processes {world_size}"
            )
        self.length = len(dataset)  # type: ignore[arg-type]
        self.local_batch = global_batch // world_size
        self.sampler = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.batches_per_epoch = len(self.sampler) // self.local_batch
        if self.batches_per_epoch < 1:
            raise ConfigError(
                f"the training split has {self.length} samples, fewer than data.batch_size {global_batch}: "
                "generate more clips or lower the batch size"
            )
        self.start_step, self.total_steps = start_step, total_steps

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        epoch, indices = -1, []
        while step < self.total_steps:
            e, k = divmod(step, self.batches_per_epoch)
            if e != epoch:
                self.sampler.set_epoch(e)
                indices, epoch = list(iter(self.sampler)), e
            yield indices[k * self.local_batch : (k + 1) * self.local_batch]
            step += 1


def modality_dropout(
    batch: dict[str, torch.Tensor], step: int, seed: int, probabilities: dict[str, float], rank: int,
    world_size: int,
) -> dict[str, torch.Tensor]:
    """Hide auxiliary inputs at random, as on real data where they are missing.

    For each sample and each modality in ``probabilities`` (``dmo``, ``dem``) a Bernoulli draw from a
    generator seeded by (seed, step) decides whether to zero the modality and set its ``present`` flag
    to 0. Draws are made for the whole global batch and rank r keeps rows r, r+W, ..., so the result
    does not depend on the number of processes. The input dict is not modified.

    Args:
        batch: collated sample dict (see docs/CONTRACTS.md) with this rank's rows.
        step: global optimiser step.
        seed: run seed.
        probabilities: drop probability per modality name.
        rank, world_size: this process's place in the job.

    Returns:
        A shallow copy of ``batch`` with dropped modalities zeroed.
    """
    active = {k: p for k, p in probabilities.items() if p > 0 and k in batch}
    if not active or "present" not in batch:
        return batch
    local = batch["present"].shape[0]
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    draws = torch.rand(local * world_size, len(MODALITY_INDEX), generator=generator)[rank::world_size]
    out = dict(batch)
    present = batch["present"].clone()
    for name, p in active.items():
        col = MODALITY_INDEX[name]
        drop = (draws[:, col - 1] < p).to(present.device)
        if not drop.any():
            continue
        keep = (~drop).to(batch[name].dtype).view(-1, *([1] * (batch[name].ndim - 1)))
        out[name] = batch[name] * keep
        present[:, col] = present[:, col] * (~drop).to(present.dtype)
    out["present"] = present
    return out
