"""channels_last CPU inference: DeepLightSR's output equals the contiguous-format output."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from deeplight.contracts import normalize_radiance
from deeplight.infer import predict_array
from deeplight.infer.engine import (
    CHANNELS_LAST_ATTRIBUTE,
    TileBatch,
    prefers_channels_last,
    prepare_model,
    run_tile_batch,
    uses_channels_last,
)
from deeplight.models.checkpoint import load_checkpoint
from deeplight.models.registry import get_model
from tests.infer.tiny_models import TinyConvSR

CHECKPOINT = Path(__file__).resolve().parents[2] / "data" / "checkpoints" / "deeplightsr_demo"
CPU = torch.device("cpu")


def fixed_scene(lr_size: int = 32) -> TileBatch:
    """A smooth, city-like LR scene with DMO and DEM made by code (nothing random)."""
    yy, xx = np.mgrid[0:lr_size, 0:lr_size].astype(np.float32)
    radiance = 80 * np.exp(-((xx - 12) ** 2 + (yy - 18) ** 2) / 30) + 6 * np.exp(-((xx - 26) ** 2) / 8)
    dn = np.clip(np.round(6.0 * radiance**0.6), 0, 63).astype(np.float32)
    hy, hx = np.mgrid[0 : 8 * lr_size, 0 : 8 * lr_size].astype(np.float32) / 8
    texture = 0.7 + 0.3 * np.sin(hx * 2.1) * np.cos(hy * 1.7)
    built = np.exp(-((hx - 12) ** 2 + (hy - 18) ** 2) / 60) * texture
    dmo = np.stack([0.05 + 0.2 * built + 0.01 * b for b in range(7)]).astype(np.float32)
    dem = (120 + 15 * np.sin(hx / 5) + 10 * np.cos(hy / 7)).astype(np.float32)
    return TileBatch(lr_dn=dn[None], dmo=dmo[None], dem=dem[None])


def _normalised(out) -> np.ndarray:
    return normalize_radiance(torch.from_numpy(out.radiance)).numpy()


@pytest.mark.parametrize("with_aux", [False, True])
def test_shipped_checkpoint_channels_last_equals_contiguous(with_aux):
    model, _ = load_checkpoint(CHECKPOINT, "cpu")
    scene = fixed_scene()
    if not with_aux:
        scene = TileBatch(lr_dn=scene.lr_dn)
    contiguous = copy.deepcopy(model).eval()
    prepared = prepare_model(model, CPU)
    assert uses_channels_last(prepared) and not uses_channels_last(contiguous)
    got, expected = run_tile_batch(prepared, scene, CPU), run_tile_batch(contiguous, scene, CPU)
    assert np.isfinite(got.radiance).all()
    assert float(np.abs(_normalised(got) - _normalised(expected)).max()) < 1e-5


def test_tiled_prediction_and_self_ensemble_match_the_contiguous_model():
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset="tiny").eval()
    with torch.no_grad():  # leave the zero-initialised heads: an untrained model would be too trivial
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    contiguous = copy.deepcopy(model)
    contiguous.channels_last_inference = False
    scene = fixed_scene(24)
    aux = {"dmo": scene.dmo[0], "dem": scene.dem[0]}
    for kwargs in ({}, {"self_ensemble": True}):
        got = predict_array(model, scene.lr_dn[0], aux, tile=16, overlap=4, device="cpu", **kwargs)
        ref = predict_array(contiguous, scene.lr_dn[0], aux, tile=16, overlap=4, device="cpu", **kwargs)
        assert uses_channels_last(model) and not uses_channels_last(contiguous)
        assert float(np.abs(_normalised(got) - _normalised(ref)).max()) < 1e-5
        if kwargs:
            np.testing.assert_allclose(got.uncertainty, ref.uncertainty, rtol=1e-3, atol=1e-4)


def test_only_models_that_prefer_it_run_channels_last_and_only_on_cpu():
    tiny = TinyConvSR()
    assert not prefers_channels_last(tiny, CPU)
    assert not uses_channels_last(prepare_model(tiny, CPU))  # other models keep their layout
    setattr(tiny, CHANNELS_LAST_ATTRIBUTE, True)
    assert uses_channels_last(prepare_model(tiny, CPU))
    sr = get_model("deeplightsr", preset="tiny")
    assert prefers_channels_last(sr, CPU) and not prefers_channels_last(sr, torch.device("cuda"))
