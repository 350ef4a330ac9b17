"""Paths and limits of the dashboard, read from environment variables (never literals in pages).

Environment variables (see docs/CONTRACTS.md):
    DEEPLIGHT_HOME: where the demo scene, the inference cache and outputs live
        (default ``<repo>/data/runtime``; the rule is :func:`deeplight.runtime.default_home`).
    DEEPLIGHT_CACHE_DIR: the inference cache (default ``$DEEPLIGHT_HOME/cache``), shared with the CLI.
    DEEPLIGHT_DATA_DIR: a folder with the layout of ``../shared/data`` (Shanghai, Cote d'Ivoire,
        Touggourt); when unset, only the built-in demo and uploads are offered.
    DEEPLIGHT_UPLOAD_MB: largest accepted upload in MiB (default 50).
    DEEPLIGHT_ONLINE_BASEMAP: "1" offers an online basemap option (never required).
    DEEPLIGHT_CHECKPOINT_DIR: folder of the checkpoints and model card (default ``<repo>/data/checkpoints``).
    DEEPLIGHT_RESULTS_DIR: folder of the benchmark tables (default ``<repo>/benchmarks/results``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deeplight.runtime import default_cache_dir, default_home

REPO_ROOT = Path(__file__).resolve().parents[1]
STATIC_URL = "/app/static"
"""URL prefix under which Streamlit serves ``app/static/`` (server.enableStaticServing = true)."""
STATIC_DIR = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one dashboard process.

    Attributes:
        home: DEEPLIGHT_HOME folder (demo scene in ``home/demo``, cache in ``home/cache``).
        data_dir: DEEPLIGHT_DATA_DIR folder, or None when real data sets are not configured.
        checkpoint_dir: folder with ``*.safetensors`` + ``*.json`` checkpoints and the model card.
        results_dir: folder with the benchmark tables (``quality*.md|csv``).
        upload_limit_mb: largest accepted upload, MiB.
        online_basemap: whether an online basemap may be offered.
    """

    home: Path
    data_dir: Path | None
    checkpoint_dir: Path
    results_dir: Path
    upload_limit_mb: int
    online_basemap: bool

    def cache_token(self) -> str:
        """A string that changes when any setting changes (part of cache keys)."""
        return f"{self.home}|{self.data_dir}|{self.checkpoint_dir}"

    @property
    def demo_dir(self) -> Path:
        """Folder of the built-in demo scene (made by ``deeplight data demo --out``)."""
        return self.home / "demo"

    @property
    def cache_dir(self) -> Path:
        """Folder of the inference cache shared by every session of this machine and by the command
        line (``$DEEPLIGHT_CACHE_DIR``, else ``home/cache``: :func:`deeplight.runtime.default_cache_dir`)."""
        return default_cache_dir(self.home)


def get_settings() -> Settings:
    """Read the settings from the environment (cheap; call it wherever needed)."""
    home = default_home()
    data_env = os.environ.get("DEEPLIGHT_DATA_DIR", "").strip()
    data_dir = Path(data_env).expanduser() if data_env else None
    try:
        limit = int(os.environ.get("DEEPLIGHT_UPLOAD_MB", "50"))
    except ValueError:
        limit = 50
    return Settings(
        home=home,
        data_dir=data_dir,
        checkpoint_dir=Path(os.environ.get("DEEPLIGHT_CHECKPOINT_DIR", REPO_ROOT / "data" / "checkpoints")),
        results_dir=Path(os.environ.get("DEEPLIGHT_RESULTS_DIR", REPO_ROOT / "benchmarks" / "results")),
        upload_limit_mb=max(1, limit),
        online_basemap=os.environ.get("DEEPLIGHT_ONLINE_BASEMAP", "0") == "1",
    )
