"""``deeplight data ...``: synthetic datasets, degradation of real rasters, raster info, the demo.

Sub-commands:
    synth    generate a synthetic DeepLightMD-style dataset (train/val/test clips + manifest)
    degrade  make a simulated DMSP-like LR GeoTIFF from an HR radiance GeoTIFF
    info     describe a raster, a NetCDF file or a dataset folder
    demo     create the built-in demo scene (idempotent)
    list     the data sets of the catalogue, the same the dashboard's picker lists (deeplight.catalog)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _cmd_synth(args: argparse.Namespace) -> int:
    from deeplight.data.degrade import preset_params
    from deeplight.data.synth import SynthConfig
    from deeplight.data.synth_writer import write_deeplightmd

    config = SynthConfig(degradation=preset_params(args.preset))
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % max(total // 20, 1) == 0):
            print(f"\r{done}/{total} clips", end="" if done < total else "\n", file=sys.stderr)

    manifest = write_deeplightmd(
        args.out,
        n_train=args.n_train,
        n_val=args.n_val,
        n_test=args.n_test,
        lr_size=args.lr_size,
        seed=args.seed,
        config=config,
        progress=progress,
    )
    total = args.n_train + args.n_val + args.n_test
    print(
        f"wrote {total} synthetic clips (LR {args.lr_size}, HR {args.lr_size * 8}, simulated LR, "
        f"preset {args.preset}) in {time.perf_counter() - start:.1f} s; manifest: {manifest}"
    )
    return 0


def _cmd_degrade(args: argparse.Namespace) -> int:
    from deeplight.data.degrade import preset_params
    from deeplight.data.degrade_raster import degrade_raster
    from deeplight.utils_io import check_output_path, check_outputs_distinct

    inputs = {"--hr": args.hr, "--dmo": args.dmo, "--dem": args.dem, "--isp": args.isp}
    outputs = {"--out": (args.out, "file")}
    given = [name for name, path in inputs.items() if path]
    if len(given) > 1:  # with aux layers, degrade_raster also writes hr.tif, dmo.tif... beside --out
        folder = Path(args.out).parent
        outputs.update({f"{name[2:]}.tif beside --out": (folder / f"{name[2:]}.tif", "file") for name in given})
    check_outputs_distinct(inputs, outputs)
    for label, (path, _kind) in outputs.items():
        check_output_path(path, label)
    result = degrade_raster(
        args.hr,
        args.out,
        params=preset_params(args.preset),
        seed=args.seed,
        dmo=args.dmo,
        dem=args.dem,
        isp=args.isp,
    )
    info = result.info
    print(
        f"wrote simulated DMSP-like LR {result.lr_path} ({args.preset} preset, seed {args.seed}): "
        f"gain drift {info.gain_drift:.3f}, shift {info.shift_lr[0]:+.2f},{info.shift_lr[1]:+.2f} "
        f"LR px, rotation {info.rotation_deg:+.2f} deg, saturated {info.saturated_fraction:.2%}"
    )
    for name, path in result.written.items():
        if name != "lr":
            print(f"  {name}: {path}")
    return 0


def _describe_raster(path: Path, variable: str | None = None) -> tuple[dict, object]:
    """Header and statistics of a raster after the checks ``predict`` and ``sdg`` run (the same
    validator: readable, real pixels, CRS, size within ``DEEPLIGHT_MAX_STREAM_PIXELS``, no +-inf, some
    valid pixel); statistics are streamed by blocks of rows, so memory stays small."""
    from deeplight.io.validation import emit, inspect_raster, judge, scan_raster

    header = inspect_raster(path, role="any", variable=variable, mode="stream")
    with header.open() as src:
        stats = scan_raster(src, header, "any")
        res = src.res
    emit(judge(stats, "any", header.label))
    description = {
        "path": str(path),
        "size": f"{header.width} x {header.height} px, {header.count} band(s), {header.dtype}",
        "crs": header.crs.to_string() if header.crs is not None else "NONE (not georeferenced)",
        "pixel_size": list(res),
        "transform": list(tuple(header.transform)[:6]),
        "bounds": list(header.bounds),
        "nodata": header.nodata,
        "valid_fraction": float(stats.valid / max(stats.total, 1)),
        "min": float(stats.vmin) if stats.valid else None,
        "mean": stats.mean,
        "max": float(stats.vmax) if stats.valid else None,
        "simulated": header.tags.get("simulated", "unknown"),
        "tags": header.tags,
        "band_descriptions": header.descriptions,
    }
    if header.crs_note:
        description["crs_note"] = header.crs_note
    return description, header


def _cmd_info(args: argparse.Namespace) -> int:
    from deeplight.errors import RasterError

    path = Path(args.file)
    if path.is_dir():
        manifest = path / "manifest.json"
        if not manifest.is_file():
            raise RasterError(
                f"{path}: a folder without manifest.json; give a raster file or a dataset/demo folder"
            )
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RasterError(
                f"{manifest}: not valid JSON ({exc}); regenerate the folder (deeplight data synth/demo)"
            ) from None
        if not isinstance(data, dict):
            raise RasterError(f"{manifest}: not a DeepLight manifest (a JSON object); regenerate the folder")
        data.pop("clips", None)
        data.pop("config", None)
        print(json.dumps(data, indent=2))
        return 0
    description, header = _describe_raster(path, args.variable)
    if header.driver in ("netCDF", "HDF5") or path.suffix.lower() in (".nc", ".nc4", ".netcdf"):
        dims = {"y": header.height, "x": header.width}
        if header.count > 1:
            dims = {(header.extra_dim[0] if header.extra_dim else "band"): header.count, **dims}
        variable = header.variable or _band_variable(header)
        out = {
            "path": str(path),
            "variable": variable,
            "dims": dims,
            "crs": description["crs"],
            "transform": description["transform"],
            "valid_fraction": description["valid_fraction"],
            "min": description["min"],
            "max": description["max"],
        }
        if header.crs_note:
            out["crs_note"] = header.crs_note
        print(json.dumps(out, indent=2))
        return 0
    if args.json:
        print(json.dumps(description, indent=2, default=str))
    else:
        for key, value in description.items():
            if key == "tags":
                for tag, tag_value in value.items():
                    text = tag_value if len(tag_value) < 100 else tag_value[:97] + "..."
                    print(f"  tag {tag}: {text}")
            else:
                print(f"{key}: {value}")
    return 0


def _band_variable(header) -> str | None:
    from deeplight.io.raster import raster_grid

    return raster_grid(header.open_path)["band1_tags"].get("NETCDF_VARNAME")


def _cmd_demo(args: argparse.Namespace) -> int:
    from deeplight.data.demo import DEMO_SEED, make_demo

    start = time.perf_counter()
    result = make_demo(args.out, seed=DEMO_SEED if args.seed is None else args.seed, force=args.force)
    state = "created" if result.generated else "up to date, skipped"
    print(
        f"demo scene {state}: {result.folder} ({time.perf_counter() - start:.1f} s; synthetic, LR simulated)"
    )
    return 0


def _times_text(times: tuple) -> str:
    """``2000..2020 (21 years)``, ``2024-01..2024-12 (12 months)``, ``2024`` or ``-``."""
    if not times:
        return "-"
    if len(times) == 1:
        return str(times[0])
    unit = "months" if isinstance(times[0], str) else "years"
    return f"{times[0]}..{times[-1]} ({len(times)} {unit})"


def _cmd_list(args: argparse.Namespace) -> int:
    from deeplight.catalog import default_data_dir, list_datasets
    from deeplight.utils_io import data_dir_problem

    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    if args.data_dir is None:
        problem = data_dir_problem()
        if problem:
            print(f"deeplight data list: warning: {problem}. The real data sets are not listed.", file=sys.stderr)
    elif not data_dir.is_dir():
        print(f"deeplight data list: warning: --data-dir {data_dir} is not a folder; only the demo is listed",
              file=sys.stderr)
    sets = list_datasets(data_dir)
    if args.json:
        rows = [
            {"id": d.id, "title": d.title, "time_unit": d.time_unit, "times": list(d.times),
             "simulated_lr": d.lr_simulated, "description": d.description}
            for d in sets
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    rows = [("id", "title", "times", "simulated LR")]
    rows += [(d.id, d.title, _times_text(d.times), "yes" if d.lr_simulated else "no") for d in sets]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``deeplight data ...`` to the ``deeplight`` parser (imports nothing heavy: the generator and
    its scipy / pandas load only when ``data demo`` runs)."""
    data = subparsers.add_parser(
        "data",
        help="synthetic data, degradation, raster info, demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda _args: (data.print_help(), 1)[1])

    synth = sub.add_parser("synth", help="generate a synthetic DeepLightMD-style dataset")
    synth.add_argument("--out", required=True, help="output folder (created; resumable)")
    synth.add_argument("--n-train", type=int, default=64)
    synth.add_argument("--n-val", type=int, default=8)
    synth.add_argument("--n-test", type=int, default=8)
    synth.add_argument("--lr-size", type=int, default=32, help="LR clip size (HR is 8x)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument(
        "--preset",
        choices=("realistic", "bicubic"),
        default="realistic",
        help="degradation model used to make the LR",
    )
    synth.add_argument("--quiet", action="store_true")
    synth.set_defaults(func=_cmd_synth)

    degrade = sub.add_parser("degrade", help="simulate a DMSP-like LR from an HR radiance raster")
    degrade.add_argument("--hr", required=True, help="HR radiance GeoTIFF (nW/cm2/sr)")
    degrade.add_argument("--out", required=True, help="LR GeoTIFF to write (tag simulated=true)")
    degrade.add_argument("--dmo", help="7-band reflectance raster (warped onto the HR grid)")
    degrade.add_argument("--dem", help="elevation raster, m (warped onto the HR grid)")
    degrade.add_argument("--isp", help="impervious fraction raster (warped onto the HR grid)")
    degrade.add_argument("--preset", choices=("realistic", "bicubic"), default="realistic")
    degrade.add_argument("--seed", type=int, default=0)
    degrade.set_defaults(func=_cmd_degrade)

    info = sub.add_parser(
        "info", help="describe a raster, NetCDF file or dataset folder (after the checks predict and sdg run)"
    )
    info.add_argument("file")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument("--variable", help="NetCDF variable")
    info.set_defaults(func=_cmd_info)

    demo = sub.add_parser("demo", help="create the built-in demo scene (idempotent)")
    demo.add_argument("--out", required=True)
    demo.add_argument("--seed", type=int, default=None, help="generator seed (default: the shipped demo's, DEMO_SEED)")
    demo.add_argument("--force", action="store_true", help="regenerate even if up to date")
    demo.set_defaults(func=_cmd_demo)

    listing = sub.add_parser(
        "list",
        help="the data sets the dashboard lists (built-in demo, sets under DEEPLIGHT_DATA_DIR)",
        description="The data sets of deeplight.catalog: id (for `deeplight sdg --dataset ID`), title, "
        "times (years or months, for --year) and whether the LR input is simulated.",
    )
    listing.add_argument("--data-dir", help="folder of the real sets (default: $DEEPLIGHT_DATA_DIR)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_cmd_list)
