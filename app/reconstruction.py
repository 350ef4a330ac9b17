"""Model choices and the reconstruction of a region crop through the cached inference engine.

The dashboard never runs a model itself: it calls ``deeplight.infer.predict_array``, whose
content-addressed cache and per-request lock make concurrent sessions asking for the same region
share one inference (docs/inference.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeplight.io.scene import Scene
from app.settings import Settings
from deeplight.errors import CheckpointError


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model picker.

    Attributes:
        id: stable identifier used in URLs (``?model=``): ``ckpt:<stem>`` or a registry name.
        label: text in the picker.
        checkpoint: path of the ``.safetensors`` file, or None for a weight-free baseline.
        name: registry name of the model.
    """

    id: str
    label: str
    checkpoint: Path | None
    name: str


@dataclass(frozen=True)
class Reconstruction:
    """Output of one reconstruction.

    Attributes:
        radiance: (8h, 8w) float32 SR radiance in nW/cm^2/sr, NaN where LR is nodata.
        uncertainty: (8h, 8w) float32 std of the self-ensemble (nW/cm^2/sr) or None.
        from_cache: True when the inference engine served the result from its cache.
        model_id: identifier of the weights (checkpoint hash or model name).
    """

    radiance: np.ndarray
    uncertainty: np.ndarray | None
    from_cache: bool
    model_id: str


def _parameter_free_baselines() -> list[str]:
    """Registry models with no trainable weights (meaningful without a checkpoint)."""
    from deeplight.models.registry import get_model, list_models

    names = []
    for name in list_models():
        try:
            model = get_model(name)
        except (TypeError, ValueError):  # a model that needs arguments is not offered untrained
            continue
        if sum(p.numel() for p in model.parameters() if p.requires_grad) == 0:
            names.append(name)
    return names


def list_model_choices(settings: Settings) -> list[ModelChoice]:
    """Checkpoints in ``settings.checkpoint_dir`` (DeepLightSR first) plus weight-free baselines."""
    from deeplight.models.checkpoint import read_checkpoint_meta

    choices: list[ModelChoice] = []
    folder = settings.checkpoint_dir
    if folder.is_dir():
        for weights in sorted(folder.glob("*.safetensors")):
            name = weights.stem
            if weights.with_suffix(".json").exists():
                try:
                    name = str(read_checkpoint_meta(weights)["model"])
                except CheckpointError:  # unreadable or not a checkpoint JSON: not offered
                    continue
            choices.append(
                ModelChoice(f"ckpt:{weights.stem}", f"{name} (checkpoint {weights.stem})", weights, name)
            )
    choices.sort(key=lambda c: (0 if "deeplight" in c.name.lower() else 1, c.label))
    for name in _parameter_free_baselines():
        choices.append(ModelChoice(name, f"{name} (baseline, no weights)", None, name))
    return choices


def load_model(choice: ModelChoice, device: str = "auto"):
    """Load the model of ``choice`` (checkpoint verified by hash) in eval mode.

    Returns:
        ``(model, model_id)``; model_id is the checkpoint's sha256 or the registry name.

    Raises:
        CheckpointError: the checkpoint is missing or corrupt.
    """
    from deeplight.infer.models import open_model

    if choice.checkpoint is not None and not choice.checkpoint.exists():
        raise CheckpointError(f"checkpoint {choice.checkpoint} not found; pick another model")
    model, model_id, _name = open_model(choice.checkpoint if choice.checkpoint is not None else choice.name, device)
    return model, model_id


def reconstruct(
    model,
    model_id: str,
    crop: Scene,
    *,
    self_ensemble: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cache=None,
) -> Reconstruction:
    """Reconstruct the HR radiance of a (cropped) scene from its LR DN and auxiliary layers.

    Args:
        model: a model following docs/CONTRACTS.md (from :func:`load_model`).
        model_id: identifier of the weights (cache key part).
        crop: the scene to reconstruct; ``crop.lr`` (h, w) DN, ``crop.dmo``/``crop.dem`` optional.
        self_ensemble: average 8 flips/rotations and return their std as uncertainty.
        progress: called with (done, total) tiles.
        cache: the inference engine's ``TileCache`` (shared by every session), or None.

    Returns:
        The reconstruction, (8h, 8w) radiance in nW/cm^2/sr.
    """
    from deeplight.infer import predict_scene_array

    result = predict_scene_array(
        model, crop, self_ensemble=self_ensemble, progress=progress, cache=cache, model_id=model_id
    )
    return Reconstruction(
        radiance=np.asarray(result.radiance, dtype=np.float32),
        uncertainty=None if result.uncertainty is None else np.asarray(result.uncertainty, dtype=np.float32),
        from_cache=bool(result.from_cache),
        model_id=model_id,
    )
