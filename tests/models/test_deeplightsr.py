"""DeepLightSR: stage switches for ablations, outputs, autocast, presets."""

from __future__ import annotations

import pytest
import torch

from deeplight.models.deeplightsr import PRESETS, DeepLightSR
from deeplight.models.registry import get_model

from .helpers import scalar_of_outputs, tiny_batch

ABLATIONS = {
    "no calibration": {"calibration": "none"},
    "fixed calibration": {"calibration": "fixed"},
    "no global alignment": {"global_alignment": False},
    "no deformable alignment": {"local_alignment": False},
    "no fusion": {"fusion": False},
    "no ISP head": {"isp_head": False},
    "no DMO": {"use_dmo": False},
    "no DEM": {"use_dem": False},
}


def test_outputs_follow_the_contract():
    out = get_model("deeplightsr", preset="tiny")(tiny_batch(2, 3, 5))
    assert [tuple(t.shape) for t in out["sr_pyramid"]] == [(2, 1, 6, 10), (2, 1, 12, 20), (2, 1, 24, 40)]
    assert [tuple(t.shape) for t in out["isp_logits"]] == [(2, 1, 6, 10), (2, 1, 12, 20), (2, 1, 24, 40)]
    assert out["lr_calibrated"].shape == (2, 1, 3, 5)
    assert out["sr"] is out["sr_pyramid"][-1]


@pytest.mark.parametrize("label", list(ABLATIONS))
def test_each_stage_can_be_switched_off(label):
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset="tiny", **ABLATIONS[label])
    full = get_model("deeplightsr", preset="tiny")
    out = model(tiny_batch(1, 4, 4))
    assert out["sr"].shape == (1, 1, 32, 32) and torch.isfinite(out["sr"]).all()
    scalar_of_outputs(out).backward()
    assert all(p.grad is not None for p in model.parameters())
    if label != "fixed calibration" and label != "no calibration":
        assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in full.parameters())
    if label == "no ISP head":
        assert out["isp_logits"] == []


def test_switched_off_modality_is_ignored():
    model = get_model("deeplightsr", preset="tiny", use_dmo=False).eval()
    batch = tiny_batch(1, 4, 4)
    other = {**batch, "dmo": torch.rand_like(batch["dmo"])}
    with torch.no_grad():
        torch.testing.assert_close(model(batch)["sr"], model(other)["sr"], rtol=0, atol=0)


def test_auxiliary_data_change_the_output_when_present():
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset="tiny").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # leave the zero-initialised start
    batch = tiny_batch(1, 4, 4)
    with torch.no_grad():
        assert not torch.allclose(
            model(batch)["sr"], model({**batch, "dmo": torch.rand_like(batch["dmo"])})["sr"]
        )


def test_bf16_autocast_runs_and_stays_close_to_float32():
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset="tiny").eval()
    batch = tiny_batch(1, 4, 4)
    with torch.no_grad():
        reference = model(batch)["sr"]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(batch)
    assert low["sr"].dtype == torch.float32 and torch.isfinite(low["sr"]).all()
    assert float((low["sr"] - reference).abs().max()) < 0.05


def test_bf16_autocast_backward():
    model = get_model("deeplightsr", preset="tiny", flux_consistent=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(tiny_batch(1, 4, 4))
    scalar_of_outputs(out).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_presets_grow_and_overrides_apply():
    sizes = [
        sum(p.numel() for p in get_model("deeplightsr", preset=p).parameters())
        for p in ("tiny", "demo", "paper")
    ]
    assert sizes[0] < sizes[1] < sizes[2]
    model = DeepLightSR(preset="tiny", channels=16, num_blocks=3)
    assert model.config()["channels"] == 16 and len(model.body) == 3
    assert set(PRESETS) == {"tiny", "demo", "paper"}


def test_nan_in_auxiliary_layers_does_not_poison_the_output():
    model = get_model("deeplightsr", preset="tiny").eval()
    batch = tiny_batch(1, 4, 4)
    batch["dem"][..., :5, :5] = float("nan")
    with torch.no_grad():
        assert torch.isfinite(model(batch)["sr"]).all()


def test_demo_parameter_layout_is_frozen():
    """The shipped demo checkpoint loads with strict=True only while this layout holds: change the
    architecture only together with a retrained checkpoint."""
    state = get_model("deeplightsr", preset="demo").state_dict()
    assert sum(v.numel() for v in state.values()) == 430_932 and len(state) == 170
    assert tuple(state["detail.gain_lr.weight"].shape) == (8, 32, 3, 3)  # 7 DMO bands + DEM
    assert tuple(state["encoders.dmo.stem.0.weight"].shape) == (12, 14, 6, 6)  # 7 bands + 7 masks
    assert tuple(state["transport_head.weight"].shape) == (26, 32, 3, 3)  # leave share + 5x5 moves
    assert tuple(state["refinement.stages.2.project.0.weight"].shape) == (32, 40, 3, 3)
    assert tuple(state["refinement.stages.2.out.weight"].shape) == (1, 6, 1, 1)


def test_detail_embedding_injects_only_high_pass_detail_of_present_modalities():
    from deeplight.models.refinement import AuxiliaryDetailEmbedding

    torch.manual_seed(0)
    embed = AuxiliaryDetailEmbedding(4, 3, {"dmo": 2, "dem": 1}, 8)
    torch.nn.init.normal_(embed.gain_hr.weight)
    lr_feats, hr_feats = torch.rand(1, 4, 2, 3), torch.rand(1, 3, 16, 24)
    flat = {"dmo": torch.rand(1, 2, 2, 3).repeat_interleave(8, 2).repeat_interleave(8, 3),
            "dem": torch.rand(1, 1, 2, 3).repeat_interleave(8, 2).repeat_interleave(8, 3)}
    both = {"dmo": torch.ones(1, 1, 1, 1), "dem": torch.ones(1, 1, 1, 1)}
    # a guide that is constant within every 8x8 block has no detail beyond what bicubic of its mean gives
    flat_detail = embed(lr_feats, hr_feats, flat, both)
    textured = {m: v + 0.3 * torch.rand_like(v) for m, v in flat.items()}
    textured_detail = embed(lr_feats, hr_feats, textured, both)
    assert textured_detail.shape == (1, 1, 16, 24)
    assert (textured_detail - flat_detail).abs().mean() > 10 * 1e-6
    none = {"dmo": torch.zeros(1, 1, 1, 1), "dem": torch.zeros(1, 1, 1, 1)}
    assert embed(lr_feats, hr_feats, textured, none).abs().max() == 0
    textured_detail.abs().sum().backward()
    assert embed.gain_lr.weight.grad.abs().sum() > 0


def test_detail_embedding_can_be_switched_off_for_the_ablation():
    model = get_model("deeplightsr", preset="demo", detail_embedding=False)
    assert model.detail is None
    assert sum(p.numel() for p in model.parameters()) == 428_564
