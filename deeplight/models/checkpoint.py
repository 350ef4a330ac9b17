"""Model checkpoints: safetensors weights plus a JSON description, written atomically.

Loading never unpickles: weights come from safetensors only, and the JSON names the model and its
constructor arguments, so a checkpoint can be rebuilt without the code that trained it knowing it.
See docs/CONTRACTS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from deeplight import __version__
from deeplight.errors import CheckpointError
from deeplight.utils_io import atomic_path, atomic_write_text, sha256_file


def _paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``x``, ``x.safetensors`` or ``x.json`` -> (weights path, metadata path)."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in {".safetensors", ".json"} else path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


def save_checkpoint(model: torch.nn.Module, path: str | os.PathLike[str], meta: dict[str, Any]) -> Path:
    """Write ``model``'s weights and ``meta`` as ``<stem>.safetensors`` + ``<stem>.json``.

    Args:
        model: the module; its ``state_dict`` is saved (tensors made contiguous, on CPU).
        path: the stem, or either file name.
        meta: must hold ``model`` (registry name) and ``model_kwargs``; ``step``, ``metrics``,
            ``data`` are recommended. ``code_version`` and ``sha256`` are filled in.

    Returns:
        The weights path. Both files are renamed into place only when fully written.
    """
    for key in ("model", "model_kwargs"):
        if key not in meta:
            raise CheckpointError(f"checkpoint metadata needs the key {key!r} (got {sorted(meta)})")
    weights, meta_path = _paths(path)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp))
    full_meta = {"code_version": code_version(), **meta, "sha256": sha256_file(weights)}
    atomic_write_text(meta_path, json.dumps(full_meta, indent=2, sort_keys=True, default=str))
    return weights


def read_checkpoint_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata of a checkpoint, with a clear error when missing or malformed."""
    weights, meta_path = _paths(path)
    if not meta_path.exists():
        raise CheckpointError(
            f"checkpoint metadata {meta_path} not found: a checkpoint is a .safetensors file with a "
            "JSON file of the same name beside it (see docs/CONTRACTS.md)"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint metadata {meta_path} is not valid JSON ({exc}): re-save it") from exc
    if not isinstance(meta, dict) or "model" not in meta:
        raise CheckpointError(f"checkpoint metadata {meta_path} does not name its model (key 'model')")
    return meta


def load_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu", expect_model: str | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a model from a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the stem or either file.
        device: where to put the model.
        expect_model: if given, the registry name the checkpoint must hold.

    Returns:
        ``(model in eval mode, metadata dict)``.

    Raises:
        CheckpointError: missing files, missing hash, hash mismatch (corrupt or truncated), another model's
            weights, or weights that do not fit the architecture.
    """
    from deeplight.models.registry import get_model

    weights, meta_path = _paths(path)
    if not weights.exists():
        raise CheckpointError(f"checkpoint weights {weights} not found: check the path or train one first")
    meta = read_checkpoint_meta(weights)
    if expect_model is not None and meta["model"] != expect_model:
        raise CheckpointError(
            f"checkpoint {weights} holds model {meta['model']!r}, not {expect_model!r}: pick a matching checkpoint"
        )
    expected_hash = meta.get("sha256")
    if not isinstance(expected_hash, str) or len(expected_hash) != 64:
        raise CheckpointError(
            f"checkpoint metadata {meta_path} has no valid 'sha256' of {weights.name}, so the weights cannot "
            "be verified: re-save the checkpoint with save_checkpoint (it fills the hash in)"
        )
    if sha256_file(weights) != expected_hash.lower():
        raise CheckpointError(
            f"checkpoint {weights} is corrupt: its SHA-256 does not match {meta_path.name}; re-download or retrain it"
        )
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {weights} cannot be read as safetensors ({exc})") from exc
    try:
        model = get_model(meta["model"], **meta.get("model_kwargs", {}))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {meta_path} describes a model this version cannot build "
            f"({meta['model']!r} with {meta.get('model_kwargs')}): {exc}"
        ) from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint {weights} does not fit model {meta['model']!r} with {meta.get('model_kwargs')}: {exc}"
        ) from exc
    return model.to(device).eval(), meta
