"""The resumable training state: ``<run>/state.pt`` beside the ``last`` model checkpoint.

Holds what a safetensors checkpoint does not: optimiser, scheduler and gradient-scaler states, RNG
states, the step (which fixes the data position, see :mod:`deeplight.train.sampling`), the best
validation score and the config. Saved with ``torch.save`` of tensors, dicts, lists and numbers only,
written atomically, and loaded with ``weights_only=True`` (nothing arbitrary is unpickled).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from deeplight.errors import CheckpointError
from deeplight.utils_io import atomic_path

STATE_FORMAT = 1


def save_training_state(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` (tensors/containers/numbers/strings only) atomically to ``path``."""
    with atomic_path(path) as tmp:
        torch.save({"format": STATE_FORMAT, **state}, tmp)


def load_training_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a state file written by :func:`save_training_state`.

    Raises:
        CheckpointError: the file is missing, truncated/corrupt, or holds objects other than tensors
            and plain containers (``weights_only=True`` refuses them).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"training state {path} not found: nothing to resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise CheckpointError(
            f"training state {path} is corrupt or not a DeepLight training state ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); delete the run folder to start over"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"training state {path} has an unknown format: delete it to start over")
    return state


def rng_state() -> dict[str, Any]:
    """Torch CPU (and CUDA, when present) RNG states as tensors."""
    out: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def restore_rng_state(saved: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(saved["torch"])
    if "cuda" in saved and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda"])
