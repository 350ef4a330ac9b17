"""The Models page reads benchmark tables, ablations, checkpoints and the model card from files."""

from __future__ import annotations

import json

from app.model_docs import benchmark_tables, checkpoint_metadata, model_card


def test_tables_found_csv_preferred_and_ablations_flagged(tmp_path):
    (tmp_path / "quality_main.csv").write_text(
        "# machine: 2-core CPU\nmodel,psnr\nbicubic,21.5\ndeeplightsr,25.0\n"
    )
    (tmp_path / "quality_main.md").write_text("| model | psnr |\n")
    (tmp_path / "quality_ablation_loss.md").write_text("| alpha | psnr |\n|---|---|\n| 1.0 | 24 |\n")
    (tmp_path / "speed.md").write_text("not a quality table")
    tables = benchmark_tables(tmp_path)
    assert [t.title for t in tables] == ["quality ablation loss", "quality main"]
    main = tables[1]
    assert not main.is_ablation and list(main.frame["model"]) == ["bicubic", "deeplightsr"]
    assert tables[0].is_ablation and tables[0].frame is None and "| 1.0 | 24 |" in tables[0].markdown


def test_a_table_with_ablation_rows_is_split_into_comparison_and_ablations(tmp_path):
    (tmp_path / "quality.csv").write_text(
        "# machine: 2-core CPU\nfamily,method,psnr\ncalibration,bicubic,28.8\ndeeplight,deeplightsr,31.2\n"
        "deeplight-ablation,deeplightsr (no DMO),29.8\n"
    )
    (tmp_path / "quality.md").write_text("| family | method |\n")
    main, ablations = benchmark_tables(tmp_path)
    assert not main.is_ablation and list(main.frame["method"]) == ["bicubic", "deeplightsr"]
    assert ablations.is_ablation and list(ablations.frame["method"]) == ["deeplightsr (no DMO)"]
    assert ablations.title == "quality (ablations)"


def test_missing_folder_and_card():
    from pathlib import Path

    assert benchmark_tables(Path("/nonexistent/results")) == []
    assert model_card(Path("/nonexistent")) is None


def test_checkpoint_metadata_rows(tmp_path):
    (tmp_path / "a.json").write_text(
        json.dumps({"model": "deeplightsr", "step": 100, "data": "demo", "metrics": {"psnr": 25.123456}})
    )
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "other.json").write_text(json.dumps({"not": "a checkpoint"}))
    frame = checkpoint_metadata(tmp_path)
    assert list(frame["file"]) == ["a.safetensors", "broken.json"]
    assert frame["metrics"].iloc[0] == "psnr=25.12"


OLD_CARD = """# Model card: `deeplightsr_demo`

Inference time: 0.04-0.08 s per 128x128 clip (batch 8, one CPU thread, shared machine).

## Training
- **Hardware and time:** 2-core x86 CPU, no GPU, 1 thread, beside one other training process;
  372 s wall (about 6 min). Trained from the architecture of commit "DeepLightSR: HR detail".

## Limits
- Small budget (25 CPU-minutes): far from converged; the paper's full-width preset needs a GPU.
- Trained in 2 h on a laptop.
"""


def test_model_card_training_time_is_stated_once():
    from app.model_docs import one_training_time, training_time_statements

    assert len(training_time_statements(OLD_CARD)) == 3  # the card repeats (and contradicts) itself
    shown = one_training_time(OLD_CARD)
    statements = training_time_statements(shown)
    assert len(statements) == 1 and statements[0].startswith("  372 s wall (about 6 min). Trained from")
    assert "25 CPU-minutes" not in shown and "2 h" not in shown
    assert "Small budget (see the training time above): far from converged" in shown
    assert "Trained in the training time above on a laptop." in shown
    assert "0.04-0.08 s per 128x128 clip" in shown  # a rate, not the training time: kept


def test_shipped_model_card_states_training_time_once():
    from pathlib import Path

    from app.model_docs import one_training_time, training_time_statements

    card = model_card(Path(__file__).resolve().parents[2] / "data" / "checkpoints")
    if card is None:
        return
    shown = one_training_time(card)
    assert len(training_time_statements(shown)) <= 1
    assert len(training_time_statements(one_training_time(shown))) <= 1
