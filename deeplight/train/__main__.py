"""``python -m deeplight.train --config X.yaml`` (the torchrun entry point for DDP training)."""

from __future__ import annotations

import argparse
import sys

from deeplight.errors import DeepLightError
from deeplight.train.cli import add_train_arguments, run_train


def main(argv: list[str] | None = None) -> int:
    """Parse the training arguments and train; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m deeplight.train", description="Train a DeepLight model.")
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_train(args)
    except (DeepLightError, FileNotFoundError) as exc:
        print(f"deeplight train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
