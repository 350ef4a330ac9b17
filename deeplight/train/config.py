"""Typed training configuration loaded from YAML.

The YAML maps one-to-one onto the dataclasses below (DESIGN.md rule 5). Unknown keys are rejected
with their dotted name and the valid choices; wrong types and non-finite numbers (``.inf``, ``.nan``,
also inside ``kwargs``) name the field; a file that is not UTF-8 is named. ``yaml.safe_load`` only,
no ``eval``. Relative paths in ``data.root`` and ``train.out_dir`` are resolved against the current
working directory by the caller (the CLI), never against the YAML's folder, so a committed config
works from the repository root.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deeplight.errors import ConfigError


@dataclass
class ModelConfig:
    """Which registered model to train.

    Attributes:
        name: registry name (``deeplight.models.list_models()``).
        kwargs: constructor keyword arguments (e.g. ``preset: demo``).
    """

    name: str = "deeplightsr"
    kwargs: dict[str, Any] = field(default_factory=dict)


VAL_SOURCES = ("synthetic", "real-val")
"""Choices of ``data.val_source``."""


@dataclass
class DataConfig:
    """The DeepLightMD-layout dataset to train on.

    Attributes:
        root: folder with ``<split>/<clip>/{lr,hr,dmo,dem,isp}.tif`` and ``manifest.json``.
        train_split: split used for training.
        val_split: split used for validation.
        batch_size: GLOBAL batch size (divided among DDP ranks; must be divisible by the world size).
        num_workers: DataLoader worker processes (0 = load in the main process; bit-exact resume).
        drop_dmo: probability of hiding the daytime multispectral input of a training sample
            (modality dropout: ``dmo`` zeroed, ``present[1]`` = 0) so the model works without it.
        drop_dem: same for the elevation input (``present[2]``).
        max_val_batches: at most this many validation batches per validation (0 = all).
        in_memory: load every clip of both splits into memory once (fast steps; needs RAM of about
            clips x 44 bytes x HR pixels), else read windows from the GeoTIFFs at every step.
        augment: random rot90/flip of training samples (seeded by seed, epoch and index).
        real_places: places file of real night-light rasters (``configs/real_places.yaml``;
            :mod:`deeplight.data.real_corpus`, files under ``$DEEPLIGHT_DATA_DIR``); empty = no real
            tiles. Relative paths are taken from the working directory (then the repository root).
        real_fraction: share of training samples drawn from the real ``train`` places (HR = real
            tile, LR simulated with randomised degradation), the rest being the synthetic clips of
            ``root``; 0 = synthetic only, 1 = real only (``root`` is then not read for training).
        real_max_tiles_per_place: at most this many training tiles per real place (drawn evenly
            over its files), so large tiles and long monthly series do not dominate.
        real_hr_size: HR side of the real tiles in pixels (multiple of 8); must equal the HR side of
            the synthetic clips when both are mixed (128 for ``--lr-size 16``).
        val_source: ``synthetic`` (the ``val_split`` of ``root``) or ``real-val`` (the real-val
            places of ``real_places``, realistic preset, fixed seeds): the best checkpoint is then
            selected on places never seen in training.
    """

    root: str = "data/runtime/synth"
    train_split: str = "train"
    val_split: str = "val"
    batch_size: int = 8
    num_workers: int = 0
    drop_dmo: float = 0.2
    drop_dem: float = 0.2
    max_val_batches: int = 0
    in_memory: bool = True
    augment: bool = True
    real_places: str = ""
    real_fraction: float = 0.0
    real_hr_size: int = 128
    real_max_tiles_per_place: int = 600
    val_source: str = "synthetic"


@dataclass
class LossConfig:
    """Keyword arguments of the DeepLight loss (``deeplight.train.losses``), passed through as-is."""

    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    """AdamW with linear warm-up then cosine decay.

    Attributes:
        lr: peak learning rate.
        weight_decay: AdamW decoupled weight decay.
        betas: Adam betas.
        warmup_steps: steps of linear warm-up from 0 to ``lr``.
        min_lr_ratio: final learning rate as a fraction of ``lr`` at the end of the cosine.
        grad_clip: max global gradient L2 norm (0 disables clipping).
    """

    lr: float = 2e-4
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0


@dataclass
class RunConfig:
    """Length, logging, checkpointing and devices of a run.

    Attributes:
        steps: optimiser steps in total.
        val_every: validate (and maybe keep the best checkpoint) every this many steps.
        log_every: write a CSV/TensorBoard row every this many steps.
        ckpt_every: save the resumable state every this many steps (and at the end).
        seed: seed of model init, data order and modality dropout.
        out_dir: run folder (logs, ``last``/``best`` checkpoints, ``state.pt``).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        amp: bf16 autocast, used on CUDA only (ignored on CPU).
        threads: torch CPU threads per process (0 = leave torch's default).
        export: optional path stem; the best checkpoint is copied there at the end.
        init_from: optional checkpoint stem whose weights start a fresh run (fine-tuning); the
            checkpoint must hold ``model.name`` with weights that fit ``model.kwargs``. Ignored when
            the run folder already holds a state (the run resumes from it).
    """

    steps: int = 1000
    val_every: int = 100
    log_every: int = 10
    ckpt_every: int = 100
    seed: int = 0
    out_dir: str = "runs/default"
    device: str = "auto"
    amp: bool = True
    threads: int = 0
    export: str = ""
    init_from: str = ""


@dataclass
class TrainConfig:
    """The whole configuration: ``model``, ``data``, ``loss``, ``optim``, ``train`` sections."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), suitable for YAML/JSON."""
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _convert(value: Any, annotation: Any, where: str) -> Any:
    """Check/convert one YAML value against a field annotation; raise ConfigError naming ``where``."""
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"config section {where!r} must be a mapping, got {type(value).__name__}")
        return _build(annotation, value, where)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config field {where!r} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config field {where!r} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config field {where!r} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(
                f"config field {where!r} must be a finite number, got {value!r} (.inf and .nan are refused)"
            )
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"config field {where!r} must be a string, got {value!r}")
        return value
    if origin is tuple:
        args = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"config field {where!r} must be a list of {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config field {where!r} must be a mapping, got {value!r}")
        _check_finite(value, where)
        return dict(value)
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"internal: union field {where!r} not supported")  # pragma: no cover
    return value


def _check_finite(value: Any, where: str) -> None:
    """Refuse .inf / .nan anywhere inside a free-form mapping (model and loss kwargs), naming the key."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"config field {where!r} must be a finite number, got {value!r} (.inf and .nan are refused)"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_finite(item, f"{where}[{index}]")


def _build(cls: type, values: dict[str, Any], where: str = "") -> Any:
    """Instantiate dataclass ``cls`` from ``values``, rejecting unknown keys."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in names:
            raise ConfigError(
                f"unknown config key {dotted!r}; valid keys{' in ' + repr(where) if where else ''}: "
                f"{', '.join(names)}"
            )
        kwargs[key] = _convert(value, hints[key], dotted)
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a nested dict (e.g. parsed YAML)."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"a training config must be a mapping of sections, got {type(values).__name__}")
    cfg = _build(TrainConfig, values)
    validate_config(cfg)
    return cfg


def validate_config(cfg: TrainConfig) -> None:
    """Range checks that YAML types cannot express; each error names the field."""
    checks = [
        (cfg.data.batch_size >= 1, "data.batch_size must be >= 1"),
        (0.0 <= cfg.data.drop_dmo <= 1.0, "data.drop_dmo must be a probability in [0, 1]"),
        (0.0 <= cfg.data.drop_dem <= 1.0, "data.drop_dem must be a probability in [0, 1]"),
        (cfg.data.num_workers >= 0, "data.num_workers must be >= 0"),
        (cfg.data.max_val_batches >= 0, "data.max_val_batches must be >= 0 (0 = all)"),
        (0.0 <= cfg.data.real_fraction <= 1.0, "data.real_fraction must be a share in [0, 1] (0 = synthetic only)"),
        (
            cfg.data.real_hr_size >= 32 and cfg.data.real_hr_size % 8 == 0,
            "data.real_hr_size must be a multiple of 8 and >= 32 (HR pixels; 128 for LR 16)",
        ),
        (cfg.data.real_max_tiles_per_place >= 1, "data.real_max_tiles_per_place must be >= 1"),
        (
            cfg.data.val_source in VAL_SOURCES,
            f"data.val_source must be one of: {', '.join(VAL_SOURCES)} (got {cfg.data.val_source!r})",
        ),
        (
            bool(cfg.data.real_places) or (cfg.data.real_fraction == 0.0 and cfg.data.val_source == "synthetic"),
            "data.real_fraction > 0 and data.val_source: real-val need data.real_places (e.g. configs/real_places.yaml)",
        ),
        (cfg.optim.lr > 0, "optim.lr must be > 0"),
        (cfg.optim.weight_decay >= 0, "optim.weight_decay must be >= 0"),
        (all(0.0 <= b < 1.0 for b in cfg.optim.betas), "optim.betas must both be in [0, 1)"),
        (cfg.optim.warmup_steps >= 0, "optim.warmup_steps must be >= 0"),
        (0.0 <= cfg.optim.min_lr_ratio <= 1.0, "optim.min_lr_ratio must be in [0, 1]"),
        (cfg.optim.grad_clip >= 0, "optim.grad_clip must be >= 0 (0 disables clipping)"),
        (cfg.train.steps >= 1, "train.steps must be >= 1"),
        (cfg.train.val_every >= 1, "train.val_every must be >= 1"),
        (cfg.train.log_every >= 1, "train.log_every must be >= 1"),
        (cfg.train.ckpt_every >= 1, "train.ckpt_every must be >= 1"),
        (cfg.train.threads >= 0, "train.threads must be >= 0 (0 = torch's default)"),
        (cfg.train.device in {"auto", "cpu", "cuda"}, "train.device must be one of: auto, cpu, cuda"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"invalid config: {message}")


def load_config(path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML training config.

    Args:
        path: the YAML file.
        overrides: optional ``{"section.key": value}`` applied after reading (CLI ``--set``).

    Raises:
        ConfigError: missing/unparsable file, unknown key (named, with the valid keys), bad value.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found: pass an existing YAML file (see configs/)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start} cannot "
            "be decoded): save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror or exc}): check its permissions") from exc
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections (model, data, loss, optim, train)")
    for dotted, value in (overrides or {}).items():
        parts = dotted.split(".")
        node = values
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {dotted!r}: {part!r} is not a section")
        node[parts[-1]] = value
    try:
        return config_from_dict(values)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.steps=50"`` -> ``("train.steps", 50)`` (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw)
