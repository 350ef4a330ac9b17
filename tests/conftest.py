"""Shared fixtures: the real sample data beside the repository, seeding, and CPU threads.

Tests that need ``../shared/data`` use the ``shared_data`` fixture: it skips with a reason when the
folder is absent (a user's fresh clone), and fails instead when ``DEEPLIGHT_REQUIRE_SHARED=1``
(set by ``.ci/run``), so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DEEPLIGHT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def require_or_skip(available: bool, reason: str, env_var: str) -> None:
    """Skip the calling test when ``available`` is false, unless ``env_var`` is "1": then fail."""
    if available:
        return
    if os.environ.get(env_var) == "1":
        pytest.fail(f"{reason} (and {env_var}=1 forbids skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; skips (or fails in CI) when it is absent."""
    require_or_skip(
        (SHARED_DATA / "README.md").exists(),
        f"real sample data not found at {SHARED_DATA}: put the shared/ folder beside the repository",
        "DEEPLIGHT_REQUIRE_SHARED",
    )
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _deterministic_torch():
    """One thread and a fixed seed per test: reproducible and fair on a 2-core machine."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
