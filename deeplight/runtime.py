"""Process-wide settings for fast CPU inference that must come before torch: OpenMP waits and malloc.

This module never imports torch, so an entry point (the ``deeplight`` command, the dashboard) can call
:func:`prepare_process` before anything loads torch and its OpenMP runtime:

* ``OMP_WAIT_POLICY=PASSIVE`` (unless the user set the variable): OpenMP threads sleep at barriers
  instead of spinning. libgomp reads the variable once, when torch loads it, so it only takes
  effect when set before ``import torch`` (and always in child processes, e.g. Dask workers). On
  this 2-core machine at load 5, two spinning threads took 67.5 s where one passive thread took
  14.0 s (issue 14).
* glibc ``malloc`` thresholds (``mallopt``; glibc only, a no-op elsewhere): large blocks are served
  from the heap up to :data:`MALLOC_MMAP_THRESHOLD` and freed memory is returned to the system only
  above :data:`MALLOC_TRIM_THRESHOLD`, so the activation tensors of one tile are not mmapped,
  page-faulted and unmapped again for every tile (millions of minor page faults per raster). The
  same values go to Dask workers as ``MALLOC_*_`` variables (``deeplight.infer.distributed``); a
  user's own ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` is left alone.

``deeplight.infer.devices.configure_runtime`` calls this and also sets torch's thread count.
``deeplight predict`` also bounds GDAL's block cache (:func:`bound_gdal_cache`) before it reads a raster.

It also holds the one rule for where a process keeps its files (docs/CONTRACTS.md):
:func:`default_home` (``$DEEPLIGHT_HOME``) and :func:`default_cache_dir` (``$DEEPLIGHT_CACHE_DIR``,
else ``<home>/cache``), read by the catalogue, the inference cache, the training preload cache and the
dashboard's settings alike.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "DEEPLIGHT_HOME"
CACHE_DIR_ENV = "DEEPLIGHT_CACHE_DIR"
REPO_ROOT = Path(__file__).resolve().parents[1]


def default_home() -> Path:
    """``$DEEPLIGHT_HOME`` (where the demo, the caches and outputs live), else ``<repo>/data/runtime``.

    An empty or blank variable counts as unset; ``~`` is expanded.
    """
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else REPO_ROOT / "data" / "runtime"


def default_cache_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """``$DEEPLIGHT_CACHE_DIR``, else ``<home>/cache`` (``home`` default: :func:`default_home`): the
    prediction cache the command line and the dashboard share."""
    value = os.environ.get(CACHE_DIR_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    return (default_home() if home is None else Path(home)) / "cache"

WAIT_POLICY_VARIABLE = "OMP_WAIT_POLICY"
PASSIVE = "PASSIVE"
MALLOC_MMAP_THRESHOLD = 32 << 20
"""Bytes: blocks below this come from the heap, not from mmap (glibc's 64-bit maximum, 32 MiB)."""
MALLOC_TRIM_THRESHOLD = 1 << 30
"""Bytes of free memory at the top of the heap kept before it is returned to the system (1 GiB)."""
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
"""``mallopt`` parameter numbers from glibc's ``malloc.h``."""
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": (_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD),
    "MALLOC_TRIM_THRESHOLD_": (_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD),
}
"""The glibc environment variable of each setting -> (mallopt parameter, value)."""


@dataclass(frozen=True)
class ProcessSettings:
    """What :func:`prepare_process` found or changed.

    Attributes:
        wait_policy: the value of ``OMP_WAIT_POLICY`` now (None: unset).
        wait_policy_set_here: True when this call set it (the user had not).
        wait_policy_effective: False when torch was already imported when the variable was set, so
            only child processes get it.
        malloc_tuned: names of the ``MALLOC_*_`` settings applied with ``mallopt`` in this process.
    """

    wait_policy: str | None
    wait_policy_set_here: bool
    wait_policy_effective: bool
    malloc_tuned: tuple[str, ...]


def prefer_passive_waits() -> tuple[bool, bool]:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless it is set already.

    Returns:
        (set by this call, effective in this process: torch not imported yet or the variable was
        already in the environment when it was).
    """
    if os.environ.get(WAIT_POLICY_VARIABLE, "").strip():
        return False, True
    os.environ[WAIT_POLICY_VARIABLE] = PASSIVE
    return True, "torch" not in sys.modules


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return libc


def tune_malloc() -> tuple[str, ...]:
    """Apply :data:`MALLOC_ENV` with glibc's ``mallopt`` (skipping any the user set as a variable).

    Returns:
        The variable names applied; empty on other C libraries (musl, macOS, Windows).
    """
    libc = _glibc()
    if libc is None:
        return ()
    applied = []
    for name, (param, value) in MALLOC_ENV.items():
        if os.environ.get(name, "").strip():
            continue  # the user's choice (glibc already read it at process start)
        if libc.mallopt(param, value) == 1:
            applied.append(name)
    return tuple(applied)


GDAL_CACHE_VARIABLE = "GDAL_CACHEMAX"
GDAL_CACHE_MB = 256
"""GDAL's block cache for ``deeplight predict`` (MB): a tile row of a 7-band HR DMO fits (about
270 MB at 8192 HR pixels a row), and the cache does not grow with the machine as GDAL's default (5%
of RAM) does. With it, the tile reads of an LR 1024 run with DMO + DEM took 8.6-8.7 s instead of
10.3-10.5 s with a cache too small to hold a block, for 150-220 MB more peak memory."""


def bound_gdal_cache(megabytes: int = GDAL_CACHE_MB) -> bool:
    """Give this process's GDAL a block cache of ``megabytes`` unless the user set ``GDAL_CACHEMAX``.

    GDAL reads the variable (a number below 100000 is megabytes) the first time it sizes its cache,
    so this must come before the process reads any raster; afterwards it changes nothing. It is not
    set per call with ``rasterio.Env(GDAL_CACHEMAX=...)``: rasterio passes that value to GDAL as bytes
    and does not restore the size on leaving a nested environment, so ``GDAL_CACHEMAX=256`` there left
    the whole process with a cache of 256 bytes (a downsampled read of an LR 1024 raster then took
    1-2 s instead of 0.01 s).

    Returns:
        True when this call set the variable.
    """
    if os.environ.get(GDAL_CACHE_VARIABLE, "").strip():
        return False
    os.environ[GDAL_CACHE_VARIABLE] = str(int(megabytes))
    return True


_DONE: dict[str, ProcessSettings] = {}


def prepare_process() -> ProcessSettings:
    """Passive OpenMP waits and the malloc thresholds for this process (idempotent, torch-free).

    Call it first thing in an entry point, before torch is imported.
    """
    if "settings" not in _DONE:
        set_here, effective = prefer_passive_waits()
        _DONE["settings"] = ProcessSettings(
            wait_policy=os.environ.get(WAIT_POLICY_VARIABLE),
            wait_policy_set_here=set_here,
            wait_policy_effective=effective,
            malloc_tuned=tune_malloc(),
        )
    return _DONE["settings"]
