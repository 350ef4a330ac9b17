"""Scene totals of the calibrated LR (= the SR's total, flux being kept per cell) against HR.

For whole real scenes held out of training (Cote d'Ivoire 2024, Shanghai 2018 NPP-VIIRS-like), each
degraded by the DMSP-like model with several seeds (``realistic`` preset: each seed draws its own gain
and offset drift), the table gives the sum of lights of the nominal LR and of the shipped
DeepLightSR's calibrated LR under three calibrations: the paper's unbounded one, the bound on every
unsaturated cell (the default) and the bound on the cells at or above 2.5 DN only. Every figure is a
fraction of the HR's own sum (1.0 = exact). The SR's scene total equals its calibrated LR's total
(flux kept per LR cell; saturated cells may only gain), so this is the SR's sum of lights.

Usage::

    python benchmarks/calibration_totals.py [--data ../shared/data] [--seeds 0 1 2 3 4]

Writes ``benchmarks/results/calibration_totals.{md,csv}``. Every LR here is SIMULATED.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from deeplight.contracts import denormalize_radiance, nominal_dn_to_radiance  # noqa: E402
from deeplight.data.degrade import degrade_dmsp_like, preset_params  # noqa: E402
from deeplight.io.raster import read_window  # noqa: E402
from deeplight.models.checkpoint import load_checkpoint  # noqa: E402
from sdg_eval import markdown  # noqa: E402

SCENES = {
    "cote_divoire": ("cote_divoire/ntl.tif", "Cote d'Ivoire VIIRS 2024 (dim, rural)"),
    "shanghai": ("shanghai/viirs_like_2000_2020/NTL_Shanghai_2000_2020_2018.tif", "Shanghai 2018 (megacity)"),
}
VARIANTS = {
    "unbounded (paper)": dict(max_total_ratio=None, noise_floor_dn=0.0),
    "bounded, every unsaturated cell (default)": dict(max_total_ratio=1.25, noise_floor_dn=0.0),
    "bounded, cells >= 2.5 DN only": dict(max_total_ratio=1.25, noise_floor_dn=2.5),
}


def scene_totals(model, hr: np.ndarray, seed: int) -> dict[str, float]:
    dn, info = degrade_dmsp_like(hr, preset_params("realistic"), seed=seed)
    dn = np.nan_to_num(dn, nan=0.0)
    x = torch.from_numpy(dn.astype(np.float32) / 63)[None, None]
    total = float(hr.sum())
    row = {"seed": seed, "gain drift": info.gain_drift, "offset drift DN": info.offset_drift_dn,
           "LR (nominal)": float(nominal_dn_to_radiance(dn.astype(np.float64)).sum() * 64) / total}
    calib = model.calibration
    for label, setting in VARIANTS.items():
        calib.max_total_ratio, calib.noise_floor_dn = setting["max_total_ratio"], setting["noise_floor_dn"]
        with torch.no_grad():
            cal = calib(x, calib.scene_parameters(x))
        row[label] = float(denormalize_radiance(cal.double()).sum() * 64) / total
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--checkpoint", default=str(REPO / "data" / "checkpoints" / "deeplightsr_demo"))
    args = parser.parse_args()
    model, _ = load_checkpoint(args.checkpoint)
    rows = []
    for key, (rel, title) in SCENES.items():
        hr = read_window(Path(args.data) / rel, band=1, dtype=np.float64)
        hr = np.maximum(np.nan_to_num(hr, nan=0.0), 0.0)
        hr = hr[: hr.shape[0] // 8 * 8, : hr.shape[1] // 8 * 8]
        for seed in args.seeds:
            rows.append({"scene": title, **scene_totals(model, hr, seed)})
    table = pd.DataFrame(rows)
    out = REPO / "benchmarks" / "results" / "calibration_totals"
    table.to_csv(out.with_suffix(".csv"), index=False, float_format="%.4f")
    value_cols = ["LR (nominal)", *VARIANTS]
    err = table[value_cols].apply(lambda c: np.abs(np.log(c)))
    summary = err.groupby(table["scene"]).mean().round(3)
    lines = [
        "# Scene sums of lights of the calibrated LR (= the SR's) as a fraction of HR",
        "",
        "Every LR is **SIMULATED** (realistic preset, one gain/offset drift per seed). "
        f"Checkpoint `{Path(args.checkpoint).name}`; machine: {platform.machine()} CPU. "
        "Command: `python benchmarks/calibration_totals.py`.",
        "",
        markdown(table.round(3)),
        "",
        "Mean |log(total / HR total)| over the seeds (lower is better; the LR's is the coarse input's):",
        "",
        markdown(summary.reset_index()),
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
