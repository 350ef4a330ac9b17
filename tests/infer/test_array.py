"""predict_array: tiled == whole image, nodata, self-ensemble, units, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeplight.contracts import radiance_to_nominal_dn
from deeplight.errors import ConfigError, RasterError
from deeplight.infer import predict_array
from deeplight.infer.self_ensemble import DIHEDRAL_GROUP
from tests.infer.tiny_models import TinyConvSR


def _inputs(h: int, w: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lr = rng.uniform(0, 63, (h, w)).astype(np.float32)
    lr[2:4, 5:8] = np.nan
    aux = {
        "dmo": rng.uniform(0, 1, (7, 8 * h, 8 * w)).astype(np.float32),
        "dem": rng.uniform(0, 800, (8 * h, 8 * w)).astype(np.float32),
    }
    return lr, aux


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return TinyConvSR().eval()


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.nanmax(np.abs(a - b) / np.maximum(np.abs(b), 1e-6)))


@pytest.mark.parametrize(
    "h,w,tile,overlap",
    [
        (37, 53, 16, 12),  # sizes not a multiple of the tile
        (37, 53, 20, 12),
        (30, 41, 24, 16),
        (37, 53, 13, 12),  # overlap close to the tile
        (8, 50, 16, 12),  # raster thinner than a tile
    ],
)
def test_tiled_output_equals_whole_image_output(model, h, w, tile, overlap):
    assert overlap >= 4 * TinyConvSR.receptive_field_lr  # the documented exactness rule
    lr, aux = _inputs(h, w)
    whole = predict_array(model, lr, aux, tile=max(h, w), overlap=0, device="cpu")
    tiled = predict_array(model, lr, aux, tile=tile, overlap=overlap, batch_size=3, device="cpu")
    assert tiled.tiles > 1
    assert tiled.radiance.shape == (8 * h, 8 * w)
    np.testing.assert_array_equal(np.isnan(tiled.radiance), np.isnan(whole.radiance))
    assert _rel_err(tiled.radiance, whole.radiance) < 1e-4


def test_overlap_below_the_rule_leaves_seams(model):
    lr, aux = _inputs(37, 53)
    whole = predict_array(model, lr, aux, tile=53, overlap=0, device="cpu")
    tiled = predict_array(model, lr, aux, tile=16, overlap=4, device="cpu")
    assert _rel_err(tiled.radiance, whole.radiance) > 1e-3


def test_nodata_propagates_to_the_8x8_block(model):
    lr, aux = _inputs(20, 20)
    out = predict_array(model, lr, aux, tile=16, overlap=12, device="cpu").radiance
    assert np.isnan(out[16:32, 40:64]).all()
    assert np.isfinite(out[:16]).all() and np.isfinite(out[32:]).all()
    assert (out[np.isfinite(out)] >= 0).all()


def test_missing_aux_sets_present_to_zero(model):
    seen = {}

    class Spy(TinyConvSR):
        def forward(self, batch):
            seen["present"] = batch["present"].clone()
            seen["dem"] = batch["dem"].abs().sum().item()
            return super().forward(batch)

    spy = Spy().eval()
    spy.load_state_dict(model.state_dict())
    lr, aux = _inputs(10, 10)
    predict_array(spy, lr, {"dem": aux["dem"]}, tile=16, overlap=4, device="cpu")
    assert seen["present"][0].tolist() == [0.0, 0.0, 1.0, 0.0]
    predict_array(spy, lr, None, tile=16, overlap=4, device="cpu")
    assert seen["present"][0].tolist() == [0.0, 0.0, 0.0, 0.0] and seen["dem"] == 0.0


def test_dihedral_transforms_invert_and_form_the_group():
    x = torch.arange(2 * 3 * 5, dtype=torch.float32).reshape(1, 2, 3, 5)
    outputs = {tuple(m.forward(x).flatten().tolist()) for m in DIHEDRAL_GROUP}
    assert len(outputs) == 8  # eight distinct members
    for member in DIHEDRAL_GROUP:
        torch.testing.assert_close(member.inverse(member.forward(x)), x)


class NearestUpsample(torch.nn.Module):
    """An equivariant model: each HR pixel copies its LR parent (no spatial mixing)."""

    family = "calibration"

    def forward(self, batch):
        return {"sr": torch.repeat_interleave(torch.repeat_interleave(batch["lr"], 8, -2), 8, -1) * 0.5}


def test_self_ensemble_of_an_equivariant_model_has_zero_spread():
    lr, _ = _inputs(12, 9)
    plain = predict_array(NearestUpsample(), lr, None, tile=8, overlap=4, device="cpu")
    ens = predict_array(NearestUpsample(), lr, None, tile=8, overlap=4, device="cpu", self_ensemble=True)
    np.testing.assert_allclose(ens.radiance, plain.radiance, rtol=1e-5)
    assert np.nanmax(ens.uncertainty) < 1e-3
    assert plain.uncertainty is None


def test_self_ensemble_is_tiled_exactly_and_gives_a_spread(model):
    lr, aux = _inputs(21, 27)
    whole = predict_array(model, lr, aux, tile=27, overlap=0, device="cpu", self_ensemble=True)
    tiled = predict_array(model, lr, aux, tile=16, overlap=12, device="cpu", self_ensemble=True)
    plain = predict_array(model, lr, aux, tile=27, overlap=0, device="cpu")
    assert _rel_err(tiled.radiance, whole.radiance) < 1e-4
    assert _rel_err(tiled.uncertainty, whole.uncertainty) < 1e-3
    assert np.nanmean(whole.uncertainty) > 0
    assert not np.allclose(whole.radiance, plain.radiance, equal_nan=True)  # the mean is a new prediction


def test_radiance_lr_goes_through_the_nominal_response(model):
    rng = np.random.default_rng(1)
    radiance = rng.gamma(1.0, 10.0, (12, 12)).astype(np.float32)
    a = predict_array(model, radiance, None, tile=16, overlap=4, device="cpu", lr_units="radiance")
    b = predict_array(model, radiance_to_nominal_dn(radiance), None, tile=16, overlap=4, device="cpu")
    np.testing.assert_allclose(a.radiance, b.radiance, rtol=1e-6)


def test_progress_reports_every_batch(model):
    lr, _ = _inputs(30, 30)
    calls = []
    result = predict_array(
        model,
        lr,
        None,
        tile=16,
        overlap=4,
        batch_size=2,
        device="cpu",
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[-1] == (result.tiles, result.tiles)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_bad_inputs_have_clear_errors(model):
    lr, aux = _inputs(10, 10)
    with pytest.raises(RasterError, match="aux 'dem' must have shape"):
        predict_array(model, lr, {"dem": aux["dem"][:-1]}, device="cpu")
    with pytest.raises(RasterError, match=r"unknown auxiliary layer\(s\) \['isp'\]"):
        predict_array(model, lr, {"isp": aux["dem"]}, device="cpu")
    with pytest.raises(RasterError, match="non-empty 2-D array"):
        predict_array(model, lr[None], None, device="cpu")
    with pytest.raises(ConfigError, match="lr_units must be one of"):
        predict_array(model, lr, None, device="cpu", lr_units="watts")
    with pytest.raises(RasterError, match=r"lr values span .*needs lr_units='radiance'"):
        predict_array(model, lr * 10, None, device="cpu")
    with pytest.raises(RasterError, match=r"dmo values span .*surface reflectance 0..1"):
        predict_array(model, lr, {"dmo": aux["dmo"] * 10000}, device="cpu")
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        predict_array(model, lr, None, device="cpu", batch_size=0)


def test_a_model_breaking_the_contract_is_named(model):
    class Wrong(torch.nn.Module):
        def forward(self, batch):
            return {"sr": batch["lr"]}

    with pytest.raises(ConfigError, match=r"must return \{'sr': tensor of shape \(1, 1, 80, 80\)\}"):
        predict_array(Wrong(), np.ones((10, 10), np.float32), None, device="cpu")


def test_deeplightsr_tiles_share_the_scene_calibration(monkeypatch):
    """Without auxiliary layers DeepLightSR's only whole-input operation is its per-scene
    calibration; computed once for the scene and given to every tile, tiles agree with the whole
    image to float error (before: 2.3% relative L1 on a demo crop)."""
    from deeplight.infer.engine import scene_calibration
    from deeplight.models.registry import get_model

    torch.manual_seed(0)
    net = get_model("deeplightsr", preset="tiny").eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    lr, _ = _inputs(40, 40, seed=3)
    lr[:6, :6] = 63.0  # a saturated corner shifts the scene statistics a single tile would see
    assert scene_calibration(net, lr) is not None
    assert scene_calibration(TinyConvSR(), lr) is None  # models without a learned calibration
    whole = predict_array(net, lr, None, tile=40, overlap=0, device="cpu")
    tiled = predict_array(net, lr, None, tile=20, overlap=16, batch_size=2, device="cpu")
    assert tiled.tiles > 1
    finite = np.isfinite(whole.radiance)

    def rel_l1(a: np.ndarray) -> float:
        return float(np.abs(a - whole.radiance)[finite].sum() / np.abs(whole.radiance)[finite].sum())

    shared = rel_l1(tiled.radiance)
    import deeplight.infer.array as array_module

    monkeypatch.setattr(array_module, "scene_calibration", lambda model, lr: None)
    own = rel_l1(predict_array(net, lr, None, tile=20, overlap=16, batch_size=2, device="cpu").radiance)
    # what is left is the finite overlap (3e-4 here); each tile calibrating itself is 8x worse
    assert shared < 1e-3 and shared < own / 4


@pytest.mark.parametrize("self_ensemble", [False, True])
def test_tiles_without_lr_data_are_skipped_and_the_output_is_unchanged(model, monkeypatch, self_ensemble):
    """Tiles whose whole LR window is nodata (NaN outside a country) are not computed: every pixel they
    would write is masked when blended. A band of such tiles taller than the blending buffer (two rows
    of tiles) and a corner of them leave the output bit for bit as computing them does."""
    from deeplight.infer import tiled
    from deeplight.infer.sources import ArraySource
    from deeplight.infer.tiling import plan_tiles
    from tests.infer.tiny_models import CountingModel

    lr, aux = _inputs(64, 48)
    lr[16:44, :] = np.nan
    lr[44:, 28:] = np.nan
    plan = plan_tiles(64, 48, 16, 4)
    void = tiled.void_tiles(ArraySource(lr, aux), plan)
    assert 0 < len(void) < len(plan)
    assert all(np.isnan(lr[t.row:t.row + t.height, t.col:t.col + t.width]).all() for t in plan if t.index in void)
    counting = CountingModel()
    counting.load_state_dict(model.state_dict())
    counting.eval()
    kwargs = dict(tile=16, overlap=4, batch_size=1, device="cpu", self_ensemble=self_ensemble)
    CountingModel.calls = 0
    skipped = predict_array(counting, lr, aux, **kwargs)
    calls_skipped = CountingModel.calls
    monkeypatch.setattr(tiled, "void_tiles", lambda source, plan: set())
    CountingModel.calls = 0
    full = predict_array(counting, lr, aux, **kwargs)
    members = 8 if self_ensemble else 1
    assert CountingModel.calls == len(plan) * members
    assert calls_skipped == (len(plan) - len(void)) * members
    assert (skipped.tiles, skipped.void, full.void) == (len(plan), len(void), 0)  # counted, as the file path does
    np.testing.assert_array_equal(skipped.radiance, full.radiance)
    if self_ensemble:
        np.testing.assert_array_equal(skipped.uncertainty, full.uncertainty)
    assert np.isnan(skipped.radiance[16 * 8:44 * 8]).all() and np.isfinite(skipped.radiance[4 * 8:16 * 8]).all()
