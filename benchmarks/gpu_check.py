"""GPU correctness check, for a machine with a CUDA device (never part of the test suite, which runs on
CPU-only machines): the tiled loop with outputs kept and blended on the device equals the CPU loop
within the bf16 tolerance, for a tiny convolutional model and for the shipped DeepLightSR checkpoint.

Run: ``.venv/bin/python benchmarks/gpu_check.py``; exits 1 (after printing the largest differences)
when a check fails, 2 when no CUDA device is there. The CPU side of the same machinery (device
blending on CPU tensors, the prefetch queue, deferred cache stores) is tested by
``tests/infer/test_device_path.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from deeplight.infer.executors import LocalExecutor  # noqa: E402
from deeplight.infer.sources import ArraySource  # noqa: E402
from deeplight.infer.tiled import run_tiled  # noqa: E402
from tests.infer.tiny_models import TinyConvSR, random_tile_inputs  # noqa: E402

CHECKPOINT = REPO_ROOT / "data" / "checkpoints" / "deeplightsr_demo.safetensors"


def _run(model, source, device: torch.device, device_outputs: bool) -> np.ndarray:
    hr = np.full((source.lr_height * 8, source.lr_width * 8), np.nan, np.float32)

    def write(row0, rows, _):
        hr[row0:row0 + rows.shape[0]] = rows

    executor = LocalExecutor(model, device, False, device_outputs=device_outputs)
    run_tiled(source, executor, write, tile=16, overlap=12, batch_size=4, self_ensemble=False,
              model_id="gpu-check", params={})
    return hr


def _check(name: str, model) -> bool:
    lr, aux = random_tile_inputs()
    source = ArraySource(lr, aux)
    ref = _run(model, source, torch.device("cpu"), device_outputs=False)
    got = _run(model, source, torch.device("cuda"), device_outputs=True)
    valid = np.isfinite(ref)
    norm = lambda a: np.log1p(np.clip(a, 0, None)) / np.log1p(1000.0)  # noqa: E731 - the project's scale
    worst = float(np.max(np.abs(norm(got[valid]) - norm(ref[valid]))))
    ok = worst <= 0.02
    print(f"{name}: max |GPU - CPU| on the normalised scale {worst:.4f} ({'PASS' if ok else 'FAIL'}, limit 0.02)")
    return ok


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: nothing checked")
        return 2
    torch.manual_seed(0)
    results = [_check("tiny conv model", TinyConvSR().eval())]
    if CHECKPOINT.exists():
        from deeplight.models.checkpoint import load_checkpoint

        model, _ = load_checkpoint(CHECKPOINT)
        results.append(_check("DeepLightSR demo checkpoint", model.eval()))
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
