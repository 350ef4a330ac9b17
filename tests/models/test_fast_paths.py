"""The fast inference paths of DeepLightSR compute the reference function (issue 14).

Each restructured piece is compared with the computation it replaces, and the whole shipped
checkpoint with its fast paths on is compared with the same model with them off, on a smooth scene
made by code (DMO and DEM with edges and gradients, a bright city and a dim one), in both memory
layouts, with every modality present, one absent, none, and a partial coverage. The tolerance is
1e-5 on the normalised scale; on white-noise auxiliary layers the reference model itself differs by
~1e-4 between thread counts (its detail gains amplify rounding), so noise is no test of exactness.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from deeplight.models.blocks import pointwise_conv2d, upsample_polyphase
from deeplight.models.checkpoint import load_checkpoint
from deeplight.models.global_alignment import _separable_affine_grid
from deeplight.models.registry import get_model

CHECKPOINT = Path(__file__).resolve().parents[2] / "data" / "checkpoints" / "deeplightsr_demo"
TOLERANCE = 1e-5


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("channels_last", [False, True])
def test_polyphase_upsampling_equals_interpolate(mode, scale, channels_last):
    x = torch.rand(2, 3, 7, 5, generator=torch.Generator().manual_seed(scale)) * 4 - 1
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    expected = F.interpolate(x, scale_factor=scale, mode=mode, align_corners=False)
    got = upsample_polyphase(x, scale, mode)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-6)


def test_pointwise_convolution_through_onednn_equals_conv2d():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 6, 9, 11, generator=gen).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.randn(5, 6, 1, 1, generator=gen), torch.randn(5, generator=gen)
    torch.testing.assert_close(pointwise_conv2d(x, weight, bias), F.conv2d(x, weight, bias), rtol=1e-6, atol=1e-6)


def test_separable_affine_grid_equals_affine_grid():
    theta = torch.tensor([[[1.013, 0.021, -0.03], [-0.011, 0.987, 0.017]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    expected = F.affine_grid(theta, [2, 1, 40, 56], align_corners=False)
    torch.testing.assert_close(_separable_affine_grid(theta, 40, 56), expected, rtol=0, atol=1e-7)


def smooth_scene(lr_size: int = 24, seed: int = 0) -> dict[str, torch.Tensor]:
    """LR DN of two cities, DMO and DEM with gradients and edges (no white noise), every key present."""
    gen = torch.Generator().manual_seed(seed)
    n, hr = lr_size, 8 * lr_size
    yy, xx = torch.meshgrid(torch.arange(float(n)), torch.arange(float(n)), indexing="ij")
    radiance = 80 * torch.exp(-((xx - 0.4 * n) ** 2 + (yy - 0.55 * n) ** 2) / (0.02 * n * n))
    radiance = radiance + 4 * torch.exp(-((xx - 0.8 * n) ** 2 + (yy - 0.2 * n) ** 2) / (0.01 * n * n))
    dn = (6.0 * radiance**0.6).clamp(0, 63).round()
    y, x = torch.meshgrid(torch.linspace(0, 1, hr), torch.linspace(0, 1, hr), indexing="ij")
    phase = torch.rand(7, 1, 1, generator=gen) * 6
    dmo = 0.15 + 0.1 * torch.sin(9 * x[None] + phase) * torch.cos(7 * y[None] - phase)
    dmo = dmo + 0.08 * (x[None] > 0.3 + 0.2 * y[None]).float()  # an edge (a coast, a road)
    dem = 0.2 + 0.3 * x + 0.1 * torch.sin(5 * y)
    return {
        "lr": (dn / 63)[None, None],
        "dmo": dmo[None].clamp(0, 1),
        "dem": dem[None, None],
        "present": torch.tensor([[1.0, 1.0, 1.0, 0.0]]),
    }


@pytest.fixture(scope="module")
def shipped():
    model, _ = load_checkpoint(CHECKPOINT, "cpu")
    return model.eval()


def _both(model, batch, mode=torch.inference_mode):
    with mode():
        model.set_fast_inference(False)
        reference = model(batch)
        model.set_fast_inference(True)
        fast = model(batch)
    return reference, fast


def _variants() -> dict[str, dict]:
    scene = smooth_scene()
    no_dem = {k: v for k, v in scene.items() if k != "dem"}
    no_dem["present"] = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    no_aux = {"lr": scene["lr"]}
    partial = dict(scene)
    partial["dmo"] = scene["dmo"].clone()
    partial["dmo"][:, :, :50, :70] = float("nan")  # outside the layer's footprint
    partial["dmo"][:, 4:] = float("nan")  # an RGB-only DMO (bands 2-4 given)
    return {"all": scene, "no dem": no_dem, "no aux": no_aux, "partial dmo": partial}


@pytest.mark.parametrize("variant", list(_variants()))
@pytest.mark.parametrize("channels_last", [False, True])
def test_shipped_checkpoint_fast_forward_equals_reference(shipped, variant, channels_last):
    batch = _variants()[variant]
    if channels_last:
        shipped = shipped.to(memory_format=torch.channels_last)
        batch = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in batch.items()}
    try:
        for threads in (1, 2):
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                reference, fast = _both(shipped, batch)
            finally:
                torch.set_num_threads(previous)
            assert float((fast["sr"] - reference["sr"]).abs().max()) < TOLERANCE
            for a, b in zip(fast["sr_pyramid"], reference["sr_pyramid"]):
                assert float((a - b).abs().max()) < TOLERANCE
            torch.testing.assert_close(fast["lr_calibrated"], reference["lr_calibrated"], rtol=0, atol=TOLERANCE)
    finally:
        shipped.to(memory_format=torch.contiguous_format)


def test_isp_logits_are_skipped_only_in_inference_mode(shipped):
    """ISP logits feed nothing (a training output): inference mode skips them, no_grad keeps them."""
    batch = smooth_scene(16)
    reference, fast = _both(shipped, batch, torch.no_grad)
    assert len(fast["isp_logits"]) == len(reference["isp_logits"]) == 3
    for a, b in zip(fast["isp_logits"], reference["isp_logits"]):
        scale = float(b.abs().max()) + 1.0
        assert float((a - b).abs().max()) / scale < 1e-5
    reference, fast = _both(shipped, batch, torch.inference_mode)
    assert fast["isp_logits"] == [] and len(reference["isp_logits"]) == 3
    assert float((fast["sr"] - reference["sr"]).abs().max()) < TOLERANCE


def test_training_runs_the_reference_computation():
    """With autograd on, the fast paths stay off: the output is bitwise the reference one."""
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset="tiny")
    batch = smooth_scene(6)
    with torch.no_grad():
        model.set_fast_inference(False)
        expected = model(batch)["sr"]
    model.set_fast_inference(True)
    out = model(batch)
    assert out["sr"].requires_grad and len(out["isp_logits"]) == 3
    assert torch.equal(out["sr"].detach(), expected)


def test_fast_paths_keep_the_state_dict(shipped):
    fresh = get_model("deeplightsr", preset="demo")
    assert list(fresh.state_dict()) == list(shipped.state_dict())
    for name, module in shipped.named_modules():
        if hasattr(module, "fast"):
            assert module.fast, name


def test_full_coverage_is_known_only_when_every_band_and_pixel_is_observed():
    from deeplight.models.inputs import read_inputs

    scene = _variants()
    assert read_inputs(scene["all"]).fully_covered("dmo") and read_inputs(scene["all"]).fully_covered("dem")
    partial = read_inputs(scene["partial dmo"])
    assert not partial.fully_covered("dmo") and partial.fully_covered("dem")
    masked = dict(scene["all"], dem_mask=torch.ones_like(scene["all"]["dem"]))
    assert not read_inputs(masked).fully_covered("dem")  # a mask given: not assumed full
    assert not read_inputs(scene["no aux"]).fully_covered("dmo")


@pytest.mark.parametrize("channels_last", [False, True])
def test_one_channel_shuffle_equals_pixel_shuffle(channels_last):
    from deeplight.models.refinement import _shuffle_one_channel

    x = torch.rand(2, 4, 5, 7)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(_shuffle_one_channel(x), F.pixel_shuffle(x, 2))
