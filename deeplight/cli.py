"""The ``deeplight`` command: dispatches to the command groups that each package registers.

Each group lives beside the code it drives (``deeplight/<package>/cli.py``) and exposes
``register(subparsers)``, which adds its sub-commands and sets ``func`` on their parsers.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from deeplight import __version__
from deeplight.errors import DeepLightError

# Modules that register command groups, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "deeplight.data.cli",
    "deeplight.models.cli",
    "deeplight.train.cli",
    "deeplight.eval.cli",
    "deeplight.infer.cli",
    "deeplight.sdg.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered command group."""
    parser = argparse.ArgumentParser(
        prog="deeplight",
        description="Reconstruct high-resolution night-time lights and derive SDG indicators.",
    )
    parser.add_argument("--version", action="version", version=f"deeplight {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        result = args.func(args)
    except (DeepLightError, FileNotFoundError, ValueError) as exc:
        print(f"deeplight: error: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
