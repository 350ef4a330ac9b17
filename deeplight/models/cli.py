"""``deeplight models``: list the registered models with family, parameters and MACs per HR pixel."""

from __future__ import annotations

import argparse
import json



def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` command to the ``deeplight`` parser."""
    parser = subparsers.add_parser(
        "models",
        help="list the registered models (family, parameters, MACs per HR pixel)",
        description="List every registered model with its family, parameter count and multiply-accumulates "
        "per HR pixel (counted with forward hooks on a random LR tile).",
    )
    parser.add_argument(
        "--preset",
        default="demo",
        choices=("tiny", "demo", "paper"),
        help="size preset of the learned models (default: demo)",
    )
    parser.add_argument(
        "--lr-size", type=int, default=32, help="LR tile side used to count MACs (default: 32)"
    )
    parser.add_argument("--format", default="table", choices=("table", "csv", "json"), help="output format")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the table; returns the exit status."""
    if args.lr_size < 1:
        raise ValueError(f"--lr-size must be a positive number of LR pixels, got {args.lr_size}")
    from deeplight.models.summary import model_table

    rows = model_table(preset=args.preset, lr_size=args.lr_size)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif args.format == "csv":
        print("name,family,params,macs_per_hr_pixel")
        for row in rows:
            print(f"{row['name']},{row['family']},{row['params']},{row['macs_per_hr_pixel']:.0f}")
    else:
        print(f"{'name':<22} {'family':<13} {'params':>11} {'MACs/HR px':>11}")
        for row in rows:
            print(
                f"{row['name']:<22} {row['family']:<13} {row['params']:>11,} {row['macs_per_hr_pixel']:>11,.0f}"
            )
        print(f"(preset {args.preset}; MACs counted on a {args.lr_size}x{args.lr_size} LR tile, x8 output)")
    return 0
