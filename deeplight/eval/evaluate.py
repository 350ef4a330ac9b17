"""Run checkpoints on test sets and aggregate the metrics per method.

A *method* is a checkpoint (``path/to/stem`` of ``stem.safetensors`` + ``stem.json``) or a
parameter-free registered model written ``model:<name>`` (e.g. ``model:bicubic``). Each is run on

* ``synthetic``: the test split of a DeepLightMD-layout folder (LR simulated by the DMSP-like
  degradation model, all auxiliary modalities present), and/or
* ``real``: real VIIRS-class HR tiles with simulated LR and NO auxiliary modalities
  (:mod:`deeplight.eval.real_pairs`),

and every image gets the metrics of :func:`deeplight.eval.metrics.image_metrics`; a row is the mean
over images (NaNs skipped).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deeplight.errors import CheckpointError
from deeplight.eval.metrics import image_metrics

METRIC_KEYS = ("psnr", "ssim", "uiqi", "cc", "sam", "piqe", "flux_error", "urban_f1", "urban_iou", "lit_area_error")

ABLATION_FLAGS: dict[str, tuple[Any, str]] = {
    "calibration": ("none", "no calibration"),
    "global_alignment": (False, "no global alignment"),
    "local_alignment": (False, "no deformable alignment"),
    "fusion": (False, "no fusion"),
    "isp_head": (False, "no ISP supervision"),
    "detail_embedding": (False, "no HR detail embedding"),
    "use_dmo": (False, "no DMO"),
    "use_dem": (False, "no DEM"),
}
"""DeepLightSR constructor argument -> (value that switches a stage off, ablation label)."""


@dataclass
class Method:
    """A model to evaluate.

    Attributes:
        label: row name in the table.
        family: calibration / single-modal / multi-modal / deeplight / deeplight-ablation.
        model: the module (eval mode).
        source: checkpoint path or ``model:<name>``.
        meta: checkpoint metadata (empty for parameter-free models).
    """

    label: str
    family: str
    model: torch.nn.Module
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int | None:
        """Optimiser step at which the checkpoint was saved (None when not trained by the trainer)."""
        step = self.meta.get("step")
        return int(step) if isinstance(step, int) and step > 0 else None

    @property
    def budget(self) -> int | None:
        """Step budget of the run that produced the checkpoint (from its config), if known."""
        steps = self.meta.get("config", {}).get("train", {}).get("steps")
        return int(steps) if isinstance(steps, int) else None

    @property
    def steps_label(self) -> str:
        """``"best@200/400"`` (best-validation checkpoint of a 400-step run), ``"400"`` or ``""``."""
        if self.steps is None:
            return ""
        if self.budget is not None and self.budget != self.steps:
            return f"best@{self.steps}/{self.budget}"
        return str(self.steps)


def ablation_label(model_kwargs: dict[str, Any]) -> str | None:
    """The ablation a DeepLightSR's kwargs describe (``None`` for the full model)."""
    labels = [label for key, (off, label) in ABLATION_FLAGS.items() if model_kwargs.get(key, None) == off]
    return ", ".join(labels) if labels else None


def load_method(spec: str, device: torch.device | str = "cpu", label: str | None = None) -> Method:
    """Load a checkpoint stem/file or ``model:<name>`` as a :class:`Method`.

    Raises:
        CheckpointError: the checkpoint is missing, corrupt, or does not fit its model.
        ValueError: ``model:<name>`` names an unknown model (choices listed).
    """
    from deeplight.models.checkpoint import load_checkpoint
    from deeplight.models.registry import get_model, model_family

    if spec.startswith("model:"):
        name = spec.split(":", 1)[1]
        model = get_model(name).to(device).eval()
        if any(p.requires_grad for p in model.parameters()) and name != "bicubic":
            label = label or f"{name} (unfitted)"
        return Method(label=label or name, family=model_family(name), model=model, source=spec)
    path = Path(spec)
    model, meta = load_checkpoint(path, device)
    family = getattr(model, "family", "unknown")
    name = meta["model"]
    if family == "deeplight":
        ablation = ablation_label(meta.get("model_kwargs", {}))
        if ablation:
            family = "deeplight-ablation"
            name = f"{name} ({ablation})"
        else:
            preset = meta.get("model_kwargs", {}).get("preset")
            name = f"{name} ({preset})" if preset else name
    return Method(label=label or name, family=family, model=model, source=str(path), meta=meta)


def _batches(samples: Iterable[dict[str, torch.Tensor]], batch_size: int) -> Iterable[dict[str, torch.Tensor]]:
    """Stack consecutive samples of equal shapes into batches (a shape change starts a new batch)."""
    pending: list[dict[str, torch.Tensor]] = []
    for sample in samples:
        tensors = {k: v for k, v in sample.items() if isinstance(v, torch.Tensor)}
        if pending and (len(pending) == batch_size or pending[0]["hr"].shape != tensors["hr"].shape):
            yield {k: torch.stack([p[k] for p in pending]) for k in pending[0]}
            pending = []
        pending.append(tensors)
    if pending:
        yield {k: torch.stack([p[k] for p in pending]) for k in pending[0]}


@torch.no_grad()
def evaluate_method(
    method: Method, samples: Iterable[dict[str, torch.Tensor]], device: torch.device | str = "cpu",
    batch_size: int = 8, with_piqe: bool = True,
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Run one method on samples and aggregate.

    Args:
        method: the model.
        samples: unbatched sample dicts with ``hr`` (normalised radiance, NaN = nodata).
        device: where to run.
        batch_size: samples per forward pass.
        with_piqe: also compute PIQE.

    Returns:
        ``(means, per_image)``: mean of each metric over images (NaNs skipped) plus ``n`` and
        ``seconds_per_image``; and the per-image metric dicts.
    """
    per_image: list[dict[str, float]] = []
    seconds = 0.0
    for batch in _batches(samples, batch_size):
        hr = batch.pop("hr")
        valid = batch.get("valid")
        inputs = {k: v.to(device) for k, v in batch.items() if k not in {"isp"}}
        inputs["lr"] = torch.nan_to_num(inputs["lr"], nan=0.0)
        started = time.perf_counter()
        sr = method.model(inputs)["sr"].float().cpu()
        seconds += time.perf_counter() - started
        for i in range(sr.shape[0]):
            per_image.append(image_metrics(sr[i, 0], hr[i, 0], None if valid is None else valid[i, 0], with_piqe=with_piqe))
    if not per_image:
        raise ValueError("no test samples to evaluate: check the split or the real-data folder")
    means = {}
    for key in METRIC_KEYS:
        values = np.array([m.get(key, math.nan) for m in per_image], dtype=np.float64)
        finite = values[np.isfinite(values)]
        means[key] = float(finite.mean()) if finite.size else math.nan
    means["n"] = float(len(per_image))
    means["seconds_per_image"] = seconds / len(per_image)
    return means, per_image


def synthetic_test_samples(root: str | Path, split: str = "test", limit: int = 0) -> list[dict[str, torch.Tensor]]:
    """Samples of a DeepLightMD-layout split (first ``limit`` when > 0)."""
    from deeplight.data.datasets import DeepLightMDDataset

    dataset = DeepLightMDDataset(Path(root), split=split)
    n = len(dataset) if limit <= 0 else min(limit, len(dataset))
    return [dataset[i] for i in range(n)]


def resolve_methods(specs: list[str], device: torch.device | str = "cpu") -> list[Method]:
    """Load every spec; duplicate labels get the checkpoint stem appended."""
    methods = [load_method(s, device) for s in specs]
    seen: dict[str, int] = {}
    for m in methods:
        seen[m.label] = seen.get(m.label, 0) + 1
    for m in methods:
        if seen[m.label] > 1 and not m.source.startswith("model:"):
            m.label = f"{m.label} [{Path(m.source).stem}]"
    return methods


def check_specs_exist(specs: list[str]) -> None:
    """Fail early, naming the first checkpoint that does not exist."""
    for spec in specs:
        if spec.startswith("model:"):
            continue
        stem = Path(spec)
        stem = stem.with_suffix("") if stem.suffix in {".json", ".safetensors"} else stem
        if not stem.with_suffix(".safetensors").exists():
            raise CheckpointError(f"checkpoint {stem}.safetensors not found: train it first or fix the path")
