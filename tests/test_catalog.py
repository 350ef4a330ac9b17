"""deeplight.catalog: the data sets the CLI and the dashboard list, each opened as one Scene."""

from __future__ import annotations

import numpy as np
import pytest

from deeplight.catalog import SIMULATED_LR_NOTE, list_datasets, load_scene_for, scene_from_hr
from deeplight.errors import RasterError
from deeplight.io import read_raster, write_cog
from deeplight.io.scene import Scene
from tests.io.rasters import HR_TRANSFORM, UTM50, tags


def test_without_a_data_dir_only_the_demo_is_listed(tmp_path):
    assert [d.id for d in list_datasets(None)] == ["demo"]
    assert [d.id for d in list_datasets(tmp_path / "absent")] == ["demo"]
    assert list_datasets(None)[0].lr_simulated and list_datasets(None)[0].times == ()


def test_unknown_set_and_missing_data_dir_say_what_to_do(tmp_path):
    with pytest.raises(RasterError, match="needs DEEPLIGHT_DATA_DIR.*deeplight data list"):
        load_scene_for("touggourt")
    with pytest.raises(RasterError, match=r"unknown data set 'atlantis'.*choose one of: demo"):
        load_scene_for("atlantis", data_dir=tmp_path)


def test_scene_from_hr_cuts_whole_blocks_and_simulates_the_lr(tmp_path):
    rng = np.random.default_rng(1)
    path = write_cog(
        (rng.random((37, 42)) * 30).astype("f4"), tmp_path / "hr.tif", crs=UTM50, transform=HR_TRANSFORM, tags=tags("hr")
    )
    hr = read_raster(path, band=1)
    scene = scene_from_hr(hr, key="k:1", title="Town", credits=("someone",), notes=("a note",), year=2020)
    assert isinstance(scene, Scene) and scene.key == "k:1" and scene.year == 2020
    assert scene.hr.shape == (32, 40) and scene.lr.shape == (4, 5) and scene.hr_transform == HR_TRANSFORM
    assert scene.lr_simulated and not scene.hr_synthetic
    assert scene.notes == (SIMULATED_LR_NOTE, "a note") and scene.credits == ("someone",)
    assert list(scene.regions["name"]) == ["Town"]
    again = scene_from_hr(hr, key="k:1", title="Town")
    np.testing.assert_array_equal(scene.lr, again.lr)  # the seed follows the key
    with pytest.raises(RasterError, match="needs at least 8x8"):
        scene_from_hr(hr[:5, :5], key="k", title="tiny")
