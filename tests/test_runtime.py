"""Process settings for CPU inference: passive OpenMP waits, glibc malloc thresholds, torch threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deeplight import runtime
from deeplight.infer.devices import configure_runtime

REPO = Path(__file__).resolve().parents[1]


def test_passive_waits_are_set_only_when_the_user_chose_none(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    set_here, _ = runtime.prefer_passive_waits()
    assert set_here and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert runtime.prefer_passive_waits() == (False, True)
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_malloc_thresholds_are_applied_on_glibc_and_skipped_elsewhere(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    if runtime._glibc() is not None:
        assert set(runtime.tune_malloc()) == {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}
        monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # the user's own setting is kept
        assert runtime.tune_malloc() == ("MALLOC_MMAP_THRESHOLD_",)
    monkeypatch.setattr(runtime.platform, "libc_ver", lambda: ("", ""))  # musl, macOS, Windows
    assert runtime.tune_malloc() == ()


def test_configure_runtime_sets_threads_and_reports_the_process_settings(monkeypatch):
    settings = configure_runtime(1)
    assert settings.threads == 1 and torch.get_num_threads() == 1
    assert settings.process.wait_policy is not None
    assert "1 torch thread(s)" in settings.describe()
    again = configure_runtime(2, once=True)  # an app re-run keeps the first settings
    assert again is settings and torch.get_num_threads() == 1


def last_line_of_python(script: str, *args: str, variable: str, value: str | None) -> str:
    """Run ``script`` in a fresh interpreter with the environment variable ``variable`` set to ``value``
    (None: unset) and return the last line it printed."""
    env = {k: v for k, v in os.environ.items() if k != variable}
    if value:
        env[variable] = value
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, cwd=REPO, check=True,
    )
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("user_policy", [None, "ACTIVE"])
def test_the_cli_sets_the_wait_policy_before_torch_is_imported(user_policy, tmp_path):
    script = (
        "import json, os, sys\n"
        "from deeplight import cli, runtime\n"
        "before = 'torch' in sys.modules\n"
        "cli.main(['cache', 'info', '--cache-dir', sys.argv[1]])\n"
        "s = runtime.prepare_process()\n"
        "print(json.dumps({'before': before, 'policy': os.environ.get('OMP_WAIT_POLICY'),"
        " 'effective': s.wait_policy_effective, 'set_here': s.wait_policy_set_here}))\n"
    )
    line = last_line_of_python(script, str(tmp_path / "cache"), variable="OMP_WAIT_POLICY", value=user_policy)
    info = json.loads(line)
    assert info["before"] is False  # importing the CLI does not load torch
    assert info["policy"] == (user_policy or "PASSIVE") and info["effective"] is True
    assert info["set_here"] is (user_policy is None)


@pytest.mark.parametrize("user_cache", [None, "64"])
def test_predict_bounds_gdals_block_cache_unless_the_user_set_it(user_cache, tmp_path):
    """`deeplight predict` gives GDAL a 256 MB block cache (in megabytes, as GDAL reads the variable),
    sized before any raster is read; a user's GDAL_CACHEMAX wins. A cache given to rasterio.Env as
    256 was 256 *bytes* for the rest of the process."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    lr = tmp_path / "lr.tif"
    with rasterio.open(lr, "w", driver="GTiff", width=20, height=16, count=1, dtype="float32",
                       crs="EPSG:32650", transform=from_origin(300000, 3500000, 1000, 1000)) as dst:
        dst.write(np.full((16, 20), 10.0, np.float32), 1)
    script = (
        "import sys\n"
        "from deeplight import cli\n"
        "code = cli.main(['predict', sys.argv[1], '--model', 'bicubic', '--out', sys.argv[2], '--no-cache',"
        " '--quiet'])\n"
        "from rasterio.env import get_gdal_config\n"
        "print(code, get_gdal_config('GDAL_CACHEMAX'))\n"
    )
    line = last_line_of_python(script, str(lr), str(tmp_path / "sr.tif"), variable="GDAL_CACHEMAX",
                               value=user_cache)
    code, cache_bytes = line.split()
    assert int(code or 0) == 0 and (tmp_path / "sr.tif").exists()
    megabytes = int(user_cache) if user_cache else runtime.GDAL_CACHE_MB
    assert int(cache_bytes) == megabytes * 2**20


def test_bound_gdal_cache_keeps_the_users_setting(monkeypatch):
    monkeypatch.setenv("GDAL_CACHEMAX", "1024")
    assert runtime.bound_gdal_cache() is False and os.environ["GDAL_CACHEMAX"] == "1024"
    monkeypatch.delenv("GDAL_CACHEMAX")
    assert runtime.bound_gdal_cache(128) is True and os.environ["GDAL_CACHEMAX"] == "128"
