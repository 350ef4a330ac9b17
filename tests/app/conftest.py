"""Fixtures of the dashboard tests: a tiny demo scene made by code, and an isolated DEEPLIGHT_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MAIN_SCRIPT = str(REPO_ROOT / "app" / "main.py")
TINY_LR_SIZE = 16
"""LR pixels of the tiny demo (HR 128x128): small enough for AppTest runs of a second or two."""


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory) -> Path:
    """A DEEPLIGHT_HOME with a tiny demo scene made by the project's own demo generator."""
    from deeplight.data.demo import make_demo

    home = tmp_path_factory.mktemp("deeplight_home")
    make_demo(home / "demo", lr_size=TINY_LR_SIZE, force=True)
    (home / "checkpoints").mkdir()
    _tiny_checkpoint(home / "checkpoints" / "quadratic_test")
    (home / "results").mkdir()
    return home


@pytest.fixture()
def app_env(tiny_home, monkeypatch) -> Path:
    """Point the app at the tiny home (no real data, no checkpoints, empty results) for one test."""
    monkeypatch.setenv("DEEPLIGHT_HOME", str(tiny_home))
    monkeypatch.setenv("DEEPLIGHT_CHECKPOINT_DIR", str(tiny_home / "checkpoints"))
    monkeypatch.setenv("DEEPLIGHT_RESULTS_DIR", str(tiny_home / "results"))
    monkeypatch.delenv("DEEPLIGHT_DATA_DIR", raising=False)
    monkeypatch.setenv("DEEPLIGHT_ONLINE_BASEMAP", "0")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return tiny_home


def _tiny_checkpoint(stem: Path) -> None:
    """A real (untrained, 3-parameter) quadratic-calibration checkpoint: exercises the checkpoint path."""
    from deeplight.models.checkpoint import save_checkpoint
    from deeplight.models.registry import get_model

    save_checkpoint(
        get_model("quadratic-calibration"),
        stem,
        {
            "model": "quadratic-calibration",
            "model_kwargs": {},
            "step": 0,
            "metrics": {},
            "data": "none (test checkpoint, untrained)",
        },
    )
