"""Running tile batches in this process (CPU, CUDA or MPS)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from deeplight.infer.engine import TileBatch, TileOutput, prepare_model, run_tile_batch


class LocalExecutor:
    """Runs each batch on ``model`` in this process, in order.

    On a GPU the outputs stay on the device (:attr:`device_outputs`): ``run_tiled`` blends them there
    and copies finished rows to the host once per tile row, so the CPU queues batch after batch
    without waiting for the GPU (no ``.cpu()`` per batch).

    Args:
        model: a model following docs/CONTRACTS.md; moved to ``device``, set to eval mode, channels_last
            on CPU where it prefers it (:func:`deeplight.infer.engine.prepare_model`).
        device: resolved torch device.
        self_ensemble: x8 self-ensemble with an uncertainty output.
        device_outputs: leave outputs on ``device`` (default: on CUDA and MPS, not on the CPU, where
            the numpy blending is as fast and the cache takes numpy arrays without a copy).
    """

    def __init__(
        self, model: torch.nn.Module, device: torch.device, self_ensemble: bool = False,
        device_outputs: bool | None = None,
    ) -> None:
        self.model = prepare_model(model, device)
        self.device = device
        self.self_ensemble = self_ensemble
        on_device = device.type in ("cuda", "mps") if device_outputs is None else device_outputs
        self.device_outputs: torch.device | None = device if on_device else None
        """The device the outputs are left on (blend there), or None (numpy arrays)."""

    def map_batches(self, batches: Iterable[TileBatch]) -> Iterator[TileOutput]:
        """Outputs of ``batches`` in order (lazy: one batch in memory at a time)."""
        for batch in batches:
            yield run_tile_batch(
                self.model, batch, self.device, self.self_ensemble, on_device=self.device_outputs is not None,
            )
