"""Running tile batches in this process (CPU, CUDA or MPS)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from deeplight.infer.engine import TileBatch, TileOutput, prepare_model, run_tile_batch


class LocalExecutor:
    """Runs each batch on ``model`` in this process, in order.

    Args:
        model: a model following docs/CONTRACTS.md; moved to ``device``, set to eval mode, channels_last
            on CPU where it prefers it (:func:`deeplight.infer.engine.prepare_model`).
        device: resolved torch device.
        self_ensemble: x8 self-ensemble with an uncertainty output.
    """

    def __init__(self, model: torch.nn.Module, device: torch.device, self_ensemble: bool = False) -> None:
        self.model = prepare_model(model, device)
        self.device = device
        self.self_ensemble = self_ensemble

    def map_batches(self, batches: Iterable[TileBatch]) -> Iterator[TileOutput]:
        """Outputs of ``batches`` in order (lazy: one batch in memory at a time)."""
        for batch in batches:
            yield run_tile_batch(self.model, batch, self.device, self.self_ensemble)
