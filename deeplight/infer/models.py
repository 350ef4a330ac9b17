"""Opening the model of a prediction: a checkpoint file or a weight-free baseline, with its identity."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from deeplight.errors import CheckpointError, ConfigError


def open_model(spec: str | os.PathLike[str], device: str | torch.device = "auto") -> tuple[torch.nn.Module, str, str]:
    """The model of ``spec`` in eval mode on ``device``, its identity and its name.

    Args:
        spec: a ``.safetensors`` checkpoint (verified by its hash) or the registry name of a model
            without trainable weights (``bicubic``).
        device: "auto", "cpu", "cuda[:N]" or "mps".

    Returns:
        ``(model, model_id, name)``: ``model_id`` is the checkpoint's SHA-256 or the registry name
        (the identity of the prediction cache, the same for the dashboard and the command line);
        ``name`` the model's registry name.

    Raises:
        CheckpointError: a missing or corrupt checkpoint.
        ConfigError: an unknown name, or a model with weights given without a checkpoint.
    """
    from deeplight.infer.devices import resolve_device

    dev = resolve_device(device)
    text = str(spec)
    if text.endswith(".safetensors") or Path(text).suffix in (".json", ".pt"):
        from deeplight.models.checkpoint import load_checkpoint

        if not Path(text).exists():
            raise CheckpointError(f"checkpoint {text} not found; give an existing .safetensors file")
        model, meta = load_checkpoint(text, dev)
        model.eval()
        return model, str(meta.get("sha256", Path(text).stem)), str(meta.get("model", Path(text).stem))
    from deeplight.models.registry import get_model, list_models

    if text not in list_models():
        raise ConfigError(f"unknown model {text!r}: give a .safetensors checkpoint or one of {', '.join(list_models())}")
    model = get_model(text).to(dev)
    if any(p.requires_grad for p in model.parameters()):
        raise ConfigError(
            f"model {text!r} has trainable weights: give its trained .safetensors checkpoint instead of the name"
        )
    model.eval()
    return model, text, text
