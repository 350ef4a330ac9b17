"""Evaluation: methods on a synthetic split and on real-HR pairs, tables grouped by family."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from deeplight.cli import main as deeplight_main
from deeplight.data.synth_writer import write_deeplightmd
from deeplight.errors import CheckpointError
from deeplight.eval.evaluate import evaluate_method, load_method, synthetic_test_samples
from deeplight.eval.real_pairs import REAL_SCENES, load_real_pairs
from deeplight.eval.table import ResultRow, rows_to_markdown, write_tables
from deeplight.models.checkpoint import save_checkpoint
from deeplight.models.registry import get_model


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth-eval") / "d"
    write_deeplightmd(root, n_train=0, n_val=0, n_test=3, lr_size=8, seed=5)
    return root


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpts")
    torch.manual_seed(0)
    full = folder / "full"
    save_checkpoint(get_model("deeplightsr", preset="tiny"), full,
                    {"model": "deeplightsr", "model_kwargs": {"preset": "tiny"}, "step": 7})
    ablated = folder / "nodem"
    save_checkpoint(get_model("deeplightsr", preset="tiny", use_dem=False), ablated,
                    {"model": "deeplightsr", "model_kwargs": {"preset": "tiny", "use_dem": False}, "step": 7})
    return full, ablated


def test_methods_are_labelled_by_family_and_ablation(checkpoints):
    full, ablated = checkpoints
    m_full, m_abl, m_bic = load_method(str(full)), load_method(str(ablated)), load_method("model:bicubic")
    assert (m_full.family, m_full.label, m_full.steps, m_full.steps_label) == ("deeplight", "deeplightsr (tiny)", 7, "7")
    assert m_abl.family == "deeplight-ablation" and "no DEM" in m_abl.label
    assert (m_bic.family, m_bic.label, m_bic.steps) == ("calibration", "bicubic", None)


def test_evaluate_on_synthetic_split(tiny_root):
    samples = synthetic_test_samples(tiny_root, "test")
    means, per_image = evaluate_method(load_method("model:bicubic"), samples, batch_size=2, with_piqe=True)
    assert len(per_image) == 3 and means["n"] == 3
    assert 5 < means["psnr"] < 60 and -1 <= means["ssim"] <= 1 and 0 <= means["piqe"] <= 100
    assert math.isnan(means["sam"])
    assert means["psnr"] == pytest.approx(sum(m["psnr"] for m in per_image) / 3)


def test_tables_group_by_family_and_say_simulated(tmp_path):
    metrics = {"psnr": 30.0, "ssim": 0.9, "uiqi": 0.5, "cc": 0.9, "sam": math.nan, "piqe": 40.0,
               "flux_error": 0.1, "urban_f1": 0.8, "urban_iou": 0.7, "lit_area_error": -0.1, "n": 3.0}
    rows = [
        ResultRow("real", "deeplight", "deeplightsr (demo)", "x", 100, metrics),
        ResultRow("synthetic", "deeplight-ablation", "deeplightsr (no DEM)", "y", 50, metrics),
        ResultRow("synthetic", "calibration", "bicubic", "model:bicubic", None, metrics),
        ResultRow("synthetic", "single-modal", "edsr", "z", 100, metrics),
    ]
    csv_path, md_path = write_tables(rows, tmp_path / "quality", "Title", ["machine: test"])
    text = md_path.read_text()
    assert text.index("## Test set: synthetic") < text.index("## Test set: real")
    synthetic_part = text[text.index("## Test set: synthetic"): text.index("## Test set: real")]
    assert synthetic_part.index("bicubic") < synthetic_part.index("edsr") < synthetic_part.index("no DEM")
    assert "LR **simulated**" in text and "auxiliary modalities (DMO, DEM) **absent**" in text
    assert "| N/A |" in text
    lines = [ln for ln in csv_path.read_text().splitlines() if not ln.startswith("#")]
    records = list(csv.DictReader(lines))
    assert {r["lr_simulated"] for r in records} == {"true"}
    assert [r["aux_modalities"] for r in records] == ["present", "present", "present", "absent"]
    assert records[0]["sam"] == "N/A"
    assert "Title" in rows_to_markdown(rows, "Title")


def test_cli_writes_tables_and_rejects_bad_input(tmp_path, tiny_root, checkpoints, capsys):
    full, _ = checkpoints
    out = tmp_path / "q"
    code = deeplight_main([
        "evaluate", "--checkpoints", "model:bicubic", str(full), "--test-sets", "synthetic",
        "--data-root", str(tiny_root), "--out", str(out), "--no-piqe", "--device", "cpu",
    ])
    assert code == 0
    assert out.with_suffix(".csv").is_file() and out.with_suffix(".md").is_file()
    assert "deeplightsr (tiny)" in out.with_suffix(".md").read_text()
    assert deeplight_main(["evaluate", "--checkpoints", str(tmp_path / "nope"), "--test-sets", "synthetic",
                           "--data-root", str(tiny_root), "--out", str(out)]) == 2
    assert "nope.safetensors not found" in capsys.readouterr().err
    assert deeplight_main(["evaluate", "--checkpoints", "model:bicubic", "--test-sets", "synthetic,mars",
                           "--out", str(out)]) == 2
    assert "valid choices: synthetic, real" in capsys.readouterr().err
    with pytest.raises(CheckpointError):
        load_method(str(tmp_path / "nope"))


@pytest.mark.shared_data
def test_real_pairs_have_simulated_lr_and_no_aux(shared_data):
    pairs = load_real_pairs(shared_data, max_tiles_per_scene=1)
    assert sorted({p.scene for p in pairs}) == sorted(REAL_SCENES)
    for pair in pairs:
        s = pair.sample
        h, w = s["hr"].shape[-2:]
        assert h % 8 == 0 and w % 8 == 0 and s["lr"].shape[-2:] == (h // 8, w // 8)
        assert s["present"].tolist() == [1.0, 0.0, 0.0, 0.0]
        assert float(s["dmo"].abs().sum()) == 0.0
        assert float(s["valid"].mean()) >= 0.9
    means, _ = evaluate_method(load_method("model:bicubic"), [p.sample for p in pairs], with_piqe=False)
    assert means["n"] == len(pairs) and math.isfinite(means["psnr"])


def test_unknown_real_scene_lists_choices(shared_data):
    with pytest.raises(ValueError, match="unknown real scene.*cote-divoire-viirs-2024"):
        load_real_pairs(shared_data, scenes=["atlantis"])
