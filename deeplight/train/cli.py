"""``deeplight train --config configs/X.yaml``: train a model from a YAML config.

The same entry point serves torchrun: ``torchrun --nproc-per-node N -m deeplight.train --config X.yaml``
(see :mod:`deeplight.train.__main__`).
"""

from __future__ import annotations

import argparse
import math
import shutil
from pathlib import Path


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``deeplight train`` and ``python -m deeplight.train``."""
    parser.add_argument("--config", required=True, help="YAML training config (see configs/)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one config value, e.g. --set train.steps=50 (repeatable)",
    )
    parser.add_argument(
        "--fresh", action="store_true",
        help="delete train.out_dir before starting instead of resuming from its state",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--export-only", action="store_true",
        help="train nothing: copy the run's best checkpoint so far to train.export (e.g. while it trains)",
    )


def run_train(args: argparse.Namespace) -> int:
    """Load the config, train (resuming when the run folder has a state), print a summary."""
    from deeplight.train.config import load_config, parse_override
    from deeplight.train.distributed import teardown_distributed
    from deeplight.train.trainer import Trainer

    overrides = dict(parse_override(text) for text in args.overrides)
    cfg = load_config(args.config, overrides)
    out_dir = Path(cfg.train.out_dir)
    if args.export_only:
        from deeplight.errors import ConfigError
        from deeplight.train.trainer import export_best

        if not cfg.train.export:
            raise ConfigError(f"{args.config}: --export-only needs train.export (a checkpoint stem)")
        path = export_best(out_dir, cfg.train.export)
        print(f"exported the best checkpoint of {out_dir} to {path}")
        return 0
    if args.fresh and out_dir.exists():
        shutil.rmtree(out_dir)
    try:
        trainer = Trainer(cfg, show_progress=not args.no_progress)
        result = trainer.fit()
        if trainer.ctx.is_main:
            best = f"{result.best_psnr:.2f} dB" if math.isfinite(result.best_psnr) else "n/a"
            print(
                f"trained {cfg.model.name} to step {result.steps} in {result.wall_s:.0f} s; best val PSNR {best}; "
                f"checkpoints in {out_dir}" + (f"; exported to {cfg.train.export}" if cfg.train.export else "")
            )
    finally:
        teardown_distributed()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``deeplight train`` to the ``deeplight`` parser."""
    parser = subparsers.add_parser(
        "train", help="train a model from a YAML config (resumable; torchrun -m deeplight.train for DDP)",
        description="Train a registered model on a DeepLightMD-layout folder. Resumes from train.out_dir/state.pt.",
    )
    add_train_arguments(parser)
    parser.set_defaults(func=run_train)
