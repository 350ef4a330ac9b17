"""``deeplight evaluate``: run checkpoints on the test sets and write the benchmark table."""

from __future__ import annotations

import argparse
import platform
from pathlib import Path


def machine_description() -> str:
    """Short description of this machine for table headers (CPU cores, GPU if any)."""
    import os

    import torch

    cpu = f"{os.cpu_count()}-core {platform.machine()} CPU"
    if torch.cuda.is_available():
        return f"{cpu}, GPU {torch.cuda.get_device_name(0)}"
    return f"{cpu}, no GPU"


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate every method on the chosen test sets and write ``<out>.csv`` and ``<out>.md``."""
    import torch

    from deeplight.eval.evaluate import check_specs_exist, evaluate_method, resolve_methods, synthetic_test_samples
    from deeplight.eval.real_pairs import load_real_pairs
    from deeplight.eval.table import ResultRow, write_tables
    from deeplight.train.distributed import pick_device

    test_sets = [t.strip() for t in args.test_sets.split(",") if t.strip()]
    bad = [t for t in test_sets if t not in {"synthetic", "real"}]
    if bad:
        raise ValueError(f"--test-sets {bad} unknown; valid choices: synthetic, real")
    _check_outputs(args)
    check_specs_exist(args.checkpoints)
    device = pick_device(args.device)
    torch.set_num_threads(max(1, args.threads)) if args.threads else None
    methods = resolve_methods(args.checkpoints, device)
    sets = {}
    if "synthetic" in test_sets:
        sets["synthetic"] = synthetic_test_samples(args.data_root, args.split, args.max_samples)
    if "real" in test_sets:
        sets["real"] = [p.sample for p in load_real_pairs(args.real_data_dir, max_tiles_per_scene=args.real_tiles)]
    rows = []
    for method in methods:
        for name, samples in sets.items():
            means, _ = evaluate_method(method, samples, device, batch_size=args.batch_size, with_piqe=not args.no_piqe)
            rows.append(ResultRow(name, method.family, method.label, method.source, method.steps_label or None, means))
            print(f"{name:9s} {method.label:45s} PSNR {means['psnr']:6.2f} dB  SSIM {means['ssim']:.3f}  n={int(means['n'])}")
    header = [
        f"machine: {machine_description()}",
        f"synthetic split: {args.data_root} / {args.split}" if "synthetic" in sets else "",
        "LR inputs are simulated (DMSP-like degradation model) in every test set",
        "metrics on the normalised radiance scale log1p(r)/log1p(1000), data range 1, 8-px border cropped",
    ]
    csv_path, md_path = write_tables(rows, args.out, args.title, [h for h in header if h])
    print(f"wrote {csv_path} and {md_path}")
    return 0


def _check_outputs(args: argparse.Namespace) -> None:
    """``<out>.csv`` / ``<out>.md`` may replace no checkpoint (nor its sidecar) and must be writable."""
    from deeplight.utils_io import check_output_path, check_outputs_distinct

    inputs = {f"--checkpoints {spec}": (spec, "checkpoint") for spec in args.checkpoints
              if not str(spec).startswith("model:")}
    check_outputs_distinct(inputs, {"--out": (args.out, "table")})
    check_output_path(Path(f"{args.out}.csv"), "--out")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``deeplight evaluate`` to the ``deeplight`` parser."""
    from deeplight.utils_io import default_data_dir

    parser = subparsers.add_parser(
        "evaluate", help="evaluate checkpoints on the synthetic test split and real-HR pairs",
        description="Run checkpoints (stems of .safetensors + .json, or model:<name> for parameter-free "
        "models) and write a Markdown + CSV table grouped by family.",
    )
    parser.add_argument("--checkpoints", nargs="+", required=True, metavar="CKPT",
                        help="checkpoint stems/files, or model:bicubic etc.")
    parser.add_argument("--split", default="test", help="split of the DeepLightMD folder (default: test)")
    parser.add_argument("--data-root", default="data/runtime/synth", help="DeepLightMD-layout folder")
    parser.add_argument("--real-data-dir", default=str(default_data_dir()),
                        help="shared data folder with the real rasters (default: $DEEPLIGHT_DATA_DIR or ../shared/data)")
    parser.add_argument("--test-sets", default="synthetic,real", help="comma list of synthetic, real")
    parser.add_argument("--max-samples", type=int, default=0, help="at most this many synthetic test clips (0 = all)")
    parser.add_argument("--real-tiles", type=int, default=4, help="brightest 128x128 tiles per real scene")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--no-piqe", action="store_true", help="skip PIQE (the slowest metric)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    parser.add_argument("--out", default=str(Path("benchmarks/results/quality")),
                        help="output stem: writes <out>.csv and <out>.md")
    parser.add_argument("--title", default="DeepLight quality benchmark")
    parser.set_defaults(func=run_evaluate)
