"""Registry: names, families, and clear errors for bad configuration."""

from __future__ import annotations

import pytest
import torch

from deeplight.errors import ConfigError, DeepLightError
from deeplight.models.registry import get_model, list_models, model_family

from .helpers import tiny_batch

FAMILIES = {"calibration", "single-modal", "multi-modal", "deeplight"}


def test_every_family_is_represented_and_valid():
    names = list_models()
    families = {model_family(n) for n in names}
    assert families == FAMILIES
    assert {
        "bicubic",
        "quadratic-calibration",
        "sigmoid-calibration",
        "gaussian-deblur",
        "srcnn",
        "edsr",
        "rcan",
        "swinir-light",
        "early-fusion",
        "guided-injection",
        "rrsgan",
        "deeplightsr",
    } <= set(names)
    for name in names:
        assert get_model(name, preset="tiny").family in FAMILIES


def test_unknown_model_lists_the_choices():
    with pytest.raises(
        ValueError, match=r"unknown model 'esrgan'; valid choices: bicubic, .*edsr.*deeplightsr"
    ):
        get_model("esrgan")


@pytest.mark.parametrize("name", ["deeplightsr", "edsr", "rrsgan"])
def test_scale_other_than_8_lists_the_valid_choices(name):
    with pytest.raises(ConfigError, match=r"scale=4 is not supported; valid choices: \[8\]"):
        get_model(name, preset="tiny", scale=4)


def test_calibration_baselines_accept_other_integer_scales():
    model = get_model("bicubic", scale=4)
    assert model({"lr": torch.rand(1, 1, 3, 5)})["sr"].shape == (1, 1, 12, 20)
    with pytest.raises(ConfigError, match="valid choices"):
        get_model("bicubic", scale=0)


def test_unknown_preset_and_option_list_the_choices():
    with pytest.raises(
        ConfigError, match=r"preset='huge' is not valid; choose one of \['tiny', 'demo', 'paper'\]"
    ):
        get_model("deeplightsr", preset="huge")
    with pytest.raises(ConfigError, match=r"calibration='magic'.*\['learned', 'fixed', 'none'\]"):
        get_model("deeplightsr", preset="tiny", calibration="magic")
    with pytest.raises(ConfigError, match=r"edsr preset='big'.*choose one of"):
        get_model("edsr", preset="big")
    with pytest.raises(TypeError):
        get_model("edsr", preset="tiny", widht=3)


@pytest.mark.parametrize("name", ["deeplightsr", "early-fusion", "guided-injection", "rrsgan"])
def test_wrong_channel_count_names_the_key_and_the_fix(name):
    model = get_model(name, preset="tiny")
    batch = tiny_batch(1, 4, 4)
    batch["dmo"] = batch["dmo"][:, :5]
    with pytest.raises(
        DeepLightError, match=r"batch\['dmo'\] has shape \(1, 5, 32, 32\), expected \(1, 7, 32, 32\)"
    ):
        model(batch)


def test_models_can_be_built_for_another_band_count():
    model = get_model("deeplightsr", preset="tiny", dmo_channels=5)
    batch = tiny_batch(1, 4, 4, dmo_channels=5)
    assert model(batch)["sr"].shape == (1, 1, 32, 32)


@pytest.mark.parametrize(
    "bad", [{"lr": torch.rand(1, 2, 4, 4)}, {"lr": torch.rand(4, 4)}, {"dmo": torch.rand(1, 7, 8, 8)}]
)
def test_malformed_lr_is_a_clear_error(bad):
    with pytest.raises(DeepLightError, match="lr"):
        get_model("bicubic")(bad)


def test_malformed_present_is_a_clear_error():
    batch = tiny_batch(2, 4, 4)
    batch["present"] = torch.ones(2, 3)
    with pytest.raises(DeepLightError, match=r"batch\['present'\] has shape \(2, 3\), expected \(2, 4\)"):
        get_model("deeplightsr", preset="tiny")(batch)
