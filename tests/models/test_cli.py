"""``deeplight models`` lists every model with family, parameters and MACs per HR pixel."""

from __future__ import annotations

import json

from deeplight.cli import main
from deeplight.models.registry import list_models


def test_models_command_prints_every_model(capsys):
    assert main(["models", "--preset", "tiny", "--lr-size", "8"]) == 0
    text = capsys.readouterr().out
    for name in list_models():
        assert name in text
    assert "MACs/HR px" in text and "deeplight" in text


def test_models_command_json(capsys):
    assert main(["models", "--preset", "tiny", "--lr-size", "8", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    assert by_name["bicubic"]["params"] == 0 and by_name["bicubic"]["macs_per_hr_pixel"] == 16
    assert by_name["deeplightsr"]["family"] == "deeplight" and by_name["deeplightsr"]["params"] > 10_000


def test_bad_lr_size_is_a_clear_error(capsys):
    assert main(["models", "--lr-size", "0"]) == 2
    assert "--lr-size must be a positive" in capsys.readouterr().err
