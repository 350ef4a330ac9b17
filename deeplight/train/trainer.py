"""The training loop: single process or torchrun DDP, resumable bit-exactly on CPU.

Plain PyTorch (DESIGN.md rule 9): AdamW, linear warm-up + cosine decay, global-norm gradient
clipping, bf16 autocast on CUDA only, modality dropout, periodic validation keeping the best
checkpoint, CSV + TensorBoard logs and a tqdm bar on rank 0.

Run folder (``train.out_dir``)::

    last.safetensors / last.json    model checkpoint of the latest saved step (models/checkpoint.py)
    best.safetensors / best.json    checkpoint with the best validation PSNR so far
    state.pt                        optimiser, scheduler, scaler, RNG, step, best score (state.py)
    state.pt.sha256                 its SHA-256, checked before a resume (--fresh starts over)
    log.csv                         one row per logged step and per validation
    tb/                             TensorBoard events
    config.yaml                     the resolved config of the run

Resume: when ``state.pt`` exists the run continues from its step. The data position is the step
(see sampling.py) and the per-step RNG is re-seeded from (seed, step, rank), so an interrupted and
resumed run ends with the same weights as an uninterrupted one (bit-exact on CPU, tested).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset

from deeplight.errors import CheckpointError, ConfigError
from deeplight.contracts import BORDER_PX
from deeplight.data.samples import collate_samples
from deeplight.models.checkpoint import load_checkpoint, save_checkpoint
from deeplight.train.config import TrainConfig
from deeplight.train.distributed import DistContext, all_reduce_mean, setup_distributed
from deeplight.train.sampling import StepBatchSampler, modality_dropout
from deeplight.train.schedule import build_scheduler
from deeplight.train.state import load_training_state, restore_rng_state, rng_state, save_training_state
from deeplight.utils_io import (
    atomic_write_text,
    check_outputs_distinct,
    hash_sidecar,
    read_hash_sidecar,
    replace_with_hash,
    sha256_file,
)

LOG_FIELDS = ["step", "kind", "loss", "lr", "grad_norm", "samples_per_s", "val_loss", "val_psnr", "wall_s"]

LossFn = Callable[[dict[str, Any], dict[str, torch.Tensor]], Any]


@dataclass
class TrainResult:
    """What a finished (or already complete) run reports.

    Attributes:
        out_dir: the run folder.
        steps: optimiser steps done in total.
        best_psnr: best validation PSNR (dB) seen, nan when never validated.
        best_path: stem of the best checkpoint (``<out_dir>/best``).
        last_path: stem of the last checkpoint.
        history: the rows logged during this invocation.
        wall_s: seconds spent in this invocation.
        final_weights: the final model state dict (CPU tensors), handy for tests.
    """

    out_dir: Path
    steps: int
    best_psnr: float
    best_path: Path
    last_path: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    final_weights: dict[str, torch.Tensor] = field(default_factory=dict)


LOGGER = logging.getLogger(__name__)


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Move the tensors of a collated sample dict to ``device`` (non-tensors kept)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def reduce_loss(value: Any) -> tuple[torch.Tensor, dict[str, float]]:
    """Accept a loss returned as a tensor, ``(tensor, parts)`` or ``{"loss": tensor, ...}``."""
    if isinstance(value, torch.Tensor):
        return value, {}
    if isinstance(value, tuple) and value and isinstance(value[0], torch.Tensor):
        parts = value[1] if len(value) > 1 and isinstance(value[1], dict) else {}
        return value[0], {k: float(v) for k, v in parts.items()}
    if isinstance(value, dict) and "loss" in value:
        return value["loss"], {k: float(v) for k, v in value.items() if k != "loss"}
    raise TypeError(f"the loss function returned {type(value).__name__}; expected a tensor")


def build_loss(cfg: TrainConfig, model: nn.Module) -> LossFn:
    """The DeepLight loss of ``deeplight.train.losses`` configured by ``cfg.loss.kwargs``."""
    from deeplight.train import losses

    return losses.build_loss(cfg.model.name, model, **cfg.loss.kwargs)


def _synthetic_datasets(cfg: TrainConfig, need_train: bool, need_val: bool) -> tuple[Dataset | None, Dataset | None, str]:
    """The synthetic splits of ``cfg.data.root`` that are needed, and their description."""
    from deeplight.data.datasets import DeepLightMDDataset
    from deeplight.train.preloaded import PreloadedClips

    root = Path(cfg.data.root)
    seed = cfg.train.seed
    train = val = None
    if cfg.data.in_memory:
        if need_train:
            train = PreloadedClips(root, cfg.data.train_split, augment=cfg.data.augment, seed=seed)
        if need_val:
            val = PreloadedClips(root, cfg.data.val_split, augment=False, seed=seed)
    else:
        if need_train:
            train = DeepLightMDDataset(root, cfg.data.train_split, augment=cfg.data.augment, seed=seed)
        if need_val:
            val = DeepLightMDDataset(root, cfg.data.val_split, augment=False, seed=seed)
    description = f"DeepLightMD-layout folder {root} (splits {cfg.data.train_split}/{cfg.data.val_split})"
    manifest = root / "manifest.json"
    if manifest.is_file():
        try:
            info = json.loads(manifest.read_text(encoding="utf-8"))
            keep = {k: info[k] for k in ("seed", "counts", "lr_size", "generator", "simulated") if k in info}
            description += f"; manifest: {json.dumps(keep, sort_keys=True, default=str)}"
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    return train, val, description


def build_datasets(cfg: TrainConfig) -> tuple[Dataset, Dataset]:
    """Training and validation sets of a config.

    By default the DeepLightMD splits of ``cfg.data.root``. With ``data.real_places`` set
    (:mod:`deeplight.data.real_corpus`): ``data.real_fraction`` of the training samples are real
    HR tiles of the ``train`` places (a :class:`~deeplight.data.real_corpus.MixedDataset`; 1.0 =
    real tiles only) and ``data.val_source: real-val`` validates on the held-out real-val places.
    The training set's ``description`` (the checkpoint's ``data`` field) names every source, and
    where validation (hence the best checkpoint) comes from.

    Raises:
        RasterError: missing split folder, a clip lacking a modality file, mismatched grids
            (raised by :mod:`deeplight.data.datasets`, naming the folder), or real rasters missing
            (naming the pattern and ``DEEPLIGHT_DATA_DIR``).
        ConfigError: a bad places file, or synthetic clips whose HR side differs from
            ``data.real_hr_size``.
    """
    d = cfg.data
    seed = cfg.train.seed
    use_real_train = bool(d.real_places) and d.real_fraction > 0.0
    use_real_val = d.val_source == "real-val"
    need_synth_train = not (use_real_train and d.real_fraction >= 1.0)
    synth_train, synth_val, synth_desc = _synthetic_datasets(cfg, need_synth_train, not use_real_val)
    if synth_train is not None:
        synth_train.description = synth_desc  # type: ignore[attr-defined]
    if not d.real_places:
        return synth_train, synth_val  # type: ignore[return-value]

    from deeplight.data.real_corpus import MixedDataset, RealCorpusDataset, load_places

    places = load_places(d.real_places)
    train: Dataset
    if use_real_train:
        real_train = RealCorpusDataset(
            places, "train", hr_size=d.real_hr_size, seed=seed, augment=d.augment,
            max_tiles_per_place=d.real_max_tiles_per_place,
        )
        if synth_train is not None:
            try:
                train = MixedDataset(synth_train, real_train, d.real_fraction, seed=seed)
            except ConfigError as exc:
                raise ConfigError(f"data.real_hr_size: {exc}") from None
        else:
            train = real_train
    else:
        train = synth_train  # type: ignore[assignment]
    val: Dataset
    if use_real_val:
        val = RealCorpusDataset(places, "real-val", hr_size=d.real_hr_size, seed=seed, randomize=False)
        val_desc = f"validation (best checkpoint): real-val places {', '.join(val.places)} of {d.real_places}"  # type: ignore[attr-defined]
    else:
        val = synth_val  # type: ignore[assignment]
        val_desc = f"validation (best checkpoint): synthetic split {d.val_split} of {d.root}"
    train.description = f"{train.description}; {val_desc}"  # type: ignore[attr-defined]
    return train, val


def batch_psnr(sr: torch.Tensor, hr: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Per-image PSNR (dB, data range 1, 8-px border cropped, valid pixels) of (B, 1, H, W) tensors."""
    b = BORDER_PX
    s, h = sr[..., b:-b, b:-b].float(), hr[..., b:-b, b:-b].float()
    m = torch.ones_like(h) if valid is None else (valid[..., b:-b, b:-b] > 0).float()
    mse = (((s - h) ** 2) * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))


class Trainer:
    """Trains one registered model from a :class:`TrainConfig`.

    Args:
        cfg: the configuration.
        train_set, val_set: datasets of sample dicts; by default the DeepLightMD splits of
            ``cfg.data.root``.
        loss_fn: ``loss_fn(outputs, batch)``; by default ``deeplight.train.losses.build_loss``.
        ctx: distributed context; by default from torchrun's environment.
        show_progress: tqdm bar on rank 0.
    """

    def __init__(
        self, cfg: TrainConfig, train_set: Dataset | None = None, val_set: Dataset | None = None,
        loss_fn: LossFn | None = None, ctx: DistContext | None = None, show_progress: bool = True,
    ) -> None:
        from deeplight.models.registry import get_model

        self.cfg = cfg
        self.ctx = ctx or setup_distributed(cfg.train.device)
        if cfg.train.threads > 0:
            torch.set_num_threads(cfg.train.threads)
        if train_set is None or val_set is None:
            default_train, default_val = build_datasets(cfg)
            train_set = train_set or default_train
            val_set = val_set or default_val
        self.train_set, self.val_set = train_set, val_set
        self.out_dir = Path(cfg.train.out_dir)
        self.show_progress = show_progress
        torch.manual_seed(cfg.train.seed)
        try:
            self.model = get_model(cfg.model.name, **cfg.model.kwargs)
        except TypeError as exc:
            raise ConfigError(f"model.kwargs {cfg.model.kwargs} do not fit model {cfg.model.name!r}: {exc}") from exc
        self.model.to(self.ctx.device)
        self.loss_fn = loss_fn or build_loss(cfg, self.model)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.trainable or [torch.nn.Parameter(torch.zeros(1))], lr=cfg.optim.lr,
            betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay,
        )
        self.scheduler = build_scheduler(
            self.optimizer, cfg.optim.warmup_steps, cfg.train.steps, cfg.optim.min_lr_ratio
        )
        self.use_amp = cfg.train.amp and self.ctx.device.type == "cuda"
        # bf16 needs no loss scaling; the scaler is kept (disabled) so the state format is uniform.
        self.scaler = torch.amp.GradScaler("cuda", enabled=False)
        self.step = 0
        self.best_psnr = -math.inf
        self.history: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ checkpoint / state
    @property
    def state_path(self) -> Path:
        return self.out_dir / "state.pt"

    def _meta(self, metrics: dict[str, float]) -> dict[str, Any]:
        data_desc = getattr(self.train_set, "description", None)
        return {
            "model": self.cfg.model.name,
            "model_kwargs": self.cfg.model.kwargs,
            "family": getattr(self.model, "family", "unknown"),
            "step": self.step,
            "metrics": metrics,
            "data": data_desc if isinstance(data_desc, str) else f"DeepLightMD folder {self.cfg.data.root}",
            "config": self.cfg.to_dict(),
            "simulated_lr": True,
            **({"init_from": self.cfg.train.init_from} if self.cfg.train.init_from else {}),
        }

    def _save_state(self) -> None:
        save_checkpoint(self.model, self.out_dir / "last", self._meta({"best_val_psnr": self.best_psnr}))
        save_state_with_hash(
            self.state_path,
            {
                "step": self.step,
                "model_name": self.cfg.model.name,
                "model_kwargs_json": json.dumps(self.cfg.model.kwargs, sort_keys=True),
                "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng": rng_state(),
                "best_psnr": self.best_psnr,
            },
        )

    def _init_from(self) -> None:
        """Start a fresh run from the weights of ``train.init_from`` (fine-tuning)."""
        from deeplight.models.checkpoint import load_checkpoint

        source, _ = load_checkpoint(self.cfg.train.init_from, expect_model=self.cfg.model.name)
        LOGGER.info("fresh run in %s starts from the weights of %s", self.out_dir, self.cfg.train.init_from)
        try:
            self.model.load_state_dict(source.state_dict(), strict=True)
        except RuntimeError as exc:
            raise CheckpointError(
                f"train.init_from {self.cfg.train.init_from} does not fit model.kwargs {self.cfg.model.kwargs}: {exc}"
            ) from exc

    def _resume(self) -> None:
        if not self.state_path.exists():
            if self.cfg.train.init_from:
                self._init_from()
            return
        verify_state_hash(self.state_path, self.out_dir)
        state = load_training_state(self.state_path)
        kwargs_json = json.dumps(self.cfg.model.kwargs, sort_keys=True)
        if state.get("model_name") != self.cfg.model.name or state.get("model_kwargs_json") != kwargs_json:
            raise CheckpointError(
                f"run folder {self.out_dir} holds a run of model {state.get('model_name')!r} "
                f"{state.get('model_kwargs_json')}, but the config asks for {self.cfg.model.name!r} {kwargs_json}: "
                "choose another train.out_dir or delete that folder"
            )
        try:
            self.model.load_state_dict(state["model"], strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"training state {self.state_path} does not fit the model: {exc}") from exc
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"])
        self.step = int(state["step"])
        self.best_psnr = float(state["best_psnr"])
        LOGGER.info("resumed %s at step %d (best validation PSNR %.2f dB)", self.out_dir, self.step,
                    self.best_psnr)

    # ------------------------------------------------------------------ logging
    def _open_logs(self) -> tuple[Any, Any]:
        """CSV (rows beyond the resume step dropped, rewritten atomically) and a TensorBoard writer."""
        if not self.ctx.is_main:
            return None, None
        csv_path = self.out_dir / "log.csv"
        rows = []
        if csv_path.exists():
            with open(csv_path, newline="", encoding="utf-8") as fh:
                rows = [r for r in csv.DictReader(fh) if r.get("step", "").isdigit() and int(r["step"]) <= self.step]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(csv_path, buf.getvalue())
        try:
            from torch.utils.tensorboard import SummaryWriter

            tb = SummaryWriter(str(self.out_dir / "tb"), purge_step=self.step + 1)
        except ImportError:  # pragma: no cover - tensorboard is a dependency, but stay usable
            tb = None
        return open(csv_path, "a", newline="", encoding="utf-8"), tb

    def _log(self, row: dict[str, Any], csv_fh: Any, tb: Any) -> None:
        self.history.append(row)
        if csv_fh is None:
            return
        csv.DictWriter(csv_fh, fieldnames=LOG_FIELDS).writerow({k: row.get(k, "") for k in LOG_FIELDS})
        csv_fh.flush()
        if tb is not None:
            for key in ("loss", "lr", "grad_norm", "samples_per_s", "val_loss", "val_psnr"):
                if isinstance(row.get(key), float) and math.isfinite(row[key]):
                    tb.add_scalar(f"{row['kind']}/{key}", row[key], row["step"])

    # ------------------------------------------------------------------ loop
    def _ddp_model(self) -> nn.Module:
        if not self.ctx.distributed or not self.trainable:
            return self.model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=True)

    def _forward_loss(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_amp):
            outputs = model(batch)
            loss, _ = reduce_loss(self.loss_fn(outputs, batch))
        return loss.float(), outputs

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean validation loss and PSNR (dB) over the validation split (this rank's share, averaged)."""
        self.model.eval()
        n = len(self.val_set)  # type: ignore[arg-type]
        idx = list(range(self.ctx.rank, n, self.ctx.world_size))
        loader = DataLoader(
            torch.utils.data.Subset(self.val_set, idx), batch_size=max(1, self.cfg.data.batch_size // self.ctx.world_size),
            shuffle=False, num_workers=self.cfg.data.num_workers, collate_fn=collate_samples,
        )
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.ctx.device)
        psnr_sum = torch.zeros((), dtype=torch.float64, device=self.ctx.device)
        count = torch.zeros((), dtype=torch.float64, device=self.ctx.device)
        for i, batch in enumerate(loader):
            if self.cfg.data.max_val_batches and i >= self.cfg.data.max_val_batches:
                break
            batch = to_device(batch, self.ctx.device)
            loss, outputs = self._forward_loss(self.model, batch)
            b = batch["lr"].shape[0]
            loss_sum += loss.double() * b
            psnr_sum += batch_psnr(outputs["sr"].float().clamp(0, 1.5), batch["hr"], batch.get("valid")).double().sum()
            count += b
        self.model.train()
        if self.ctx.distributed:
            import torch.distributed as dist

            for t in (loss_sum, psnr_sum, count):
                dist.all_reduce(t)
        c = max(float(count), 1.0)
        return {"val_loss": float(loss_sum) / c, "val_psnr": float(psnr_sum) / c}

    def fit(self) -> TrainResult:
        """Train to ``train.steps`` (resuming if a state exists) and return the result."""
        cfg = self.cfg
        if cfg.train.export:  # refused before any step (on every rank), not after hours of training
            check_export_target(self.out_dir, cfg.train.export)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._resume()
        if self.ctx.is_main:
            atomic_write_text(self.out_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        started = time.perf_counter()
        csv_fh, tb = self._open_logs()
        try:
            if self.step < cfg.train.steps:
                self._loop(csv_fh, tb)
        finally:
            if csv_fh is not None:
                csv_fh.close()
            if tb is not None:
                tb.close()
        if self.ctx.is_main and cfg.train.export:
            self.export(cfg.train.export)
        return TrainResult(
            out_dir=self.out_dir, steps=self.step,
            best_psnr=self.best_psnr if math.isfinite(self.best_psnr) else math.nan,
            best_path=self.out_dir / "best", last_path=self.out_dir / "last", history=self.history,
            wall_s=time.perf_counter() - started,
            final_weights={k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
        )

    def _batches(self, sampler: StepBatchSampler):
        """This rank's batches from the current step on, one DataLoader per epoch segment.

        Datasets with ``set_epoch`` (random patches/augmentation seeded by epoch) are told the epoch
        before each segment's loader (and its workers) start, so the data of step s never depends on
        where the run was resumed.
        """
        step = self.step
        while step < self.cfg.train.steps:
            epoch = step // sampler.batches_per_epoch
            end = min(self.cfg.train.steps, (epoch + 1) * sampler.batches_per_epoch)
            if hasattr(self.train_set, "set_epoch"):
                self.train_set.set_epoch(epoch)
            segment = StepBatchSampler(
                self.train_set, self.cfg.data.batch_size, self.ctx.rank, self.ctx.world_size, self.cfg.train.seed,
                step, end,
            )
            loader = DataLoader(
                self.train_set, batch_sampler=segment, num_workers=self.cfg.data.num_workers,
                collate_fn=collate_samples, pin_memory=self.ctx.device.type == "cuda",
            )
            yield from loader
            step = end

    def _loop(self, csv_fh: Any, tb: Any) -> None:
        cfg = self.cfg
        sampler = StepBatchSampler(
            self.train_set, cfg.data.batch_size, self.ctx.rank, self.ctx.world_size, cfg.train.seed,
            self.step, cfg.train.steps,
        )
        model = self._ddp_model()
        model.train()
        drop = {"dmo": cfg.data.drop_dmo, "dem": cfg.data.drop_dem}
        bar = None
        if self.ctx.is_main and self.show_progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.train.steps, initial=self.step, desc=f"train {cfg.model.name}", dynamic_ncols=True)
        window_start, window_samples = time.perf_counter(), 0
        run_start = time.perf_counter()
        for batch in self._batches(sampler):
            torch.manual_seed(cfg.train.seed * 7919 + self.step * 31 + self.ctx.rank)
            batch = modality_dropout(
                to_device(batch, self.ctx.device), self.step, cfg.train.seed, drop, self.ctx.rank, self.ctx.world_size
            )
            loss, _ = self._forward_loss(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"loss became {float(loss)} at step {self.step}: lower optim.lr or check the data"
                )
            self.optimizer.zero_grad(set_to_none=True)
            grad_norm = torch.zeros(())
            if loss.requires_grad:
                loss.backward()
                if cfg.optim.grad_clip > 0 and self.trainable:
                    grad_norm = torch.nn.utils.clip_grad_norm_(self.trainable, cfg.optim.grad_clip)
                self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            window_samples += cfg.data.batch_size
            loss_mean = float(all_reduce_mean(loss.detach(), self.ctx))
            if bar is not None:
                bar.update(1)
                elapsed = max(time.perf_counter() - window_start, 1e-9)
                bar.set_postfix(loss=f"{loss_mean:.4f}", samples_s=f"{window_samples / elapsed:.1f}")
            if self.step % cfg.train.log_every == 0 or self.step == cfg.train.steps:
                elapsed = max(time.perf_counter() - window_start, 1e-9)
                self._log(
                    {
                        "step": self.step, "kind": "train", "loss": loss_mean,
                        "lr": float(self.optimizer.param_groups[0]["lr"]), "grad_norm": float(grad_norm),
                        "samples_per_s": window_samples / elapsed, "wall_s": time.perf_counter() - run_start,
                    },
                    csv_fh, tb,
                )
                window_start, window_samples = time.perf_counter(), 0
            if self.step % cfg.train.val_every == 0 or self.step == cfg.train.steps:
                scores = self.validate()
                self._log({"step": self.step, "kind": "val", **scores, "wall_s": time.perf_counter() - run_start}, csv_fh, tb)
                # Scores are all-reduced, so every rank takes the same decision; rank 0 writes.
                if scores["val_psnr"] > self.best_psnr:
                    self.best_psnr = scores["val_psnr"]
                    if self.ctx.is_main:
                        save_checkpoint(self.model, self.out_dir / "best", self._meta(scores))
            if self.ctx.is_main and (self.step % cfg.train.ckpt_every == 0 or self.step == cfg.train.steps):
                self._save_state()
        if bar is not None:
            bar.close()

    def export(self, stem: str | Path) -> Path:
        """Copy this run's best checkpoint to ``stem`` (see :func:`export_best`)."""
        return export_best(self.out_dir, stem)


def export_best(run_dir: str | Path, stem: str | Path) -> Path:
    """Copy the best checkpoint of a run folder (the last one when never validated) to ``stem``.

    The copy is re-saved through ``save_checkpoint`` (atomic, fresh SHA-256), after the source has
    passed its own hash check.

    Raises:
        CheckpointError: the run folder holds no checkpoint.
    """
    run_dir = Path(run_dir)
    check_export_target(run_dir, stem)
    source = run_dir / "best"
    if not source.with_suffix(".json").exists():
        source = run_dir / "last"
    if not source.with_suffix(".json").exists():
        raise CheckpointError(f"run folder {run_dir} holds no checkpoint yet (best/last): train first")
    model, meta = load_checkpoint(source)
    meta = {k: v for k, v in meta.items() if k not in {"sha256", "code_version"}}
    return save_checkpoint(model, stem, meta)


def check_export_target(run_dir: str | Path, stem: str | Path) -> None:
    """Refuse a ``train.export`` stem that would replace the run's own ``best``/``last`` checkpoint (or
    its sidecars): the export copies the source checkpoint, so it may not overwrite it.

    Raises:
        ConfigError: naming ``train.export`` and the checkpoint it would replace.
    """
    run_dir = Path(run_dir)
    check_outputs_distinct(
        {"the run's best checkpoint": (run_dir / "best", "checkpoint"),
         "the run's last checkpoint": (run_dir / "last", "checkpoint")},
        {"train.export": (Path(stem), "checkpoint")},
    )


def save_state_with_hash(path: Path, state: dict[str, Any]) -> None:
    """Save the training state and record its SHA-256 in ``state.pt.sha256`` (as checkpoints carry theirs).

    The state is written to a hidden staging file first (atomically), then renamed onto ``path`` by
    :func:`deeplight.utils_io.replace_with_hash`, which keeps the sidecar matching the file at every
    moment, so a run killed at any point still resumes.
    """
    staged = path.with_name(f".{path.name}.staged")
    try:
        save_training_state(staged, state)
        replace_with_hash(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def verify_state_hash(path: Path, run_dir: Path) -> None:
    """Check ``state.pt`` against its ``state.pt.sha256`` before resuming from it.

    A state without a sidecar (a run started by an older DeepLight) resumes with a warning; the next
    save writes the sidecar.

    Raises:
        CheckpointError: the file does not match its recorded hash (damaged or changed after writing);
            the message names it and suggests ``--fresh``.
    """
    recorded = read_hash_sidecar(path)
    sidecar = hash_sidecar(path)
    if recorded is None:
        warnings.warn(
            f"training state {path} has no hash sidecar {sidecar.name} (written by an older DeepLight): resuming "
            "without verifying it; the next save records its SHA-256",
            UserWarning, stacklevel=2,
        )
        return
    actual = sha256_file(path)
    if actual not in recorded:
        raise CheckpointError(
            f"training state {path} is corrupt or was changed after it was written: it does not match its recorded "
            f"SHA-256 in {sidecar} (found {actual[:12]}..., recorded "
            f"{', '.join(d[:12] + '...' for d in recorded) or 'nothing readable'}), and resuming from it could "
            f"silently continue from wrong weights; restore it, or start the run over with `deeplight train "
            f"--config ... --fresh` (deletes {run_dir})"
        )


def train_from_config(cfg: TrainConfig, **kwargs: Any) -> TrainResult:
    """Build a :class:`Trainer` for ``cfg`` and run it (see :class:`Trainer` for ``kwargs``)."""
    return Trainer(cfg, **kwargs).fit()
