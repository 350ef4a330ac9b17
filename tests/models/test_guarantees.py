"""DeepLightSR's guarantees by construction: flux kept, dark kept dark, bounded detail, a baseline
fallback, and auxiliary layers that act only where they are observed (issue 10, item 2)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from deeplight.contracts import denormalize_radiance, normalize_radiance
from deeplight.eval.evidence import period8_peak_db
from deeplight.models.deeplightsr import MAX_DESATURATION
from deeplight.models.flux import distribute_within_cells, neighbourhood_transport
from deeplight.models.registry import get_model

from .helpers import tiny_batch


def _perturbed(preset: str = "tiny", scale: float = 0.3, **kwargs) -> torch.nn.Module:
    """A model with every weight moved by ``scale`` x N(0, 1): heads off their zero start, so the checks
    mean something. 0.3 makes activations reach 1e5-1e7 (a stress test of the bounds); comparisons of
    two float paths use a smaller scale, where float rounding stays at float rounding."""
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset=preset, **kwargs).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model


def _radiance(x: torch.Tensor) -> torch.Tensor:
    return denormalize_radiance(x.double())


def test_each_lr_cell_keeps_its_flux_to_float_error():
    model = _perturbed()
    with torch.no_grad():
        out = model(tiny_batch(2, 6, 7, seed=3))
    pooled = F.avg_pool2d(_radiance(out["sr"]), 8)
    cells = _radiance(out["lr_calibrated"])
    rel = (pooled - cells).abs() / cells.clamp_min(1e-3)
    assert float(rel.max()) < 1e-4


def test_transport_moves_flux_but_never_creates_it():
    torch.manual_seed(1)
    radiance = torch.rand(2, 1, 9, 8, dtype=torch.float64) * 40
    radiance[:, :, :3, :3] = 0  # dark corner
    moved = neighbourhood_transport(radiance, torch.rand(2, 1, 9, 8) * 2, torch.randn(2, 25, 9, 8))
    torch.testing.assert_close(moved.sum(dim=(1, 2, 3)), radiance.sum(dim=(1, 2, 3)), rtol=1e-12, atol=1e-9)
    assert torch.all(moved >= 0)
    assert float(moved[:, :, :3, :3].abs().max()) == 0.0  # nothing enters a dark cell
    assert not torch.allclose(moved, radiance)


def test_zero_transport_is_the_identity():
    radiance = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    moved = neighbourhood_transport(radiance, torch.zeros(1, 1, 6, 6), torch.randn(1, 25, 6, 6))
    torch.testing.assert_close(moved, radiance, rtol=0, atol=0)


def test_dark_lr_cells_stay_dark_whatever_the_weights():
    model = _perturbed()
    batch = tiny_batch(2, 6, 6, seed=4)
    batch["lr"][:, :, 2:5, 2:5] = 0.0  # DN 0: dark to the sensor
    with torch.no_grad():
        sr = _radiance(model(batch)["sr"])
    # cells that are dark and whose neighbours are dark too cannot receive flux
    assert float(sr[:, :, 24:32, 24:32].max()) < 1e-5


def test_output_is_bounded_by_its_cell_and_the_desaturation_cap():
    model = _perturbed()
    batch = tiny_batch(2, 6, 6, seed=5)
    with torch.no_grad():
        out = model(batch)
    sr = _radiance(out["sr"])
    cells = _radiance(out["lr_calibrated"])
    # no HR pixel holds more than its whole cell's flux
    assert torch.all(sr <= 64 * F.interpolate(cells, scale_factor=8, mode="nearest") * (1 + 1e-6) + 1e-9)
    # cells never exceed (1 + MAX_DESATURATION) x the largest calibrated input cell
    nominal = get_model("deeplightsr", preset="tiny", calibration="fixed").calibration(batch["lr"])
    assert float(cells.max()) < 1e4 and float(cells.max()) <= (1 + MAX_DESATURATION) * 64 * float(
        _radiance(nominal).max()
    ) * torch.exp(torch.tensor(10.0))


def test_untrained_model_is_the_flux_conserving_calibration_baseline():
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset="tiny").eval()
    batch = tiny_batch(1, 5, 6, seed=6)
    with torch.no_grad():
        out = model(batch)
        cal = model.calibration(batch["lr"])
    cells = _radiance(cal).float()
    smooth = cal
    for _ in range(3):
        smooth = F.interpolate(smooth, scale_factor=2, mode="bilinear", align_corners=False)
    expected = normalize_radiance(distribute_within_cells(cells, denormalize_radiance(smooth) + 1e-4))
    torch.testing.assert_close(out["sr"], expected, rtol=1e-5, atol=1e-6)


def test_spreading_cells_adds_no_8_pixel_periodicity():
    yy, xx = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    hr = 0.5 + 40 * torch.exp(-((xx - 64) ** 2 + (yy - 60) ** 2) / 300) + 5 * torch.exp(-((xx - 20) ** 2) / 50)
    cells = F.avg_pool2d(hr[None, None], 8)
    smooth = torch.expm1(F.interpolate(torch.log1p(cells), scale_factor=8, mode="bilinear", align_corners=False))
    out = distribute_within_cells(cells, smooth)
    torch.testing.assert_close(F.avg_pool2d(out, 8), cells, rtol=1e-5, atol=1e-5)
    # no peak at 1/8 above the neighbouring frequencies (a waffle stands about 10 dB above them)
    assert period8_peak_db(normalize_radiance(out)[0, 0]) <= 1.0
    waffle = out * (1 + 0.2 * torch.cos(2 * torch.pi * xx / 8) * torch.cos(2 * torch.pi * yy / 8))
    assert period8_peak_db(normalize_radiance(waffle)[0, 0]) > 5.0  # the check can see one


@pytest.mark.parametrize("modality", ["dem", "dmo"])
def test_a_layer_covering_a_corner_changes_nothing_far_away(modality):
    model = _perturbed(preset="tiny", global_alignment=False)
    h = w = 40
    gen = torch.Generator().manual_seed(7)
    base = {"lr": torch.rand(1, 1, h, w, generator=gen)}
    channels = 7 if modality == "dmo" else 1
    layer = torch.full((1, channels, 8 * h, 8 * w), float("nan"))
    layer[..., :32, :32] = torch.rand(1, channels, 32, 32, generator=gen)  # 0.1% of the scene
    with torch.no_grad():
        without = model(base)["sr"]
        with_layer = model({**base, modality: layer})["sr"]
    far = (slice(None), slice(None), slice(160, None), slice(160, None))
    torch.testing.assert_close(with_layer[far], without[far], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(with_layer[..., :32, :32], without[..., :32, :32])


def test_three_band_rgb_is_accepted_as_a_partial_dmo():
    model = _perturbed(preset="tiny")
    batch = tiny_batch(1, 4, 4, seed=8)
    dmo = torch.full_like(batch["dmo"], float("nan"))
    dmo[:, 1:4] = batch["dmo"][:, 1:4]  # Landsat-8 B2, B3, B4 (blue, green, red)
    mask = torch.zeros_like(dmo)
    mask[:, 1:4] = 1
    with torch.no_grad():
        a = model({**batch, "dmo": dmo})["sr"]
        b = model({**batch, "dmo": torch.nan_to_num(dmo), "dmo_mask": mask})["sr"]
    torch.testing.assert_close(a, b)
    assert torch.isfinite(a).all()


def test_skipping_absent_branches_is_exact():
    """A sample without auxiliary data gives the same output alone (its branches skipped) as in a
    batch beside a sample that has them (branches run, multiplied by zero coverage)."""
    model = _perturbed(preset="tiny")
    batch = tiny_batch(2, 5, 5, seed=9)
    batch["present"][1, 1:3] = 0
    alone = {"lr": batch["lr"][1:]}
    with torch.no_grad():
        together = model(batch)["sr"][1:]
        single = model(alone)["sr"]
    torch.testing.assert_close(single, together, rtol=1e-4, atol=1e-5)  # float rounding only


def test_one_absent_modality_is_skipped_exactly():
    model = _perturbed(preset="tiny", scale=0.1)
    batch = tiny_batch(2, 5, 5, seed=10)
    batch["present"][1, 2] = 0  # sample 1 has no DEM; sample 0 has both
    with torch.no_grad():
        together = model(batch)["sr"][1:]
        single = model({"lr": batch["lr"][1:], "dmo": batch["dmo"][1:]})["sr"]
    torch.testing.assert_close(single, together, rtol=1e-5, atol=1e-6)


def test_scene_calibration_can_be_given_so_tiles_share_it():
    model = _perturbed(preset="tiny")
    batch = tiny_batch(1, 8, 8, seed=11)
    with torch.no_grad():
        whole = model(batch)
        scene = whole["scene_calibration"]
        crop = {"lr": batch["lr"][..., :4, :4]}
        own = model(crop)
        shared = model({**crop, "scene_calibration": scene})
    assert scene.shape == (1, 3)
    torch.testing.assert_close(shared["scene_calibration"], scene)
    assert not torch.allclose(own["scene_calibration"], scene)
    described = model.calibration.describe(scene)[0]
    assert set(described) == {"gain", "offset_dn", "exponent"} and described["gain"] > 0


def test_shipped_checkpoint_in_bf16_stays_within_0_02_of_float32():
    """Reduced precision (the CUDA path uses bf16 autocast) checked on the CPU: the bounded output
    stage keeps the shipped model within 0.02 on the normalised scale on a fixed scene."""
    from pathlib import Path

    from deeplight.models.checkpoint import load_checkpoint

    stem = Path(__file__).resolve().parents[2] / "data" / "checkpoints" / "deeplightsr_demo"
    model, _ = load_checkpoint(stem, "cpu")
    model.eval()
    yy, xx = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    radiance = 80 * torch.exp(-((xx - 20) ** 2 + (yy - 26) ** 2) / 30) + 6 * torch.exp(-((xx - 38) ** 2) / 8)
    radiance = radiance + 2 * torch.exp(-((xx - 8) ** 2 + (yy - 8) ** 2) / 4)
    dn = (6.0 * radiance**0.6).clamp(0, 63).round()
    batch = {"lr": (dn / 63)[None, None]}
    with torch.no_grad():
        reference = model(batch)["sr"]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(batch)["sr"]
    assert float((low - reference).abs().max()) < 0.02


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_shipped_checkpoint_with_dmo_and_dem_under_autocast_stays_within_0_02_of_float32(dtype):
    """Reduced precision with auxiliary layers (the CUDA path runs such batches in bf16 for DeepLightSR),
    checked on the CPU: the 48x48 LR crop of the demo scene at (72, 108), beside saturated cells, where
    the whole model in bf16 was 0.18 off float32 on the normalised scale (0.0144 with DeepLightSR's
    float32 stages, see its module docstring). The demo scene is regenerated from its seed."""
    from pathlib import Path

    from deeplight.data.demo import DEMO_HR_PIXEL_M, DEMO_SEED
    from deeplight.data.synth import SynthConfig, generate_scene
    from deeplight.infer.engine import TileBatch, model_batch, scene_calibration
    from deeplight.models.checkpoint import load_checkpoint

    stem = Path(__file__).resolve().parents[2] / "data" / "checkpoints" / "deeplightsr_demo"
    model, _ = load_checkpoint(stem, "cpu")
    model.eval()
    scene = generate_scene(192, DEMO_SEED, SynthConfig(pixel_size_m=DEMO_HR_PIXEL_M))
    r, c, s = 72, 108, 48
    assert scene.lr[r:r + s, c:c + s].max() == 63  # saturated cells in the crop
    tiles = TileBatch(lr_dn=scene.lr[None, r:r + s, c:c + s], dmo=scene.dmo[None, :, 8 * r:8 * (r + s), 8 * c:8 * (c + s)],
                      dem=scene.dem[None, 8 * r:8 * (r + s), 8 * c:8 * (c + s)],
                      scene_calibration=scene_calibration(model, scene.lr))
    batch = model_batch(tiles, torch.device("cpu"))
    with torch.inference_mode():
        reference = model(batch)["sr"]
        with torch.autocast("cpu", dtype=dtype):
            low = model(batch)["sr"].float()
    assert float((low - reference).abs().max()) < 0.02


@pytest.mark.parametrize("bias", [(4.0, 3.0, -1.5), (-4.0, -3.0, 1.5), (0.0, 3.0, 0.0)])
def test_calibration_keeps_the_scene_total_and_a_small_offset_whatever_the_weights(bias):
    """However the calibration head is set, the calibrated unsaturated cells sum to within x/÷1.25 of
    the nominal response and the learned offset stays within its 12.6 DN range."""
    from deeplight.models.calibration import SceneCalibration
    from deeplight.models.radiometry import normalised_dn_to_radiance

    calib = SceneCalibration("learned")
    with torch.no_grad():
        calib.head[-1].bias.copy_(torch.tensor(bias))
    dn = torch.rand(2, 1, 24, 24, generator=torch.Generator().manual_seed(3)) ** 3 * 63
    dn[1, :, :6, :6] = 63  # a saturated core, left out of the total
    x = (dn.round() / 63).float()
    with torch.no_grad():
        raw = calib.scene_parameters(x)
        calibrated = denormalize_radiance(calib(x, raw))
    counted = (dn.round() < 62.5).float()
    ratio = (calibrated * counted).sum((1, 2, 3)) / (normalised_dn_to_radiance(x) * counted).sum((1, 2, 3))
    assert torch.all(ratio <= 1.25 * (1 + 1e-4)) and torch.all(ratio >= (1 - 1e-4) / 1.25)
    assert all(abs(d["offset_dn"]) <= 12.6 + 1e-5 for d in calib.describe(raw))
    if bias[0] != 0.0:  # the head asked for far more than the bound: the total sits at it
        assert torch.allclose(ratio, torch.full_like(ratio, 1.25 if bias[0] > 0 else 0.8), rtol=1e-3)


def test_a_noise_floor_leaves_the_faint_cells_out_of_the_bounded_total():
    """With ``noise_floor_dn`` the bound holds over the cells at or above it; without, over all."""
    from deeplight.models.calibration import SceneCalibration
    from deeplight.models.radiometry import normalised_dn_to_radiance

    dn = torch.tensor([1.0, 2.0, 20.0, 40.0]).repeat(4).view(1, 1, 4, 4)
    x = dn / 63
    for floor, counted in ((0.0, dn < 62.5), (2.5, (dn >= 2.5) & (dn < 62.5))):
        calib = SceneCalibration("learned", noise_floor_dn=floor)
        with torch.no_grad():
            calib.head[-1].bias.copy_(torch.tensor([3.0, 0.0, 0.0]))
            calibrated = denormalize_radiance(calib(x, calib.scene_parameters(x)))
        ratio = (calibrated * counted).sum() / (normalised_dn_to_radiance(x) * counted).sum()
        assert float(ratio) == pytest.approx(1.25, rel=1e-3), floor


def test_calibration_bound_can_be_lifted_for_the_papers_formulation():
    from deeplight.models.calibration import SceneCalibration

    calib = SceneCalibration("learned", max_offset_dn=12.6, max_total_ratio=None)
    with torch.no_grad():
        calib.head[-1].bias.copy_(torch.tensor([2.0, 0.0, 0.0]))
    x = torch.full((1, 1, 8, 8), 20 / 63)
    assert calib.describe(calib.scene_parameters(x))[0]["gain"] == pytest.approx(float(torch.exp(torch.tensor(2.0))))
    with pytest.raises(Exception, match="max_total_ratio"):
        SceneCalibration("learned", max_total_ratio=0.9)
