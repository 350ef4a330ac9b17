"""Device selection, precision context and CPU threads."""

from __future__ import annotations

import pytest
import torch

from deeplight.errors import ConfigError
from deeplight.infer.devices import (
    configure_cpu_threads,
    default_batch_size,
    inference_context,
    resolve_device,
    sensible_cpu_threads,
)


def test_auto_picks_what_exists():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if expected == "cpu" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        expected = "mps"
    assert resolve_device("auto").type == expected
    assert resolve_device("CPU").type == "cpu"
    assert resolve_device(torch.device("cpu")).type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(ConfigError, match="CUDA is not available here: use --device cpu"):
        resolve_device("cuda")


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    with pytest.raises(ConfigError, match="unsupported device 'meta'"):
        resolve_device("meta")


def test_batch_sizes_grow_with_the_device():
    assert default_batch_size(torch.device("cpu")) < default_batch_size(torch.device("cuda"))


def test_inference_context_disables_autograd_on_cpu():
    layer = torch.nn.Linear(2, 2)
    with inference_context(torch.device("cpu")):
        y = layer(torch.ones(1, 2))
        assert torch.is_inference_mode_enabled()
    assert y.dtype == torch.float32 and not y.requires_grad


def test_threads_follow_omp_num_threads_and_workers(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert sensible_cpu_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert sensible_cpu_threads(workers=1000) == 1
    monkeypatch.setattr("os.getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert sensible_cpu_threads() == 4 and sensible_cpu_threads(workers=2) == 2
    monkeypatch.setattr("os.getloadavg", lambda: (3.2, 0.0, 0.0))  # a busy machine: only idle cores
    assert sensible_cpu_threads() == 1
    assert configure_cpu_threads(1) == 1 and torch.get_num_threads() == 1


def test_batches_with_auxiliary_layers_run_in_float32_unless_the_model_is_checked_for_bf16(monkeypatch):
    """bf16 autocast (CUDA) is asked for without DMO / DEM, and with them only for a model that says it
    is safe there (DeepLightSR, checked in tests/models/test_guarantees.py); others run them in float32."""
    import contextlib

    import numpy as np

    from deeplight.infer import engine
    from deeplight.infer.engine import TileBatch, has_auxiliary, run_tile_batch

    lr = np.full((1, 4, 4), 20.0, np.float32)
    nan_dem = np.full((1, 32, 32), np.nan, np.float32)
    assert not has_auxiliary(TileBatch(lr))
    assert has_auxiliary(TileBatch(lr, dem=nan_dem))  # the layer's presence decides (no pixel scan)
    assert has_auxiliary(TileBatch(lr, dmo=np.zeros((1, 7, 32, 32), np.float32)))
    asked = []

    @contextlib.contextmanager
    def recording(device, reduced_precision=True):
        asked.append(reduced_precision)
        with torch.inference_mode():
            yield

    monkeypatch.setattr(engine, "inference_context", recording)
    from deeplight.models.registry import get_model

    model = get_model("bicubic").eval()
    run_tile_batch(model, TileBatch(lr), torch.device("cpu"))
    with_dem = TileBatch(lr, dem=np.full((1, 32, 32), 50.0, np.float32))
    run_tile_batch(model, with_dem, torch.device("cpu"))
    assert asked == [True, False]
    deeplightsr = get_model("deeplightsr", preset="tiny").eval()
    assert deeplightsr.reduced_precision_with_auxiliary is True
    run_tile_batch(deeplightsr, with_dem, torch.device("cpu"))
    assert asked == [True, False, True]


def test_gpus_without_bf16_autocast_in_fp16(monkeypatch):
    """Pre-Ampere GPUs lack bf16: the CUDA path autocasts to fp16 there (DeepLightSR is within 0.02 of
    float32 in both, tests/models/test_guarantees.py)."""
    from deeplight.infer.devices import cuda_autocast_dtype

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert cuda_autocast_dtype(torch.device("cuda")) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert cuda_autocast_dtype(torch.device("cuda")) == torch.float16


def test_cache_keys_name_the_reduced_precision_of_a_gpu(monkeypatch):
    """A bf16 GPU and an fp16 GPU sharing one cache compute different tiles (within 0.02): their keys
    differ; float32 devices add nothing, so the CPU's keys are those of earlier versions."""
    from deeplight.infer.cache import cache_key
    from deeplight.infer.devices import precision_key

    assert precision_key(torch.device("cpu")) == {} and precision_key(torch.device("mps")) == {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    bf16 = precision_key(torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    fp16 = precision_key(torch.device("cuda"))
    assert bf16 == {"precision": "bfloat16"} and fp16 == {"precision": "float16"}
    keys = {cache_key(model="m", device_type="cuda", **p) for p in (bf16, fp16, {})}
    assert len(keys) == 3
