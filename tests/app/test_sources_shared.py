"""Real data sets from DEEPLIGHT_DATA_DIR (the shared sample data): Shanghai, Cote d'Ivoire, Touggourt."""

from __future__ import annotations

import numpy as np
import pytest

from app.settings import get_settings
from app.sources import list_datasets, load_scene_for
from deeplight.errors import RasterError


@pytest.fixture()
def real_settings(shared_data, monkeypatch):
    monkeypatch.setenv("DEEPLIGHT_DATA_DIR", str(shared_data))
    return get_settings()


def test_real_sets_are_listed_with_years(real_settings):
    sets = {d.id: d for d in list_datasets(real_settings)}
    assert sets["shanghai_viirs_like"].years == tuple(range(2000, 2021))
    assert sets["shanghai_npp_viirs"].years == tuple(range(2013, 2023))
    assert {"demo", "cote_divoire", "touggourt"} <= set(sets)


def test_shanghai_scene_has_simulated_lr_and_16_districts(real_settings):
    scene = load_scene_for(real_settings, "shanghai_npp_viirs", 2018)
    assert scene.year == 2018 and scene.lr_simulated
    assert scene.hr.shape == (256, 280) and scene.lr.shape == (32, 35)
    assert len(scene.regions) == 16 and "Pudong (浦东新区)" in set(scene.regions["name"])
    assert np.nanmax(scene.lr) <= 63
    assert any("simulated LR" in note for note in scene.notes)
    again = load_scene_for(real_settings, "shanghai_npp_viirs", 2018)
    np.testing.assert_array_equal(scene.lr, again.lr)  # same seed, same simulated LR


def test_cote_divoire_population_is_conserved(real_settings):
    scene = load_scene_for(real_settings, "cote_divoire", None)
    assert len(scene.regions) == 33
    assert np.nansum(scene.population) == pytest.approx(31.3e6, rel=0.02)


def test_unknown_set_and_missing_data_dir(real_settings, monkeypatch):
    with pytest.raises(RasterError, match="unknown data set"):
        load_scene_for(real_settings, "atlantis", None)
    monkeypatch.delenv("DEEPLIGHT_DATA_DIR")
    with pytest.raises(RasterError, match="needs DEEPLIGHT_DATA_DIR"):
        load_scene_for(get_settings(), "touggourt", None)
