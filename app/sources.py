"""The dashboard's view of the data catalogue: :mod:`deeplight.catalog` with the paths of app.settings.

The catalogue itself (file layouts of the demo and of the sets under ``DEEPLIGHT_DATA_DIR``, district
names, credits, notes, the simulated LR) lives in the library, so ``deeplight data list`` and the
data-set picker list the same sets and open the same Scenes. No Streamlit here.
"""

from __future__ import annotations

from deeplight import catalog
from deeplight.catalog import DatasetInfo
from deeplight.io.scene import Scene

from app.settings import Settings


def list_datasets(settings: Settings) -> list[DatasetInfo]:
    """:func:`deeplight.catalog.list_datasets` of the settings' ``DEEPLIGHT_DATA_DIR``."""
    return catalog.list_datasets(settings.data_dir)


def load_scene_for(settings: Settings, dataset_id: str, year: int | str | None) -> Scene:
    """:func:`deeplight.catalog.load_scene_for` with the settings' data folder and home (demo in
    ``home/demo``, made on first use)."""
    return catalog.load_scene_for(dataset_id, year, data_dir=settings.data_dir, home=settings.home)
